"""The picture ``conceptvae faces -o`` draws: each face's box, number and five landmarks."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .find import Face, as_rgb

BOX = (255, 64, 32)
POINTS = ((40, 220, 255), (40, 220, 255), (255, 230, 40), (120, 255, 90), (120, 255, 90))


def draw_faces(
    image: Image.Image | np.ndarray, faces: list[Face], *, copy: bool = True
) -> Image.Image:
    """A colour copy of ``image`` with the faces drawn, numbered from 1 as listed.

    ``copy=False``: a caller done with an RGB ``image`` has them drawn on it,
    rather than on a second copy of a photograph that may be very large.
    """
    im = as_rgb(image)
    if copy and im is image:
        im = im.copy()
    d = ImageDraw.Draw(im)
    side = max(im.size)
    width = max(1, round(side / 300))
    try:
        font = ImageFont.load_default(size=max(11, side // 45))
    except TypeError:  # Pillow < 10.1: one bitmap size
        font = ImageFont.load_default()
    for k, f in enumerate(faces, 1):
        x, y, w, h = f.box
        d.rectangle((x, y, x + w, y + h), outline=BOX, width=width)
        r = max(1.5, w / 40)
        for (px, py), colour in zip(f.landmarks, POINTS):
            d.ellipse((px - r, py - r, px + r, py + r), fill=colour, outline=(0, 0, 0))
        label = f"{k} ({f.score:.2f})"
        top = d.textbbox((0, 0), label, font=font)[3]
        tx, ty = x, max(0.0, y - top - 2 * width)
        d.text((tx + 1, ty + 1), label, fill=(0, 0, 0), font=font)
        d.text((tx, ty), label, fill=BOX, font=font)
    return im
