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

from .align import AlignedFace
from .colour import lab_to_rgb, rgb_to_lab
from .deform import remap, smoothstep, window_around
from .mouth import INNER_LIPS, LOWER_INNER, UPPER_INNER, seam_line, teeth_pattern
from .paste import INNER_FACE, MOUTH, outline_weights

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
# The mouth's box reaches this far past its lips (a fraction of the face's width);
# the face's levels are read on about FACE_SAMPLES pixels.
MOUTH_MARGIN = 0.15
FACE_SAMPLES = 20000


def mouth_fill(
    photo: np.ndarray,
    aligned: AlignedFace,
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
    colour over the inside that closing lips now cover; None for nothing. Worked
    out over the mouth's own box in the window, not the whole face."""
    width = aligned.face.box[2]
    box = _mouth_box(mesh, moved, window, width)
    if box is None:
        return None
    by0, by1, bx0, bx1 = box
    y0, x0 = window[0], window[2]
    sub = (y0 + by0, y0 + by1, x0 + bx0, x0 + bx1)  # the box in photo pixels
    before, after = mesh[list(INNER_LIPS)], moved[list(INNER_LIPS)]
    mouth = polygon(after, sub, width)
    shown = None
    if shows:
        # What the output shows of the photo's own open mouth, wherever it moved to.
        inside = polygon(before, window, width)[..., None].astype(np.float32)
        ys, xs = np.mgrid[by0:by1, bx0:bx1].astype(np.float64)
        f = field[by0:by1, bx0:bx1]
        shown = remap(inside, xs + 0.5 + f[..., 0], ys + 0.5 + f[..., 1])[..., 0]
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
        cover = np.clip(shown if gap <= SHUT * width else shown - mouth, 0.0, 1.0)
        if cover.max() > 0.05:
            line = seam_line(moved, sub, max(0.6, SEAM_WIDTH * width))
            covered = np.stack([cover, line * (1.0 - paint)], -1)
    if paint.max() <= 0.0 and covered is None:
        return None
    lips = (polygon(moved[list(MOUTH)], sub, width) > 0.5) & (mouth < 0.1)
    corners = moved[[61, 291]] - np.array([sub[2], sub[0]])
    levels, grain = _face_levels(photo, mesh, sub, width)
    return MouthFill(box, teeth_pattern(moved, sub), paint, lips, corners, covered, levels, grain)


def _mouth_box(
    mesh: np.ndarray, moved: np.ndarray, window: tuple[int, int, int, int], width: float
) -> tuple[int, int, int, int] | None:
    """The mouth's box (y0, y1, x0, x1) in window pixels: its lips before and after,
    with a margin."""
    pts = np.vstack([mesh[list(MOUTH)], moved[list(MOUTH)]]) - [window[2], window[0]]
    margin = MOUTH_MARGIN * width
    h, w = window[1] - window[0], window[3] - window[2]
    got = window_around(np.vstack([pts.min(0) - margin, pts.max(0) + margin]), (h, w))
    return got


def _face_levels(
    photo: np.ndarray, mesh: np.ndarray, sub: tuple[int, int, int, int], width: float
) -> tuple[tuple[float, float], float]:
    """The face's darkest and lightest skin (5th and 95th percentile of L* inside its
    inner outline, read on at most about FACE_SAMPLES pixels), and its grain: the
    standard deviation of L*'s fine detail in the mouth's box, outside the lips."""
    outline = mesh[list(INNER_FACE)]
    face_window = window_around(outline, photo.shape[:2])
    if face_window is None:
        return (20.0, 80.0), 0.0
    fy0, fy1, fx0, fx1 = face_window
    step = max(1, int(np.sqrt((fy1 - fy0) * (fx1 - fx0) / FACE_SAMPLES)))
    inner = outline_weights(outline, face_window)[::step, ::step] > 0.5
    pixels = np.asarray(photo)[fy0:fy1:step, fx0:fx1:step]
    lightness = _lab(pixels)[..., 0][inner]
    if lightness.size < 16:
        return (20.0, 80.0), 0.0
    lo, hi = np.percentile(lightness, [5, 95])
    y0, y1, x0, x1 = sub
    light = _lab(np.asarray(photo)[y0:y1, x0:x1])[..., 0]
    skin = polygon(mesh[list(MOUTH)], sub, width) < 0.05
    pad = np.pad(light, 1, mode="edge")
    h, w = light.shape
    local = sum(pad[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)) / 9.0
    grain = float((light - local)[skin].std()) if skin.sum() > 16 else 0.0
    return (float(lo), float(hi)), min(grain, MAX_GRAIN)


def _lab(pixels: np.ndarray) -> np.ndarray:
    rgb = np.asarray(pixels, np.float64) / 255.0
    return rgb_to_lab(np.repeat(rgb, 3, axis=-1) if rgb.shape[-1] == 1 else rgb)


def opening_height(points: np.ndarray) -> float:
    """The widest gap between the inner lips (photo pixels)."""
    up, lo = points[list(UPPER_INNER)], points[list(LOWER_INNER)]
    return float(np.linalg.norm(lo - up, axis=1).max())


class MouthFill(NamedTuple):
    """What drawing a mouth's changed inside needs, over the mouth's box (y0, y1, x0,
    x1) in the warp's window."""

    box: tuple[int, int, int, int]
    teeth: np.ndarray  # what shows in an opening: 1 teeth, 0 the dark inside
    mouth: np.ndarray  # how much of each pixel is drawn opening
    lips: np.ndarray  # bool: the lips around it (their colour)
    corners: np.ndarray  # (2, 2) the mouth's corners in the box's pixels
    covered: np.ndarray | None  # where closing lips now cover the inside, and their seam
    levels: tuple[float, float]  # the face's darkest and lightest skin (L*)
    grain: float  # the skin's fine detail (L* standard deviation)


def shows_inside(photo: np.ndarray, mesh: np.ndarray, width: float) -> bool:
    """Whether the photographed mouth is open: more than OPEN_SHOWS of what its inner
    lips enclose is far from the lips' colour (teeth, the dark inside). The mesh's
    inner lips of a closed mouth still enclose some lip."""
    pts = mesh[list(MOUTH)]
    window = window_around(np.vstack([pts.min(0) - 2, pts.max(0) + 2]), photo.shape[:2])
    if window is None:
        return False
    y0, y1, x0, x1 = window
    lab = _lab(np.asarray(photo)[y0:y1, x0:x1])
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
    return float(smoothstep((1.0 - a_old / a_new - 0.15) / 0.35))


def area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def polygon(
    poly: np.ndarray, window: tuple[int, int, int, int], width: float, *, feather: float = 0.015
) -> np.ndarray:
    """1 inside the polygon (photo pixels), feathered over about ``feather`` of the
    face's ``width``."""
    from PIL import ImageDraw, ImageFilter

    y0, y1, x0, x1 = window
    im = Image.new("L", (x1 - x0, y1 - y0), 0)
    pts = [tuple(p) for p in (poly - np.array([x0, y0])).tolist()]
    ImageDraw.Draw(im).polygon(pts, fill=255)
    im = im.filter(ImageFilter.GaussianBlur(max(0.6, feather * width)))
    return np.asarray(im, np.float64) / 255.0


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
    plain = np.clip(np.rint(warped), 0, top).astype(photo.dtype)
    out[y0:y1, x0:x1][moved] = plain[moved]
    if fill is None:
        return out
    (by0, by1, bx0, bx1), teeth, mouth, lips, corners, covered, (lo, hi), grain = fill
    rgb = warped[by0:by1, bx0:bx1] / top
    gray = rgb.shape[-1] == 1
    if gray:
        rgb = np.repeat(rgb, 3, axis=-1)
    lab = rgb_to_lab(rgb)
    fill_lab = np.empty_like(lab)
    # How light teeth and the inside are comes from this face: teeth a little
    # lighter than its lightest skin, the inside a little darker than its darkest
    # (the decoder's grey teeth read as a grey slab).
    l_teeth, l_inside = min(96.0, hi + TEETH_LIFT), max(5.0, lo - TEETH_LIFT)
    fill_lab[..., 0] = l_inside + (l_teeth - l_inside) * teeth
    fill_lab[..., 0] -= TOOTH_GAP * np.minimum(teeth, 1.0) * _tooth_gaps(corners, teeth.shape)
    # Colours from this photo's own lips: the inside a little darker than they are,
    # teeth nearly neutral with a trace of their warmth (grey in a grey photo).
    lip_lab = np.median(lab[lips], axis=0) if lips.any() else np.array([50.0, 0.0, 0.0])
    t3 = teeth[..., None]
    fill_lab[..., 1:] = lip_lab[1:] * (CAVITY_CHROMA * (1 - t3) + np.array(TEETH_CHROMA) * t3)
    # The photo's own grain, so the drawn part is not smoother than the rest; and the
    # shadow where lips meet the inside.
    noise = np.random.default_rng(0).normal(0.0, grain, lab.shape[:2]) if grain > 0 else 0.0
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
    drawn = w[..., 0] > 0
    edited = np.clip(np.rint(out_rgb * top), 0, top).astype(photo.dtype)
    out[y0 + by0 : y0 + by1, x0 + bx0 : x0 + bx1][drawn] = edited[drawn]
    return out
