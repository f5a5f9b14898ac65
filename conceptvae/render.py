"""Turn decoded image batches into pictures: grids, strips, labelled rows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .errors import ConceptVAEError
from .images import MAX_PIXELS, array_to_pil

BACKGROUND = 255  # white margins read as a page, not as part of the image
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
            "smaller --size"
        )


def _font(size: int = 11) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # very old Pillow
        return ImageFont.load_default()


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
    check_picture(n, ncols, cell or images.shape[2], cell or images.shape[1])
    tiles = [array_to_pil(im, cell) for im in images]
    w, h = tiles[0].size
    mode = "RGB" if any(t.mode == "RGB" for t in tiles) else "L"
    font = _font()
    left = 0
    if row_labels:
        left = max(_text_width(font, s) for s in row_labels) + 6
    top = 16 if col_labels else 0
    title_h = 18 if title else 0
    width = left + ncols * (w + pad) + pad
    height = title_h + top + nrows * (h + pad) + pad
    canvas = Image.new(mode, (width, height), BACKGROUND if mode == "L" else (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    ink = 0 if mode == "L" else (0, 0, 0)
    if title:
        draw.text((pad + 2, 3), title, fill=ink, font=font)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, ncols)
        canvas.paste(
            tile.convert(mode), (left + pad + c * (w + pad), title_h + top + pad + r * (h + pad))
        )
    if row_labels:
        for r, label in enumerate(row_labels[:nrows]):
            y = title_h + top + pad + r * (h + pad) + h // 2 - 6
            draw.text((3, y), label, fill=ink, font=font)
    if col_labels:
        for c, label in enumerate(col_labels[:ncols]):
            x = left + pad + c * (w + pad) + (w - _text_width(font, label)) // 2
            draw.text((max(x, left), title_h + 2), label, fill=ink, font=font)
    return canvas


def _text_width(font: ImageFont.ImageFont, text: str) -> int:
    box = font.getbbox(text)
    return int(box[2] - box[0])


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
    font = _font()
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
    present = [im for im in images if im is not None]
    if not present:
        raise ValueError("captioned_grid needs at least one image")
    w = max(im.size[0] for im in present)
    h = max(im.size[1] for im in present)
    captions = list(captions or [])
    cap_h = 14 if any(captions) else 0
    col_w = max([w, *(_text_width(font, c) + 4 for c in captions if c)])
    nrows = -(-len(images) // ncols)
    title_h = 18 if title else 0
    mode = "RGB" if any(im.mode == "RGB" for im in present) else "L"
    white, ink = (255, 0) if mode == "L" else ((255, 255, 255), (0, 0, 0))
    width = pad + ncols * (col_w + pad)
    if title:
        width = max(width, _text_width(font, title) + 2 * pad + 4)
    canvas = Image.new(mode, (width, title_h + pad + nrows * (h + cap_h + pad)), white)
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((pad + 2, 3), title, fill=ink, font=font)
    for i, im in enumerate(images):
        r, c = divmod(i, ncols)
        x0 = pad + c * (col_w + pad)
        y0 = title_h + pad + r * (h + cap_h + pad)
        if im is not None:
            canvas.paste(im.convert(mode), (x0 + (col_w - im.size[0]) // 2, y0))
        text = captions[i] if i < len(captions) else ""
        if text:
            x = x0 + (col_w - _text_width(font, text)) // 2
            draw.text((x, y0 + h + 1), text, fill=ink, font=font)
    return canvas


def _as_pil(tile: np.ndarray | Image.Image) -> Image.Image:
    return tile if isinstance(tile, Image.Image) else array_to_pil(np.asarray(tile))
