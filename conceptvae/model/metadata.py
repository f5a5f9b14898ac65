"""The checks of a model's ``face_alignment`` and ``edit_defaults`` entries.

One place, shared by meta.json (checked when the model is loaded) and a
training folder's face_alignment.json (checked when the folder is read): a
value that would only fail deep inside an edit (a crop of side 0, a NaN
padding, five template points on one line, a division by ``full_change`` 0)
is refused here, naming the field. Messages raise ValueError; the reader adds
the file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

# The crop sides align-faces writes (and any face model is trained on).
MIN_ALIGN_SIZE, MAX_ALIGN_SIZE = 8, 1024
# detect_padding is a fraction of the photo's longer side added as a border for
# the detector; a border wider than the photo itself only shrinks the face.
MAX_DETECT_PADDING = 1.0
# An ellipse radius under 1% of the crop is under a pixel of any crop we make.
MIN_MASK_RADIUS = 0.01
# Five landmarks whose narrow spread is under this fraction of the wide one lie
# (nearly) on one line: no similarity transform is determined by them.
MIN_TEMPLATE_ASPECT = 0.1
DEFAULT_MASK = {"centre": [0.5, 0.55], "radii": [0.4, 0.42], "feather": 0.3}
# The edit_defaults entries that hold photo-keeping knobs (BlendSettings).
BLEND_ENTRIES = ("blend", "detail")

KEY = "face_alignment"


def _number(v: Any) -> bool:  # noqa: ANN401
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _shown(v: Any) -> str:  # noqa: ANN401
    return repr(v)[:40]


def check_face_alignment(entry: Any) -> dict[str, Any]:  # noqa: ANN401
    """``template`` (5, 2) float array, ``image_size``, ``detect_padding`` and
    ``mask`` of a face_alignment entry, each checked; ValueError names the field."""
    if not isinstance(entry, Mapping):
        raise ValueError(f"{KEY} must be an object")
    size = entry.get("image_size")
    whole = _number(size) and float(size).is_integer()
    if not (whole and MIN_ALIGN_SIZE <= size <= MAX_ALIGN_SIZE):
        raise ValueError(
            f"{KEY}.image_size must be a whole number from {MIN_ALIGN_SIZE} to "
            f"{MAX_ALIGN_SIZE}, not {_shown(size)}"
        )
    size = int(size)
    padding = entry.get("detect_padding", 0.25)
    if not (_number(padding) and 0 <= padding <= MAX_DETECT_PADDING):
        raise ValueError(
            f"{KEY}.detect_padding must be a number from 0 to {MAX_DETECT_PADDING:g}, "
            f"not {_shown(padding)}"
        )
    return {
        "template": _template(entry.get("template"), size),
        "image_size": size,
        "detect_padding": float(padding),
        "mask": _mask(entry.get("mask")),
    }


def _template(raw: Any, size: int) -> np.ndarray:  # noqa: ANN401
    rows = raw if isinstance(raw, (list, tuple)) and len(raw) == 5 else None
    if rows is None or not all(
        isinstance(p, (list, tuple)) and len(p) == 2 and all(_number(c) for c in p) for p in rows
    ):
        raise ValueError(f"{KEY}.template must be 5 [x, y] points (numbers)")
    t = np.asarray(rows, np.float64)
    if not np.all((t >= 0) & (t <= size)):
        raise ValueError(f"{KEY}.template points must lie inside the {size}x{size} crop")
    spread = np.linalg.svd(t - t.mean(0), compute_uv=False)
    if spread[0] < 1e-6 * size or spread[1] < MIN_TEMPLATE_ASPECT * spread[0]:
        raise ValueError(
            f"{KEY}.template is degenerate (its 5 points are at one place or on one line)"
        )
    return t


def _mask(raw: Any) -> dict[str, Any]:  # noqa: ANN401
    if raw is None:
        return dict(DEFAULT_MASK)
    if not isinstance(raw, Mapping):
        raise ValueError(f"{KEY}.mask must be an object with centre, radii and feather")
    mask = {**DEFAULT_MASK, **raw}
    for name, low in (("centre", 0.0), ("radii", MIN_MASK_RADIUS)):
        v = mask[name]
        if not (
            isinstance(v, (list, tuple)) and len(v) == 2 and all(_number(c) and low <= c <= 1 for c in v)
        ):
            raise ValueError(
                f"{KEY}.mask.{name} must be 2 numbers from {low:g} to 1 (fractions of the "
                f"crop's side), not {_shown(v)}"
            )
    if not (_number(mask["feather"]) and 0 <= mask["feather"] <= 1):
        raise ValueError(f"{KEY}.mask.feather must be a number from 0 to 1, not "
                         f"{_shown(mask['feather'])}")  # fmt: skip
    return {**mask, "centre": [float(c) for c in mask["centre"]],
            "radii": [float(r) for r in mask["radii"]], "feather": float(mask["feather"])}  # fmt: skip


def check_edit_defaults(entry: Mapping) -> None:
    """Every photo-keeping entry of ``edit_defaults`` as an edit would read it
    (``photo_<mode>`` laid over ``<mode>``); ValueError names the entry."""
    from ..blending import BlendSettings

    for mode in BLEND_ENTRIES:
        base = entry.get(mode)
        if base is not None:
            BlendSettings.from_meta(base, mode)
        over = entry.get(f"photo_{mode}")
        if over is not None:
            both = {**base, **over} if isinstance(base, dict) and isinstance(over, dict) else over
            BlendSettings.from_meta(both, f"photo_{mode}")
