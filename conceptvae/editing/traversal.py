"""Strips (``traverse``, ``edit --sweep``): each image moved by each of a row of amounts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from ..checks import check_amount, check_steps
from ..errors import ConceptVAEError
from ..model.loaded import VAEModel
from ..resolve import resolve_library, resolve_model
from .compose import render
from .concepts import ConceptsArg, concept_names, parse_concepts
from .editor import warn_if_outside_shell
from .inputs import Input, Slot, prepare_inputs
from .modes import get_mode
from .options import EditOptions, amounts_between, format_amount

# Pictures (strips, analogies) are for people: cells are at least this many
# pixels even for a 16- or 28-pixel model, unless a size is given.
MIN_CELL = 64
MAX_DETAIL_CELL = 512


@dataclass
class StripResult:
    """A traversal: ``cells[r][c]`` is input r moved by ``amounts[c]`` (float32 arrays).

    ``inputs[r]`` is input r as the model sees it (or its crop in detail mode).
    An image of more pixels than the strip's cell (a photograph), in ``cells`` or
    ``inputs``, is kept only as that cell shows it: uint8 (cell, cell, channels),
    fitted into the square on white, so a strip of a large photograph never holds
    it once per amount.
    ``picture`` is the labelled strip (an "input" column, then one per amount).
    """

    cells: list[list[np.ndarray]]
    amounts: np.ndarray
    inputs: list[np.ndarray]
    names: list[str]
    title: str
    mode: str
    picture: Image.Image = field(repr=False)


def traverse(
    model: Any,
    images: Any,
    concepts: ConceptsArg,
    amounts: Sequence[float] | np.ndarray | None = None,
    *,
    start: float = -3.0,
    stop: float = 3.0,
    steps: int = 9,
    size: int | None = None,
    options: EditOptions | None = None,
    skipped: list[ConceptVAEError] | None = None,
    **changes: Any,
) -> StripResult:
    """Each image moved along the concepts by each amount, as arrays and a labelled strip.

    Column amount ``s`` moves ``z`` to ``z + s * sum(w_i * direction_i)``, where
    ``w_i`` is a concept's own ``=AMOUNT`` (default 1). ``amounts`` defaults to
    ``steps`` evenly spaced values from ``start`` to ``stop``. The edit options
    (``mode``, ``library``, ``align``, ``face``, ...: see :class:`EditOptions`)
    come as ``options`` and/or keywords; ``amount`` and ``until`` do not apply. A
    photograph given to a face model is one row of whole photographs, its faces
    edited. With a ``skipped`` list, input files that cannot be used are left
    out (see :func:`prepare_inputs`): the strip has a row for each of the others.
    """
    opts = EditOptions.make(options, **changes)
    model = resolve_model(model, concept_names(concepts), opts.backend)
    if amounts is None:
        amounts = amounts_between(start, stop, steps)
    amounts = np.asarray([check_amount(a, "amount") for a in amounts], np.float64)
    check_steps(len(amounts), "number of amounts")
    mode = opts.mode_for(model)
    lib = resolve_library(model, opts.library, opts.ignore_fingerprint)
    args = parse_concepts(lib, concepts)
    inputs, slots = prepare_inputs(
        model, images, align=opts.align, face=opts.face, skipped=skipped
    )

    z = model.encode(np.stack([i.x for i in inputs])).astype(np.float64)
    combined = sum(
        (a.amount if a.amount is not None else 1.0) * lib.direction(list(a.terms), z, opts.infer)
        for a in args
    )
    # Column-major rows: every input at amounts[0], then every input at amounts[1], ...
    z_new = np.concatenate([z + s * combined for s in amounts]).astype(np.float32)
    warn_if_outside_shell(np.tile(z, (len(amounts), 1)), z_new)
    own = get_mode(mode).own_resolution
    cell = size or _cell_size(model, inputs, slots, own)
    # The input column first: the last column's faces then go into the photographs
    # themselves (consume), and every image larger than a cell is kept only at
    # the cell's size, so a large photograph is held full size once or twice,
    # whatever the number of amounts.
    shown = _shown(inputs, slots, own, cell)
    flat = render(
        model, inputs, slots, z.astype(np.float32), z_new, mode, opts.chosen,
        consume=True, keep=lambda _, image: _to_cell(image, cell),
    )  # fmt: skip
    n = len(slots)
    cells = [[flat[c * n + r] for c in range(len(amounts))] for r in range(n)]
    title = ", ".join(a.label for a in args) + (f"  ({mode})" if mode != "decode" else "")
    names = [sl.name for sl in slots]
    from ..render import strip_picture  # drawing (ImageDraw, fonts) only for strips

    picture = strip_picture(shown, cells, [format_amount(a) for a in amounts], names, title, cell)
    return StripResult(cells, amounts, shown, names, title, mode, picture)


def _shown(inputs: list[Input], slots: list[Slot], own: bool, cell: int) -> list[np.ndarray]:
    """The "input" column: each row's input as the mode shows it."""
    first: dict[int, Input] = {}
    for i in inputs:
        first.setdefault(i.slot, i)
    shown = []
    for k, sl in enumerate(slots):
        i = first[k]
        if sl.photo is not None:
            shown.append(_to_cell(sl.photo, cell))
        elif own:
            crop = np.asarray(i.crop).reshape(*i.crop.size[::-1], -1)
            shown.append(_to_cell(crop, cell))
        else:
            shown.append(i.x)
    return shown


def _to_cell(image: np.ndarray, cell: int) -> np.ndarray:
    """float32 in [0, 1]; an image of more pixels than a cell (a photograph) as the
    strip's uint8 cell shows it, which tiles to the same bytes as the image itself
    (uint8: a strip's cells may add up to its whole budget of pixels)."""
    if image.shape[0] * image.shape[1] <= cell * cell:
        return image.astype(np.float32) / 255 if image.dtype == np.uint8 else image
    from ..render import fit_cell

    return np.asarray(fit_cell(image, cell)).reshape(cell, cell, -1)


def _cell_size(model: VAEModel, inputs: list[Input], slots: list[Slot], own: bool) -> int:
    photos = [max(sl.photo.shape[:2]) for sl in slots if sl.photo is not None]
    if own or photos:
        sides = [i.crop.size[0] for i in inputs if i.face is None] + photos
        return max(MIN_CELL, min(MAX_DETAIL_CELL, *sides))
    return max(MIN_CELL, model.config.image_size)
