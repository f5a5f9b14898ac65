"""sRGB <-> CIELab (D65), so an edit can change lightness and leave chroma alone.

A grayscale model's change added equally to R, G and B moves a skin tone's
chroma (darkened skin turns grey-green, lightened skin orange); the same change
made to L* alone keeps a* and b*, the colour a person sees, exactly.
"""

from __future__ import annotations

import numpy as np

_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
     [0.0193339, 0.1191920, 0.9503041]], np.float64,
)  # fmt: skip
_WHITE = np.array([0.95047, 1.0, 1.08883])
_EPS, _KAPPA = 216 / 24389, 24389 / 27


def _linear(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _encoded(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 0.0, 1.0)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)


def _f(t: np.ndarray) -> np.ndarray:
    return np.where(t > _EPS, np.cbrt(t), (_KAPPA * t + 16) / 116)


def _f_inv(t: np.ndarray) -> np.ndarray:
    return np.where(t**3 > _EPS, t**3, (116 * t - 16) / _KAPPA)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) sRGB in [0, 1] -> (..., 3) L*, a*, b*."""
    xyz = _linear(np.asarray(rgb, np.float64)) @ _TO_XYZ.T / _WHITE
    f = _f(xyz)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1
    )


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """(..., 3) L*, a*, b* -> sRGB in [0, 1] (out-of-gamut values clipped)."""
    lab = np.asarray(lab, np.float64)
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], -1)
    xyz = _f_inv(f) * _WHITE
    return _encoded(xyz @ np.linalg.inv(_TO_XYZ).T)

