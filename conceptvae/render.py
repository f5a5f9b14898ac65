"""Every picture conceptvae draws: grids, strips, labelled sheets, diagrams, plots.

Pure drawing with Pillow (no plotting library, no model): arrays and labels in,
PIL images out. The domain modules build their pictures here and the commands
write them. One font helper (:func:`font`, :func:`text_width`) serves them all.
Layouts: :func:`layout` is the one routine that sets tiles on a page and letters them,
in three looks: :func:`grid` (row/column labels: strips, sample grids,
previews), :func:`captioned_grid` (a caption under every tile: the analogy
diagram) and :func:`sheet` (a figure with ticks and axis captions: latent
grids, sample sheets). :func:`plot_points` draws a scatter plot with axes and a
legend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .errors import ConceptVAEError, param
from .images import MAX_PIXELS, array_to_pil

BACKGROUND = 255  # white margins read as a page, not as part of the image
INK = (34, 34, 34)
MUTED = (120, 120, 120)
RULE = (225, 225, 225)
WHITE = (255, 255, 255)
# Tableau's 20 colours, strong ones first: distinguishable and colour-blind friendlier.
PALETTE = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (188, 189, 34), (23, 190, 207), (127, 127, 127),
    (174, 199, 232), (255, 187, 120), (152, 223, 138), (255, 152, 150), (197, 176, 213),
    (196, 156, 148), (247, 182, 210), (219, 219, 141), (158, 218, 229), (199, 199, 199),
]  # fmt: skip
UNLABELLED = (190, 190, 190)
# Every picture conceptvae composes (sample sheets, grids, strips, traversals,
# analogies) stays under this many pixels, checked before any tile is upscaled.
MAX_PICTURE_PIXELS = MAX_PIXELS


def check_picture(n: int, ncols: int, w: int, h: int | None = None) -> None:
    """Refuse a picture of ``n`` tiles of ``w`` x ``h`` in ``ncols`` columns over the budget."""
    h = w if h is None else h
    ncols = max(1, min(int(ncols), int(n)))
    nrows = -(-int(n) // ncols)
    width, height = ncols * int(w), nrows * int(h)
    if width * height > MAX_PICTURE_PIXELS:
        raise ConceptVAEError(
            f"the picture would be {width:,}x{height:,} pixels ({n} images of {w}x{h}); at "
            f"most {MAX_PICTURE_PIXELS:,} pixels are drawn: ask for fewer images or a "
            f"smaller {param('size')}"
        )


def font(size: int = 11) -> ImageFont.ImageFont:
    """Pillow's default font at ``size`` pixels (the fixed bitmap font without FreeType)."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def text_width(font: ImageFont.ImageFont, text: str) -> int:
    box = font.getbbox(text)
    return int(box[2] - box[0])


@dataclass(frozen=True)
class Layout:
    """How :func:`layout` sets tiles and letters them: the three looks below."""

    font_size: int = 11
    rgb: bool = False  # always RGB; else grayscale unless a tile is in colour
    ink: tuple[int, int, int] | None = None  # None: black
    label_ink: tuple[int, int, int] | None = None  # row and column labels; None: ink
    title_band: int = 18  # height above the tiles when there is a title
    title_at: tuple[int, int] | None = None  # None: (pad + 2, 3)
    title_room: tuple[int, int] | None = None  # (extra, pads): widen to fit the title
    top_pad: bool = False  # a pad above the tiles even without a title
    right_pad: bool = False
    center: bool = False  # centre the tiles when the title widens the canvas
    row_label_gap: int = 6  # the row-label band is the widest label plus this
    row_labels_right: bool = False  # right-aligned against the tiles (else at x = 3)
    col_labels_below: bool = False  # under the tiles, thinned so none overlap (else above)


GRID = Layout()
CAPTIONED = Layout(title_room=(4, 2))
FIGURE = Layout(
    font_size=12, rgb=True, ink=INK, label_ink=MUTED, title_band=22, title_at=(6, 5),
    title_room=(12, 0), top_pad=True, right_pad=True, center=True, row_label_gap=8,
    row_labels_right=True, col_labels_below=True,
)  # fmt: skip


