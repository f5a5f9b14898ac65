"""What a command over several inputs did: the files written, the inputs left out."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..editing.inputs import is_input_error as input_error
from ..errors import ConceptVAEError

if TYPE_CHECKING:
    from ..editing.editor import FaceEdit

__all__ = ["Batch", "Written", "input_error", "kept_paths"]


@dataclass
class Written:
    """One output file and, per image, what went into it."""

    path: Path
    name: str
    amounts: dict[str, float]
    probability: float | None = None
    capped: bool = False
    faces: list[FaceEdit] | None = None  # a photograph's edited faces


@dataclass
class Batch:
    """What a command over several inputs did: the files written, and each input
    left out with the error that stopped it (the others were still done).

    ``inputs_done`` counts the inputs used when several go into one file (a
    strip's rows); otherwise each file written is one input."""

    written: list[Written]
    skipped: list[ConceptVAEError] = field(default_factory=list)
    inputs_done: int | None = None

    @property
    def done(self) -> int:
        """How many inputs were used."""
        return len(self.written) if self.inputs_done is None else self.inputs_done


def kept_paths(paths: list[Path], skipped: list[ConceptVAEError]) -> list[Path]:
    """``paths`` without the ones ``skipped`` names, in order."""
    # A set, as input_error compares: every chunk of a large folder is checked
    # against every input skipped so far.
    gone = {os.path.abspath(e.path) for e in skipped if e.path is not None}
    return [p for p in paths if os.path.abspath(p) not in gone]
