"""``grid`` and ``scatter`` on files: check the picture's path, draw once, write."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..checks import check_seed
from ..images import save_pil
from ..keyframes import KeySpec, parse_key
from ..latent_maps import (
    Progress,
    check_grid_n,
    check_scatter,
    check_span,
    concept_axes,
    grid,
    scatter,
)
from ..model.loaded import VAEModel
from ..options import DEFAULT_GRID_N, DEFAULT_MAX_POINTS, DEFAULT_SPAN
from ..outputs import picture_target, refuse_overwriting_model, refuse_writing_into_data
from ..render import check_picture
from ..resolve import resolve_model


def grid_file(
    model: str | os.PathLike | VAEModel | None,
    out: str | os.PathLike,
    n: int = DEFAULT_GRID_N,
    axes: Sequence[str] | None = None,
    span: float = DEFAULT_SPAN,
    center: KeySpec | None = None,
    cell: int | None = None,
    backend: str = "auto",
) -> Path:
    """Write :func:`conceptvae.latent_maps.grid` to ``out``."""
    check_grid_n(n)
    check_span(span)
    inputs = []
    if center is not None and parse_key(center)[0] == "image":
        inputs.append(center)
    target = picture_target(out, inputs)  # type: ignore[arg-type]
    m = resolve_model(model, concept_axes(axes), backend)
    refuse_overwriting_model([target], m)
    check_picture(n * n, n, cell or max(m.config.image_size, 48))
    save_pil(grid(m, n, axes, span, center, cell), target)
    return target


def scatter_file(
    model: str | os.PathLike | VAEModel | None,
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    labels: str | os.PathLike | None = None,
    color_by: str | None = None,
    method: str = "pca",
    max_points: int = DEFAULT_MAX_POINTS,
    seed: int = 0,
    width: int = 800,
    height: int = 600,
    backend: str = "auto",
    progress: Progress | None = None,
) -> Path:
    """Write :func:`conceptvae.latent_maps.scatter` to ``out``; ``progress`` as there."""
    check_scatter(method, max_points, width, height)
    check_seed(seed)
    target = picture_target(out, [data])
    refuse_writing_into_data([target], [p for p in (data, labels) if p is not None])
    m = resolve_model(model, (), backend)
    refuse_overwriting_model([target], m)
    pic = scatter(m, data, labels=labels, color_by=color_by, method=method,
                  max_points=max_points, seed=seed, width=width, height=height,
                  progress=progress)  # fmt: skip
    save_pil(pic, target)
    return target
