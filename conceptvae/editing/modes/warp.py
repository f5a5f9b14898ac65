"""``warp``: the face's shape moved as the decoder moves it, in the photograph's own pixels.

For a face found in a photograph, the face mesh reads both decodes; their
displacement, carried through the alignment, bends the photograph at its own
resolution (its texture, colour and identity kept), and a mouth the edit opens
is drawn in from the edited decode's lightness in the photo's own colours
(:func:`conceptvae.faces.reshape.reshape_face`). ``GAIN`` makes the shape move
more than the decoder's 64-pixel drawing does (a smile read from a person's own
lips needs the corners to travel further than the blurry decode shows).

A face turned far from frontal or too small to carry an edit is left as it is,
with one warning naming it, unless the user chose it by number. An input that
is not a face found by the finder (a digit, ``align=False``), or a face whose
decode the mesh cannot read, is edited as in ``detail``.
"""

from __future__ import annotations

import warnings

import numpy as np

from ...errors import param
from . import Mode
from .common import Case
from .detail import render as detail_render

GAIN = 1.5


class SkippedFaceWarning(UserWarning):
    """A face the warp cannot edit well was left as it is."""


def render(case: Case) -> np.ndarray:
    if case.face is None or case.photo is None or case.alignment is None:
        return detail_render(case)
    from ...faces.reshape import reshape_face, unsuitable

    assert case.start is not None
    why = None if case.chosen or case.whole else unsuitable(case.face.aligned.face)
    if why is not None:
        number = case.face.number
        warnings.warn(
            f"{case.name}: face {number} {why}: left as it is (choose it with "
            f"{param('face')} {number} to edit it anyway)",
            SkippedFaceWarning,
            stacklevel=2,
        )
        return case.photo
    out = reshape_face(case.photo, case.face.aligned, case.alignment, case.start, case.edited,
                       gain=GAIN)  # fmt: skip
    return detail_render(case) if out is None else out


MODE = Mode(render)
