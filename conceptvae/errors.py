"""The one error type for user mistakes.

The library raises :class:`ConceptVAEError` for anything the user can fix (a bad
file, a bad option, an unknown concept). Only the CLI turns it into a one-line
message and exit status 2; everything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os


class ConceptVAEError(Exception):
    """A problem with the user's input, reported as one line."""

    def __init__(self, message: str, path: str | os.PathLike | None = None) -> None:
        self.path = None if path is None else os.fspath(path)
        self.message = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class DataError(ConceptVAEError):
    """An image, dataset or labels file that cannot be used."""


class ModelError(ConceptVAEError):
    """A model directory or file that cannot be loaded."""


class ConceptError(ConceptVAEError):
    """An unknown, malformed or unusable concept or concept library."""
