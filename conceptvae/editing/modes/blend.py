"""``blend``: detail outside the region the concept changes, the edited decode
inside it.

Inside the region the edited decode (with the photograph's own lighting)
replaces the photograph, joined by a Laplacian pyramid
(:mod:`conceptvae.blending`), so a redrawn part (a mouth) does not keep the old
one underneath. The model's knobs: meta.json ``edit_defaults.blend`` (and
``photo_blend`` for faces found in larger photographs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from . import Mode
from .common import Case, blend_settings, crop_array, paste_change

if TYPE_CHECKING:
    from ...blending import BlendSettings


def blend(
    crop: Image.Image, start: np.ndarray, edited: np.ndarray, settings: BlendSettings | None = None
) -> np.ndarray:
    """The ``blend`` mode edit of ``crop`` from the decodes of z and z' (model size)."""
    from ...blending import blend_edit

    start = np.asarray(start, np.float32)
    start = start[..., None] if start.ndim == 2 else start
    edited = np.asarray(edited, np.float32)
    edited = edited[..., None] if edited.ndim == 2 else edited
    base = crop_array(crop, start.shape[-1]) / 255.0
    out = blend_edit(base, start, edited, settings)
    return (np.clip(np.rint(out * 255.0), 0.0, 255.0) / 255.0).astype(np.float32)


def render(case: Case) -> np.ndarray:
    assert case.start is not None
    knobs = blend_settings(case.model, "blend", in_photo=case.in_photo)
    out = blend(case.crop, case.start, case.edited, knobs)
    if case.face is None:
        return out
    return paste_change(case, out - case.x)

MODE = Mode(render)
