"""``detail``: ``input + (decode(z') - decode(z))`` at the input's own resolution.

The decoded *change* is upsampled (bicubic) to the input's own pixel size and
added to the input, so the edit changes what the concept changes and keeps the
sharp photograph elsewhere. The input is center-cropped to a square as in
training (the output is that square crop at its own size). A grayscale model's
change is added to every channel of a colour photograph. A model may tune
detail mode (meta.json ``edit_defaults.detail``): then it is blend's engine
with the model's knobs, and other knobs for faces found in larger photographs
(``edit_defaults.photo_detail``).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from . import Mode
from .blend import blend
from .common import Case, blend_settings, paste_change


def detail(crop: Image.Image, change: np.ndarray) -> np.ndarray:
    """``crop + change``, the (S, S, C) change upsampled (bicubic) to the crop's size.

    Where the change is 0, the output is the input exactly. A one-channel change
    is added to every channel of a colour crop.
    """
    side = crop.size[0]
    change = np.asarray(change, np.float32)
    if change.ndim == 2:
        change = change[..., None]
    if change.shape[0] == side:
        up = change.astype(np.float64)
    else:
        up = np.stack(
            [
                np.asarray(Image.fromarray(np.ascontiguousarray(change[..., c]), mode="F")
                           .resize((side, side), Image.BICUBIC), np.float64)
                for c in range(change.shape[-1])
            ],
            axis=-1,
        )  # fmt: skip
    if up.shape[-1] == 3 and crop.mode == "L":
        crop = crop.convert("RGB")
    base = np.asarray(crop, np.float64)
    if base.ndim == 2:
        base = base[..., None]
    out = np.clip(np.rint(base + up * 255.0), 0.0, 255.0)
    return (out / 255.0).astype(np.float32)


def render(case: Case) -> np.ndarray:
    assert case.start is not None
    knobs = blend_settings(case.model, "detail", in_photo=case.in_photo)
    if case.face is None:
        if knobs is not None:
            return blend(case.crop, case.start, case.edited, knobs)
        return detail(case.crop, case.edited - case.start)
    if knobs is not None:
        change = blend(case.crop, case.start, case.edited, knobs) - case.x
    else:
        change = case.edited - case.start
    return paste_change(case, change)


MODE = Mode(render)
