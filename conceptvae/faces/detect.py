"""BlazeFace detection: boxes and six keypoints, before landmarks refine them.

Two vendored detectors: the short-range one (128x128 input, faces that fill a
good part of the picture: portraits, tight crops) and the full-range sparse one
(192x192 input, faces down to a few percent of the frame). A photograph is
letterboxed whole into both; a large one is also cut into overlapping tiles for
the full-range model, so small faces in a group photo are seen at a usable size
(and a very large one into a fine grid besides, so a 100-pixel face is seen in
any photograph). All candidates are merged by weighted non-maximum suppression,
as MediaPipe does.

Anchors and box decoding follow MediaPipe's ``SsdAnchorsCalculator`` and
``TensorsToDetectionsCalculator`` options in its face detection graphs
(fixed-size anchors, offsets in input pixels, x before y, sigmoid scores).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image

from .registry import Detection
from .runtime import graph
from .warp import warp

# Keypoints, in the detector's order (the subject's right eye is on the image's left).
KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth_centre", "right_ear", "left_ear")


@dataclass(frozen=True)
class DetectorSpec:
    file: str
    input_size: int
    strides: tuple[int, ...]
    anchors_per_layer: int  # 1 aspect ratio (+1 interpolated scale where used)
    min_score: float


# Scores are kept low (MediaPipe uses 0.5): every candidate must also convince
# the landmark model (its face-presence output), which rejects the detector's
# false positives far better than a higher threshold would.
SHORT_RANGE = DetectorSpec("face_detection_short_range.tflite", 128, (8, 16, 16, 16), 2, 0.3)
FULL_RANGE = DetectorSpec("face_detection_full_range_sparse.tflite", 192, (4,), 1, 0.3)
MAX_CANDIDATES = 64
NMS_IOU = 0.3
BLEND_RATIO = 0.8
# Tiles for the full-range pass: overlapping 512-pixel squares, then twice that,
# and so on while a tile is clearly smaller than the photo. A face of 1/10 of a
# tile (51 pixels) is 19 input pixels, within the detector's range; a face too
# big for one level's tiles is whole in the next level's or in the
# whole-picture passes. (384-pixel tiles found a few more soft, low-contrast
# test faces at twice the detector runs.)
TILE = 512
TILE_OVERLAP = 0.25
# The short-range model also runs on 384-pixel tiles (each seen with 15% of
# context around it): it finds faces of 80-250 pixels that the full-range model
# misses when they are cropped close (no brow or chin) or turned.
SHORT_TILE = 384
SHORT_TILE_CONTEXT = 0.15
# A very large photograph gets proportionally larger tiles (at most about this
# many across its longer side per level), so the search stays bounded: a
# 4000x3000 picture costs ~100 detector passes, and finds faces from ~60 pixels.
MAX_TILES_ACROSS = 6
# ...which alone would miss a 100-pixel face in a 9000-pixel photograph (1/15
# of a 1500-pixel tile: 13 input pixels). When those levels start coarser than
# FINE_TILE (a longer side over 4,320 pixels), the full-range model also runs on
# a grid of FINE_TILE squares: a face of 100 pixels is 1/7.2 of one, 27 input
# pixels (800-pixel squares missed more of the test faces, 1000-pixel ones
# many). The grid costs at most MAX_FINE_TILES passes (361 for the largest
# photograph decoded, 10000x10000; a larger array gets larger squares), so faces
# from about 100 pixels are found at every size: 1/90 of a 9000-pixel side
# (benchmarks/README.md, "Large photographs on the 8-bit path").
FINE_TILE = 720
MAX_FINE_TILES = 400
# Searching for smaller faces also finds more things that look like one (suit
# buttons, medal ribbons in upscaled portraits, which even the face mesh takes
# for faces). Each grid candidate must be confirmed by the short-range model up
# close, on squares 2, 2.5 and 3 times its size around it (a 100-pixel face
# then spans 43-64 of the model's 128 input pixels, its own range), by its mean
# score there. Real 48-130 pixel faces scored 0.75-0.94 on each square and at
# least 0.77 on average; a lookalike may pass one square, but is fragile across
# them: the suit buttons of a portrait upscaled 3x scored 0.63-0.84 on single
# squares and at most 0.74 on average.
CONFIRM_CONTEXTS = (2.0, 2.5, 3.0)
CONFIRM_SCORE = 0.75


@cache
def anchors(spec: DetectorSpec) -> np.ndarray:
    """(N, 2) anchor centres in [0, 1]; fixed-size anchors have width = height = 1."""
    out = []
    i = 0
    strides = spec.strides
    while i < len(strides):
        # Consecutive layers with the same stride share one feature map.
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        per_cell = (j - i) * spec.anchors_per_layer
        cells = math.ceil(spec.input_size / strides[i])
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        centres = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 2)
        out.append(np.repeat(centres, per_cell, axis=0))
        i = j
    return np.concatenate(out).astype(np.float32)


def _decode(spec: DetectorSpec, raw: np.ndarray, logits: np.ndarray) -> tuple[np.ndarray, ...]:
    """Boxes (N, 4) x0y0x1y1, keypoints (N, 6, 2), scores (N,) in input units [0, 1]."""
    anc = anchors(spec)
    z = np.clip(logits.reshape(-1).astype(np.float64), -80.0, 80.0)
    scores = 1.0 / (1.0 + np.exp(-z))
    keep = scores >= spec.min_score
    raw = raw.reshape(len(anc), -1)[keep] / spec.input_size
    anc = anc[keep]
    cx = raw[:, 0] + anc[:, 0]
    cy = raw[:, 1] + anc[:, 1]
    w, h = raw[:, 2], raw[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    kps = raw[:, 4:16].reshape(-1, 6, 2) + anc[:, None, :]
    return boxes, kps, scores[keep]


def _letterbox(im: Image.Image, region: tuple[float, float, float, float], size: int):
    """The region (x0, y0, w, h; may reach outside the image: black) fitted into a
    size x size canvas, as float32 in [-1, 1]; and the map back to image pixels."""
    x0, y0, w, h = region
    scale = size / max(w, h)
    nw, nw_h = max(1, round(w * scale)), max(1, round(h * scale))
    ox, oy = (size - nw) // 2, (size - nw_h) // 2
    inv = 1.0 / scale
    # Output (u, v) <- image (x0 + (u - ox) / scale, y0 + (v - oy) / scale).
    m = np.array([[inv, 0.0, x0 - ox * inv], [0.0, inv, y0 - oy * inv]])
    canvas = warp(im, m, (size, size), resample=Image.BILINEAR, fill=(0, 0, 0))
    arr = np.asarray(canvas, dtype=np.float32) / 127.5 - 1.0
    # Blank out the letterbox bars (the transform filled them from the region's surroundings).
    arr[:oy] = -1.0
    arr[oy + nw_h :] = -1.0
    arr[:, :ox] = -1.0
    arr[:, ox + nw :] = -1.0

    def to_image(pts: np.ndarray) -> np.ndarray:
        return (pts * size - np.array([ox, oy])) / scale + np.array(region[:2])

    return arr[None], to_image


def _run(spec: DetectorSpec, im: Image.Image, region) -> list[Detection]:
    x, to_image = _letterbox(im, region, spec.input_size)
    raw, logits = graph(spec.file)(x)
    boxes, kps, scores = _decode(spec, raw, logits)
    out = []
    for b, k, s in zip(boxes, kps, scores):
        corners = to_image(b.reshape(2, 2)).reshape(-1)
        out.append(Detection(tuple(float(v) for v in corners), to_image(k), float(s)))
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ix = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = ix * iy
    area = lambda r: (r[..., 2] - r[..., 0]) * (r[..., 3] - r[..., 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


def weighted_nms(dets: list[Detection], iou: float = NMS_IOU) -> list[Detection]:
    """MediaPipe's weighted suppression: each kept face is the score-weighted mean
    of the candidates overlapping the best one."""
    if not dets:
        return []
    order = sorted(range(len(dets)), key=lambda i: (-dets[i].score, dets[i].box))
    boxes = np.array([dets[i].box for i in order], np.float64)
    kps = np.stack([dets[i].keypoints for i in order]).astype(np.float64)
    scores = np.array([dets[i].score for i in order], np.float64)
    alive = np.ones(len(order), bool)
    out = []
    for i in range(len(order)):
        if not alive[i]:
            continue
        group = alive & (_iou(boxes[i], boxes) > iou)
        group[i] = True
        # Only the candidates nearly as confident as the best are blended; a
        # crowd of weak, loose boxes from other scales would drag it off the face.
        group &= scores >= scores[i] * BLEND_RATIO
        group[i] = True
        w = scores[group] / scores[group].sum()
        out.append(
            Detection(
                tuple(float(v) for v in (boxes[group] * w[:, None]).sum(0)),
                (kps[group] * w[:, None, None]).sum(0),
                float(scores[i]),
            )
        )
        alive &= ~(_iou(boxes[i], boxes) > iou)
        alive[i] = False
    return out


def tiles(width: int, height: int, tile: int, overlap: float) -> list[tuple[int, int, int, int]]:
    """Overlapping square tiles (x, y, side, side) covering the image."""
    if max(width, height) <= tile * 1.25:
        return []
    step = max(1, int(tile * (1 - overlap)))

    def starts(n: int) -> list[int]:
        if n <= tile:
            return [0]
        k = math.ceil((n - tile) / step) + 1
        return [round(i * (n - tile) / (k - 1)) for i in range(k)]

    return [(x, y, tile, tile) for y in starts(height) for x in starts(width)]


def fine_tiles(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """The fine grid of a large photograph (see FINE_TILE); none for a smaller one."""
    if max(TILE, math.ceil(max(width, height) / MAX_TILES_ACROSS)) <= FINE_TILE:
        return []
    tile = FINE_TILE
    while True:
        step = max(1, int(tile * (1 - TILE_OVERLAP)))
        across = math.ceil(max(0, width - tile) / step) + 1
        down = math.ceil(max(0, height - tile) / step) + 1
        if across * down <= MAX_FINE_TILES:
            return tiles(width, height, tile, TILE_OVERLAP)
        tile = math.ceil(tile * 1.25)


def detect(im: Image.Image, padding: float = 0.25) -> list[Detection]:
    """Face candidates in an RGB image, merged; ``padding`` (a fraction of the
    longer side) surrounds the image with black for the short-range pass, which
    lets it see a face that fills the whole picture (an aligned crop).

    A large photograph's fine grid (:func:`fine_tiles`) adds its own merged
    candidates, each confirmed up close; a photograph without one gets exactly
    the candidates it got before the grid existed."""
    w, h = im.size
    side = max(w, h)
    pad = padding * side
    dets = _run(SHORT_RANGE, im, (-pad, -pad, w + 2 * pad, h + 2 * pad))
    dets += _run(FULL_RANGE, im, (0.0, 0.0, float(w), float(h)))
    tile = max(TILE, math.ceil(side / MAX_TILES_ACROSS))
    while tile * 1.25 < side:
        for x, y, tw, th in tiles(w, h, tile, TILE_OVERLAP):
            dets += _run(FULL_RANGE, im, (float(x), float(y), float(tw), float(th)))
        tile *= 2
    for x, y, tw, th in tiles(
        w, h, max(SHORT_TILE, math.ceil(side / MAX_TILES_ACROSS)), TILE_OVERLAP
    ):
        m = SHORT_TILE_CONTEXT * tw
        dets += _run(SHORT_RANGE, im, (x - m, y - m, tw + 2 * m, th + 2 * m))
    fine = [d for x, y, tw, th in fine_tiles(w, h)
            for d in _run(FULL_RANGE, im, (float(x), float(y), float(tw), float(th)))]  # fmt: skip
    found = weighted_nms(dets)[:MAX_CANDIDATES]
    confirmed = [d for d in weighted_nms(fine)[:MAX_CANDIDATES] if _confirmed(im, d)]
    # Best first, as find_faces expects: a strong grid candidate on a small face
    # goes before a weak, loose one the coarser passes had there.
    return sorted(found + confirmed, key=lambda d: -d.score) if confirmed else found


def _confirmed(im: Image.Image, det: Detection) -> bool:
    """Whether the short-range model sees a candidate of the fine grid up close
    (see CONFIRM_SCORE)."""
    x0, y0, x1, y1 = det.box
    scores = []
    for context in CONFIRM_CONTEXTS:
        side = context * max(x1 - x0, y1 - y0)
        region = ((x0 + x1 - side) / 2, (y0 + y1 - side) / 2, side, side)
        inside = [
            d.score for d in _run(SHORT_RANGE, im, region)
            if x0 <= (d.box[0] + d.box[2]) / 2 <= x1 and y0 <= (d.box[1] + d.box[3]) / 2 <= y1
        ]  # fmt: skip
        if not inside:
            return False  # not seen at all on one square
        scores.append(max(inside))
    return sum(scores) / len(scores) >= CONFIRM_SCORE


class BlazeFace:
    """The default detector (registry name ``blazeface``): :func:`detect`."""

    def detect(self, im: Image.Image, padding: float) -> list[Detection]:
        return detect(im, padding=padding)
