"""Faces in photographs: find them, align them to a model's crops, paste edits back.

Pipeline (no TensorFlow; the vendored MediaPipe flatbuffers run under LiteRT):
``detect`` (BlazeFace boxes + keypoints) -> ``landmarks`` (face mesh -> five
points) -> ``align`` (a similarity transform onto the model's template, recorded
in its ``meta.json`` under ``face_alignment``) -> the model edits the crop ->
``paste`` (the change warped back under a feathered mask, on luminance).

    from conceptvae.faces import SMILES_ALIGNMENT, align, find_faces
    crops = [align(photo, f, SMILES_ALIGNMENT).crop for f in find_faces(photo)]
"""

from __future__ import annotations

from .align import (
    META_KEY,
    SMILES_ALIGNMENT,
    AlignedFace,
    FaceAlignment,
    align,
    similarity,
)
from .find import DEFAULT_PADDING, Face, as_rgb, find_faces
from .paste import paste_back

__all__ = [
    "DEFAULT_PADDING",
    "META_KEY",
    "SMILES_ALIGNMENT",
    "AlignedFace",
    "Face",
    "FaceAlignment",
    "align",
    "as_rgb",
    "find_faces",
    "paste_back",
    "similarity",
]
