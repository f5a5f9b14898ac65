"""Stroke thickness and slant of digit images, measured from their pixels.

Morpho-MNIST-style measurements (Castro et al., 2019), so a digits model gets
``thick`` and ``slant`` concepts without hand labels:

* thickness: stroke area over skeleton length, in pixels. The stroke is the
  image thresholded at half intensity; the skeleton comes from Zhang-Suen
  thinning (vectorised over a batch with two 256-entry lookup tables).
* slant: horizontal shear from the intensity's second moments,
  ``-mu11 / mu02`` with rows growing downwards, so a digit whose top leans to
  the right has positive slant (0.2 is about 11 degrees).

:func:`tercile_labels` turns a measurement into an attribute: the top third is
1, the bottom third 0, the middle third unknown (-1), so the concept contrasts
clearly thick (slanted) digits with clearly thin (upright or back-slanted) ones.
"""

from __future__ import annotations

import numpy as np

from ..data import Dataset

# Neighbours P2..P9 of Zhang & Suen (1984): N, NE, E, SE, S, SW, W, NW.
_SHIFTS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))
MORPHO_COLUMNS = ("thick", "slant")


def _tables() -> tuple[np.ndarray, np.ndarray]:
    first = np.zeros(256, bool)
    second = np.zeros(256, bool)
    for code in range(256):
        p = [(code >> i) & 1 for i in range(8)]  # p[0] = P2 ... p[7] = P9
        b = sum(p)
        a = sum(1 for i in range(8) if p[i] == 0 and p[(i + 1) % 8] == 1)
        if not (2 <= b <= 6 and a == 1):
            continue
        p2, p4, p6, p8 = p[0], p[2], p[4], p[6]
        first[code] = p2 * p4 * p6 == 0 and p4 * p6 * p8 == 0
        second[code] = p2 * p4 * p8 == 0 and p2 * p6 * p8 == 0
    return first, second


_FIRST, _SECOND = _tables()


def _codes(img: np.ndarray) -> np.ndarray:
    n, h, w = img.shape
    p = np.pad(img, ((0, 0), (1, 1), (1, 1))).view(np.uint8)
    code = np.zeros((n, h, w), np.uint8)
    for bit, (dr, dc) in enumerate(_SHIFTS):
        code |= p[:, 1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w] << bit
    return code


def thin(binary: np.ndarray) -> np.ndarray:
    """Zhang-Suen skeletons of a batch of binary images (N, H, W)."""
    img = np.ascontiguousarray(binary, dtype=bool).copy()
    # Thin strokes converge in a few passes, a fat blob takes a dozen: only the
    # images that still changed are worked on.
    active = np.arange(len(img))
    while len(active):
        sub = img[active]
        changed = np.zeros(len(active), bool)
        for table in (_FIRST, _SECOND):
            delete = sub & table[_codes(sub)]
            changed |= delete.any((1, 2))
            sub &= ~delete
        img[active] = sub
        active = active[changed]
    return img


def measure(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(thickness, slant) per image; NaN for blank images.

    ``images``: (N, H, W) or (N, H, W, 1), uint8 or float in [0, 1].
    """
    x = np.asarray(images)
    if x.ndim == 4:
        x = x[..., 0]
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    binary = x >= 0.5
    area = binary.sum((1, 2)).astype(np.float64)
    length = thin(binary).sum((1, 2)).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        thickness = np.where(length > 0, area / length, np.nan)
    _, h, w = x.shape
    rows = np.arange(h, dtype=np.float64)
    cols = np.arange(w, dtype=np.float64)
    # Raw moments from row and column profiles; central ones follow from them.
    by_row = x.sum(2, dtype=np.float64)
    mass = by_row.sum(1)
    xc = x @ cols.astype(np.float32)  # (N, H): sum over columns of intensity * column
    with np.errstate(divide="ignore", invalid="ignore"):
        ry = by_row @ rows / mass
        cx = xc.sum(1, dtype=np.float64) / mass
        mu11 = (xc.astype(np.float64) @ rows) / mass - cx * ry
        mu02 = by_row @ rows**2 / mass - ry**2
        slant = np.where(mu02 > 1e-9, -mu11 / mu02, np.nan)
    return thickness, slant


def measure_dataset(dataset: Dataset, batch_size: int = 2048) -> dict[str, np.ndarray]:
    """Thickness and slant of every image, streamed batch by batch."""
    thick = np.full(len(dataset), np.nan)
    slant = np.full(len(dataset), np.nan)
    for idx, batch in dataset.iter_batches(batch_size):
        gray = batch if batch.shape[-1] == 1 else batch.mean(-1, keepdims=True)
        thick[idx], slant[idx] = measure(gray)
    return {"thick": thick, "slant": slant}


def tercile_labels(values: np.ndarray) -> np.ndarray:
    """1 for the top third, 0 for the bottom third, -1 (unknown) between and for NaN."""
    values = np.asarray(values, np.float64)
    known = np.isfinite(values)
    out = np.full(len(values), -1, np.int8)
    if known.sum() < 3:
        return out
    lo, hi = np.quantile(values[known], [1 / 3, 2 / 3])
    out[known & (values >= hi)] = 1
    out[known & (values <= lo)] = 0
    if hi <= lo:  # too many ties to split in three: the ties go to neither side
        out[known & (values == lo)] = -1
    return out


def morpho_labels(dataset: Dataset, batch_size: int = 2048) -> dict[str, np.ndarray]:
    """Attribute columns ``thick`` and ``slant`` (int8, -1 unknown) for ``dataset``."""
    measured = measure_dataset(dataset, batch_size)
    return {name: tercile_labels(measured[name]) for name in MORPHO_COLUMNS}
