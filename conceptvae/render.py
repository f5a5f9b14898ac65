"""Turn decoded image batches into pictures: grids, strips, labelled rows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .images import array_to_pil

BACKGROUND = 255  # white margins read as a page, not as part of the image


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
