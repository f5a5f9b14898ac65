"""The face-mesh landmark model: 468 points per face, reduced to five.

Given a detection, a square region 1.5 times the face box, turned so the eyes
are level, is resampled to 192x192 and the model returns 468 (x, y, z) points
and a face-presence logit. A second pass from the region the first points span
(as MediaPipe tracks faces between video frames) makes the points independent
of how loose the detector's box was. The five points alignment uses are the
eye centres (mean of each eye's contour), the nose tip and the mouth corners.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .registry import Detection
from .warp import apply, warp

LANDMARK_FILE = "face_landmark.tflite"
INPUT = 192
ROI_SCALE = 1.5
# A detector box that is too tight (small or blurred faces) hides the chin and
# brow from the mesh model, which then reports no face; a looser region is tried.
RETRY_SCALE = 2.2
MIN_PRESENCE = 0.5

# Face-mesh indices (MediaPipe's FACEMESH_RIGHT_EYE / FACEMESH_LEFT_EYE contours).
RIGHT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
LEFT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
NOSE_TIP = 1
MOUTH_RIGHT, MOUTH_LEFT = 61, 291
EYE_OUTER = (33, 263)
# The mesh's silhouette (MediaPipe's FACEMESH_FACE_OVAL), in order around the face.
SILHOUETTE = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378,
              400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54,
              103, 67, 109)  # fmt: skip
# Order of the five points, image-left first for an upright face: the subject's
# right eye, left eye, nose tip, right and left mouth corners.
FIVE_POINTS = ("right_eye", "left_eye", "nose_tip", "mouth_right", "mouth_left")


@dataclass(frozen=True)
class Mesh:
    points: np.ndarray  # (468, 3): x, y in image pixels, z relative depth
    presence: float

    def five(self) -> np.ndarray:
        p = self.points[:, :2]
        return np.stack(
            [
                p[list(RIGHT_EYE)].mean(0),
                p[list(LEFT_EYE)].mean(0),
                p[NOSE_TIP],
                p[MOUTH_RIGHT],
                p[MOUTH_LEFT],
            ]
        )


def _roi_map(centre: np.ndarray, side: float, angle: float) -> np.ndarray:
    """2x3 map from the 192x192 input's pixels to image pixels."""
    s = side / INPUT
    c, n = math.cos(angle), math.sin(angle)
    lin = np.array([[c * s, -n * s], [n * s, c * s]])
    return np.hstack([lin, (centre - lin @ np.array([INPUT / 2, INPUT / 2]))[:, None]])


def roi_from_detection(det: Detection, scale: float = ROI_SCALE) -> np.ndarray:
    x0, y0, x1, y1 = det.box
    right, left = det.keypoints[0], det.keypoints[1]
    angle = math.atan2(left[1] - right[1], left[0] - right[0])
    side = max(x1 - x0, y1 - y0) * scale
    return _roi_map(np.array([(x0 + x1) / 2, (y0 + y1) / 2]), side, angle)


def roi_from_mesh(mesh: Mesh) -> np.ndarray:
    p = mesh.points[:, :2]
    a, b = p[EYE_OUTER[0]], p[EYE_OUTER[1]]
    angle = math.atan2(b[1] - a[1], b[0] - a[0])
    c, n = math.cos(angle), math.sin(angle)
    # Extent in the face's own (eye-level) frame.
    local = p @ np.array([[c, -n], [n, c]])
    lo, hi = local.min(0), local.max(0)
    centre_local = (lo + hi) / 2
    centre = np.array([[c, -n], [n, c]]) @ centre_local
    side = float(max(hi - lo)) * ROI_SCALE
    return _roi_map(centre, side, angle)


def run_mesh(im: Image.Image, roi: np.ndarray) -> Mesh:
    from .runtime import graph

    crop = warp(im, roi, (INPUT, INPUT), resample=Image.BILINEAR)
    x = np.asarray(crop, np.float32)[None] / 255.0
    coords, logit = graph(LANDMARK_FILE)(x)
    pts = coords.reshape(-1, 3).astype(np.float64)
    xy = apply(roi, pts[:, :2])
    z = pts[:, 2:] * math.sqrt(abs(np.linalg.det(roi[:, :2])))
    presence = 1.0 / (1.0 + math.exp(-float(np.clip(logit.reshape(-1)[0], -100, 100))))
    return Mesh(np.hstack([xy, z]), presence)


def landmarks(im: Image.Image, det: Detection) -> Mesh:
    """The mesh of the face a detection found, refined once from its own extent."""
    first = run_mesh(im, roi_from_detection(det))
    if first.presence < MIN_PRESENCE:
        first = run_mesh(im, roi_from_detection(det, RETRY_SCALE))
        if first.presence < MIN_PRESENCE:
            return first
    return run_mesh(im, roi_from_mesh(first))


class FaceMesh:
    """The default landmark model (registry name ``face_mesh``): :func:`landmarks`."""

    min_presence = MIN_PRESENCE

    def landmarks(self, im: Image.Image, det: Detection) -> Mesh:
        return landmarks(im, det)
