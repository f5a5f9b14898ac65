"""``warp``: the face's shape moved as the decoder moves it, in the photograph's own pixels.

For a face found in a photograph, the face mesh reads both decodes; their
displacement, carried through the alignment, bends the photograph at its own
resolution (its texture, colour and identity kept), and the part of the
decoder's change the motion does not explain is added to lightness only
(:func:`conceptvae.faces.reshape.reshape_face`). ``gain`` makes the shape move
more than the decoder's 64-pixel drawing does (a smile read from a person's
own lips needs the corners to travel further than the blurry decode shows).
An input that is not a face found by the finder (a digit, ``align=False``),
or a face whose decode the mesh cannot read, is edited as in ``detail``.
"""

from __future__ import annotations

import numpy as np

from . import Mode
from .common import Case
from .detail import render as detail_render

GAIN = 1.5
FILL = 1.0


def render(case: Case) -> np.ndarray:
    if case.face is None or case.photo is None or case.alignment is None:
        return detail_render(case)
    from ...faces.reshape import reshape_face

    assert case.start is not None
    out = reshape_face(case.photo, case.face.aligned, case.alignment, case.start, case.edited,
                       gain=GAIN, shading=FILL)  # fmt: skip
    return detail_render(case) if out is None else out


MODE = Mode(render)
