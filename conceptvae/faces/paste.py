"""Paste an edit made on an aligned crop back into the photograph.

The change (edited crop minus original crop, in [0, 1] intensity units) is
warped from crop to photo pixels (bicubic) and added under a feathered
elliptical mask: weight 1 on the face, a raised-cosine fade over the mask's
outer band, exactly 0 beyond it, so every pixel outside the ellipse keeps its
exact value and the fade leaves no seam. A one-channel (grayscale) change is
added equally to R, G and B, which moves luminance (Y = .299R + .587G + .114B
moves by the change itself) and keeps the chroma: colour photos stay colour.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageFilter

from .align import FaceAlignment
from .deform import smoothstep
from .landmarks import SILHOUETTE
from .warp import apply, invert


def mask_region(
    alignment: FaceAlignment, to_crop: np.ndarray, shape: tuple[int, int], whole: bool = False
) -> tuple[int, int, int, int] | None:
    """The photo rows/columns (y0, y1, x0, x1) the mask can touch, or None."""
    s = alignment.image_size
    cx, cy = (np.asarray(alignment.mask["centre"], np.float64) * s).tolist()
    rx, ry = (np.asarray(alignment.mask["radii"], np.float64) * s).tolist()
    if whole:
        cx = cy = rx = ry = s / 2
    corners = np.array(
        [[cx - rx, cy - ry], [cx + rx, cy - ry], [cx - rx, cy + ry], [cx + rx, cy + ry]]
    )
    pts = apply(invert(to_crop), corners)
    x0, y0 = np.floor(pts.min(0)).astype(int) - 1
    x1, y1 = np.ceil(pts.max(0)).astype(int) + 1
    h, w = shape
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 <= x0 or y1 <= y0:
        return None
    return int(y0), int(y1), int(x0), int(x1)


def mask_weights(alignment: FaceAlignment, uv: np.ndarray) -> np.ndarray:
    """Blend weight at crop coordinates ``uv`` (..., 2)."""
    s = alignment.image_size
    c = np.asarray(alignment.mask["centre"], np.float64) * s
    r = np.asarray(alignment.mask["radii"], np.float64) * s
    feather = float(alignment.mask["feather"])
    d = np.sqrt((((uv - c) / r) ** 2).sum(-1))
    inner = 1.0 - feather
    t = np.clip((d - inner) / max(feather, 1e-9), 0.0, 1.0)
    w = 0.5 * (1.0 + np.cos(math.pi * t))
    w[d >= 1.0] = 0.0
    return w


# A face crop given at the model's size is all face: its edit covers the whole
# aligned crop, fading over this many model pixels at the crop's edges (the
# input's own pixels show only where the aligned crop does not reach).
CROP_FEATHER = 3.0


def crop_weights(size: int, uv: np.ndarray) -> np.ndarray:
    """Weight at crop coordinates ``uv`` (..., 2) for a whole-crop paste: 1 inside,
    a raised-cosine fade to 0 over the outer CROP_FEATHER pixels, 0 outside."""
    edge = np.minimum(uv, size - uv).min(-1)
    t = np.clip(edge / CROP_FEATHER, 0.0, 1.0)
    return 0.5 * (1.0 - np.cos(math.pi * t))


# The inner face: hull of the face-mesh points that lie at least 4-5 pixels
# inside the 64x64 crop for 96% of the SMILEsmileD training crops (brows to the
# lower lip, cheek to cheek), in order around it. Unlike the mesh's silhouette,
# these points sit on visible features, so they stay put when a face is cut off
# close or its chin is hidden, and the edit never reaches past the face.
INNER_FACE = (50, 228, 33, 224, 223, 285, 443, 339, 432, 375, 320, 15, 91, 43, 212, 207)
# The lips' outer contour, in order around it. The inner face's lower edge runs
# through the lips and is pulled in (above), which left the mouth's corners and
# its lower half all but unedited (weights 0-0.5): a smile landed in 30% of
# faces in photographs. The mouth is added to the mask, scaled in the face's own
# frame by MOUTH_SCALE (half again as wide, about half as tall: the band from
# the upper lip to the lower lip's inner edge, corners included, where a smile
# opens and turns up), then pulled in like the inner face. Taller bands land a
# little more but reach past the cut of a face cropped close under the mouth
# (measured: benchmarks/pretrained-experiments.md).
MOUTH = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91,
         146)  # fmt: skip
MOUTH_SCALE = (1.5, 0.55)


def mouth_outline(mouth: np.ndarray, to_crop: np.ndarray) -> np.ndarray:
    """The lips' contour (photo pixels) scaled by MOUTH_SCALE about its centre, along
    the aligned face's axes (so a turned face's band turns with it)."""
    pts = apply(to_crop, np.asarray(mouth, np.float64))
    centre = pts.mean(0)
    return apply(invert(to_crop), centre + (pts - centre) * np.array(MOUTH_SCALE))


# Feathering: a blur of this fraction of the face's size, the polygon first
# pulled in far enough that the blur ends inside the outline.
OUTLINE_BLUR = 0.025
# ...and pulled in by this fraction more: a crop cut close to the face (or a
# turned face) has its outer features right at the cut.
OUTLINE_INSET = 0.03


# The face mesh's silhouette (landmarks.SILHOUETTE) holds the outer cheeks, the
# jaw and the chin, which the inner face leaves out and a smile moves (the
# lower lip, the chin, the smile lines). The mesh places them even where the
# picture has none (a face cropped under the mouth, a hand or a collar over the
# chin, hair over a cheek), so they are added only where the photograph is skin
# (see skin_weights).
#
# Skin: within this many chroma levels (8-bit Cb or Cr) of the face's own median,
# plus SKIN_SPREAD times the face's own spread (median absolute deviation).
SKIN_TOLERANCE = 4.0
SKIN_SPREAD = 1.5
# A pixel this close to a region that is not skin (a fraction of the face's
# size) is not skin either: the weight reaches 0 before any such pixel.
SKIN_MARGIN = 0.05
# A face whose median chroma is closer to grey than this is in a grey (or
# greyed) picture, where colour cannot tell skin from background: no extension.
SKIN_MIN_CHROMA = 3.0


def _full_scale(arr: np.ndarray) -> float:
    """The value of full intensity in ``arr``: 255 or 65535 for 8- or 16-bit, 1.0 for floats."""
    return float(np.iinfo(arr.dtype).max) if arr.dtype.kind in "ui" else 1.0


def skin_weights(window: np.ndarray, face: np.ndarray, size: float) -> np.ndarray | None:
    """Weights in [0, 1] over a photo window (h, w, 3) of 8- or 16-bit RGB: 1 on
    skin coloured like the face (the pixels where ``face`` is True), 0 on and
    near anything else; None when the picture's colour cannot tell (grey)."""
    if window.ndim != 3 or window.shape[-1] != 3 or face.sum() < 16:
        return None
    scale = np.float32(255.0 / _full_scale(window))
    # float32, one channel at a time: a face can fill a 100-megapixel photograph.
    r, g, b = (window[..., c].astype(np.float32) * scale for c in range(3))
    chroma = (-0.168736 * r - 0.331264 * g + 0.5 * b, 0.5 * r - 0.418688 * g - 0.081312 * b)
    del r, g, b
    ref = [float(np.median(c[face])) for c in chroma]
    if math.hypot(*ref) < SKIN_MIN_CHROMA:
        return None
    spread = max(float(np.median(np.abs(c[face] - m))) for c, m in zip(chroma, ref))
    tolerance = SKIN_TOLERANCE + SKIN_SPREAD * spread
    far = np.maximum(np.abs(chroma[0] - ref[0]), np.abs(chroma[1] - ref[1])) >= tolerance
    return _away_from(far, SKIN_MARGIN * size)


