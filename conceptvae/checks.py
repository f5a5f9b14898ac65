"""Checks of option values against the bounds in :mod:`conceptvae.options`.

Each returns the value in its canonical type or raises :class:`ConceptVAEError`
naming the Python parameter (the CLI shows its flag instead).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .errors import ConceptVAEError, param
from .options import MAX_AMOUNT, MAX_FPS, MAX_FRAMES, MAX_SEED, MAX_STEPS, MIN_FPS


def _is_int(v: object) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def whole(v: object, name: str, lo: int, hi: int, what: str = "whole number") -> int:
    """An integer from ``lo`` to ``hi`` (bools and floats refused)."""
    if not _is_int(v) or not lo <= int(v) <= hi:  # type: ignore[call-overload]
        raise ConceptVAEError(f"{name} must be a {what} from {lo} to {hi}, got {v!r}")
    return int(v)  # type: ignore[call-overload]


def choice(v: object, name: str, options: Sequence[str]) -> str:
    if v not in options:
        raise ConceptVAEError(f"{name} must be one of {', '.join(options)}, got {v!r}")
    return str(v)


def check_amount(value: float, what: str = param("amount")) -> float:
    """A finite amount no larger than MAX_AMOUNT in size."""
    try:
        a = float(value)
    except (TypeError, ValueError):
        raise ConceptVAEError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(a) or abs(a) > MAX_AMOUNT:
        raise ConceptVAEError(
            f"{what} must be a finite number from -{MAX_AMOUNT:g} to {MAX_AMOUNT:g}, got {value}"
        )
    return a


def check_probability(p: float) -> float:
    if not (isinstance(p, (int, float)) and math.isfinite(p) and 0.0 < p < 1.0):
        raise ConceptVAEError(
            f"{param('until')} must be a probability strictly between 0 and 1, got {p}"
        )
    return float(p)


def check_max_amount(m: float) -> float:
    if not (isinstance(m, (int, float)) and math.isfinite(m) and 0.0 < m <= MAX_AMOUNT):
        raise ConceptVAEError(
            f"{param('max_amount')} must be a finite number in (0, {MAX_AMOUNT:g}], got {m}"
        )
    return float(m)


def check_steps(steps: int, what: str = param("steps"), top: int = MAX_STEPS) -> int:
    if not _is_int(steps) or not 1 <= steps <= top:
        raise ConceptVAEError(f"{what} must be an integer from 1 to {top}, got {steps}")
    return int(steps)


def check_count(n: object, name: str, minimum: int = 1) -> int:
    """An integer number of frames from ``minimum`` to MAX_FRAMES."""
    return whole(n, name, minimum, MAX_FRAMES)


def positive(v: object, name: str, top: float) -> float:
    """A finite number above 0 and at most ``top``."""
    if (
        isinstance(v, bool)
        or not isinstance(v, (int, float, np.integer, np.floating))
        or not math.isfinite(float(v))
        or not 0 < float(v) <= top
    ):
        raise ConceptVAEError(
            f"{name} must be a finite number above 0 and at most {top:g}, got {v!r}"
        )
    return float(v)


def check_fps(fps: object, name: str = param("fps")) -> float:
    # A floor as well as a ceiling: GIF and WebP store frame durations as whole
    # milliseconds, so a vanishing fps would overflow them or truncate silently.
    if (
        isinstance(fps, bool)
        or not isinstance(fps, (int, float, np.integer, np.floating))
        or not math.isfinite(float(fps))
        or not MIN_FPS <= float(fps) <= MAX_FPS
    ):
        raise ConceptVAEError(
            f"{name} must be a finite number from {MIN_FPS:g} to {MAX_FPS:g}, got {fps!r}"
        )
    return float(fps)


def check_seed(seed: int | None) -> None:
    if seed is not None and seed < 0:
        raise ConceptVAEError(f"{param('seed')} must be a non-negative integer, got {seed}")
    if seed is not None and seed > MAX_SEED:
        raise ConceptVAEError(f"{param('seed')} must be at most 2**64 - 1")
