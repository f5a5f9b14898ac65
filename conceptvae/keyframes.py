"""Keyframes: the points a sequence, a morph script or a latent grid starts from.

A keyframe is an image file (encoded to its posterior mean), a prior sample
named by its seed (an int, or the string ``seed:N``: the latent
``np.random.default_rng(N).standard_normal(latent_dim)``, or under a model's
learned mixture prior its draw from the same generator, so ``seed:N`` is the
latent ``conceptvae sample --seed N -n 1`` decodes), or a latent vector.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import ConceptVAEError
from .options import MAX_SEED

if TYPE_CHECKING:
    from .model.loaded import VAEModel
    from .model.prior import GaussianMixture

KeySpec = str | os.PathLike | int | np.ndarray

_SEED = re.compile(r"seed:(\d+)")


def seed_latent(
    seed: int, latent_dim: int, temperature: float = 1.0, prior: GaussianMixture | None = None
) -> np.ndarray:
    """The prior draw a sample seed names: ``default_rng(seed).standard_normal(D)``,
    or with a learned ``prior`` its first draw from ``default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    if prior is not None:
        return prior.sample(1, rng, temperature)[0]
    z = rng.standard_normal(latent_dim) * temperature
    return z.astype(np.float32)


def parse_key(spec: KeySpec) -> tuple[str, object]:
    """("seed", int), ("image", Path) or ("latent", array) for one keyframe argument."""
    if isinstance(spec, np.ndarray):
        return "latent", spec
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        if not 0 <= spec <= MAX_SEED:
            raise ConceptVAEError("a sample seed must be a whole number from 0 to 2**64 - 1")
        return "seed", int(spec)
    if isinstance(spec, str) and spec.startswith("seed:"):
        m = _SEED.fullmatch(spec)
        if not m:
            raise ConceptVAEError(
                f"keyframe {spec!r}: write seed:N with N a non-negative integer, e.g. seed:7"
            )
        digits = m.group(1)
        if len(digits) > 20 or int(digits) > MAX_SEED:  # int() of 5,000 digits raises
            raise ConceptVAEError(
                f"keyframe 'seed:{digits[:12]}...': write seed:N with N a whole number from 0 "
                "to 2**64 - 1"
            )
        return "seed", int(digits)
    if isinstance(spec, (str, os.PathLike)):
        from .shipped import example_path

        return "image", Path(example_path(spec))  # example:NAME: a shipped example
    raise ConceptVAEError(f"a keyframe is an image path, seed:N or a latent, got {spec!r}")


def image_keys(keys: Sequence[KeySpec]) -> list[Path]:
    """The image files among keyframes (outputs must not overwrite them)."""
    return [v for kind, v in map(parse_key, keys) if kind == "image"]  # type: ignore[misc]


def keyframe_latents(
    model: VAEModel, keys: Sequence[KeySpec], *, align: bool = True, face: str | int = "largest"
) -> np.ndarray:
    """Latents (K, D) for keyframes; all images are encoded in one batch.

    For a face model, a photograph keyframe is its largest face (or face number
    ``face``), aligned as in training; ``align=False`` takes images as crops.
    """
    from .faces.inputs import model_views

    parsed = [parse_key(k) for k in keys]
    out = np.zeros((len(parsed), model.latent_dim), np.float32)
    images = [(i, v) for i, (kind, v) in enumerate(parsed) if kind == "image"]
    if images:
        cfg = model.config
        views = model_views([v for _, v in images], model.meta, cfg.image_size, cfg.channels,
                            align=align, face=face)  # fmt: skip
        z = model.encode(views)
        for (i, _), zi in zip(images, z):
            out[i] = zi
    for i, (kind, v) in enumerate(parsed):
        if kind == "seed":
            out[i] = seed_latent(int(v), model.latent_dim, prior=model.prior)  # type: ignore[arg-type]
        elif kind == "latent":
            zi = np.asarray(v, np.float32).reshape(-1)
            if zi.shape != (model.latent_dim,) or not np.isfinite(zi).all():
                raise ConceptVAEError(
                    f"keyframe {i + 1}: a latent must be {model.latent_dim} finite numbers"
                )
            out[i] = zi
    return out
