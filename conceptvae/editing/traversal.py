"""Strips (``traverse``, ``edit --sweep``): each image moved by each of a row of amounts."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
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
from .inputs import Input, Slot, iter_inputs
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
    rows, cell = _Rows(model, lib, args, amounts, mode, opts).make(images, size, skipped)
    warn_if_outside_shell(
        np.concatenate([r.z for r in rows]), np.concatenate([r.z_new for r in rows]), model.prior
    )
    cells = [r.cells for r in rows]
    shown = [r.shown for r in rows]
    title = ", ".join(a.label for a in args) + (f"  ({mode})" if mode != "decode" else "")
    names = [r.name for r in rows]
    from ..render import strip_picture  # drawing (ImageDraw, fonts) only for strips

    picture = strip_picture(shown, cells, [format_amount(a) for a in amounts], names, title, cell)
    return StripResult(cells, amounts, shown, names, title, mode, picture)


class _Rows:
    """A strip's rows: each input moved along the concepts, as its cells."""

    def __init__(
        self, model: VAEModel, lib: Any, args: list, amounts: np.ndarray, mode: str,
        opts: EditOptions,
    ) -> None:  # fmt: skip
        self.model, self.lib, self.args, self.amounts = model, lib, args, amounts
        self.mode, self.opts = mode, opts
        self.own = get_mode(mode).own_resolution

    def make(
        self, images: Any, size: int | None, skipped: list[ConceptVAEError] | None
    ) -> tuple[list[_Row], int]:
        """Every input's row, and the strip's cell size.

        One input at a time, from reading to its row of cells, so a strip of many
        photographs holds one of them full size at a time, never all at once.
        """
        opts = self.opts
        rows: list[_Row] = []
        given: list[tuple[int, Any]] = []  # each row's input, to make it again
        sizes = _CellSizes(self.model.config.image_size, self.own)
        for number, item, inputs, slot in iter_inputs(
            self.model, images, align=opts.align, face=opts.face, skipped=skipped
        ):
            sizes.add(inputs, slot)
            rows.append(self.row(inputs, slot, size or sizes.cell))
            given.append((number, item))
            del inputs, slot
        cell = size or sizes.cell
        for k, r in enumerate(rows):
            if r.cell == cell:
                continue
            if not r.reduced:
                # Nothing in the row was larger than its cell: it was kept whole.
                if r.fitted:
                    r.shown = _to_cell(r.shown, cell)
                r.cells = [_to_cell(image, cell) for image in r.cells]
                continue
            # A later input made the cell smaller than this row's, which was kept
            # reduced to its own: made again at the strip's cell (reducing the
            # reduction would not give the bytes the full images give).
            number, item = given[k]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # said the first time
                _, _, inputs, slot = next(
                    iter_inputs(self.model, [item], align=opts.align, face=opts.face, first=number)
                )
                rows[k] = self.row(inputs, slot, cell)
            del inputs, slot
        return rows, cell

    def row(self, inputs: list[Input], slot: Slot, cell: int) -> _Row:
        """The input's row: its own cell and its cells along the amounts."""
        model, amounts = self.model, self.amounts
        z = model.encode(np.stack([i.x for i in inputs])).astype(np.float64)
        combined = sum(
            (a.amount if a.amount is not None else 1.0)
            * self.lib.direction(list(a.terms), z, self.opts.infer)
            for a in self.args
        )
        # Column-major: every crop at amounts[0], then every crop at amounts[1], ...
        z_new = np.concatenate([z + s * combined for s in amounts]).astype(np.float32)
        reduced: list[bool] = []

        def keep(image: np.ndarray) -> np.ndarray:
            reduced.append(image.shape[0] * image.shape[1] > cell * cell)
            return _to_cell(image, cell)

        # The input column first: the last column's faces then go into the
        # photograph itself (consume), and every image larger than a cell is kept
        # only at the cell's size.
        shown = _shown(inputs, slot, self.own, keep)
        cells = render(
            model, inputs, [slot], z.astype(np.float32), z_new, self.mode, self.opts.chosen,
            consume=True, keep=lambda _, image: keep(image),
        )  # fmt: skip
        z_tiled = np.tile(z, (len(amounts), 1))
        fitted = slot.photo is not None or self.own  # else the model's own view, as it is
        return _Row(slot.name, cell, any(reduced), shown, fitted, cells, z_tiled, z_new)


@dataclass
class _Row:
    """One input's row of a strip: its input cell and one cell per amount."""

    name: str
    cell: int  # the cell size its images were kept for
    reduced: bool  # some of its images were larger than that cell
    shown: np.ndarray
    fitted: bool  # shown went through the cell (a photograph or own-resolution crop)
    cells: list[np.ndarray]
    z: np.ndarray  # its latents, once per amount
    z_new: np.ndarray  # and where the amounts move them


def _shown(
    inputs: list[Input], slot: Slot, own: bool, keep: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """The "input" column's cell: the input as the mode shows it (what the model
    sees, or through ``keep`` the photograph or crop at its own resolution)."""
    i = inputs[0]
    if slot.photo is not None:
        return keep(slot.photo)
    if own:
        return keep(np.asarray(i.crop).reshape(*i.crop.size[::-1], -1))
    return i.x


def _to_cell(image: np.ndarray, cell: int) -> np.ndarray:
    """float32 in [0, 1]; an image of more pixels than a cell (a photograph) as the
    strip's uint8 cell shows it, which tiles to the same bytes as the image itself
    (uint8: a strip's cells may add up to its whole budget of pixels)."""
    if image.shape[0] * image.shape[1] <= cell * cell:
        return image.astype(np.float32) / 255 if image.dtype == np.uint8 else image
    from ..render import fit_cell

    return np.asarray(fit_cell(image, cell)).reshape(cell, cell, -1)


class _CellSizes:
    """The strip's cell size, from the inputs seen so far.

    Where photographs or crops are shown at their own resolution, the smallest of
    them sets the cell (from MIN_CELL up to MAX_DETAIL_CELL), so no picture in
    the strip is enlarged; otherwise the model's size does. An input can only
    make the cell smaller.
    """

    def __init__(self, image_size: int, own: bool) -> None:
        self.image_size, self.own = image_size, own
        self.sides: list[int] = []
        self.photos = False

    def add(self, inputs: list[Input], slot: Slot) -> None:
        self.sides += [i.crop.size[0] for i in inputs if i.face is None]
        if slot.photo is not None:
            self.sides.append(max(slot.photo.shape[:2]))
            self.photos = True

    @property
    def cell(self) -> int:
        if self.own or self.photos:
            return max(MIN_CELL, min(MAX_DETAIL_CELL, *self.sides))
        return max(MIN_CELL, self.image_size)
