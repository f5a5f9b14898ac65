"""The one error type for user mistakes.

The library raises :class:`ConceptVAEError` for anything the user can fix (a bad
file, a bad option, an unknown concept). Only the CLI turns it into a one-line
message and exit status 2; everything else is a bug and keeps its traceback.

Messages name the Python parameter at fault through :func:`param`: a Python
caller reads ``amount must be ...``; the CLI renders the same error with its own
flag names (``--amount must be ...``), so the library never spells a flag.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

# Private-use code points delimit a parameter name inside a message; no file
# name or concept name a user types carries them.
_OPEN, _CLOSE = "\ue000", "\ue001"
# A name, or a name with its value (``align=False``: the CLI spells it ``--no-align``).
_PARAM = re.compile(_OPEN + r"([A-Za-z_][A-Za-z0-9_]*(?:=[A-Za-z0-9_]+)?)" + _CLOSE)


def param(name: str) -> str:
    """A Python parameter named in an error message (see the module docstring)."""
    return f"{_OPEN}{name}{_CLOSE}"


def render(text: str, name: Callable[[str], str] | None = None) -> str:
    """``text`` with each :func:`param` replaced by ``name(param)`` (default: the name)."""
    return _PARAM.sub(lambda m: name(m.group(1)) if name else m.group(1), text)


class ConceptVAEError(Exception):
    """A problem with the user's input, reported as one line."""

    def __init__(self, message: str, path: str | os.PathLike | None = None) -> None:
        self.path = None if path is None else os.fspath(path)
        self.raw = message  # with parameter markers, for front ends and re-wrapping
        super().__init__(self.render())

    @property
    def message(self) -> str:
        return render(self.raw)

    @property
    def marked(self) -> str:
        """The whole line with its parameter markers kept, for wrapping in another error."""
        return f"{self.path}: {self.raw}" if self.path else self.raw

    def render(self, name: Callable[[str], str] | None = None) -> str:
        """The one-line message, parameters named by ``name`` (default: Python names)."""
        text = render(self.raw, name)
        return f"{self.path}: {text}" if self.path else text

    def __str__(self) -> str:
        return self.render()


class DataError(ConceptVAEError):
    """An image, dataset or labels file that cannot be used."""


class ModelError(ConceptVAEError):
    """A model directory or file that cannot be loaded."""


class ConceptError(ConceptVAEError):
    """An unknown, malformed or unusable concept or concept library."""


def _raised_inside(exc: BaseException, package: str) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").split(".")[0] == package:
            return True
        tb = tb.tb_next
    return False


def resource_problem(exc: BaseException) -> str | None:
    """The one-line problem for failures that are the input's or the machine's doing,
    not a bug: memory exhausted, absurd nesting, integers too long to parse, a full
    disk or a damaged file reported by h5py (RuntimeError) or zlib. None otherwise."""
    import zlib

    if isinstance(exc, MemoryError):
        return "out of memory: the input asks for more than this machine can hold"
    if isinstance(exc, RecursionError):
        return "refused: the input is nested too deeply"
    if isinstance(exc, zlib.error):
        return f"corrupt compressed data ({exc})"
    if isinstance(exc, ValueError) and "integer string conversion" in str(exc):
        return "refused: a number with too many digits"
    if isinstance(exc, (RuntimeError, OSError)) and _raised_inside(exc, "h5py"):
        text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        if "space" in text.lower() or "write failed" in text.lower():
            return f"cannot write: disk full? ({text})"
        return f"HDF5 error ({text})"
    return None
