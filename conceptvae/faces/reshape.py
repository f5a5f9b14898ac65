"""Move a photographed face the way the decoder moves its drawing of it.

The decoder's two images of a face, before and after an edit (64-pixel
grayscale), say how the face's *shape* moves: the face mesh is run on both, and
its 468 points' displacement (the whole face's drift taken out, and only from
the eyes down, where an expression moves a face) is carried through the
alignment into the photograph, where a thin-plate spline bends the
photograph's own pixels at full resolution (:mod:`.deform`), pinned at the
face's outline and scaled back where it would fold the skin. What a warp cannot
make, the inside of a closed mouth the edit opens, is drawn in: where the edited
decode shows teeth or the dark inside, lit like this face (teeth as light as its
lightest skin, the inside as dark as its darkest), in its own lips' colours and
grain. Nothing else is painted: the decoder's other changes (its shading,
drawn in 64 pixels) would tint the skin and change the person.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from PIL import Image

from .align import AlignedFace, FaceAlignment, similarity
from .colour import lab_to_rgb, rgb_to_lab
from .deform import dense_field, remap
from .landmarks import LEFT_EYE, MIN_PRESENCE, NOSE_TIP, RIGHT_EYE, SILHOUETTE, Mesh
from .paste import MOUTH, crop_weights, paste_weights, sample_window
from .warp import apply, invert

# The decodes are enlarged this much before the mesh reads them (its input is 192 px).
UPSCALE = 4
# Points that an expression leaves in place: the whole face's drift between the two
# decodes is the similarity that takes these onto each other.
STABLE = (*RIGHT_EYE, *LEFT_EYE, 168, 6, 197, 195, 10, 151, 9)
# The inner lips, in order around the mouth's opening.
INNER_LIPS = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178,
              88, 95)  # fmt: skip
# Rings round the face (the silhouette scaled about its centre) where nothing moves;
# the field fades to exactly 0 between them, so the photograph beyond is untouched.
PIN_RINGS = (1.0, 1.2)
# Mesh points move fully from this far inside the outline (a fraction of its radius),
# less and less toward it.
FREE_DEPTH = 0.3
# The mesh's outer cheek points (subject's right, left), and the least frontal a face
# may be (nose-to-cheek ratio): at 0.35 a face is turned about 50 degrees, past which
# the warp bends the far cheek across the nose. Narrower faces than MIN_FACE_WIDTH
# pixels show too little of the mouth to move.
CHEEKS = (234, 454)
# No part of the photograph is squeezed below this share of its area (the warp's
# Jacobian determinant): past it, skin folds over itself and teeth crumple.
MIN_STRETCH = 0.15
MIN_FRONTAL = 0.35
MIN_FACE_WIDTH = 48
# Where the edit opens a closed mouth, the inside drawn in takes these fractions of
# the lips' own chroma (teeth, the dark inside); its edge darkens by LIP_SHADOW (L*)
# where the lips meet it.
TEETH_CHROMA = 0.25
CAVITY_CHROMA = 1.0
LIP_SHADOW = 12.0
# Teeth sit TEETH_LIFT L* above the face's lightest skin (the inside as far below its
# darkest), about TEETH_ACROSS of them show from corner to corner, and the lines where
# they meet are TOOTH_GAP L* darker.
TEETH_LIFT = 6.0
TEETH_ACROSS = 9.0
TOOTH_GAP = 14.0
# A mouth whose inner lips enclose more than this fraction of its width squared is
# already open: the warp moves its own teeth and inside, nothing is drawn.
CLOSED = 0.03
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
    t = np.clip((p0[:, 1] - eyes) / max(p0[NOSE_TIP, 1] - eyes, 1e-6), 0.0, 1.0)
    return moved * (t * t * (3.0 - 2.0 * t) * gain)[:, None]


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
    t = np.clip((1.0 - _radius(mesh, mesh)) / FREE_DEPTH, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _unfolding(field: np.ndarray) -> float:
    """The largest share of ``field`` (a backward map's displacement) that bends the
    photograph without folding it: where the map's Jacobian determinant nears 0 the
    skin would tear or fold over itself (a strong edit of an open mouth)."""

    def worst(s: float) -> float:
        gy_x, gx_x = np.gradient(field[..., 0] * s)
        gy_y, gx_y = np.gradient(field[..., 1] * s)
        return float(((1 + gx_x) * (1 + gy_y) - gy_x * gx_y).min())

    if field.shape[0] < 2 or field.shape[1] < 2 or worst(1.0) >= MIN_STRETCH:
        return 1.0
    lo, hi = 0.0, 1.0
    for _ in range(8):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if worst(mid) >= MIN_STRETCH else (lo, mid)
    return lo


def _window(points: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    h, w = shape
    x0, y0 = np.floor(points.min(0)).astype(int)
    x1, y1 = np.ceil(points.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return int(y0), int(y1), int(x0), int(x1)


def _fade(mesh: np.ndarray, window: tuple[int, int, int, int]) -> np.ndarray:
    """1 inside the inner pin ring, a smooth fall to exactly 0 at the outer one."""
    y0, y1, x0, x1 = window
    ys, xs = np.mgrid[y0:y1, x0:x1]
    r = _radius(mesh, np.stack([xs + 0.5, ys + 0.5], -1))
    lo, hi = PIN_RINGS
    t = np.clip((hi - r) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


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
    ``edited`` (S, S, 1) move, and a mouth it opens drawn in; a new array. None when the mesh does not find a face in a decode."""
    face = aligned.face
    mesh = np.asarray(face.mesh, np.float64)[:, :2]
    to_crop = np.asarray(aligned.to_crop, np.float64)
    meshes = decode_meshes(start, edited, apply(to_crop, mesh))
    if meshes is None:
        return None
    p0, p1 = meshes
    # Points near the face's outline move less, to nothing on it: the outline is
    # pinned, and a jaw point moving beside a pinned one would fold the skin between.
    d_crop = face_motion(p0, p1, gain) * _inner(mesh)[:, None]
    d_photo = d_crop @ invert(to_crop)[:, :2].T
    pins = _pins(mesh)
    window = _window(pins, photo.shape[:2])
    if window is None:
        return None
    y0, y1, x0, x1 = window
    # Backward map: each output pixel samples the photograph where it came from.
    ctrl = list(CONTROL)
    targets = np.vstack([(mesh + d_photo)[ctrl], pins])
    back = np.vstack([-d_photo[ctrl], np.zeros_like(pins)])
    # Nothing moves beyond the silhouette's outer ring, nor outside the model's
    # aligned crop (what an edit of this face may touch).
    ys, xs = np.mgrid[y0:y1, x0:x1]
    uv = apply(to_crop, np.stack([xs + 0.5, ys + 0.5], -1).reshape(-1, 2))
    inside = crop_weights(alignment.image_size, uv).reshape(xs.shape)
    field = dense_field(targets, back, window) * (_fade(mesh, window) * inside)[..., None]
    field *= _unfolding(field)
    ys, xs = np.mgrid[0 : y1 - y0, 0 : x1 - x0].astype(np.float64)  # window pixels
    win = np.asarray(photo)[y0:y1, x0:x1]
    warped = remap(win, xs + 0.5 + field[..., 0], ys + 0.5 + field[..., 1])

    # The mouth's inside, where the edit opens a mouth the photograph shows closed:
    # drawn from the edited decode's lightness (teeth bright, the cavity dark),
    # exposed like this face, in teeth's and a mouth's colours, with the photo's grain.
    new_inner = (mesh + d_photo)[list(INNER_LIPS)]
    width = float(np.linalg.norm(mesh[61] - mesh[291]))
    opened = _opened(mesh[list(INNER_LIPS)], new_inner, width)
    fill = None
    if opened > 0.0:
        grey = [np.asarray(d, np.float32).mean(-1, keepdims=True) for d in (edited, start)]
        drawn, before = (sample_window(g, to_crop, window)[..., 0] for g in grey)
        found = paste_weights(photo, to_crop, alignment, face.mesh)
        mouth = _polygon(new_inner, window, face.box[2])
        lips = (_polygon((mesh + d_photo)[list(MOUTH)], window, face.box[2]) > 0.5) & (mouth < 0.1)
        corners = (mesh + d_photo)[[61, 291]] - np.array([x0, y0])
        fill = MouthFill(drawn, before, _face_weights(found, window), mouth * opened, lips, corners)
    return _compose(photo, window, warped, field, fill)


class MouthFill(NamedTuple):
    """What drawing an opened mouth's inside needs, over the warp's window."""

    drawn: np.ndarray  # the edited decode's grey, resampled onto the window
    before: np.ndarray  # the start decode's grey, likewise
    face: np.ndarray  # the face's paste weights (where its exposure is measured)
    mouth: np.ndarray  # the opening's mask, times how much of it is new
    lips: np.ndarray  # bool: the lips around it (their colour)
    corners: np.ndarray  # (2, 2) the mouth's corners in window pixels


def _opened(old: np.ndarray, new: np.ndarray, width: float) -> float:
    """How much of the edited mouth's opening is new: 1 for a closed mouth opened,
    0 for one already open (the warp moves its own teeth and inside) or not opening."""
    a_old, a_new = _area(old), _area(new)
    if a_new <= 1.0 or a_old > CLOSED * width**2:
        return 0.0
    return float(np.clip(1.0 - a_old / a_new, 0.0, 1.0))


def _area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def _polygon(poly: np.ndarray, window: tuple[int, int, int, int], width: float) -> np.ndarray:
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
    return np.where(pos < 0.05, 1.0, gap) * (np.abs(u) < 0.45)


def _compose(
    photo: np.ndarray,
    window: tuple[int, int, int, int],
    warped: np.ndarray,
    field: np.ndarray,
    fill: MouthFill | None,
) -> np.ndarray:
    """The warped window, with the opened mouth's inside drawn in (``fill``: the edited
    and start decodes' grey in the window, the face's weights, the opening's mask);
    pixels neither moved nor drawn keep their exact values."""
    y0, y1, x0, x1 = window
    top = 255.0
    out = np.asarray(photo).copy()
    moved = np.abs(field).max(-1) > 1e-4
    if fill is None:
        edited = np.clip(np.rint(warped), 0, top).astype(photo.dtype)
        out[y0:y1, x0:x1][moved] = edited[moved]
        return out
    drawn, before, face, mouth, lips, corners = fill
    rgb = warped / top
    gray = rgb.shape[-1] == 1
    if gray:
        rgb = np.repeat(rgb, 3, axis=-1)
    lab = rgb_to_lab(rgb)
    luma = rgb @ np.array([0.299, 0.587, 0.114])
    # Exposure: this face's mean grey against the decoder's, over the face.
    sure = face > 0.5
    k = float(luma[sure].mean() / max(before[sure].mean(), 1e-3)) if sure.any() else 1.0
    light = np.clip(drawn * k, 0.0, 1.0)
    teeth = np.clip((light - 0.45) / 0.15, 0.0, 1.0)[..., None]  # teeth or inside, rarely between
    fill_lab = np.empty_like(lab)
    # The decode says where teeth and the dark inside are; how light they are comes
    # from this face: teeth a little lighter than its lightest skin, the inside a
    # little darker than its darkest (a grey decode's teeth read as a grey slab).
    face_l = lab[..., 0][sure] if sure.any() else lab[..., 0].ravel()
    lo, hi = np.percentile(face_l, [5, 95])
    l_teeth, l_inside = min(96.0, hi + TEETH_LIFT), max(5.0, lo - TEETH_LIFT)
    fill_lab[..., 0] = l_inside + (l_teeth - l_inside) * teeth[..., 0]
    fill_lab[..., 0] -= TOOTH_GAP * teeth[..., 0] * _tooth_gaps(corners, fill_lab.shape[:2])
    # Colours from this photo's own lips: the inside a little darker than they are,
    # teeth nearly neutral with a trace of their warmth (grey in a grey photo).
    lip_ab = lab[..., 1:][lips].mean(0) if lips.any() else np.zeros(2)
    fill_lab[..., 1:] = lip_ab * CAVITY_CHROMA * (1 - teeth) + lip_ab * TEETH_CHROMA * teeth
    # The photo's own grain (its lightness's fine detail over the face), so the drawn
    # part is not smoother than the rest; and the shadow where lips meet the inside.
    if sure.any():
        pad = np.pad(lab[..., 0], 1, mode="edge")
        h, w_ = lab.shape[:2]
        local = sum(pad[dy : dy + h, dx : dx + w_] for dy in range(3) for dx in range(3)) / 9.0
        fine = lab[..., 0] - local
        grain = float(fine[sure].std())
        rng = np.random.default_rng(0)
        fill_lab[..., 0] += rng.normal(0.0, grain, fill_lab.shape[:2])
    fill_lab[..., 0] -= LIP_SHADOW * 4.0 * mouth * (1.0 - mouth)
    w = np.clip(mouth, 0.0, 1.0)[..., None]
    lab = lab * (1 - w) + fill_lab * w
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
