"""The edit modes: one module per mode, each holding one ``MODE``.

The table of modes is :data:`conceptvae.options.EDIT_MODES` (name -> one line of
help): the CLI's choices, the studio's list and the meta.json checks read it
without importing anything here. A mode's module, ``modes/<name>.py``, defines
``MODE = Mode(render, ...)``: ``render(case)`` turns one input's decodes into its
output (see :class:`~conceptvae.editing.modes.common.Case`). A new mode is that
module plus its entry in the table.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ...options import EDIT_MODES
from .common import Case


@dataclass(frozen=True)
class Mode:
    """How one edit mode renders.

    ``render(case)`` returns the input's output as float32 (H, W, C) in [0, 1];
    for a face found in a photograph (``case.face`` set) it returns the
    photograph, uint8, with this face's edit in it, or a float image to stand
    for the whole output (decode mode on a face crop of the model's size).
    ``needs_start``: render reads ``case.start``, the decode of the unmoved
    latent. ``own_resolution``: a whole input's output is at the input's own
    pixel size (a strip shows the input crop at that size), not the model's.
    """

    render: Callable[[Case], np.ndarray]
    needs_start: bool = True
    own_resolution: bool = True


def get_mode(name: str) -> Mode:
    """The mode called ``name`` (one of ``EDIT_MODES``)."""
    if name not in EDIT_MODES:
        raise ValueError(f"unknown edit mode {name!r}")
    return importlib.import_module(f"{__name__}.{name}").MODE


__all__ = ["Case", "Mode", "get_mode"]
