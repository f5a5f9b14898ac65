"""Smooth deformations of a photograph from a few moved points.

A thin-plate spline (Bookstein 1989) through control points gives a dense
displacement field that bends as little as possible between them; points
given zero displacement pin the photograph down (round a face, so nothing
outside it moves). The field is evaluated on a coarse grid and interpolated
bilinearly (it is smooth at that scale, and a 400-pixel face then costs a few
thousand kernel evaluations per control point, not 160,000), then the
photograph's own pixels are resampled bilinearly: a warp moves pixels, it
never invents them, so texture and colour stay the photograph's.
"""

from __future__ import annotations

import numpy as np

# No part of the photograph is squeezed below this share of its area (a backward
# map's Jacobian determinant): past it, skin folds over itself and teeth crumple.
# Around a fold, the field is halved at most EASE_STEPS times.
MIN_STRETCH = 0.15
EASE_STEPS = 4
# The field is evaluated every GRID_STEP pixels, then interpolated.
GRID_STEP = 4
# Regularisation of the spline's system: the points are a face mesh's, some a
# fraction of a pixel apart, which makes the plain system ill-conditioned.
SMOOTHING = 1e-5


def _kernel(r2: np.ndarray) -> np.ndarray:
    """The 2-D thin-plate kernel r^2 log r^2 (0 at r = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        k = r2 * np.log(r2)
    return np.nan_to_num(k, nan=0.0, posinf=0.0, neginf=0.0)


def _solve(system: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    # One BLAS thread: a system of a few hundred unknowns takes a millisecond on one
    # core, and ten times longer when OpenBLAS's threads contend with a busy machine.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        try:
            return np.linalg.solve(system, rhs)
        except np.linalg.LinAlgError:  # points all on a line: the affine part is free
            return np.linalg.lstsq(system, rhs, rcond=None)[0]


def tps_field(points: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
    """The thin-plate spline through ``values`` (N, K) at ``points`` (N, 2), at ``query`` (M, 2)."""
    p = np.asarray(points, np.float64)
    v = np.asarray(values, np.float64)
    # Work in a unit frame: the kernel's log makes the fit depend on the scale.
    centre, scale = p.mean(0), max(float(np.ptp(p, axis=0).max()), 1e-9)
    p = (p - centre) / scale
    q = (np.asarray(query, np.float64) - centre) / scale
    n = len(p)
    k = _kernel(((p[:, None] - p[None]) ** 2).sum(-1)) + SMOOTHING * np.eye(n)
    ones = np.hstack([np.ones((n, 1)), p])
    system = np.zeros((n + 3, n + 3))
    system[:n, :n], system[:n, n:], system[n:, :n] = k, ones, ones.T
    rhs = np.vstack([v, np.zeros((3, v.shape[1]))])
    coef = _solve(system, rhs)
    out = np.hstack([np.ones((len(q), 1)), q]) @ coef[n:]
    for start in range(0, len(q), 4096):  # bounded memory for a large window
        part = q[start : start + 4096]
        out[start : start + 4096] += _kernel(((part[:, None] - p[None]) ** 2).sum(-1)) @ coef[:n]
    return out


def smoothstep(t: np.ndarray | float) -> np.ndarray:
    """0 below 0, 1 above 1, and the cubic 3t^2 - 2t^3 between: a fade with no kink."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def dense_field(
    points: np.ndarray, values: np.ndarray, window: tuple[int, int, int, int]
) -> np.ndarray:
    """The spline's (H, W, 2) field over the window (y0, y1, x0, x1) of pixel centres."""
    y0, y1, x0, x1 = window
    h, w = y1 - y0, x1 - x0
    gy = np.arange(0, h + GRID_STEP, GRID_STEP, dtype=np.float64)
    gx = np.arange(0, w + GRID_STEP, GRID_STEP, dtype=np.float64)
    grid = np.stack(np.meshgrid(gx + x0 + 0.5, gy + y0 + 0.5), -1).reshape(-1, 2)
    coarse = tps_field(points, values, grid).reshape(len(gy), len(gx), -1)
    # Bilinear from the coarse grid to every pixel.
    fy = np.arange(h, dtype=np.float64) / GRID_STEP
    fx = np.arange(w, dtype=np.float64) / GRID_STEP
    iy, ix = np.minimum(fy.astype(int), len(gy) - 2), np.minimum(fx.astype(int), len(gx) - 2)
    ty, tx = (fy - iy)[:, None, None], (fx - ix)[None, :, None]
    top = coarse[iy][:, ix] * (1 - tx) + coarse[iy][:, ix + 1] * tx
    bottom = coarse[iy + 1][:, ix] * (1 - tx) + coarse[iy + 1][:, ix + 1] * tx
    return top * (1 - ty) + bottom * ty


