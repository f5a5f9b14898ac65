"""Paths, PIL images and arrays -> what the model encodes, and the output slots.

A whole input is one image to encode and one output; for a face model, each
chosen face of a photograph is one aligned crop to encode, and every face of a
photograph shares its output slot (the photograph, edited face by face).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from ..errors import ConceptVAEError
from ..images import _to_standard_mode, load_pil, pil_to_array, to_square

if TYPE_CHECKING:
    from ..faces.align import FaceAlignment
    from ..faces.inputs import FaceChoice, FaceView
    from ..model.loaded import VAEModel

ImageInput = str | os.PathLike | Image.Image | np.ndarray


@dataclass
class Input:
    """One image the model encodes: a whole input, or one face found in a photograph."""

    name: str
    crop: Image.Image  # the square center crop at its own size, mode 'L' or 'RGB'
    x: np.ndarray  # (S, S, C) float32 in [0, 1]: exactly what training would see
    slot: int = 0  # which output image this belongs to
    face: FaceView | None = None  # set when the crop is a face aligned out of a photo


@dataclass
class Slot:
    """One output image: a whole input's result, or a photograph its faces go back into."""

    name: str
    photo: np.ndarray | None = None  # uint8 (H, W, C) photograph; None: not a photo
    alignment: FaceAlignment | None = None
    crop: bool = False  # the photo is a face crop of the model's size: all of it is face


def _as_list(images: Any, size: int, channels: int) -> list[Any]:
    if isinstance(images, (str, os.PathLike, Image.Image)):
        return [images]
    if isinstance(images, np.ndarray):
        if images.ndim == 4:
            return list(images)
        # (N, S, S) is a stack of grayscale images for a grayscale model
        if images.ndim == 3 and channels == 1 and images.shape[1:] == (size, size):
            if images.shape[-1] not in (1, 3):
                return list(images)
        return [images]
    return list(images)


def _array_to_pil(arr: np.ndarray) -> Image.Image:
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] != 3):
        raise ConceptVAEError(
            f"an image array must be (H, W), (H, W, 1) or (H, W, 3), got {arr.shape}"
        )
    if arr.dtype != np.uint8:
        f = np.asarray(arr, np.float64)
        if not np.isfinite(f).all():
            raise ConceptVAEError("image array contains NaN or infinite values")
        arr = (np.clip(f, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return Image.fromarray(arr, mode="L" if arr.ndim == 2 else "RGB")


def is_input_error(exc: ConceptVAEError, item: Any) -> bool:
    """The error is this input file's own (unreadable, no face...), not the command's."""
    return (
        isinstance(item, (str, os.PathLike))
        and exc.path is not None
        and os.path.abspath(exc.path) == os.path.abspath(item)
    )


def face_alignment(model: VAEModel) -> FaceAlignment | None:
    """The model's face alignment (meta.json ``face_alignment``), or None: not a face model."""
    from ..faces.inputs import model_alignment

    return model_alignment(model.meta, model.config.image_size, model.meta_path)


def prepare_inputs(
    model: VAEModel,
    images: Any,
    *,
    align: bool = True,
    face: FaceChoice = "all",
    skipped: list[ConceptVAEError] | None = None,
) -> tuple[list[Input], list[Slot]]:
    """Paths, PIL images or arrays -> what the model encodes, and the output slots.

    For a face model (its meta.json has ``face_alignment``) with ``align``, each
    chosen face of an input (``face``: "all", "largest" or a number from 1, in
    reading order) becomes one aligned crop to encode, and its edit goes back
    into the input. An input of exactly the model's size is searched too (a crop
    framed by someone else is not the model's framing); where no face is found
    there, it is used as it is. A float array of the model's size is the
    model's own format and is never searched.

    With a ``skipped`` list, an input file that cannot be used (unreadable, no
    face found) is left out and its error appended there; the others go on.
    """
    out: list[Input] = []
    slots: list[Slot] = []
    for _, _, inputs, slot in iter_inputs(model, images, align=align, face=face, skipped=skipped):
        for inp in inputs:
            inp.slot = len(slots)
        out.extend(inputs)
        slots.append(slot)
    return out, slots


def iter_inputs(
    model: VAEModel,
    images: Any,
    *,
    align: bool = True,
    face: FaceChoice = "all",
    skipped: list[ConceptVAEError] | None = None,
    first: int = 0,
) -> Iterator[tuple[int, Any, list[Input], Slot]]:
    """:func:`prepare_inputs` one input at a time: the input's number and the
    input as given, its crops (``slot`` 0) and its slot.

    Only the input being worked on is held decoded, so a caller that is done
    with each before asking for the next (a strip of many photographs) holds one
    photograph at a time. ``first``: the number of the first input (an array's
    name). Raises when no input could be used.
    """
    size, channels = model.config.image_size, model.config.channels
    alignment = face_alignment(model) if align else None
    if alignment is not None:
        from ..faces.inputs import check_face_choice

        face = check_face_choice(face)
    found = False
    for i, item in enumerate(_as_list(images, size, channels), first):
        inputs: list[Input] = []
        slots: list[Slot] = []
        try:
            _prepare_one(model, i, item, alignment, face, inputs, slots)
        except ConceptVAEError as exc:
            if skipped is None or not is_input_error(exc, item):
                raise
            skipped.append(exc)
            continue
        found = True
        yield i, item, inputs, slots[0]
        del item, inputs, slots
    if not found:
        raise ConceptVAEError("no images to edit")


def _prepare_one(
    model: VAEModel,
    i: int,
    item: Any,
    alignment: FaceAlignment | None,
    face: FaceChoice,
    out: list[Input],
    slots: list[Slot],
) -> None:
    """One input's crops appended to ``out`` and its output slot to ``slots``."""
    size, channels = model.config.image_size, model.config.channels
    exact = None
    where = None
    if isinstance(item, (str, os.PathLike)):
        im, name, where = load_pil(item), Path(item).stem, item
    elif isinstance(item, Image.Image):
        im, name = _to_standard_mode(item), f"{i}"
    else:
        arr = np.asarray(item)
        im, name = _array_to_pil(arr), f"{i}"
        if arr.dtype.kind == "f" and arr.size == size * size * channels:
            if arr.shape[:2] == (size, size):
                # Already the model's format: used as given, not rounded to 8 bits.
                exact = np.clip(arr.astype(np.float32).reshape(size, size, channels), 0, 1)
    slot = len(slots)
    if alignment is not None and exact is None:
        from ..faces.inputs import input_views, photo_array

        views, crop = input_views(im, alignment, channels, face, where)
        if views:
            slots.append(Slot(name, photo_array(im), alignment, crop))
            for k, v in enumerate(views):
                label = name if len(views) == 1 else f"{name}#{k + 1}"
                out.append(Input(label, v.crop, v.x, slot, v))
            return
    x = pil_to_array(im, size, channels) / np.float32(255) if exact is None else exact
    slots.append(Slot(name))
    out.append(Input(name, to_square(im, min(im.size)), x, slot))
