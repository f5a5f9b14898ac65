"""``find_faces``: every face in a picture, with its box, score and five landmarks."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from . import registry
from .landmarks import FIVE_POINTS, SILHOUETTE

DEFAULT_PADDING = 0.25
# The detector's threshold is low (detect.py); a weak detection must convince
# the landmark model more: below this score, presence must reach SURE_PRESENCE.
CONFIDENT_SCORE = 0.5
SURE_PRESENCE = 0.95
# Two detections whose refined meshes overlap this much, or one of whose
# centres lies in the other's box, are one face (a weak candidate on part of a
# face can still give a plausible mesh there).
DUPLICATE_IOU = 0.3


@dataclass(frozen=True)
class Face:
    """One face: ``box`` (x, y, w, h) and ``landmarks`` (5, 2) in the image's
    pixels (continuous coordinates: pixel i spans [i, i+1)), ``score`` the
    detector's confidence in [0, 1]."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray
    mesh: np.ndarray = field(repr=False)  # (468, 3) face-mesh points

    def to_dict(self, decimals: int = 1) -> dict:
        return {
            "box": [round(float(v), decimals) for v in self.box],
            "score": round(float(self.score), 4),
            "landmarks": {
                name: [round(float(v), decimals) for v in pt]
                for name, pt in zip(FIVE_POINTS, self.landmarks)
            },
        }

    @property
    def area(self) -> float:
        return float(self.box[2] * self.box[3])


def as_rgb(image: Image.Image | np.ndarray) -> Image.Image:
    """A PIL 'RGB' image from a PIL image or an array (H, W[, C]), uint8 or float in [0, 1]."""
    if isinstance(image, Image.Image):
        return image if image.mode == "RGB" else image.convert("RGB")
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = (np.clip(np.nan_to_num(arr.astype(np.float32)), 0, 1) * 255 + 0.5).astype(np.uint8)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
        raise ValueError(f"expected an image array (H, W[, 1|3|4]), got shape {arr.shape}")
    return Image.fromarray(np.ascontiguousarray(arr[..., :3]), mode="RGB")


def _mesh_box(mesh: np.ndarray) -> tuple[float, float, float, float]:
    lo, hi = mesh[:, :2].min(0), mesh[:, :2].max(0)
    return (float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1]))


def _same_face(a: tuple, b: tuple) -> bool:
    def centre_in(p: tuple, q: tuple) -> bool:
        cx, cy = p[0] + p[2] / 2, p[1] + p[3] / 2
        return q[0] <= cx <= q[0] + q[2] and q[1] <= cy <= q[1] + q[3]

    return _overlap(a, b) > DUPLICATE_IOU or centre_in(a, b) or centre_in(b, a)


def _inside(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Which of ``points`` (N, 2) lie inside ``polygon`` (K, 2) (even-odd rule)."""
    x, y = points[:, :1], points[:, 1:]
    ax, ay = polygon[:, 0], polygon[:, 1]
    bx, by = np.roll(ax, -1), np.roll(ay, -1)
    crosses = (ay > y) != (by > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        at = ax + (y - ay) * (bx - ax) / (by - ay)
    return ((crosses & (x < at)).sum(1) % 2).astype(bool)


# A candidate with one of its five landmarks inside a face already found is a
# weak reading of part of that face (seen: a mesh on a turned face's far half and
# the background beside it, one eye on the real face's eye), not a second face:
# an eye or a mouth corner sits well inside its own face, and a face in front of
# another hides the features behind it.
SHARED_LANDMARKS = 1


def _overlap(a: tuple, b: tuple) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / max(a[2] * a[3] + b[2] * b[3] - inter, 1e-9)


def find_faces(
    image: str | os.PathLike | Image.Image | np.ndarray,
    *,
    padding: float = DEFAULT_PADDING,
    detector: str = registry.DEFAULT_DETECTOR,
    landmarks: str = registry.DEFAULT_LANDMARKS,
) -> list[Face]:
    """Every face in ``image`` (a path, a PIL image or an array), in reading order.

    ``padding`` (a fraction of the longer side) is the black border the
    short-range detector sees around the picture, so a face that fills the
    whole frame (an aligned crop) is still found. Boxes are the extent of the
    face mesh (brow to chin, ear to ear) in the original image's pixels.
    ``detector`` and ``landmarks`` name the detector and the landmark model in
    :mod:`conceptvae.faces.registry`.
    """
    find, mesh_of = registry.detector(detector), registry.landmark_model(landmarks)
    if isinstance(image, (str, os.PathLike)):
        from ..images import load_pil

        image = load_pil(image)
    im = as_rgb(image)
    faces: list[Face] = []
    for det in find.detect(im, padding):
        x0, y0, x1, y1 = det.box
        if any(_same_face((x0, y0, x1 - x0, y1 - y0), f.box) for f in faces):
            continue  # a weaker candidate on a face already found: no landmark run needed
        mesh = mesh_of.landmarks(im, det)
        need = mesh_of.min_presence if det.score >= CONFIDENT_SCORE else SURE_PRESENCE
        if mesh.presence < need:
            continue  # the detector's false positives: the mesh model sees no face
        box = _mesh_box(mesh.points)
        if any(_same_face(box, f.box) for f in faces):
            continue  # candidates are in score order: the best one is kept
        five = mesh.five()
        if any(_inside(five, f.mesh[list(SILHOUETTE), :2]).sum() >= SHARED_LANDMARKS
               for f in faces):  # fmt: skip
            continue
        faces.append(Face(box, det.score, five, mesh.points))
    return reading_order(faces)


def _median(values: list[float]) -> float:
    """``np.median`` of a few Python floats, to the bit: np.median imports numpy.ma
    (10 ms, a twentieth of a cold crop edit) to check for masked NaNs."""
    if any(math.isnan(v) for v in values):
        return math.nan
    s = sorted(values)
    k = len(s) // 2
    return s[k] if len(s) % 2 else (s[k - 1] + s[k]) / 2


def reading_order(faces: list[Face]) -> list[Face]:
    """Rows top to bottom (faces whose centres are within half a face height of
    the row's first), left to right within a row: how people count a group."""
    if not faces:
        return []
    height = _median([f.box[3] for f in faces])
    by_y = sorted(faces, key=lambda f: (f.box[1] + f.box[3] / 2, f.box[0]))
    rows: list[list[Face]] = []
    top = None
    for f in by_y:
        cy = f.box[1] + f.box[3] / 2
        if top is None or cy - top > 0.5 * height:
            rows.append([])
            top = cy
        rows[-1].append(f)
    return [f for row in rows for f in sorted(row, key=lambda f: (f.box[0], f.box[1]))]
