"""Interpolations and morphs: keyframes -> latent path -> frames (arrays).

Keyframes (image files, ``seed:N`` prior samples, latents) are read by
:mod:`conceptvae.keyframes`; paths through them come from :mod:`conceptvae.latent`
(slerp by default), so every sequence has exactly the number of frames asked
for. :mod:`conceptvae.commands.sequences` writes them as strips, GIF, WebP, MP4.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np

from .checks import check_count
from .errors import ConceptVAEError, param
from .keyframes import KeySpec, keyframe_latents, parse_key
from .latent import ease, path
from .model.loaded import VAEModel
from .options import DEFAULT_FRAMES, DEFAULT_STEPS
from .resolve import resolve_model

Progress = Callable[[int, int], None]

DECODE_BATCH = 64


def decode_frames(
    model: VAEModel, z: np.ndarray, progress: Callable[[int], None] | None = None
) -> np.ndarray:
    """uint8 frames (N, S, S, C) decoded in batches, reporting each batch to ``progress``."""
    from .images import to_uint8

    out = np.empty((len(z), *model.image_shape), np.uint8)
    for start in range(0, len(z), DECODE_BATCH):
        chunk = z[start : start + DECODE_BATCH]
        out[start : start + len(chunk)] = to_uint8(model.decode(chunk))
        if progress:
            progress(len(chunk))
    return out


# -- latent paths -------------------------------------------------------------------


def interpolate_latents(
    a: np.ndarray, b: np.ndarray, steps: int = DEFAULT_STEPS, spherical: bool = True
) -> np.ndarray:
    """``steps`` latents from ``a`` to ``b`` inclusive (slerp, or lerp)."""
    steps = check_count(steps, param("steps"), minimum=2)
    return path(np.stack([a, b]), steps, spherical=spherical)


def morph_latents(
    keys: np.ndarray,
    frames: int = DEFAULT_FRAMES,
    loop: bool = False,
    easing: str = "linear",
    spherical: bool = True,
) -> np.ndarray:
    """Exactly ``frames`` latents on one path through every key (see :func:`latent.path`)."""
    frames = check_count(frames, param("frames"))
    ease(easing)
    return path(np.asarray(keys, np.float32), frames, loop=loop, easing=easing, spherical=spherical)


# -- images (the Python API) -------------------------------------------------------


def interpolate(
    model: str | os.PathLike | VAEModel | None,
    a: KeySpec,
    b: KeySpec,
    steps: int = DEFAULT_STEPS,
    spherical: bool = True,
    *,
    align: bool = True,
    face: str | int = "largest",
) -> np.ndarray:
    """Frames (steps, S, S, C) float32 in [0, 1] from keyframe ``a`` to ``b``.

    For a face model, a photograph keyframe is its largest face (or number
    ``face``), aligned; ``align=False`` takes images as aligned crops."""
    steps = check_count(steps, param("steps"), minimum=2)
    m = resolve_model(model)
    za, zb = keyframe_latents(m, [a, b], align=align, face=face)
    return m.decode(interpolate_latents(za, zb, steps, spherical))


def morph(
    model: str | os.PathLike | VAEModel | None,
    keys: Sequence[KeySpec],
    frames: int = DEFAULT_FRAMES,
    loop: bool = False,
    easing: str = "linear",
    spherical: bool = True,
    *,
    align: bool = True,
    face: str | int = "largest",
) -> np.ndarray:
    """Frames (frames, S, S, C) float32 in [0, 1] on one path through ``keys``
    (photograph keyframes of a face model: as in :func:`interpolate`)."""
    check_morph(keys, frames, easing)
    m = resolve_model(model)
    z = keyframe_latents(m, keys, align=align, face=face)
    return m.decode(morph_latents(z, frames, loop, easing, spherical))


def check_morph(keys: Sequence[KeySpec], frames: int, easing: str) -> None:
    check_count(frames, param("frames"))
    ease(easing)
    if len(keys) < 2:
        raise ConceptVAEError(f"a morph needs at least 2 keyframes, got {len(keys)}")
    for k in keys:
        parse_key(k)
