"""Photographs made in the tests: the shipped example faces set into colour scenes.

Each face (a 64x64 grayscale crop) is tinted to a skin tone, scaled, turned and
blended into a textured colour background with softened edges, so the detector
sees a face inside a picture rather than a square sticker. ``place`` returns the
2x3 map from crop pixels to photo pixels, which tells a test where the face's
landmarks must be found.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
FACES = [REPO / "examples" / "face-1.png", REPO / "examples" / "face-2.png"]


@dataclass(frozen=True)
class Placement:
    face: Path
    centre: tuple[float, float]  # photo pixels
    scale: float  # photo pixels per crop pixel
    angle: float  # degrees, counter-clockwise on screen

    def crop_to_photo(self) -> np.ndarray:
        a = math.radians(-self.angle)  # image y points down
        c, s = math.cos(a) * self.scale, math.sin(a) * self.scale
        lin = np.array([[c, -s], [s, c]])
        return np.hstack([lin, (np.array(self.centre) - lin @ np.array([32.0, 32.0]))[:, None]])


# Two faces, one turned each way, in a 480x320 picture: the CLI tests' photograph.
TWO_FACES = [Placement(FACES[0], (130, 160), 2.2, 8), Placement(FACES[1], (355, 150), 1.7, -6)]


def background(width: int, height: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.uniform(30, 220, 3).astype(np.float32)
    slope = rng.uniform(-60, 60, (2, 3)).astype(np.float32)
    img = base + xs[..., None] / width * slope[0] + ys[..., None] / height * slope[1]
    img += rng.normal(0, 6, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def place(photo: np.ndarray, p: Placement, tint=(1.08, 0.86, 0.72)) -> np.ndarray:
    """``photo`` with the face of ``p`` blended in (a new array)."""
    h, w = photo.shape[:2]
    face = np.asarray(Image.open(p.face).convert("L"), np.float32)
    rgb = np.clip(face[..., None] * np.array(tint, np.float32), 0, 255)
    # The whole crop (a face needs its chin and brow to look like one), its
    # edges faded over a few pixels so no hard square shows.
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32) + 0.5
    edge = np.minimum(np.minimum(xx, 64 - xx), np.minimum(yy, 64 - yy))
    alpha = np.clip(edge / 4.0, 0, 1)
    rgba = np.dstack([rgb, alpha * 255]).astype(np.uint8)
    m = p.crop_to_photo()
    inv = np.linalg.inv(m[:, :2])
    data = tuple(np.hstack([inv, -inv @ m[:, 2:]]).reshape(-1))
    layer = Image.fromarray(rgba, "RGBA").transform((w, h), Image.AFFINE, data, Image.BICUBIC)
    arr = np.asarray(layer, np.float32)
    a = arr[..., 3:] / 255.0
    out = photo.astype(np.float32) * (1 - a) + arr[..., :3] * a
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def scene(width: int, height: int, placements: list[Placement], seed: int = 0) -> np.ndarray:
    photo = background(width, height, seed)
    for p in placements:
        photo = place(photo, p)
    return photo
