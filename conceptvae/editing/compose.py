"""Decodes -> output images, through the edit's mode (one module each, in ``modes/``)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..images import to_uint8
from ..model.loaded import VAEModel
from .inputs import Input, Slot
from .modes import Case, get_mode


def render(
    model: VAEModel,
    inputs: list[Input],
    slots: list[Slot],
    z: np.ndarray,
    z_new: np.ndarray,
    mode: str,
    chosen: bool = False,
    *,
    uint8: bool = False,
    consume: bool = False,
    keep: Callable[[int, np.ndarray], np.ndarray] | None = None,
) -> list[np.ndarray]:
    """One image per slot for each block of ``len(inputs)`` rows of ``z_new``
    (rows cycle through inputs; the result cycles through slots the same way).

    The mode turns each input's decodes into its output: a whole input's image,
    or for a face found in a photograph, the photograph with that face's edit
    in it (the photograph's other faces go into the same picture in turn).
    ``chosen``: the faces were chosen by number (a mode edits them even where it
    would leave a face it cannot edit well).

    Images are float32 in [0, 1]; with ``uint8``, uint8 (rounded as a file
    holds them): a photograph stays in the 8 bits its faces were pasted into,
    a quarter of the float copy's size. ``consume``: the caller has no further
    use for the slots' photographs, so the last block's faces are pasted into
    them in place rather than into a copy. ``keep(slot, image)``: called on each
    image as soon as its slot is done (a photograph's still uint8, before any
    float copy), and its result kept instead, so a caller that needs only a
    small version (a strip's cell) holds one full-size copy at a time.
    """
    spec = get_mode(mode)
    if spec.needs_start:
        decoded, start = model.decode_each(z_new, z)
    else:
        decoded, start = model.decode(z_new), None
    n = len(inputs)
    blocks = len(z_new) // n
    last = {inp.slot: r for r, inp in enumerate(inputs)}  # where each slot is done
    out: list[np.ndarray] = []
    for c in range(blocks):
        images: list[np.ndarray | None] = [None] * len(slots)
        photos: dict[int, np.ndarray] = {}
        for r, inp in enumerate(inputs):
            slot = slots[inp.slot]
            photo = photos.get(inp.slot)
            if photo is None and slot.photo is not None:
                # Modes paste into the photograph they are given: one copy per
                # block, none for the last when the caller is done with it.
                own = consume and c == blocks - 1 and slot.photo.flags.writeable
                photo = slot.photo if own else slot.photo.copy()
            case = Case(
                model, inp.crop, inp.x, None if start is None else start[r], decoded[c * n + r],
                inp.face, slot.alignment, photo, slot.crop, slot.name, chosen,
            )  # fmt: skip
            result = spec.render(case)
            if inp.face is not None and result.dtype == np.uint8:
                photos[inp.slot] = result
            else:
                images[inp.slot] = result
            if keep is not None and last[inp.slot] == r:
                # The slot is done: only what keep returns outlives it, so one
                # full-size copy of one photograph is held at a time.
                done = photos.pop(inp.slot, None)
                image = images[inp.slot] if done is None else done
                if uint8 and image.dtype != np.uint8:  # type: ignore[union-attr]
                    image = to_uint8(image)
                images[inp.slot] = keep(inp.slot, image)  # type: ignore[arg-type]
                case = result = photo = done = image = None  # type: ignore[assignment]
        for k, photo in photos.items():
            if uint8:
                images[k] = photo
                continue
            image = photo.astype(np.float32)
            image /= np.float32(255)  # in place: no second float copy of a large photograph
            images[k] = image
        if uint8 and keep is None:
            images = [im if im.dtype == np.uint8 else to_uint8(im) for im in images]
        out.extend(images)  # type: ignore[arg-type]
    return out
