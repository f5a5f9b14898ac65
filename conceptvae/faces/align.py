"""Alignment: a similarity transform from a face's five landmarks onto the
template of a model's training crops, and the crop it gives.

A face model records its template in ``meta.json`` under ``face_alignment``::

    "face_alignment": {
      "template": [[x, y] x 5],   # right eye, left eye, nose tip, mouth right, left
      "image_size": 64,           # the crops' side, in the template's pixels
      "detect_padding": 0.25,     # border the detector needs around a tight crop
      "mask": {...}               # the pasted-back region, in crop fractions
    }

A model without that key is not a face model: its inputs are never searched for
faces. The template of the shipped faces model was measured by running the
landmark model over its training crops (``benchmarks/face_template.py``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..model.metadata import DEFAULT_MASK, check_face_alignment
from .find import DEFAULT_PADDING, Face, as_rgb
from .warp import apply, invert, warp

META_KEY = "face_alignment"
# Beside aligned training crops (``conceptvae align-faces``): training copies it
# into the model's meta.json.
ALIGNMENT_FILE = "face_alignment.json"

# Measured on the 7,998 SMILEsmileD training crops of the pretrained faces
# model (per-point median over the 7,954 (99.45%) in which a face was found;
# benchmarks/face_template.py, figures in benchmarks/README.md).
SMILES_TEMPLATE = (
    (17.14, 16.35),
    (47.94, 16.38),
    (32.87, 36.48),
    (19.70, 49.38),
    (45.97, 49.13),
)

# The edited region (DEFAULT_MASK): an ellipse (centre and radii as fractions of
# the crop's side) whose outer ``feather`` fraction of radius fades to zero. The
# crop's own border never reaches the photo, so no square edge can show.


@dataclass(frozen=True)
class FaceAlignment:
    """Where a model's training crops put the five landmarks."""

    template: np.ndarray  # (5, 2) in crop pixels (continuous coordinates)
    image_size: int
    detect_padding: float = DEFAULT_PADDING
    mask: dict = field(default_factory=lambda: dict(DEFAULT_MASK))

    def __post_init__(self) -> None:
        t = np.asarray(self.template, np.float64)
        if t.shape != (5, 2) or not np.all(np.isfinite(t)):
            raise ValueError(f"a face template is 5 (x, y) points, got shape {t.shape}")
        object.__setattr__(self, "template", t)

    def to_meta(self) -> dict:
        return {
            "template": [[round(float(x), 2), round(float(y), 2)] for x, y in self.template],
            "image_size": int(self.image_size),
            "detect_padding": float(self.detect_padding),
            "points": ["right_eye", "left_eye", "nose_tip", "mouth_right", "mouth_left"],
            "mask": dict(self.mask),
        }

    @classmethod
    def from_meta(cls, meta: Mapping | None) -> FaceAlignment | None:
        """The alignment a model's meta.json records, or None (not a face model).
        A bad value is a ValueError naming its field (``face_alignment.image_size
        must be ...``), see :mod:`conceptvae.model.metadata`."""
        entry = (meta or {}).get(META_KEY)
        if entry is None:
            return None
        return cls(**check_face_alignment(entry))

    def scaled(self, size: int) -> FaceAlignment:
        """The same alignment for crops of another side (a template is scale-free)."""
        f = size / self.image_size
        return FaceAlignment(self.template * f, size, self.detect_padding, dict(self.mask))


SMILES_ALIGNMENT = FaceAlignment(np.array(SMILES_TEMPLATE), 64)


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The least-squares similarity (rotation, uniform scale, shift; no
    reflection) taking ``src`` points onto ``dst``, as a 2x3 matrix (Umeyama)."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    var = (a**2).sum() / len(src)
    if var <= 1e-12:
        raise ValueError("degenerate landmarks (all at one point)")
    cov = b.T @ a / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1
    rot = u @ np.diag(d) @ vt
    scale = (s * d).sum() / var
    lin = scale * rot
    return np.hstack([lin, (md - lin @ ms)[:, None]])


@dataclass(frozen=True)
class AlignedFace:
    """A face's crop as the model sees it, and the map from photo to crop."""

    face: Face
    crop: np.ndarray  # uint8 (S, S, 3) RGB
    to_crop: np.ndarray  # 2x3: photo pixels -> crop pixels

    @property
    def to_photo(self) -> np.ndarray:
        return invert(self.to_crop)


def align(image: Image.Image | np.ndarray, face: Face, alignment: FaceAlignment) -> AlignedFace:
    """The ``alignment.image_size`` square crop putting ``face``'s landmarks on the template.

    Parts of the crop outside the photo repeat its border pixels. The crop is
    RGB; converting it to the model's channels is the caller's (the model's) job.
    """
    im = as_rgb(image)
    m = similarity(face.landmarks, alignment.template)
    s = alignment.image_size
    crop = warp(im, invert(m), (s, s), resample=Image.BICUBIC, edge=True)
    return AlignedFace(face, np.asarray(crop, np.uint8), m)


def template_error(face: Face, alignment: FaceAlignment) -> float:
    """Mean distance (crop pixels) between the aligned landmarks and the template."""
    m = similarity(face.landmarks, alignment.template)
    return float(np.linalg.norm(apply(m, face.landmarks) - alignment.template, axis=1).mean())


def read_alignment_file(folder: str | os.PathLike) -> dict | None:
    """The ``face_alignment`` entry of a training folder's face_alignment.json, or None."""
    from ..errors import DataError
    from ..io import read_json

    path = Path(folder) / ALIGNMENT_FILE
    if not path.is_file():
        return None
    data = read_json(path, "face alignment file")
    try:
        found = FaceAlignment.from_meta(data)
    except ValueError as exc:
        raise DataError(str(exc), path) from None
    if found is None:
        raise DataError(f"no {META_KEY!r} entry", path)
    return data[META_KEY]
