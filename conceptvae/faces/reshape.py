"""Move a photographed face the way the decoder moves its drawing of it.

The decoder's two images of a face, before and after an edit (64-pixel
grayscale), say how the face's *shape* moves: the face mesh is run on both, and
its 468 points' displacement (the whole face's drift taken out, and only from
the eyes down, where an expression moves a face) is carried through the
alignment into the photograph. The lips part or meet as far as the decodes'
teeth say (:mod:`.mouth`). A thin-plate spline then bends the photograph's own
pixels at full resolution (:mod:`.deform`), pinned at the face's outline and on
any background beside it, eased off where it would fold the skin. What a warp
cannot make, the inside of a mouth it opens or the lips over teeth it covers, is
drawn from this face (:mod:`.mouth_paint`). Nothing else is painted: the
decoder's other changes (its shading, drawn in 64 pixels) would tint the skin
and change the person.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .align import AlignedFace, FaceAlignment, similarity
from .deform import (
    dense_field,
    ease_folds,
    remap,
    smoothstep,
    unfolding_shares,
    window_around,
)
from .landmarks import LEFT_EYE, MIN_PRESENCE, NOSE_TIP, RIGHT_EYE, SILHOUETTE, Mesh
from .mouth import INNER_LIPS, lip_motion, parting
from .mouth_paint import (
    OPEN_TALL,
    area,
    compose,
    mouth_fill,
    opening_height,
    polygon,
    shows_inside,
)
from .paste import INNER_FACE, MOUTH, background_weights, crop_weights, outline_weights
from .warp import apply, invert

# The decodes are enlarged this much before the mesh reads them (its input is 192 px).
UPSCALE = 4
# Points that an expression leaves in place: the whole face's drift between the two
# decodes is the similarity that takes these onto each other.
STABLE = (*RIGHT_EYE, *LEFT_EYE, 168, 6, 197, 195, 10, 151, 9)
# Rings round the face (the silhouette scaled about its centre) where nothing moves;
# the field fades to exactly 0 between them, so the photograph beyond is untouched.
PIN_RINGS = (1.0, 1.2)
# Around a fold the face's motion is eased over about EASE_REACH of the face's width.
EASE_REACH = 0.08
# At most this many more pins hold the background still where it meets the face.
BACKGROUND_PINS = 48
# Mesh points move fully from this far inside the outline (a fraction of its radius),
# less and less toward it.
FREE_DEPTH = 0.3
# The mesh's outer cheek points (subject's right, left), and the least frontal a face
# may be (nose-to-cheek ratio): at 0.35 a face is turned about 50 degrees, past which
# the warp bends the far cheek across the nose. Narrower faces than MIN_FACE_WIDTH
# pixels show too little of the mouth to move.
CHEEKS = (234, 454)
# The fold check leaves out the mouth's drawn-over inside and its surroundings to
# about this fraction of the face's width (the lips' edges stretch where they part).
PAINT_MARGIN = 0.03
MIN_FRONTAL = 0.35
MIN_FACE_WIDTH = 48
# The spline's control points: the lips' contours in full, every fourth other mesh
# point, and every second silhouette point on the pin rings (the spline's cost grows
# with the cube of their number; the mesh's 468 are far denser than the motion).
CONTROL = tuple(sorted({*range(0, 468, 4), *MOUTH, *INNER_LIPS, NOSE_TIP} - set(SILHOUETTE)))


def frontal(mesh: np.ndarray) -> float:
    """How frontal a face is, from its mesh: the nose tip's distance to the nearer
    cheek over its distance to the farther one (about 1 frontal, 0 in profile)."""
    p = np.asarray(mesh, np.float64)[:, :2]
    near, far = sorted(np.linalg.norm(p[[CHEEKS[0], CHEEKS[1]]] - p[NOSE_TIP], axis=1))
    return float(near / max(far, 1e-6))


def unsuitable(face) -> str | None:  # noqa: ANN001
    """Why a found face cannot carry a warp edit (turned far from frontal, too small),
    or None."""
    if face.box[2] < MIN_FACE_WIDTH:
        return f"is too small to edit ({face.box[2]:.0f} px wide, at least {MIN_FACE_WIDTH})"
    if frontal(face.mesh) < MIN_FRONTAL:
        return "is turned too far from frontal to edit"
    return None


def decode_meshes(
    start: np.ndarray, edited: np.ndarray, crop_mesh: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """The mesh points (468, 2), in crop pixels, of the two decodes, read in the same
    region (the photograph's face's own, in the crop); None if either is not a face."""
    from .landmarks import roi_from_mesh, run_mesh

    up = np.hstack([np.asarray(crop_mesh, np.float64)[:, :2] * UPSCALE, np.zeros((468, 1))])
    roi = roi_from_mesh(Mesh(up, 1.0))
    out = []
    for decode in (start, edited):
        g = np.clip(np.asarray(decode, np.float32).mean(-1) * 255.0 + 0.5, 0, 255)
        im = Image.fromarray(g.astype(np.uint8), "L")
        im = im.resize((im.size[0] * UPSCALE, im.size[1] * UPSCALE), Image.BICUBIC).convert("RGB")
        mesh = run_mesh(im, roi)
        if mesh.presence < MIN_PRESENCE:
            return None
        out.append(mesh.points[:, :2] / UPSCALE)
    return out[0], out[1]


def face_motion(p0: np.ndarray, p1: np.ndarray, gain: float) -> np.ndarray:
    """Per mesh point, how the expression moves it (crop pixels): the displacement
    from ``p0`` to ``p1`` less the whole face's drift, faded out above the nose."""
    drift = similarity(p1[list(STABLE)], p0[list(STABLE)])
    moved = apply(drift, p1) - p0
    eyes = p0[list(RIGHT_EYE) + list(LEFT_EYE), 1].mean()
    t = smoothstep((p0[:, 1] - eyes) / max(p0[NOSE_TIP, 1] - eyes, 1e-6))
    return moved * (t * gain)[:, None]


