"""load_model: a path or a name -> VAEModel."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..errors import ModelError
from ..registry import resolve_model_path
from .loaded import VAEModel, load_keras_file, load_model_dir


def load_model(path: str | os.PathLike, backend: str = "auto") -> VAEModel:
    """Load a model directory, a ``.keras`` file, or a model by name.

    ``backend`` is ``auto`` (LiteRT when the model has its flatbuffers and the
    runtime is installed, else Keras), ``keras`` or ``litert``.
    """
    p = resolve_model_path(path)
    if p.is_file() and p.suffix == ".keras":
        return load_keras_file(p)
    return load_model_dir(p, backend)


def resolve_model(model: Any, concepts: Sequence[str] = (), backend: str = "auto") -> VAEModel:
    """The one place a command's model argument becomes a model: a VAEModel is
    used as is; a path or name is loaded. ``concepts`` (the concept expressions
    the command names) is where a default model holding them will be chosen."""
    if isinstance(model, VAEModel):
        return model
    if model is None:
        raise ModelError("no model given; pass --model (a model directory or name)")
    return load_model(model, backend=backend)