def _away_from(region: np.ndarray, margin: float) -> np.ndarray:
    """Weights in [0, 1]: exactly 0 on ``region`` (bool) and within ``margin``
    pixels of it, rising to 1 beyond. ``region`` is grown by a blur kept wherever
    it is non-zero (a large region reaches about 3 sigma, a lone odd pixel barely
    counts), the rest softened over a third of that; sigma is chosen so that every
    pixel within the margin stays at exactly 0 (tests/test_faces.py)."""
    sigma = max(0.5, margin / 1.6)
    near = Image.fromarray((region * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(sigma))
    keep = Image.fromarray(np.where(np.asarray(near) > 0, 0, 255).astype(np.uint8))
    soft = np.asarray(keep.filter(ImageFilter.GaussianBlur(sigma / 3)), np.float64) / 255.0
    soft[soft < 0.02] = 0.0
    return soft


# Where a face meets something of another colour that extends past it (the
# background beyond the cut of a cropped face, a collar, a microphone in front of
# the mouth), the face mesh still places a lip, a cheek or a chin behind it, and
# the inner face and the mouth band (which are not limited to skin) would paint
# the edit on it. No weight may come near such a region:
# chromaticity (r and g of r + g + b, which a shadow on the face keeps) this far
# from the inner face's median, plus BACKGROUND_SPREAD times its spread, on a
# pixel bright enough to have a colour, in a region that reaches the edge of the
# window. What the face encloses (red lips, blue eyes, teeth) never reaches it.
BACKGROUND_DISTANCE = 0.04
BACKGROUND_SPREAD = 3.0
BACKGROUND_DARK = 25.0  # 8-bit mean of R, G and B under which a pixel has no colour
BACKGROUND_MARGIN = 0.025  # of the face's size: the weight is 0 this close to it
# A coarse mask: computed on a copy of the window at most this many pixels on a
# side (a face may fill a 100-megapixel photograph; and the edge search below
# takes a step per pixel of distance).
BACKGROUND_SIDE = 256


def _reaching_the_edge(region: np.ndarray) -> np.ndarray:
    """The pixels of ``region`` (bool) connected to the array's edge through it
    (8-neighbours): grown from the edge one step at a time (numpy; importing
    scipy.ndimage would cost a cold edit a tenth of a second). A path longer
    than twice the array's side (a spiral drawn on purpose) is left unreached."""
    reached = np.zeros_like(region)
    for edge in (np.s_[0, :], np.s_[-1, :], np.s_[:, 0], np.s_[:, -1]):
        reached[edge] = region[edge]
    for step in range(2 * max(region.shape)):
        grown = reached.copy()
        grown[1:] |= reached[:-1]
        grown[:-1] |= reached[1:]
        wide = grown.copy()
        wide[:, 1:] |= grown[:, :-1]
        wide[:, :-1] |= grown[:, 1:]
        wide &= region
        if step % 8 == 7 and np.array_equal(wide, reached):
            break
        reached = wide
    return reached


def background_weights(window: np.ndarray, face: np.ndarray, size: float) -> np.ndarray | None:
    """Weights in [0, 1] over a photo window (h, w, 3) of 8- or 16-bit RGB: 0 on and
    near regions plainly not of the face's colour (``face``: its pixels) that reach
    the window's edge, 1 elsewhere; None when there is no such region."""
    if window.ndim != 3 or window.shape[-1] != 3 or face.sum() < 16:
        return None
    h, w = face.shape
    factor = max(1.0, max(h, w) / BACKGROUND_SIDE)
    small = (max(1, round(w / factor)), max(1, round(h / factor)))

    def shrink(channel: np.ndarray) -> np.ndarray:
        img = Image.fromarray(np.ascontiguousarray(channel, np.float32), mode="F")
        return np.asarray(img.resize(small, Image.BOX) if factor > 1 else img, np.float32)

    # Shrunk first, then scaled to 8-bit levels: one full-size float copy per channel.
    scale = np.float32(255.0 / _full_scale(window))
    r, g, b = (shrink(window[..., c]) * scale for c in range(3))
    inner = shrink(face.astype(np.float32)) > 0.5
    total = r + g + b
    lit = total >= 3 * BACKGROUND_DARK
    if (inner & lit).sum() < 16:
        return None
    rg = (r / np.maximum(total, 1e-3), g / np.maximum(total, 1e-3))
    ref = [float(np.median(c[inner & lit])) for c in rg]
    spread = max(float(np.median(np.abs(c[inner & lit] - m))) for c, m in zip(rg, ref))
    distance = np.maximum(np.abs(rg[0] - ref[0]), np.abs(rg[1] - ref[1]))
    far = lit & (distance >= BACKGROUND_DISTANCE + BACKGROUND_SPREAD * spread)
    region = _reaching_the_edge(far)
    if not region.any():
        return None
    weights = _away_from(region, BACKGROUND_MARGIN * size / factor)
    if factor > 1:
        img = Image.fromarray(weights.astype(np.float32), mode="F").resize((w, h), Image.BILINEAR)
        weights = np.asarray(img, np.float64)
        weights[weights < 0.02] = 0.0
    return weights


def outline_weights(outline: np.ndarray, window: tuple[int, int, int, int]) -> np.ndarray:
    """Weights in [0, 1] over a photo window (y0, y1, x0, x1): 1 well inside the
    face's outline (a polygon in photo pixels), fading to exactly 0 before it."""
    y0, y1, x0, x1 = window
    pts = np.asarray(outline, np.float64)
    centre = pts.mean(0)
    size = float(np.sqrt(np.prod(pts.max(0) - pts.min(0))))
    radius = max(1.0, OUTLINE_BLUR * size)
    # Pulled in by the inset and the blur's reach (~3 radii): nothing leaks past the outline.
    shrink = 1.0 - OUTLINE_INSET - 3 * radius / max(size, 1.0)
    inner = centre + (pts - centre) * max(shrink, 0.5) - np.array([x0, y0])
    from PIL import ImageDraw  # with ImageFont, 3 ms a crop edit would pay unused

    im = Image.new("L", (x1 - x0, y1 - y0), 0)
    ImageDraw.Draw(im).polygon([tuple(p) for p in (inner - 0.5).tolist()], fill=255)
    im = im.filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(im, np.float64) / 255.0


# An added change (detail, blend) gets the full edit over the inner half of the
# mask's fade band: its weight is a smoothstep of twice the mask's (the outer
# fringe, weights under 0.1, is kept as it was). The plain mask gave the mouth's
# corners and the cheeks' smile lines weights of 0.3-0.8: a +1.5 smile landed in
# 73% of faces set into photographs, 80% with the steeper fade (cnn judge,
# training faces; the same support, so the same pixels stay untouched;
# benchmarks/pretrained-experiments.md). An added change is faint where the mask
# fades; a pasted decode (``replace``) is not, and keeps the wide fade (a steep
# one shows its edge across the brows).
ADDED_GAIN = 2.0


def _steep(weights: np.ndarray) -> np.ndarray:
    return smoothstep(ADDED_GAIN * weights)


def sample_crop(delta: np.ndarray, to_crop_local: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``delta`` (S, S, C) resampled (bicubic) at the crop coordinates of each
    pixel of a (h, w) photo window."""
    data = tuple(np.asarray(to_crop_local, np.float64).reshape(-1))
    out = []
    for ch in range(delta.shape[-1]):
        img = Image.fromarray(np.ascontiguousarray(delta[..., ch], np.float32), mode="F")
        out.append(np.asarray(img.transform(size, Image.AFFINE, data, resample=Image.BICUBIC)))
    return np.stack(out, axis=-1)


def sample_window(
    delta: np.ndarray, to_crop: np.ndarray, window: tuple[int, int, int, int]
) -> np.ndarray:
    """``delta`` (S, S, C), in crop pixels, resampled onto the photo window (y0, y1, x0, x1)
    whose pixel (u, v) is photo pixel (x0 + u, y0 + v)."""
    y0, y1, x0, x1 = window
    local = np.asarray(to_crop, np.float64).copy()
    local[:, 2] = apply(to_crop, np.array([[x0, y0]], np.float64))[0]
    return sample_crop(delta, local, (x1 - x0, y1 - y0))


def paste_weights(
    photo: np.ndarray,
    to_crop: np.ndarray,
    alignment: FaceAlignment,
    mesh: np.ndarray | None = None,
    whole: bool = False,
    replace: bool = False,
) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """Where :func:`paste_back` puts a face's edit: the photo window (y0, y1, x0, x1)
    and its weights in [0, 1] (exactly 0 where nothing may change), or None."""
    photo = np.asarray(photo)
    if photo.ndim == 2:
        photo = photo[..., None]
    region = mask_region(alignment, to_crop, photo.shape[:2], whole)
    if region is None:
        return None
    y0, y1, x0, x1 = region
    ys, xs = np.mgrid[y0:y1, x0:x1]
    centres = np.stack([xs + 0.5, ys + 0.5], axis=-1)
    uv = apply(to_crop, centres.reshape(-1, 2)).reshape(centres.shape)
    if whole:
        return region, crop_weights(alignment.image_size, uv)
    weights = mask_weights(alignment, uv)
    if mesh is not None:
        points = np.asarray(mesh, np.float64)[:, :2]
        outline = points[list(INNER_FACE)]
        face = outline_weights(outline, region)
        inner = face > 0.5
        whole_face = outline_weights(points[list(SILHOUETTE)], region)
        # A turned face's far mouth corner is near its cheek's edge: the band, half
        # again as wide as the lips, must not reach past the cheek.
        band = outline_weights(mouth_outline(points[list(MOUTH)], to_crop), region) * whole_face
        inside = np.maximum(face, band)
        size = float(np.sqrt(np.prod(outline.max(0) - outline.min(0))))
        skin = skin_weights(photo[y0:y1, x0:x1], inner, size)
        if skin is not None:
            inside = np.maximum(inside, whole_face * skin)
        away = background_weights(photo[y0:y1, x0:x1], inner, size)
        if away is not None:
            inside = inside * away
        weights = weights * inside
    return region, weights if replace else _steep(weights)


def paste_back(
    photo: np.ndarray,
    delta: np.ndarray,
    to_crop: np.ndarray,
    alignment: FaceAlignment,
    mesh: np.ndarray | None = None,
    whole: bool = False,
    replace: bool = False,
) -> np.ndarray:
    """``photo`` (H, W, C) uint8 or uint16 with ``delta`` (S, S, 1 or C) in
    [0, 1] units added under the mask; a new array of the same shape and dtype.

    ``replace``: ``delta`` is the new crop itself (a decode), put in place of the
    photo's luminance under the mask. Adding ``decode - crop`` instead would
    keep the photograph's finest detail there (what the crop's resampling lost),
    a faint ghost of the old face under the decoded one.

    ``mesh`` (468, 2 or 3), the face's mesh points in photo pixels, further
    limits the blend to the face (a template's ellipse can reach past the chin
    or cheek of a face turned or framed unlike the template's): its inner face
    (INNER_FACE), the band of its mouth (MOUTH) and, where the colour
    photograph is skin (:func:`skin_weights`), the rest of its silhouette (outer
    cheeks, jaw, chin). ``whole``: the photo is a face crop, the mask is the
    whole aligned crop (:func:`crop_weights`). The weights are
    :func:`paste_weights`. :func:`paste_into` does the same in place."""
    photo = np.asarray(photo)
    out = photo[..., None].copy() if photo.ndim == 2 else photo.copy()
    paste_into(out, delta, to_crop, alignment, mesh, whole, replace)
    return out


def paste_into(
    photo: np.ndarray,
    delta: np.ndarray,
    to_crop: np.ndarray,
    alignment: FaceAlignment,
    mesh: np.ndarray | None = None,
    whole: bool = False,
    replace: bool = False,
) -> tuple[int, int, int, int] | None:
    """:func:`paste_back` in place: the writable ``photo`` (H, W[, C]) gets the
    edit, and only the face's window is read or written (a large photograph is
    never copied). Returns that window (y0, y1, x0, x1), or None: nothing changed."""
    if photo.ndim == 2:
        photo = photo[..., None]  # a view: the writes below reach the caller's array
    delta = np.asarray(delta, np.float32)
    if delta.ndim == 2:
        delta = delta[..., None]
    found = paste_weights(photo, to_crop, alignment, mesh, whole, replace)
    if found is None:
        return None
    region, weights = found
    y0, y1, x0, x1 = region
    change = sample_window(delta, to_crop, region)
    top = _full_scale(photo)
    window = photo[y0:y1, x0:x1].astype(np.float32)
    if change.shape[-1] == 1 or window.shape[-1] == 1:
        change = change.mean(-1, keepdims=True) if window.shape[-1] == 1 else change
    if replace:
        now = window / np.float32(top)
        if change.shape[-1] == 1 and now.shape[-1] == 3:
            now = now @ np.array([[0.299], [0.587], [0.114]], np.float32)  # ITU-R 601 luma
        change = change - now
    edited = window + weights[..., None].astype(np.float32) * change * top
    if photo.dtype.kind in "ui":
        edited = np.clip(np.rint(edited), 0, top).astype(photo.dtype)
    else:
        edited = np.clip(edited, 0.0, 1.0).astype(photo.dtype)
    touched = weights > 0
    photo[y0:y1, x0:x1][touched] = edited[touched]
    return region