def _pins(mesh: np.ndarray) -> np.ndarray:
    outline = mesh[list(SILHOUETTE[::2])]
    centre = outline.mean(0)
    return np.vstack([centre + (outline - centre) * s for s in PIN_RINGS])


def _radius(mesh: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Each point's distance from the silhouette's centre, as a fraction of the
    silhouette's own distance in that direction (1 on the outline)."""
    outline = mesh[list(SILHOUETTE)]
    centre = outline.mean(0)
    ang = np.arctan2(outline[:, 1] - centre[1], outline[:, 0] - centre[0])
    rad = np.linalg.norm(outline - centre, axis=1)
    order = np.argsort(ang)
    rel = pts - centre
    r_out = np.interp(np.arctan2(rel[..., 1], rel[..., 0]), ang[order], rad[order],
                      period=2 * np.pi)  # fmt: skip
    return np.linalg.norm(rel, axis=-1) / np.maximum(r_out, 1e-6)


def _inner(mesh: np.ndarray) -> np.ndarray:
    return smoothstep((1.0 - _radius(mesh, mesh)) / FREE_DEPTH)


def _not_background(
    photo: np.ndarray, mesh: np.ndarray, window: tuple[int, int, int, int]
) -> np.ndarray:
    """1 over the window but on and near what is plainly not the face (a region of
    another colour reaching the window's edge, where a face cut off close meets
    its background): a chin the mesh guesses past the photo's face stays still."""
    y0, y1, x0, x1 = window
    outline = mesh[list(INNER_FACE)]
    inner = outline_weights(outline, window) > 0.5
    size = float(np.sqrt(np.prod(outline.max(0) - outline.min(0))))
    pixels = np.asarray(photo)[y0:y1, x0:x1]
    away = background_weights(pixels, inner, size) if pixels.ndim == 3 else None
    return np.ones((y1 - y0, x1 - x0)) if away is None else away


def _background_pins(
    away: np.ndarray, mesh: np.ndarray, window: tuple[int, int, int, int]
) -> np.ndarray:
    """Up to BACKGROUND_PINS points (photo pixels) on the background inside the
    silhouette's outer pin ring, where ``away`` is 0, spread over it."""
    y0, y1, x0, x1 = window
    step = max(2, int(max(y1 - y0, x1 - x0) / 24))
    ys, xs = np.mgrid[step // 2 : y1 - y0 : step, step // 2 : x1 - x0 : step]
    pts = np.stack([xs + x0 + 0.5, ys + y0 + 0.5], -1).reshape(-1, 2)
    still = (away[ys, xs].reshape(-1) < 0.05) & (_radius(mesh, pts) < PIN_RINGS[1])
    pts = pts[still]
    if len(pts) > BACKGROUND_PINS:
        pts = pts[np.linspace(0, len(pts) - 1, BACKGROUND_PINS).astype(int)]
    return pts.reshape(-1, 2)


def _fade(mesh: np.ndarray, window: tuple[int, int, int, int]) -> np.ndarray:
    """1 inside the inner pin ring, a smooth fall to exactly 0 at the outer one."""
    y0, y1, x0, x1 = window
    ys, xs = np.mgrid[y0:y1, x0:x1]
    r = _radius(mesh, np.stack([xs + 0.5, ys + 0.5], -1))
    lo, hi = PIN_RINGS
    return smoothstep((hi - r) / (hi - lo))


def reshape_face(
    photo: np.ndarray,
    aligned: AlignedFace,
    alignment: FaceAlignment,
    start: np.ndarray,
    edited: np.ndarray,
    *,
    gain: float = 1.0,
) -> np.ndarray | None:
    """``photo`` (H, W, C) uint8 with the face moved as the decodes ``start`` ->
    ``edited`` (S, S, 1) move, its lips parted or brought together as far as the
    decodes' teeth say, and what that shows of the mouth's inside drawn in; a new
    array. None when the mesh does not find a face in a decode."""
    face = aligned.face
    mesh = np.asarray(face.mesh, np.float64)[:, :2]
    to_crop = np.asarray(aligned.to_crop, np.float64)
    motions = _motion(mesh, to_crop, start, edited, gain)
    pins = _pins(mesh)
    window = window_around(pins, photo.shape[:2])
    if motions is None or window is None:
        return None
    d_face, d_lips = motions
    d_photo = d_face + d_lips
    y0, y1, x0, x1 = window
    # Backward map: each output pixel samples the photograph where it came from. The
    # spline is linear in its values: the face's and the lips' parts of the field are
    # kept apart, so that a fold eases the face's motion before the lips'.
    ctrl = list(CONTROL)
    # Nothing moves beyond the silhouette's outer ring, nor outside the model's
    # aligned crop (what an edit of this face may touch), nor on the background
    # where a face cut off close meets it: pinned there too, the spline comes to
    # rest smoothly instead of being cut.
    away = _not_background(photo, mesh, window)
    pins = np.vstack([pins, _background_pins(away, mesh, window)])
    targets = np.vstack([(mesh + d_photo)[ctrl], pins])
    ys, xs = np.mgrid[y0:y1, x0:x1]
    uv = apply(to_crop, np.stack([xs + 0.5, ys + 0.5], -1).reshape(-1, 2))
    inside = crop_weights(alignment.image_size, uv).reshape(xs.shape)
    fade = (_fade(mesh, window) * inside * away)[..., None]
    back = np.hstack([np.vstack([-d[ctrl], np.zeros_like(pins)]) for d in (d_face, d_lips)])
    both = dense_field(targets, back, window) * fade
    f_face, f_lips = both[..., :2], both[..., 2:]
    # A closed mouth's new opening is drawn over, so it may stretch as far as it likes.
    width = face.box[2]
    before, after = mesh[list(INNER_LIPS)], (mesh + d_photo)[list(INNER_LIPS)]
    # A mouth open a little (a glimpse of teeth) is drawn anew as it opens: stretched,
    # its few teeth would read as gaps.
    shows = shows_inside(photo, mesh, width)
    is_open = shows and opening_height(mesh) > OPEN_TALL * width
    drawn = np.zeros(f_face.shape[:2], bool)
    if not is_open and area(after) > area(before):
        drawn = polygon(after, window, width, feather=PAINT_MARGIN) > 0.05
    elif shows and area(after) < area(before):
        # Closing: what the lips now cover of the inside is drawn over too.
        drawn = polygon(before, window, width) > 0.5
    # A fold in one place (a jaw beside the background, a crease) eases the face's
    # motion there, not everywhere; what that does not mend, the shares do.
    eased = ease_folds(f_face, f_lips, drawn, EASE_REACH * width)
    f_face = f_face * eased[..., None]
    at = np.clip(np.rint(mesh + d_photo - [x0, y0] - 0.5).astype(int), 0,
                 [x1 - x0 - 1, y1 - y0 - 1])  # fmt: skip
    d_face = d_face * eased[at[:, 1], at[:, 0]][:, None]
    s_face, s_lips = unfolding_shares(f_face, f_lips, drawn)
    field = f_face * s_face + f_lips * s_lips
    d_photo = d_face * s_face + d_lips * s_lips
    ys, xs = np.mgrid[0 : y1 - y0, 0 : x1 - x0].astype(np.float64)  # window pixels
    win = np.asarray(photo)[y0:y1, x0:x1]
    warped = remap(win, xs + 0.5 + field[..., 0], ys + 0.5 + field[..., 1])
    moved = mesh + d_photo
    fill = mouth_fill(photo, aligned, window, field, mesh, moved, is_open=is_open, shows=shows)
    return compose(photo, window, warped, field, fill)


def _motion(
    mesh: np.ndarray, to_crop: np.ndarray, start: np.ndarray, edited: np.ndarray, gain: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """How the photo's mesh points move (each (468, 2), photo pixels): as the decodes
    move, and the lips' parting or closing as far as the decodes' teeth say."""
    meshes = decode_meshes(start, edited, apply(to_crop, mesh))
    if meshes is None:
        return None
    p0, p1 = meshes
    # Points near the face's outline move less, to nothing on it: the outline is
    # pinned, and a jaw point moving beside a pinned one would fold the skin between.
    inner = _inner(mesh)[:, None]
    d_photo = (face_motion(p0, p1, gain) * inner) @ invert(to_crop)[:, :2].T
    per_crop = float(np.sqrt(abs(np.linalg.det(to_crop[:, :2]))))
    change, kept = parting(start, edited, p0, p1)
    return d_photo, lip_motion(mesh + d_photo, change / per_crop, kept) * inner


