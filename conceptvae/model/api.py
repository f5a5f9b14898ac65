"""load_model: a path or a name -> VAEModel."""

from __future__ import annotations

import os

from .loaded import VAEModel, load_keras_file, load_model_dir
from .registry import resolve_model_path


def load_model(path: str | os.PathLike, backend: str = "auto") -> VAEModel:
    """Load a model directory, a ``.keras`` file, or a model by name.

    ``backend`` is ``auto`` (LiteRT when the model has its flatbuffers and the
    runtime is installed, else Keras), ``keras`` or ``litert``.
    """
    p = resolve_model_path(path)
    if p.is_file() and p.suffix == ".keras":
        return load_keras_file(p)
    return load_model_dir(p, backend)
