"""Paths through latent space: lerp, slerp, easing, keyframe paths (numpy only).

Slerp follows the great circle between two latents (as dribnet/plat does), which
keeps interpolants near the prior's typical shell where linear interpolation
cuts through the low-norm interior. Degenerate endpoints are handled: identical
directions fall back to lerp; opposite directions pass through a deterministic
perpendicular midpoint instead of dividing by sin(pi) = 0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import options
from .errors import ConceptVAEError

EASINGS: dict[str, Callable[[np.ndarray], np.ndarray]] = dict(
    zip(options.EASINGS, (lambda t: t, lambda t: 0.5 - 0.5 * np.cos(np.pi * t)))
)

_PARALLEL = 1e-6


def ease(name: str) -> Callable[[np.ndarray], np.ndarray]:
    try:
        return EASINGS[name]
    except KeyError:
        raise ConceptVAEError(f"unknown easing {name!r}; use one of {', '.join(EASINGS)}") from None


def lerp(a: np.ndarray, b: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    t = np.asarray(t, np.float64)[..., None]
    return ((1.0 - t) * np.asarray(a, np.float64) + t * np.asarray(b, np.float64)).astype(
        np.float32
    )


def _perpendicular(a: np.ndarray) -> np.ndarray:
    """A unit vector orthogonal to ``a``, chosen deterministically."""
    axis = np.zeros_like(a)
    axis[int(np.argmin(np.abs(a)))] = 1.0
    p = axis - a * (a @ axis) / (a @ a)
    return p / np.linalg.norm(p)


def slerp(a: np.ndarray, b: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    """Spherical interpolation; ``t`` may be a scalar or an array of positions."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    t = np.asarray(t, np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na < _PARALLEL or nb < _PARALLEL:
        return lerp(a, b, t)
    cos = float(np.clip((a / na) @ (b / nb), -1.0, 1.0))
    if cos > 1.0 - _PARALLEL:
        return lerp(a, b, t)
    if cos < -1.0 + _PARALLEL:
        # Opposite ends: go a -> m -> b through a perpendicular midpoint m.
        m = _perpendicular(a) * 0.5 * (na + nb)
        tt = np.atleast_1d(t)
        out = np.where(
            (tt < 0.5)[:, None],
            slerp(a, m, np.clip(2 * tt, 0, 1)),
            slerp(m, b, np.clip(2 * tt - 1, 0, 1)),
        )
        return out if np.ndim(t) else out[0]
    omega = np.arccos(cos)
    so = np.sin(omega)
    tt = t[..., None]
    return (np.sin((1.0 - tt) * omega) / so * a + np.sin(tt * omega) / so * b).astype(np.float32)


def path(
    keys: np.ndarray,
    frames: int,
    loop: bool = False,
    easing: str = "linear",
    spherical: bool = True,
) -> np.ndarray:
    """Exactly ``frames`` latents on one path through every keyframe, in order.

    Without ``loop`` the first and last frames are the first and last keys; with
    ``loop`` the path returns toward the first key and the last frame stops one
    step short of it, so the animation repeats seamlessly.
    """
    keys = np.asarray(keys, np.float32)
    if keys.ndim != 2 or len(keys) < 1:
        raise ConceptVAEError("need at least one keyframe latent")
    if frames < 1:
        raise ConceptVAEError(f"frames must be at least 1, got {frames}")
    if len(keys) == 1:
        return np.repeat(keys, frames, axis=0)
    f = ease(easing)
    ring = np.concatenate([keys, keys[:1]]) if loop else keys
    segments = len(ring) - 1
    if frames == 1:
        u = np.zeros(1)
    elif loop:
        u = np.arange(frames) * segments / frames
    else:
        u = np.linspace(0.0, segments, frames)
    seg = np.minimum(u.astype(int), segments - 1)
    local = f(u - seg)
    interp = slerp if spherical else lerp
    out = np.empty((frames, keys.shape[1]), np.float32)
    for s in np.unique(seg):
        idx = np.nonzero(seg == s)[0]
        out[idx] = interp(ring[s], ring[s + 1], local[idx])
    return out


def shell_report(z: np.ndarray) -> tuple[float, float]:
    """(largest norm / sqrt(D), smallest norm / sqrt(D)) of latents under a N(0, I) prior."""
    z = np.atleast_2d(np.asarray(z, np.float64))
    r = np.linalg.norm(z, axis=1) / np.sqrt(z.shape[1])
    return float(r.max()), float(r.min())


def outside_typical_shell(z: np.ndarray, tolerance: float = 2.0) -> bool:
    """True when some latent's norm is far from sqrt(D), where the prior's mass lies.

    Under N(0, I) the norm concentrates at sqrt(D) with spread ~1/sqrt(2); a norm
    beyond ``tolerance`` times that (or below it by the same factor, for D > 2)
    decodes to images unlike anything seen in training.
    """
    hi, lo = shell_report(z)
    d = np.atleast_2d(z).shape[1]
    return hi > tolerance or (d > 2 and lo < 1.0 / tolerance)
