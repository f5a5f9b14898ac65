"""``decode``: the decoder's image of the moved latent, at the model's resolution.

A face found in a photograph: its decode takes the face's place under the
paste-back mask (the photograph's colour kept). A face crop of the model's size
is the decode itself, in the framing the decoder draws.
"""

from __future__ import annotations

import numpy as np

from . import Mode
from .common import Case, paste_change


def render(case: Case) -> np.ndarray:
    if case.face is None or case.whole:
        return case.edited
    return paste_change(case, case.edited, replace=True)


MODE = Mode(render, needs_start=False, own_resolution=False)
