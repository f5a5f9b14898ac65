"""Every picture conceptvae draws: grids, strips, labelled sheets, diagrams, plots.

Pure drawing with Pillow (no plotting library, no model): arrays and labels in,
PIL images out. The domain modules build their pictures here and the commands
write them. One font helper (:func:`font`, :func:`text_width`) serves them all.
Layouts: :func:`grid` (tiles with row/column labels: strips, sample grids,
previews), :func:`captioned_grid` (a caption under every tile: the analogy
diagram), :func:`sheet` (a figure with ticks and axis captions: latent grids,
sample sheets), :func:`plot_points` (a scatter plot with axes and a legend).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .errors import ConceptVAEError, param
from .images import array_to_pil

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


def font(size: int = 11) -> ImageFont.ImageFont:
    """Pillow's default font at ``size`` pixels (the fixed bitmap font without FreeType)."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def text_width(font: ImageFont.ImageFont, text: str) -> int:
    box = font.getbbox(text)
    return int(box[2] - box[0])


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
    n = len(images)
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    tiles = [array_to_pil(im, cell) for im in images]
    w, h = tiles[0].size
    mode = "RGB" if any(t.mode == "RGB" for t in tiles) else "L"
    font_ = font()
    left = 0
    if row_labels:
        left = max(text_width(font_, s) for s in row_labels) + 6
    top = 16 if col_labels else 0
    title_h = 18 if title else 0
    width = left + ncols * (w + pad) + pad
    height = title_h + top + nrows * (h + pad) + pad
    canvas = Image.new(mode, (width, height), BACKGROUND if mode == "L" else (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    ink = 0 if mode == "L" else (0, 0, 0)
    if title:
        draw.text((pad + 2, 3), title, fill=ink, font=font_)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, ncols)
        canvas.paste(
            tile.convert(mode), (left + pad + c * (w + pad), title_h + top + pad + r * (h + pad))
        )
    if row_labels:
        for r, label in enumerate(row_labels[:nrows]):
            y = title_h + top + pad + r * (h + pad) + h // 2 - 6
            draw.text((3, y), label, fill=ink, font=font_)
    if col_labels:
        for c, label in enumerate(col_labels[:ncols]):
            x = left + pad + c * (w + pad) + (w - text_width(font_, label)) // 2
            draw.text((max(x, left), title_h + 2), label, fill=ink, font=font_)
    return canvas


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
    font_ = font()
    images = [None if t is None else _as_pil(t) for t in tiles]
    if cell is not None:
        images = [
            im if im is None or im.size == (cell, cell) else im.resize((cell, cell), Image.LANCZOS)
            for im in images
        ]
    present = [im for im in images if im is not None]
    if not present:
        raise ValueError("captioned_grid needs at least one image")
    w = max(im.size[0] for im in present)
    h = max(im.size[1] for im in present)
    captions = list(captions or [])
    cap_h = 14 if any(captions) else 0
    col_w = max([w, *(text_width(font_, c) + 4 for c in captions if c)])
    nrows = -(-len(images) // ncols)
    title_h = 18 if title else 0
    mode = "RGB" if any(im.mode == "RGB" for im in present) else "L"
    white, ink = (255, 0) if mode == "L" else ((255, 255, 255), (0, 0, 0))
    width = pad + ncols * (col_w + pad)
    if title:
        width = max(width, text_width(font_, title) + 2 * pad + 4)
    canvas = Image.new(mode, (width, title_h + pad + nrows * (h + cap_h + pad)), white)
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((pad + 2, 3), title, fill=ink, font=font_)
    for i, im in enumerate(images):
        r, c = divmod(i, ncols)
        x0 = pad + c * (col_w + pad)
        y0 = title_h + pad + r * (h + cap_h + pad)
        if im is not None:
            canvas.paste(im.convert(mode), (x0 + (col_w - im.size[0]) // 2, y0))
        text = captions[i] if i < len(captions) else ""
        if text:
            x = x0 + (col_w - text_width(font_, text)) // 2
            draw.text((x, y0 + h + 1), text, fill=ink, font=font_)
    return canvas


def _as_pil(tile: np.ndarray | Image.Image) -> Image.Image:
    return tile if isinstance(tile, Image.Image) else array_to_pil(np.asarray(tile))


def sheet(
    images: np.ndarray,
    ncols: int,
    cell: int | None = None,
    title: str | None = None,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    x_caption: str | None = None,
    y_caption: str | None = None,
    pad: int = 2,
) -> Image.Image:
    """Tiles row by row with tick labels left of rows and under columns, axis captions
    and a title; the canvas widens to fit its text, and column labels that would
    collide are thinned out."""
    font_ = font(12)
    tiles = [array_to_pil(im, cell) for im in np.asarray(images)]
    w, h = tiles[0].size
    nrows = -(-len(tiles) // ncols)
    rl = list(row_labels or [])
    cl = list(col_labels or [])
    left = (max((text_width(font_, s) for s in rl), default=0) + 8) if rl else 0
    left += 16 if y_caption else 0
    top = 22 if title else pad
    bottom = (16 if cl else 0) + (16 if x_caption else 0)
    grid_w = ncols * (w + pad) + pad
    width = max(left + grid_w + pad, (text_width(font_, title) + 12) if title else 0)
    height = top + nrows * (h + pad) + pad + bottom
    canvas = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(canvas)
    x0 = left + (width - left - grid_w) // 2
    if title:
        draw.text((6, 5), title, fill=INK, font=font_)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, ncols)
        canvas.paste(tile.convert("RGB"), (x0 + pad + c * (w + pad), top + pad + r * (h + pad)))
    for r, label in enumerate(rl[:nrows]):
        y = top + pad + r * (h + pad) + h // 2 - 6
        draw.text((left - 4 - text_width(font_, label), y), label, fill=MUTED, font=font_)
    if cl:
        # Show every k-th label so neighbours never overlap.
        widest = max(text_width(font_, s) for s in cl) + 6
        step = max(1, math.ceil(widest / (w + pad)))
        y = top + nrows * (h + pad) + pad + 1
        for c, label in enumerate(cl[:ncols]):
            if c % step == 0:
                cx = x0 + pad + c * (w + pad) + w // 2
                draw.text((cx - text_width(font_, label) // 2, y), label, fill=MUTED, font=font_)
    if x_caption:
        y = height - 15
        draw.text((x0 + grid_w // 2 - text_width(font_, x_caption) // 2, y), x_caption, fill=INK,
                  font=font_)  # fmt: skip
    if y_caption:
        tw = text_width(font_, y_caption) + 4
        label = Image.new("RGB", (tw, 14), WHITE)
        ImageDraw.Draw(label).text((2, 0), y_caption, fill=INK, font=font_)
        label = label.rotate(90, expand=True)
        y = top + (nrows * (h + pad)) // 2 - label.size[1] // 2
        canvas.paste(label, (1, max(top, y)))
    return canvas


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
    title = f"{n} samples, seed {seed}, temperature {temperature:g}" if seed is not None else None
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
    rgb = any(im.shape[-1] == 3 for row in cells for im in row) or any(
        im.shape[-1] == 3 for im in inputs
    )
    tiles = []
    for row_input, row in zip(inputs, cells):
        tiles.extend(tile(im, cell, rgb) for im in [row_input, *row])
    return grid(
        np.stack(tiles),
        ncols=len(amounts) + 1,
        row_labels=names,
        col_labels=["input", *amounts],
        title=title,
    )


def tile(image: np.ndarray, cell: int, rgb: bool = False) -> np.ndarray:
    """A float image -> uint8 (cell, cell, 1 or 3), so rows of any size tile together."""
    im = array_to_pil(image)
    if im.size != (cell, cell):
        im = im.resize((cell, cell), Image.LANCZOS)
    arr = np.asarray(im.convert("RGB" if rgb else "L"))
    return arr if rgb else arr[..., None]


def analogy_picture(
    inputs: list[np.ndarray], cells: np.ndarray, names: list[str], cell: int
) -> Image.Image:
    """The inputs A, B, C captioned on a first row, then the J-diagram of decoded latents."""
    k = cells.shape[0]
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
