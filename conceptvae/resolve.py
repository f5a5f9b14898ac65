"""Which model a command runs on: the one place a model argument becomes a model.

A model argument is a loaded :class:`VAEModel` (used as is), a path or a name
(see :mod:`conceptvae.model.registry`), or ``None``: then the pretrained model
whose concept library holds every concept the command names, and the faces
model when it names none.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConceptVAEError, ModelError, param
from .model import files
from .model.api import load_model
from .model.loaded import VAEModel
from .model.registry import list_models

if TYPE_CHECKING:
    from .concepts.library import ConceptLibrary

DEFAULT_MODEL = "faces"


def resolve_model(model: Any, concepts: Sequence[str] = (), backend: str = "auto") -> VAEModel:
    """A VAEModel is used as is; a path or name is loaded; ``None`` picks the
    pretrained model that holds the ``concepts`` named (see :func:`default_model`)."""
    if isinstance(model, VAEModel):
        return model
    if model is None:
        model = default_model(concepts)
    return load_model(model, backend=backend)


def default_model(concepts: str | Sequence[str] = ()) -> Path:
    """The pretrained model a command without a model argument runs on.

    The one whose concept library holds every name the ``concepts`` expressions
    use (``3->8`` names the classes 3 and 8); with no concept named, the faces
    model. Several holders, or none, is an error that lists the candidates.
    A pretrained model the user changed (its copy under
    ``$CONCEPTVAE_HOME/models``, same name) takes the shipped one's place.
    """
    models = list_models()
    pretrained = {e.name: e.path for e in models if e.source == "pretrained"}
    # The user's copy of a shipped model is what its name means (model.registry).
    pretrained.update({e.name: e.path for e in models if e.source == "user" and e.name in pretrained})
    names = referenced_names(concepts)
    if not names:
        if DEFAULT_MODEL not in pretrained:
            raise ModelError(
                f"no {param('model')} given and the pretrained {DEFAULT_MODEL!r} model is not "
                f"installed; pass {param('model')} (a model directory or name)"
            )
        return pretrained[DEFAULT_MODEL]
    held = {name: _library_names(path) for name, path in pretrained.items()}
    holders = [name for name, known in held.items() if names <= known]
    if len(holders) == 1:
        return pretrained[holders[0]]
    wanted = ", ".join(sorted(names))
    if holders:
        raise ModelError(
            f"several pretrained models hold {wanted}: {', '.join(holders)}; "
            f"choose one with {param('model')}"
        )
    known = set().union(*held.values()) if held else set()
    missing = sorted(names - known)
    if not missing:
        where = "; ".join(
            f"{n}: {', '.join(m for m, k in held.items() if n in k)}" for n in sorted(names)
        )
        raise ModelError(
            f"no pretrained model holds all of {wanted} ({where}); pass {param('model')} "
            "(a model directory or name)"
        )
    from .concepts.expressions import close_names

    close = sorted({c for n in missing for c in close_names(n, known)})
    if close:
        have = f"closest: {', '.join(close)}"
    else:
        have = "; ".join(f"{m}: {_summary(k)}" for m, k in held.items()) or "none installed"
    raise ModelError(
        f"no pretrained model holds {', '.join(missing)} ({have}); pass {param('model')} "
        "(a model directory or name)"
    )


def other_holders(names: set[str], model: VAEModel) -> str:
    """`` (the digits model holds 3, 8: --model digits)`` when another model the
    user could name holds ``names``; else ''."""
    models = list_models()
    pretrained = {e.name: e.path for e in models if e.source == "pretrained"}
    pretrained.update({e.name: e.path for e in models if e.source == "user" and e.name in pretrained})
    here = Path(model.path).resolve() if model.path else None
    for name, path in pretrained.items():
        if here is not None and path.resolve() == here:
            continue
        try:
            known = _library_names(path)
        except ConceptVAEError:
            continue
        if names and names <= known:
            return (f" (the {name} model holds {', '.join(sorted(names))}: "
                    f"{param('model')} {name})")  # fmt: skip
    return ""


def referenced_names(concepts: str | Sequence[str]) -> set[str]:
    """Concept and class names used by expressions (``EXPR=AMOUNT`` allowed)."""
    from .concepts.expressions import parse_expression, split_amount

    if isinstance(concepts, str):
        concepts = [concepts]
    names: set[str] = set()
    for text in concepts:
        expr, amount = split_amount(str(text))
        for term in parse_expression(expr if amount is not None else str(text)):
            names.add(term.ref.name)
            if term.ref.source is not None:
                names.add(term.ref.source)
    return names


def _library_names(model_dir: Path) -> set[str]:
    from .concepts.h5format import peek_names
    from .concepts.library import ConceptLibrary

    path = model_dir / files.CONCEPTS
    if not path.is_file():
        return set()
    # Choosing a model by the names it holds reads only the names; the chosen
    # model's library is read and checked in full when it is used.
    quick = peek_names(path)
    if quick is not None:
        return quick
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


def resolve_library(
    model: VAEModel, library: Any = None, ignore_fingerprint: bool = False
) -> ConceptLibrary:
    """The concept library a command uses with ``model``: ``library`` is a
    ConceptLibrary, a concepts.h5 path, or None (the model's own)."""
    from .concepts.library import ConceptLibrary, open_library
    from .model.identity import model_ref

    if library is None:
        return open_library(model, ignore_fingerprint=ignore_fingerprint)
    lib = library if isinstance(library, ConceptLibrary) else ConceptLibrary.read(library)
    lib.check_model(model_ref(model), ignore_fingerprint)
    return lib