def remap(image: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """``image`` (H, W, C) sampled bilinearly at pixel-centre coordinates ``xs``, ``ys``
    (any shape), the border extended; float32."""
    h, w = image.shape[:2]
    x = np.clip(xs - 0.5, 0.0, w - 1.0)
    y = np.clip(ys - 0.5, 0.0, h - 1.0)
    x0, y0 = np.minimum(x.astype(np.intp), w - 2), np.minimum(y.astype(np.intp), h - 2)
    x0, y0 = np.maximum(x0, 0), np.maximum(y0, 0)
    tx, ty = (x - x0)[..., None], (y - y0)[..., None]
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    im = image.astype(np.float32, copy=False)
    top = im[y0, x0] * (1 - tx) + im[y0, x1] * tx
    bottom = im[y1, x0] * (1 - tx) + im[y1, x1] * tx
    return (top * (1 - ty) + bottom * ty).astype(np.float32)


def window_around(points: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    h, w = shape
    x0, y0 = np.floor(points.min(0)).astype(int)
    x1, y1 = np.ceil(points.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return int(y0), int(y1), int(x0), int(x1)


def determinant(field: np.ndarray) -> np.ndarray:
    gy_x, gx_x = np.gradient(field[..., 0])
    gy_y, gx_y = np.gradient(field[..., 1])
    return (1 + gx_x) * (1 + gy_y) - gy_x * gx_y


def blur(a: np.ndarray, radius: int) -> np.ndarray:
    """Three box blurs of ``radius`` each way (about a Gaussian of sigma ``radius``)."""
    out = a
    for axis in (0, 1):
        for _ in range(3):
            pad = [(radius + 1, radius) if ax == axis else (0, 0) for ax in (0, 1)]
            c = np.cumsum(np.pad(out, pad, mode="edge"), axis=axis)
            n = c.shape[axis] - 2 * radius - 1
            hi = np.take(c, np.arange(2 * radius + 1, 2 * radius + 1 + n), axis=axis)
            out = (hi - np.take(c, np.arange(n), axis=axis)) / (2 * radius + 1)
    return out


def ease_folds(face: np.ndarray, lips: np.ndarray, drawn: np.ndarray, reach: float) -> np.ndarray:
    """(H, W) how much of the face's motion to keep: halved around each place the
    map would fold (a broad bump of about ``reach`` pixels, so the easing does not
    fold anything itself), a few times over."""
    scale = np.ones(face.shape[:2])
    if face.shape[0] < 3 or face.shape[1] < 3:
        return scale
    radius = max(1, int(round(reach)))
    for _ in range(EASE_STEPS):
        bad = (determinant(face * scale[..., None] + lips) < MIN_STRETCH) & ~drawn
        if not bad.any():
            break
        bump = blur(bad.astype(np.float64), radius)
        scale *= 1.0 - 0.5 * bump / max(float(bump.max()), 1e-12)
    return scale


def unfolding_shares(face: np.ndarray, lips: np.ndarray, drawn: np.ndarray) -> tuple[float, float]:
    """The largest shares of the two parts of a backward map's displacement (the
    face's motion, then the lips') that bend the photograph without folding it:
    where the map's Jacobian determinant nears 0 the skin would tear or fold over
    itself. The face's motion gives way first: the lips' parting is what an
    expression shows most. Pixels where ``drawn`` is True are painted over and do
    not count."""
    keep = ~drawn
    if face.shape[0] < 2 or face.shape[1] < 2 or not keep.any():
        return 1.0, 1.0

    def unfolded(a: float, b: float) -> bool:
        return bool(determinant(face * a + lips * b)[keep].min() >= MIN_STRETCH)

    def largest(ok) -> float:  # noqa: ANN001
        lo, hi = 0.0, 1.0
        for _ in range(8):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if ok(mid) else (lo, mid)
        return lo

    if unfolded(1.0, 1.0):
        return 1.0, 1.0
    if unfolded(0.0, 1.0):
        return largest(lambda a: unfolded(a, 1.0)), 1.0
    return 0.0, largest(lambda b: unfolded(0.0, b))
