"""What the warp draws in a photographed mouth: teeth and the dark inside where it
opens, the lips' own colour over the teeth where it closes.

Lightness comes from this face (teeth a little lighter than its lightest skin,
the inside darker than its darkest), colour from its own lips, grain from its
skin; the shapes from :mod:`.mouth`. Everything is drawn in CIELab, so what
is kept keeps its chroma; pixels neither moved nor drawn keep their exact values.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from PIL import Image

from .align import AlignedFace, FaceAlignment
from .colour import lab_to_rgb, rgb_to_lab
from .deform import remap, window_around
from .mouth import INNER_LIPS, LOWER_INNER, UPPER_INNER, seam_line, teeth_pattern
from .paste import MOUTH, paste_weights

# Where the edit opens a closed mouth, the inside drawn in takes these fractions of
# the lips' own chroma (teeth, the dark inside); its edge darkens by LIP_SHADOW (L*)
# where the lips meet it.
TEETH_CHROMA = (0.1, 0.45)  # of the lips' a* and b*: ivory, grey in a grey photo
CAVITY_CHROMA = 0.6
LIP_SHADOW = 8.0
# Teeth sit TEETH_LIFT L* above the face's lightest skin (the inside as far below its
# darkest), about TEETH_ACROSS of them show from corner to corner, and the lines where
# they meet are TOOTH_GAP L* darker.
TEETH_LIFT = 6.0
# The grain drawn into teeth is the skin's fine detail, up to MAX_GRAIN L* (wrinkled
# skin's detail would speckle them).
MAX_GRAIN = 2.5
TEETH_ACROSS = 9.0
TOOTH_GAP = 9.0
# Where closing lips meet, the seam's shadow is this wide (a fraction of the face's);
# lips closer than SHUT of the face's width at their widest gap are shut.
SEAM_WIDTH = 0.006
SHUT = 0.08
# A mouth is open when more than OPEN_SHOWS of what its inner lips enclose differs
# from the lips' colour by more than OPEN_DELTA_E (CIELab): the warp moves its own
# teeth and inside, nothing is drawn.
OPEN_SHOWS = 0.35
OPEN_DELTA_E = 15.0
# A mouth whose lips part by less than OPEN_TALL of the face's width shows too little
# of its inside to stretch: what an edit opens is drawn.
OPEN_TALL = 0.06


def mouth_fill(
    photo: np.ndarray,
    aligned: AlignedFace,
    alignment: FaceAlignment,
    window: tuple[int, int, int, int],
    field: np.ndarray,
    mesh: np.ndarray,
    moved: np.ndarray,
    *,
    is_open: bool,
    shows: bool,
) -> MouthFill | None:
    """What to draw in the mouth: teeth and the dark inside where the edit opens it
    (all of a closed mouth's opening; of an open one, only what is new), the lips'
    colour over the inside that closing lips now cover; None for nothing."""
    y0, y1, x0, x1 = window
    width = aligned.face.box[2]
    before, after = mesh[list(INNER_LIPS)], moved[list(INNER_LIPS)]
    mouth = polygon(after, window, width)
    shown = None
    if shows:
        # What the output shows of the photo's own open mouth, wherever it moved to.
        inside = polygon(before, window, width)[..., None].astype(np.float32)
        ys, xs = np.mgrid[0 : y1 - y0, 0 : x1 - x0].astype(np.float64)
        shown = remap(inside, xs + 0.5 + field[..., 0], ys + 0.5 + field[..., 1])[..., 0]
    if not is_open:
        paint = mouth * _opened(before, after)
    elif area(after) > area(before):
        paint = mouth * np.clip(1.0 - shown, 0.0, 1.0)
    else:
        paint = np.zeros_like(mouth)
    covered = None
    if shows and area(after) < area(before):
        # Lips brought (nearly) together cover all of the inside between them.
        gap = opening_height(moved)
        cover = shown if gap <= SHUT * width else shown - mouth
        cover = np.clip(cover, 0.0, 1.0)
        if cover.max() > 0.05:
            line = seam_line(moved, window, max(0.6, SEAM_WIDTH * width))
            covered = np.stack([cover, line * (1.0 - paint)], -1)
    if paint.max() <= 0.0 and covered is None:
        return None
    found = paste_weights(photo, aligned.to_crop, alignment, aligned.face.mesh)
    lips = (polygon(moved[list(MOUTH)], window, width) > 0.5) & (mouth < 0.1)
    corners = moved[[61, 291]] - np.array([x0, y0])
    face = _face_weights(found, window)
    return MouthFill(teeth_pattern(moved, window), face, paint, lips, corners, covered)


def opening_height(points: np.ndarray) -> float:
    """The widest gap between the inner lips (photo pixels)."""
    up, lo = points[list(UPPER_INNER)], points[list(LOWER_INNER)]
    return float(np.linalg.norm(lo - up, axis=1).max())


class MouthFill(NamedTuple):
    """What drawing a mouth's changed inside needs, over the warp's window."""

    teeth: np.ndarray  # what shows in an opening: 1 teeth, 0 the dark inside
    face: np.ndarray  # the face's paste weights (where its exposure is measured)
    mouth: np.ndarray  # how much of each pixel is drawn opening
    lips: np.ndarray  # bool: the lips around it (their colour)
    corners: np.ndarray  # (2, 2) the mouth's corners in window pixels
    covered: np.ndarray | None  # where closing lips now cover the inside, and their seam


def shows_inside(photo: np.ndarray, mesh: np.ndarray, width: float) -> bool:
    """Whether the photographed mouth is open: more than OPEN_SHOWS of what its inner
    lips enclose is far from the lips' colour (teeth, the dark inside). The mesh's
    inner lips of a closed mouth still enclose some lip."""
    pts = mesh[list(MOUTH)]
    window = window_around(np.vstack([pts.min(0) - 2, pts.max(0) + 2]), photo.shape[:2])
    if window is None:
        return False
    y0, y1, x0, x1 = window
    rgb = np.asarray(photo)[y0:y1, x0:x1].astype(np.float64) / 255.0
    if rgb.shape[-1] == 1:
        rgb = np.repeat(rgb, 3, axis=-1)
    lab = rgb_to_lab(rgb)
    enclosed = polygon(mesh[list(INNER_LIPS)], window, width)
    inner = enclosed > 0.5
    lips = (polygon(pts, window, width) > 0.5) & (enclosed < 0.05)
    if inner.sum() < 4 or lips.sum() < 4:
        return False
    far = np.linalg.norm(lab[inner] - np.median(lab[lips], axis=0), axis=-1) > OPEN_DELTA_E
    return bool(far.mean() > OPEN_SHOWS)


def _opened(old: np.ndarray, new: np.ndarray) -> float:
    """How much of the edited mouth's opening is drawn: all of it where little of it
    was open before, none where the mouth opens no wider than it was (the warp
    moves its own teeth and inside)."""
    a_old, a_new = area(old), area(new)
    if a_new <= 1.0:
        return 0.0
    t = np.clip((1.0 - a_old / a_new - 0.15) / 0.35, 0.0, 1.0)
    return float(t * t * (3.0 - 2.0 * t))


def area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def polygon(poly: np.ndarray, window: tuple[int, int, int, int], width: float) -> np.ndarray:
    """1 inside the polygon (photo pixels), feathered over about 1.5% of the face's width."""
    from PIL import ImageDraw, ImageFilter

    y0, y1, x0, x1 = window
    im = Image.new("L", (x1 - x0, y1 - y0), 0)
    pts = [tuple(p) for p in (poly - np.array([x0, y0])).tolist()]
    ImageDraw.Draw(im).polygon(pts, fill=255)
    im = im.filter(ImageFilter.GaussianBlur(max(0.6, 0.015 * width)))
    return np.asarray(im, np.float64) / 255.0


def _face_weights(found, window: tuple[int, int, int, int]) -> np.ndarray:  # noqa: ANN001
    """paste_weights' weights laid into ``window`` (0 where they do not reach)."""
    y0, y1, x0, x1 = window
    out = np.zeros((y1 - y0, x1 - x0), np.float64)
    if found is not None:
        (wy0, wy1, wx0, wx1), w = found
        oy0, oy1, ox0, ox1 = max(y0, wy0), min(y1, wy1), max(x0, wx0), min(x1, wx1)
        if oy1 > oy0 and ox1 > ox0:
            out[oy0 - y0 : oy1 - y0, ox0 - x0 : ox1 - x0] = w[
                oy0 - wy0 : oy1 - wy0, ox0 - wx0 : ox1 - wx0
            ]
    return out


def _tooth_gaps(corners: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Thin lines across the mouth where neighbouring teeth meet (1 on a line, 0
    between): about TEETH_ACROSS teeth from corner to corner, the two in the middle
    widest, as in a smile."""
    a, b = np.asarray(corners, np.float64)
    axis = b - a
    length = float(np.linalg.norm(axis))
    if length < 1.0:
        return np.zeros(shape)
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]]
    u = ((np.stack([xs + 0.5, ys + 0.5], -1) - (a + b) / 2) @ (axis / length)) / length
    # Distance from the middle in tooth widths, the central incisors 1.4 times wider.
    pos = np.abs(u) * TEETH_ACROSS
    pos = np.where(pos < 1.4, pos / 1.4, pos - 0.4)
    frac = pos - np.floor(pos)
    edge = np.minimum(frac, 1 - frac) * length / TEETH_ACROSS  # pixels to the nearest gap
    gap = np.exp(-0.5 * (edge / max(0.6, 0.012 * length)) ** 2)
    return gap * (np.abs(u) < 0.45)


def compose(
    photo: np.ndarray,
    window: tuple[int, int, int, int],
    warped: np.ndarray,
    field: np.ndarray,
    fill: MouthFill | None,
) -> np.ndarray:
    """The warped window, with the mouth's changed inside drawn in (``fill``); pixels
    neither moved nor drawn keep their exact values."""
    y0, y1, x0, x1 = window
    top = 255.0
    out = np.asarray(photo).copy()
    moved = np.abs(field).max(-1) > 1e-4
    if fill is None:
        edited = np.clip(np.rint(warped), 0, top).astype(photo.dtype)
        out[y0:y1, x0:x1][moved] = edited[moved]
        return out
    teeth, face, mouth, lips, corners, covered = fill
    rgb = warped / top
    gray = rgb.shape[-1] == 1
    if gray:
        rgb = np.repeat(rgb, 3, axis=-1)
    lab = rgb_to_lab(rgb)
    sure = face > 0.5
    fill_lab = np.empty_like(lab)
    # How light teeth and the inside are comes from this face: teeth a little
    # lighter than its lightest skin, the inside a little darker than its darkest
    # (the decoder's grey teeth read as a grey slab).
    face_l = lab[..., 0][sure] if sure.any() else lab[..., 0].ravel()
    lo, hi = np.percentile(face_l, [5, 95])
    l_teeth, l_inside = min(96.0, hi + TEETH_LIFT), max(5.0, lo - TEETH_LIFT)
    fill_lab[..., 0] = l_inside + (l_teeth - l_inside) * teeth
    fill_lab[..., 0] -= TOOTH_GAP * np.minimum(teeth, 1.0) * _tooth_gaps(corners, teeth.shape)
    # Colours from this photo's own lips: the inside a little darker than they are,
    # teeth nearly neutral with a trace of their warmth (grey in a grey photo).
    lip_lab = np.median(lab[lips], axis=0) if lips.any() else np.array([50.0, 0.0, 0.0])
    t3 = teeth[..., None]
    fill_lab[..., 1:] = lip_lab[1:] * (CAVITY_CHROMA * (1 - t3) + np.array(TEETH_CHROMA) * t3)
    # The photo's own grain (its lightness's fine detail over the face), so the drawn
    # part is not smoother than the rest; and the shadow where lips meet the inside.
    noise = np.zeros(lab.shape[:2])
    if sure.any():
        pad = np.pad(lab[..., 0], 1, mode="edge")
        h, w_ = lab.shape[:2]
        local = sum(pad[dy : dy + h, dx : dx + w_] for dy in range(3) for dx in range(3)) / 9.0
        grain = min(float((lab[..., 0] - local)[sure].std()), MAX_GRAIN)
        noise = np.random.default_rng(0).normal(0.0, grain, lab.shape[:2])
    fill_lab[..., 0] += noise - LIP_SHADOW * 4.0 * mouth * (1.0 - mouth)
    w = np.clip(mouth, 0.0, 1.0)[..., None]
    lab = lab * (1 - w) + fill_lab * w
    if covered is not None:
        # Teeth the closing lips now cover: the lips' own colour, a little darker
        # where they meet.
        cover_lab = np.broadcast_to(lip_lab, lab.shape).copy()
        cover_lab[..., 0] += noise - LIP_SHADOW * covered[..., 1]
        wc = np.clip(covered[..., :1], 0.0, 1.0 - w)
        lab = lab * (1 - wc) + cover_lab * wc
        w = w + wc
    out_rgb = lab_to_rgb(lab)
    if gray:
        out_rgb = out_rgb.mean(-1, keepdims=True)
    edited = np.clip(np.rint(out_rgb * top), 0, top).astype(photo.dtype)
    touched = moved | (w[..., 0] > 0)
    # Untouched pixels round-trip through Lab; keep them exactly as the warp left them.
    plain = np.clip(np.rint(warped), 0, top).astype(photo.dtype)
    edited[w[..., 0] == 0] = plain[w[..., 0] == 0]
    out[y0:y1, x0:x1][touched] = edited[touched]
    return out
