"""The optional parts of the install, and the one-line error when one is missing.

The plain ``pip install .`` is the inference toolkit (LiteRT, no TensorFlow).
Training, export and the Keras backend need ``conceptvae[train]``; MP4 output
needs the ffmpeg binary of ``conceptvae[mp4]``.
"""

from __future__ import annotations

import importlib.util

from .errors import ConceptVAEError

# extra -> (what needs it, the import names it brings)
EXTRAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "train": ("training, export and the Keras backend need TensorFlow", ("tensorflow", "keras")),
    "mp4": ("MP4 output needs the ffmpeg of imageio-ffmpeg", ("imageio_ffmpeg",)),
}


class MissingExtraError(ConceptVAEError):
    """A feature whose packages the plain install leaves out."""

    def __init__(self, extra: str) -> None:
        self.extra = extra
        super().__init__(f"{EXTRAS[extra][0]}, which is not installed: {install_hint(extra)}")


def install_hint(extra: str) -> str:
    return f'pip install "conceptvae[{extra}]"'


def has_extra(extra: str) -> bool:
    return all(_importable(name) for name in EXTRAS[extra][1])


def require_extra(extra: str) -> None:
    """Raise :class:`MissingExtraError` unless ``extra``'s packages can be imported."""
    if not has_extra(extra):
        raise MissingExtraError(extra)


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a module set to None in sys.modules, or a broken one
        return False
