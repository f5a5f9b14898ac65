"""Affine resampling of PIL images (the crops the detector, the landmark model
and the VAE see), with box-averaging first when the map shrinks a lot.

Coordinates are continuous: pixel ``i`` covers ``[i, i + 1)`` and its centre is
``i + 0.5``, which is Pillow's convention for ``Image.transform``.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def invert(m: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 affine map."""
    a = np.asarray(m, np.float64)
    lin = np.linalg.inv(a[:, :2])
    return np.hstack([lin, -lin @ a[:, 2:]])


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    pts = np.asarray(pts, np.float64)
    return pts @ np.asarray(m, np.float64)[:, :2].T + np.asarray(m, np.float64)[:, 2]


def warp(
    im: Image.Image,
    out_to_in: np.ndarray,
    size: tuple[int, int],
    resample: int = Image.BICUBIC,
    fill: int | tuple[int, ...] = 0,
    edge: bool = False,
) -> Image.Image:
    """Sample ``im`` at ``out_to_in @ (u, v, 1)`` for every output pixel.

    A map that shrinks by k >= 2 box-averages by floor(k) first, so a 64-pixel
    crop of a 600-pixel face is not aliased. ``edge`` extends the image by its
    border pixels instead of ``fill`` (so a face at the frame's edge gives the
    encoder a plausible crop rather than a black wedge).
    """
    m = np.asarray(out_to_in, np.float64).copy()
    # Only the part of the image the output can see is resampled (or reduced):
    # the work is bounded by the output, whatever the photograph's size.
    w, h = size
    corners = apply(m, np.array([[0, 0], [w, 0], [0, h], [w, h]], np.float64))
    x0, y0 = np.floor(corners.min(0)).astype(int) - 4
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 4
    x0, y0 = max(0, int(x0)), max(0, int(y0))
    x1, y1 = min(im.size[0], int(x1)), min(im.size[1], int(y1))
    box = None
    if x1 > x0 and y1 > y0 and (x0, y0, x1, y1) != (0, 0, *im.size):
        box = (x0, y0, x1, y1)
        m[:, 2] -= np.array([x0, y0], np.float64)
    scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    k = int(scale)
    if k >= 2:
        # Reduced straight from the part seen (the same pixels as cropping it
        # first), without a copy of it: a detector tile of a large photograph.
        im = im.reduce(k, box=box)
        m /= k
    elif box is not None:
        im = im.crop(box)
    if edge:
        im, m = _pad_edge(im, m, size)
    data = tuple(m.reshape(-1))
    return im.transform(size, Image.AFFINE, data, resample=resample, fillcolor=fill)


def _pad_edge(im: Image.Image, m: np.ndarray, size: tuple[int, int]):
    """Extend ``im`` by replicated borders far enough to cover the output's footprint."""
    w, h = size
    corners = apply(m, np.array([[0, 0], [w, 0], [0, h], [w, h]], np.float64))
    lo = np.floor(corners.min(0)).astype(int) - 3
    hi = np.ceil(corners.max(0)).astype(int) + 3
    left, top = max(0, -lo[0]), max(0, -lo[1])
    right, bottom = max(0, hi[0] - im.size[0]), max(0, hi[1] - im.size[1])
    if not (left or top or right or bottom):
        return im, m
    # Only the part of the image the output can see, then padded: bounded work
    # whatever the photo's size.
    x0, y0 = max(0, lo[0]), max(0, lo[1])
    x1, y1 = min(im.size[0], hi[0]), min(im.size[1], hi[1])
    if x1 <= x0 or y1 <= y0:  # the output lies wholly outside the image
        return im, m
    arr = np.asarray(im.crop((x0, y0, x1, y1)))
    pad = ((top, bottom), (left, right)) + (((0, 0),) if arr.ndim == 3 else ())
    padded = Image.fromarray(np.pad(arr, pad, mode="edge"), mode=im.mode)
    shifted = m.copy()
    shifted[:, 2] += np.array([left - x0, top - y0], np.float64)
    return padded, shifted
