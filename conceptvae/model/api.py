"""load_model: a path or a name -> VAEModel."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConceptVAEError, ModelError
from ..registry import list_models, resolve_model_path
from . import files
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


def resolve_model(
    model: Any, concepts: Sequence[str] = (), backend: str = "auto", how: str = "--model"
) -> VAEModel:
    """The one place a command's model argument becomes a model: a VAEModel is
    used as is; a path or name is loaded; ``None`` picks the pretrained model
    that holds the ``concepts`` the command names (see default_model)."""
    if isinstance(model, VAEModel):
        return model
    if model is None:
        model = default_model(concepts, how)
    return load_model(model, backend=backend)


def default_model(concepts: Sequence[str] = (), how: str = "--model") -> Path:
    """The pretrained model a command without ``--model`` runs on.

    The one whose concept library holds every name the ``concepts`` expressions
    use (``3->8`` names the classes 3 and 8); with no concept named, the faces
    model. Several holders, or none, is an error that lists the candidates.
    """
    pretrained = {e.name: e.path for e in list_models() if e.source == "pretrained"}
    names = referenced_names(concepts)
    if not names:
        if DEFAULT_MODEL not in pretrained:
            raise ModelError(
                f"no --model given and the pretrained {DEFAULT_MODEL!r} model is not "
                f"installed; pass {how} (a model directory or name)"
            )
        return pretrained[DEFAULT_MODEL]
    held = {name: _library_names(path) for name, path in pretrained.items()}
    holders = [name for name, known in held.items() if names <= known]
    if len(holders) == 1:
        return pretrained[holders[0]]
    wanted = ", ".join(sorted(names))
    if holders:
        raise ModelError(
            f"several pretrained models hold {wanted}: {', '.join(holders)}; choose one with {how}"
        )
    have = "; ".join(f"{m}: {_summary(k)}" for m, k in held.items()) or "none installed"
    raise ModelError(
        f"no pretrained model holds {wanted} ({have}); pass {how} (a model directory or name)"
    )


DEFAULT_MODEL = "faces"
_AMOUNT = re.compile(r"=\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$")


def referenced_names(concepts: str | Sequence[str]) -> set[str]:
    """Concept and class names used by expressions (``EXPR=AMOUNT`` allowed)."""
    from ..concepts.expressions import parse_expression

    if isinstance(concepts, str):
        concepts = [concepts]
    names: set[str] = set()
    for text in concepts:
        for term in parse_expression(_AMOUNT.sub("", str(text))):
            names.add(term.ref.name)
            if term.ref.source is not None:
                names.add(term.ref.source)
    return names


def _library_names(model_dir: Path) -> set[str]:
    from ..concepts.library import ConceptLibrary

    path = model_dir / files.CONCEPTS
    if not path.is_file():
        return set()
    lib = ConceptLibrary.read(path)
    classes = {c for s in lib.class_sets.values() for c in s.classes}
    return set(lib.names()) | classes


def concept_summary(model_dir: Path) -> str:
    """``0, 1, ..., thick, slant, pc1, ...``: what a model's library holds, for listings."""
    try:
        return _summary(_library_names(model_dir))
    except ConceptVAEError as exc:
        return f"unreadable concepts.h5 ({exc})"


def _summary(names: set[str], most: int = 12) -> str:
    ordered = sorted(names, key=lambda n: (not n.isdigit(), n.startswith("pc"), len(n), n))
    text = ", ".join(ordered[:most])
    return text + (", ..." if len(ordered) > most else "") if ordered else "no concepts"