def layout(
    tiles: Sequence[Image.Image | None],
    ncols: int,
    style: Layout = GRID,
    *,
    pad: int = 2,
    title: str | None = None,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    captions: Sequence[str] | None = None,
    x_caption: str | None = None,
    y_caption: str | None = None,
) -> Image.Image:
    """The one layout routine: tiles row by row (``None`` leaves a cell blank) with
    an optional title, row labels, column labels, a caption under each tile and
    axis captions, drawn in ``style``."""
    present = [im for im in tiles if im is not None]
    if not present:
        raise ValueError("a layout needs at least one image")
    f = font(style.font_size)
    w = max(im.size[0] for im in present)
    h = max(im.size[1] for im in present)
    nrows = -(-len(tiles) // ncols)
    rl, cl, caps = list(row_labels or []), list(col_labels or []), list(captions or [])
    cap_h = 14 if any(caps) else 0
    cw = max([w, *(text_width(f, c) + 4 for c in caps if c)])
    left = (max(text_width(f, s) for s in rl) + style.row_label_gap) if rl else 0
    left += 16 if y_caption else 0
    title_h = style.title_band if title else (pad if style.top_pad else 0)
    above = 16 if cl and not style.col_labels_below else 0
    below = (16 if cl and style.col_labels_below else 0) + (16 if x_caption else 0)
    y_tiles = title_h + above + pad
    grid_w = ncols * (cw + pad) + pad
    width = left + grid_w + (pad if style.right_pad else 0)
    if title and style.title_room is not None:
        extra, pads = style.title_room
        width = max(width, text_width(f, title) + extra + pads * pad)
    height = y_tiles + nrows * (h + cap_h + pad) + below
    mode = "RGB" if style.rgb or any(im.mode == "RGB" for im in present) else "L"
    white = BACKGROUND if mode == "L" else WHITE
    black = 0 if mode == "L" else (0, 0, 0)
    ink = style.ink or black
    label_ink = style.label_ink or ink
    canvas = Image.new(mode, (width, height), white)
    draw = ImageDraw.Draw(canvas)
    x0 = left + ((width - left - grid_w) // 2 if style.center else 0)
    if title:
        draw.text(style.title_at or (pad + 2, 3), title, fill=ink, font=f)
    for i, im in enumerate(tiles):
        r, c = divmod(i, ncols)
        x, y = x0 + pad + c * (cw + pad), y_tiles + r * (h + cap_h + pad)
        if im is not None:
            canvas.paste(im.convert(mode), (x + (cw - im.size[0]) // 2, y))
        text = caps[i] if i < len(caps) else ""
        if text:
            draw.text((x + (cw - text_width(f, text)) // 2, y + h + 1), text, fill=ink, font=f)
    for r, label in enumerate(rl[:nrows]):
        y = y_tiles + r * (h + cap_h + pad) + h // 2 - 6
        x = left - 4 - text_width(f, label) if style.row_labels_right else 3
        draw.text((x, y), label, fill=label_ink, font=f)
    if cl and style.col_labels_below:
        # Show every k-th label so neighbours never overlap.
        step = max(1, math.ceil((max(text_width(f, s) for s in cl) + 6) / (cw + pad)))
        y = y_tiles + nrows * (h + cap_h + pad) + 1
        for c, label in enumerate(cl[:ncols]):
            if c % step == 0:
                cx = x0 + pad + c * (cw + pad) + cw // 2
                draw.text((cx - text_width(f, label) // 2, y), label, fill=label_ink, font=f)
    elif cl:
        for c, label in enumerate(cl[:ncols]):
            x = x0 + pad + c * (cw + pad) + (cw - text_width(f, label)) // 2
            draw.text((max(x, left), title_h + 2), label, fill=label_ink, font=f)
    if x_caption:
        x = x0 + grid_w // 2 - text_width(f, x_caption) // 2
        draw.text((x, height - 15), x_caption, fill=ink, font=f)
    if y_caption:
        label = Image.new(mode, (text_width(f, y_caption) + 4, 14), white)
        ImageDraw.Draw(label).text((2, 0), y_caption, fill=ink, font=f)
        label = label.rotate(90, expand=True)
        y = title_h + (nrows * (h + cap_h + pad)) // 2 - label.size[1] // 2
        canvas.paste(label, (1, max(title_h, y)))
    return canvas


def grid(
    images: np.ndarray,
    ncols: int | None = None,
    cell: int | None = None,
    pad: int = 2,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    title: str | None = None,
) -> Image.Image:
    """Tile (N, H, W, C) images row by row; optional row/column labels and a title."""
    images = np.asarray(images)
    ncols = ncols or int(np.ceil(np.sqrt(len(images))))
    check_picture(len(images), ncols, cell or images.shape[2], cell or images.shape[1])
    tiles = [array_to_pil(im, cell) for im in images]
    return layout(tiles, ncols, GRID, pad=pad, title=title, row_labels=row_labels,
                  col_labels=col_labels)  # fmt: skip


def captioned_grid(
    tiles: Sequence[np.ndarray | Image.Image | None],
    ncols: int,
    captions: Sequence[str] | None = None,
    title: str | None = None,
    cell: int | None = None,
    pad: int = 4,
) -> Image.Image:
    """Tiles row by row, each with its caption underneath; ``None`` leaves a blank cell.

    Tiles are images (arrays as :func:`grid` takes them, or PIL images), resized
    to ``cell`` pixels square when given. Columns widen to fit their captions.
    """
    if cell is not None:
        check_picture(len(tiles), ncols, cell)
    images = [None if t is None else _as_pil(t) for t in tiles]
    if cell is None:
        sizes = [im.size for im in images if im is not None]
        if sizes:
            check_picture(len(tiles), ncols, max(s[0] for s in sizes), max(s[1] for s in sizes))
    if cell is not None:
        images = [
            im if im is None or im.size == (cell, cell) else im.resize((cell, cell), Image.LANCZOS)
            for im in images
        ]
    return layout(images, ncols, CAPTIONED, pad=pad, title=title, captions=captions)


def _as_pil(tile: np.ndarray | Image.Image) -> Image.Image:
    return tile if isinstance(tile, Image.Image) else array_to_pil(np.asarray(tile))


def sheet(
    images: np.ndarray,
    ncols: int,
    *,
    cell: int | None = None,
    title: str | None = None,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    x_caption: str | None = None,
    y_caption: str | None = None,
    pad: int = 2,
) -> Image.Image:
    """A figure: tiles with tick labels left of rows and under columns, axis captions
    and a title; the canvas widens to fit its text, and column labels that would
    collide are thinned out."""
    images = np.asarray(images)
    check_picture(len(images), ncols, cell or images.shape[2], cell or images.shape[1])
    tiles = [array_to_pil(im, cell) for im in images]
    return layout(tiles, ncols, FIGURE, pad=pad, title=title, row_labels=row_labels,
                  col_labels=col_labels, x_caption=x_caption, y_caption=y_caption)  # fmt: skip


def sample_sheet(
    images: np.ndarray,
    seed: int | None = None,
    temperature: float = 1.0,
    cell: int | None = None,
) -> Image.Image:
    """A grid of prior samples; rows are labelled with the index of their first sample
    (the numbers ``sample --no-grid`` puts in its file names)."""
    n = len(images)
    ncols = int(np.ceil(np.sqrt(n)))
    rows = -(-n // ncols)
    what = f"{n} sample" + ("s" if n != 1 else "")
    title = f"{what}, seed {seed}, temperature {temperature:g}" if seed is not None else None
    labels = [str(r * ncols) for r in range(rows)] if rows > 1 else None
    return sheet(images, ncols, cell=cell, title=title, row_labels=labels)


# -- plots ----------------------------------------------------------------------------


def _nice_ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten) covering [lo, hi]."""
    if not hi > lo:
        hi = lo + 1.0
    raw = (hi - lo) / target
    mag = 10 ** math.floor(math.log10(raw))
    step = next(s * mag for s in (1, 2, 5, 10) if s * mag >= raw)
    first = math.ceil(lo / step) * step
    ticks = []
    t = first
    while t <= hi + 1e-9 * step:
        ticks.append(round(t, 10))
        t += step
    return ticks


def _tick_text(v: float) -> str:
    return f"{v:g}" if abs(v) >= 1e-9 else "0"


def plot_points(
    xy: np.ndarray,
    category: np.ndarray,
    names: Sequence[str],
    axis_names: tuple[str, str],
    title: str,
    width: int = 800,
    height: int = 600,
    seed: int = 0,
) -> Image.Image:
    """Draw points (N, 2) coloured by ``category`` (index into ``names``, -1 unlabelled)."""
    s = 2  # drawn at twice the size and scaled down: smooth dots and lines
    big, small = font(14 * s), font(12 * s)
    # The 19 most common categories get colours; the rest share "other".
    counts = np.bincount(category[category >= 0], minlength=len(names))
    order = sorted(range(len(names)), key=lambda i: (-counts[i], i))[: len(PALETTE) - 1]
    shown = sorted(order) if len(names) <= len(PALETTE) - 1 else order
    colour = {i: PALETTE[k] for k, i in enumerate(shown)}
    legend = [(names[i], colour[i], int(counts[i])) for i in shown]
    other = int(sum(counts[i] for i in range(len(names)) if i not in colour))
    if other:
        legend.append(("other", MUTED, other))
    unlabelled = int((category < 0).sum())
    if unlabelled and names:
        legend.append(("unlabelled", UNLABELLED, unlabelled))
    entries = [f"{n} ({c})" for n, _, c in legend]
    legend_w = (max(text_width(small, t) for t in entries) + 34 * s) if entries else 0
    left, right, top, bottom = 70 * s, 20 * s + legend_w, 40 * s, 56 * s
    W, H = width * s, height * s
    if W - left - right < 100 * s:
        raise ConceptVAEError(f"the legend leaves no room for the plot; raise {param('width')}")
    img = Image.new("RGB", (W, H), WHITE)
    d = ImageDraw.Draw(img)
    x0, y0, x1, y1 = left, top, W - right, H - bottom
    lo = xy.min(0)
    hi = xy.max(0)
    padding = np.maximum((hi - lo) * 0.05, 1e-6)
    lo, hi = lo - padding, hi + padding

    def px(p: np.ndarray) -> np.ndarray:
        return np.stack(
            [x0 + (p[:, 0] - lo[0]) / (hi[0] - lo[0]) * (x1 - x0),
             y1 - (p[:, 1] - lo[1]) / (hi[1] - lo[1]) * (y1 - y0)], 1)  # fmt: skip

    for t in _nice_ticks(lo[0], hi[0]):
        x = px(np.array([[t, lo[1]]]))[0, 0]
        d.line([(x, y0), (x, y1)], fill=RULE, width=s)
        d.line([(x, y1), (x, y1 + 5 * s)], fill=INK, width=s)
        label = _tick_text(t)
        d.text((x - text_width(small, label) / 2, y1 + 8 * s), label, fill=INK, font=small)
    for t in _nice_ticks(lo[1], hi[1]):
        y = px(np.array([[lo[0], t]]))[0, 1]
        d.line([(x0, y), (x1, y)], fill=RULE, width=s)
        d.line([(x0 - 5 * s, y), (x0, y)], fill=INK, width=s)
        label = _tick_text(t)
        d.text((x0 - 8 * s - text_width(small, label), y - 7 * s), label, fill=INK, font=small)
    d.rectangle([x0, y0, x1, y1], outline=INK, width=s)
    # Points in a seeded random order, so no class always hides another.
    pts = px(xy)
    r = (2.5 if len(xy) > 2000 else 3.5) * s
    for i in np.random.default_rng(seed).permutation(len(xy)):
        c = category[i]
        fill = colour.get(int(c), MUTED) if c >= 0 else UNLABELLED
        if not names:
            fill = PALETTE[0]
        x, y = pts[i]
        d.ellipse([x - r, y - r, x + r, y + r], fill=fill)
    d.text((x0, 10 * s), title, fill=INK, font=big)
    xl, yl = axis_names
    d.text(((x0 + x1) / 2 - text_width(big, xl) / 2, H - 26 * s), xl, fill=INK, font=big)
    if yl:
        tw = text_width(big, yl) + 8 * s
        label = Image.new("RGB", (tw, 18 * s), WHITE)
        ImageDraw.Draw(label).text((4 * s, 0), yl, fill=INK, font=big)
        label = label.rotate(90, expand=True)
        img.paste(label, (8 * s, int((y0 + y1) / 2 - label.size[1] / 2)))
    lx, ly = x1 + 18 * s, y0
    for (_, fill, _), text in zip(legend, entries):
        d.ellipse([lx, ly + 3 * s, lx + 10 * s, ly + 13 * s], fill=fill)
        d.text((lx + 16 * s, ly), text, fill=INK, font=small)
        ly += 20 * s
    return img.resize((width, height), Image.LANCZOS)


# -- edit strips and the analogy diagram ------------------------------------------------


def strip_picture(
    inputs: list[np.ndarray],
    cells: list[list[np.ndarray]],
    amounts: Sequence[str],
    names: list[str],
    title: str,
    cell: int,
) -> Image.Image:
    """A traversal: per row an "input" column, then one column per amount (its label)."""
    # Before any tile is upscaled: --steps and --size multiply into gigapixels.
    check_picture(len(inputs) * (len(amounts) + 1), len(amounts) + 1, cell)
    rgb = any(im.shape[-1] == 3 for row in cells for im in row) or any(
        im.shape[-1] == 3 for im in inputs
    )
    # Straight to the tiles :func:`grid` would make of them: a strip of many
    # photographs' rows is large, and an array copy or two of it would double that.
    tiles = [
        fit_cell(im, cell).convert("RGB" if rgb else "L")
        for row_input, row in zip(inputs, cells)
        for im in [row_input, *row]
    ]
    return layout(tiles, len(amounts) + 1, GRID, pad=2, title=title, row_labels=names,
                  col_labels=["input", *amounts])  # fmt: skip


def tile(image: np.ndarray, cell: int, rgb: bool = False) -> np.ndarray:
    """A float image -> uint8 (cell, cell, 1 or 3), so rows of any size tile together."""
    arr = np.asarray(fit_cell(image, cell).convert("RGB" if rgb else "L"))
    return arr if rgb else arr[..., None]


def fit_cell(image: np.ndarray, cell: int) -> Image.Image:
    """A float or uint8 image as a (cell, cell) tile shows it, in its own mode (L or RGB).

    A cell-sized uint8 result tiles to the same bytes again, so a strip can keep
    a large image only at its cell size as soon as it is made."""
    im = array_to_pil(image)
    if im.size[0] != im.size[1]:
        # A photograph keeps its shape: fitted into the square cell on white.
        fit = cell / max(im.size)
        small = im.resize((max(1, round(im.size[0] * fit)), max(1, round(im.size[1] * fit))),
                          Image.LANCZOS)  # fmt: skip
        im = Image.new(im.mode, (cell, cell), 255 if im.mode == "L" else (255, 255, 255))
        im.paste(small, ((cell - small.size[0]) // 2, (cell - small.size[1]) // 2))
    elif im.size != (cell, cell):
        im = im.resize((cell, cell), Image.LANCZOS)
    return im


def analogy_picture(
    inputs: list[np.ndarray], cells: np.ndarray, names: list[str], cell: int
) -> Image.Image:
    """The inputs A, B, C captioned on a first row, then the J-diagram of decoded latents."""
    k = cells.shape[0]
    check_picture((k + 1) * max(k, 3), max(k, 3), cell)
    rgb = cells.shape[-1] == 3
    tiles = [tile(im, cell, rgb) for im in inputs]
    captions: list[str] = [f"A: {names[0]}", f"B: {names[1]}", f"C: {names[2]}"]
    # Inputs on the first row, then the J-diagram of decoded latents under them.
    ncols = max(k, 3)
    row: list[np.ndarray | None] = [*tiles, *[None] * (ncols - 3)]
    caps = [*captions, *[""] * (ncols - 3)]
    corner = {(0, 0): "A", (0, k - 1): "B", (k - 1, 0): "C", (k - 1, k - 1): "D = C + (B - A)"}
    for i in range(k):
        for j in range(ncols):
            row.append(tile(cells[i, j], cell, rgb) if j < k else None)
            caps.append(corner.get((i, j), ""))
    return captioned_grid(row, ncols, caps, title="analogy: A is to B as C is to D", cell=cell)
