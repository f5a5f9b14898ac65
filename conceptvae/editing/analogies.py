"""A is to B as C is to D: D = C + (B - A) in latent space, drawn as a J-diagram."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from ..checks import check_steps
from ..errors import ConceptVAEError, param
from ..options import MAX_ANALOGY_STEPS
from ..resolve import resolve_model
from .editor import warn_if_outside_shell
from .inputs import ImageInput, prepare_inputs
from .traversal import MIN_CELL


@dataclass
class AnalogyResult:
    """D = C + (B - A) in latent space.

    ``d`` is the decoded D; ``grid[i][j]`` decodes ``A + u_j (B - A) + v_i (C - A)``
    for ``u, v`` evenly spaced in [0, 1] (plat's J-diagram: A top left, B top
    right, C bottom left, D bottom right); ``latents`` maps "A".."D" to latents.
    """

    d: np.ndarray
    grid: np.ndarray
    inputs: np.ndarray
    latents: dict[str, np.ndarray]
    picture: Image.Image = field(repr=False)


def analogy(
    model: Any,
    a: ImageInput,
    b: ImageInput,
    c: ImageInput,
    *,
    steps: int = 3,
    size: int | None = None,
    backend: str = "auto",
) -> AnalogyResult:
    """A is to B as C is to D: D = C + (B - A), drawn as a labelled J-diagram."""
    model = resolve_model(model, (), backend)
    steps = check_steps(steps, param("steps"), MAX_ANALOGY_STEPS)
    if steps < 2:
        raise ConceptVAEError(f"{param('steps')} must be at least 2 for an analogy, got {steps}")
    # A photograph contributes its largest face (decoded images are the model's crops).
    inputs = [prepare_inputs(model, [im], face="largest")[0][0] for im in (a, b, c)]
    za, zb, zc = model.encode(np.stack([i.x for i in inputs])).astype(np.float64)
    t = np.linspace(0.0, 1.0, steps)
    lattice = np.stack([za + u * (zb - za) + v * (zc - za) for v in t for u in t])
    warn_if_outside_shell(np.repeat(za[None], len(lattice), 0), lattice, model.prior)
    decoded = model.decode(lattice.astype(np.float32))
    cells = decoded.reshape(steps, steps, *decoded.shape[1:])
    zd = zc + (zb - za)
    names = [i.name for i in inputs]
    from ..render import analogy_picture

    picture = analogy_picture(
        [i.x for i in inputs], cells, names, size or max(MIN_CELL, model.config.image_size)
    )
    latents = {k: v.astype(np.float32) for k, v in zip("ABCD", (za, zb, zc, zd))}
    return AnalogyResult(cells[-1, -1], cells, np.stack([i.x for i in inputs]), latents, picture)
