"""Faces as a model's inputs: which inputs to search, which faces to use, and
each chosen face's crop in the model's pixel format.

Every image given to a face model is searched for faces, and each chosen face
is aligned onto the model's template (its edit goes back into the image). That
includes an image exactly the model's size: a 64x64 face crop cut by someone
else is framed a little differently from the model's training crops, and the
model keeps a smile only in its own framing (issue 17: 68% of smiles kept
unaligned, 90% aligned). An image of the model's size in which no face is found
is used as it is, like any input of any other model. ``align=False``
(``--no-align``) treats every input as an aligned crop.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..errors import ConceptVAEError, DataError, ModelError, param
from .align import AlignedFace, FaceAlignment, align
from .find import Face, as_rgb, find_faces

ALL, LARGEST = "all", "largest"
FaceChoice = str | int

NO_FACE = (
    f"no face found (use {param('align=False')} to take the whole image as an aligned face crop)"
)


def check_face_choice(value: FaceChoice) -> FaceChoice:
    """``"all"``, ``"largest"``, or a face number N >= 1 (as ``conceptvae faces`` numbers
    them: in reading order, rows top to bottom, left to right)."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in (ALL, LARGEST):
            return text
        if text.isascii() and text.isdigit() and len(text) <= 9:
            value = int(text)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1:
        return int(value)
    raise ConceptVAEError(
        f"{param('face')} must be all, largest or a face number from 1, got {value!r}"
    )


def choose(faces: list[Face], choice: FaceChoice, where: str | os.PathLike | None) -> list[Face]:
    if choice == ALL:
        return list(faces)
    if choice == LARGEST:
        return [max(faces, key=lambda f: (f.area, -f.box[0]))]
    if choice > len(faces):
        raise DataError(
            f"face {choice} asked for, but {len(faces)} face{'s' * (len(faces) != 1)} found",
            where,
        )
    return [faces[choice - 1]]


def model_alignment(meta: Mapping | None, image_size: int, where=None) -> FaceAlignment | None:
    """A model's face alignment at its own image size, or None (not a face model)."""
    try:
        found = FaceAlignment.from_meta(meta)
    except ValueError as exc:
        raise ModelError(str(exc), where) from None
    if found is None:
        return None
    return found if found.image_size == image_size else found.scaled(image_size)


def is_model_size(im: Image.Image, image_size: int) -> bool:
    return im.size == (image_size, image_size)


# Rows copied at a time by photo_array: about 1 MB.
BAND_BYTES = 1 << 20


def photo_array(im: Image.Image) -> np.ndarray:
    """An 'L'/'RGB' PIL image as a new, writable uint8 (H, W, C) array.

    Copied a band of rows at a time: ``np.asarray`` of the whole image would
    pass through a second full copy (its bytes) and be read-only, and the
    edit pastes each face into this array in place."""
    w, h = im.size
    channels = 1 if im.mode == "L" else 3
    out = np.empty((h, w, channels), np.uint8)
    rows = max(1, BAND_BYTES // (w * channels))
    for y in range(0, h, rows):
        band = np.asarray(im.crop((0, y, w, min(h, y + rows))), np.uint8)
        out[y : y + band.shape[0]] = band.reshape(band.shape[0], w, channels)
    return out


@dataclass(frozen=True)
class FaceView:
    """One chosen face: its alignment and the crop as the model sees it."""

    aligned: AlignedFace
    crop: Image.Image  # model mode ('L' or 'RGB'), image_size square
    x: np.ndarray  # float32 (S, S, C) in [0, 1]
    number: int = 1  # its number among the photo's faces (reading order, from 1)


def crop_view(aligned: AlignedFace, channels: int) -> tuple[Image.Image, np.ndarray]:
    crop = Image.fromarray(aligned.crop, "RGB")
    if channels == 1:
        crop = crop.convert("L")  # the same conversion loading a crop file makes
    arr = np.asarray(crop, np.float32) / np.float32(255)
    return crop, arr.reshape(crop.size[1], crop.size[0], channels)


def input_views(
    im: Image.Image,
    alignment: FaceAlignment,
    channels: int,
    choice: FaceChoice = ALL,
    where: str | os.PathLike | None = None,
) -> tuple[list[FaceView], bool]:
    """The chosen faces of any input to a face model, aligned, and whether the input
    is a crop of the model's size. Such a crop is one face whatever ``choice`` says
    (its largest), and may hold none (an empty list: use it as it is); in any
    other image no face is a DataError."""
    crop = is_model_size(im, alignment.image_size)
    rgb = as_rgb(im)  # once: finding and aligning each face would convert a grey photo again
    faces = find_faces(rgb, padding=alignment.detect_padding)
    if not faces:
        if crop:
            return [], crop
        raise DataError(NO_FACE, where)
    out = []
    for face in choose(faces, check_face_choice(LARGEST if crop else choice), where):
        a = align(rgb, face, alignment)
        view, x = crop_view(a, channels)
        out.append(FaceView(a, view, x, faces.index(face) + 1))
    return out, crop


def model_views(
    images: list,
    meta: Mapping | None,
    image_size: int,
    channels: int,
    *,
    align: bool = True,
    face: FaceChoice = LARGEST,
    where: str | os.PathLike | None = None,
) -> np.ndarray:
    """(N, S, S, C) float32: each image file as a model with this ``meta`` sees it.

    For a face model (``align``), an image gives one aligned face (``face``:
    "largest" or a number; one face per image, as a keyframe or a latent
    needs); an image of exactly the model's size with no face found is used as
    it is, like any input of any other model (the same pixels ``load_image`` gives).
    """
    from ..images import load_pil, pil_to_array

    alignment = model_alignment(meta, image_size, where) if align else None
    if alignment is not None:
        face = check_face_choice(face)
        if face == ALL:
            raise ConceptVAEError(
                f"one image gives one face here: use {param('face')} largest or a face number"
            )
    out = []
    for item in images:
        im = load_pil(item)
        views = [] if alignment is None else input_views(im, alignment, channels, face, item)[0]
        if views:
            out.append(views[0].x)
        else:
            out.append(pil_to_array(im, image_size, channels).astype(np.float32) / 255.0)
    return np.stack(out).astype(np.float32)
