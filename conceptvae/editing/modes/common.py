"""What every mode reads: one input's decodes (:class:`Case`), the model's tuned
knobs, and the paste-back of a face's change into its photograph."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ...errors import ModelError

if TYPE_CHECKING:
    from ...blending import BlendSettings
    from ...faces.align import FaceAlignment
    from ...faces.inputs import FaceView
    from ...model.loaded import VAEModel


@dataclass(frozen=True)
class Case:
    """One input to render: what it is and the decodes of its latents.

    ``crop`` is the input's square crop at its own size (a face's aligned crop
    at the model's size), ``x`` what the model encoded, ``start`` the decode of
    the unmoved latent (None when the mode does not need it), ``edited`` the
    decode of the moved one. For a face found in a photograph, ``face`` is the
    face, ``alignment`` the model's template, ``photo`` the photograph so far
    (uint8 (H, W, C), earlier faces already edited; the mode may edit it in
    place and return it, as :func:`paste_change` does) and ``whole`` says the
    photograph is itself a face crop of the model's size; ``chosen``: the user
    asked for this face by number, so a mode edits it even where it would skip it.
    """

    model: VAEModel
    crop: Image.Image
    x: np.ndarray
    start: np.ndarray | None
    edited: np.ndarray
    face: FaceView | None = None
    alignment: FaceAlignment | None = None
    photo: np.ndarray | None = None
    whole: bool = False
    name: str = ""  # the output's name (a photograph's stem), for messages
    chosen: bool = False  # the user chose this face by its number: edit it whatever it is

    @property
    def in_photo(self) -> bool:
        """A face found in a larger photograph (not a crop of the model's size)."""
        return self.face is not None and not self.whole


def paste_change(case: Case, change: np.ndarray, replace: bool = False) -> np.ndarray:
    """The photograph with ``change`` (crop-sized, [0, 1] units) added under the face's
    mask; ``replace``: ``change`` is the new crop itself, put in the face's place.
    Pasted into ``case.photo`` itself (only the face's window is touched), which
    is returned."""
    from ...faces.paste import paste_into

    assert case.face is not None and case.photo is not None and case.alignment is not None
    aligned = case.face.aligned
    paste_into(
        case.photo, change, aligned.to_crop, case.alignment, aligned.face.mesh,
        whole=case.whole, replace=replace,
    )  # fmt: skip
    return case.photo


def crop_array(crop: Image.Image, channels: int) -> np.ndarray:
    """The crop as float64 (S, S, C) in 0..255, with the model's number of channels."""
    if channels == 3 and crop.mode == "L":
        crop = crop.convert("RGB")
    base = np.asarray(crop, np.float64)
    return base[..., None] if base.ndim == 2 else base


def blend_settings(
    model: VAEModel, mode: str = "blend", in_photo: bool = False
) -> BlendSettings | None:
    """The model's tuned knobs for a photo-keeping mode (meta.json
    ``edit_defaults.blend`` / ``edit_defaults.detail``). Blend mode without them
    uses the defaults; detail mode without them is None: the plain
    ``photo + change``.

    ``in_photo``: for a face found in a larger photograph, ``edit_defaults.photo_<mode>``
    (when the model sets it) is laid over those knobs. There the paste-back mask
    already keeps everything around the face, so the edit may redraw more of the
    face than in a crop, whose every pixel is the output."""
    from ...blending import BlendSettings

    defaults = model.meta.get("edit_defaults") or {}
    defaults = defaults if isinstance(defaults, dict) else {}
    entry, key = defaults.get(mode), mode
    over = defaults.get(f"photo_{mode}") if in_photo else None
    if over is not None:
        key = f"photo_{mode}"
        # Anything but two dicts: ``over`` alone, which from_meta checks under its key.
        entry = {**entry, **over} if isinstance(entry, dict) and isinstance(over, dict) else over
    if mode == "detail" and entry is None:
        return None
    try:
        return BlendSettings.from_meta(entry, key)
    except ValueError as exc:
        where = model.meta_path
        raise ModelError(str(exc), where) from None
