"""Interpolations and morphs: keyframes -> latent path -> frames -> a file.

A keyframe is an image file (encoded to its posterior mean), a prior sample
named by its seed (an int, or the string ``seed:N``: the latent
``np.random.default_rng(N).standard_normal(latent_dim)``), or a latent vector.
Paths through the keyframes come from :mod:`conceptvae.latent` (slerp by
default), so every sequence has exactly the number of frames asked for.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import animate
from .errors import ConceptVAEError
from .latent import ease, path
from .model.loaded import VAEModel

KeySpec = str | os.PathLike | int | np.ndarray
Progress = Callable[[int, int], None]

DEFAULT_STEPS = 8
DEFAULT_FRAMES = 48
DECODE_BATCH = 64
_SEED = re.compile(r"seed:(\d+)")


def load_sequence_model(
    model: str | os.PathLike | VAEModel | None,
    backend: str = "auto",
    concepts: Sequence[str] = (),
    how: str | None = None,
) -> VAEModel:
    """The model a sequence or picture command runs on (see model.api.resolve_model);
    ``how`` tells the user how to name one when none is given."""
    from .model.api import resolve_model

    return resolve_model(model, concepts, backend, how or "--model")


def seed_latent(seed: int, latent_dim: int, temperature: float = 1.0) -> np.ndarray:
    """The prior draw a sample seed names: ``default_rng(seed).standard_normal(D)``."""
    z = np.random.default_rng(seed).standard_normal(latent_dim) * temperature
    return z.astype(np.float32)


def parse_key(spec: KeySpec) -> tuple[str, object]:
    """("seed", int), ("image", Path) or ("latent", array) for one keyframe argument."""
    if isinstance(spec, np.ndarray):
        return "latent", spec
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        if spec < 0:
            raise ConceptVAEError(f"a sample seed must be a non-negative integer, got {spec}")
        return "seed", int(spec)
    if isinstance(spec, str) and spec.startswith("seed:"):
        m = _SEED.fullmatch(spec)
        if not m:
            raise ConceptVAEError(
                f"keyframe {spec!r}: write seed:N with N a non-negative integer, e.g. seed:7"
            )
        return "seed", int(m.group(1))
    if isinstance(spec, (str, os.PathLike)):
        return "image", Path(spec)
    raise ConceptVAEError(f"a keyframe is an image path, seed:N or a latent, got {spec!r}")


def keyframe_latents(model: VAEModel, keys: Sequence[KeySpec]) -> np.ndarray:
    """Latents (K, D) for keyframes; all images are encoded in one batch."""
    parsed = [parse_key(k) for k in keys]
    out = np.zeros((len(parsed), model.latent_dim), np.float32)
    images = [(i, v) for i, (kind, v) in enumerate(parsed) if kind == "image"]
    if images:
        z = model.encode([v for _, v in images])
        for (i, _), zi in zip(images, z):
            out[i] = zi
    for i, (kind, v) in enumerate(parsed):
        if kind == "seed":
            out[i] = seed_latent(int(v), model.latent_dim)  # type: ignore[arg-type]
        elif kind == "latent":
            zi = np.asarray(v, np.float32).reshape(-1)
            if zi.shape != (model.latent_dim,) or not np.isfinite(zi).all():
                raise ConceptVAEError(
                    f"keyframe {i + 1}: a latent must be {model.latent_dim} finite numbers"
                )
            out[i] = zi
    return out


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
    steps = animate.check_count(steps, "--steps", minimum=2)
    return path(np.stack([a, b]), steps, spherical=spherical)


def morph_latents(
    keys: np.ndarray,
    frames: int = DEFAULT_FRAMES,
    loop: bool = False,
    easing: str = "linear",
    spherical: bool = True,
) -> np.ndarray:
    """Exactly ``frames`` latents on one path through every key (see :func:`latent.path`)."""
    frames = animate.check_count(frames, "--frames")
    ease(easing)
    return path(np.asarray(keys, np.float32), frames, loop=loop, easing=easing, spherical=spherical)


# -- images (the Python API) -------------------------------------------------------


def interpolate(
    model: str | os.PathLike | VAEModel | None,
    a: KeySpec,
    b: KeySpec,
    steps: int = DEFAULT_STEPS,
    spherical: bool = True,
) -> np.ndarray:
    """Frames (steps, S, S, C) float32 in [0, 1] from keyframe ``a`` to ``b``."""
    steps = animate.check_count(steps, "--steps", minimum=2)
    m = load_sequence_model(model)
    za, zb = keyframe_latents(m, [a, b])
    return m.decode(interpolate_latents(za, zb, steps, spherical))


def morph(
    model: str | os.PathLike | VAEModel | None,
    keys: Sequence[KeySpec],
    frames: int = DEFAULT_FRAMES,
    loop: bool = False,
    easing: str = "linear",
    spherical: bool = True,
) -> np.ndarray:
    """Frames (frames, S, S, C) float32 in [0, 1] on one path through ``keys``."""
    _check_morph(keys, frames, easing)
    m = load_sequence_model(model)
    z = keyframe_latents(m, keys)
    return m.decode(morph_latents(z, frames, loop, easing, spherical))


def _check_morph(keys: Sequence[KeySpec], frames: int, easing: str) -> None:
    animate.check_count(frames, "--frames")
    ease(easing)
    if len(keys) < 2:
        raise ConceptVAEError(f"a morph needs at least 2 keyframes, got {len(keys)}")
    for k in keys:
        parse_key(k)


# -- files (what the CLI calls) -----------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """What a sequence command wrote."""

    paths: list[Path]
    kind: str  # strip, gif, webp, mp4 or dir
    frames: int
    fps: float

    @property
    def seconds(self) -> float:
        return self.frames / self.fps

    def summary(self) -> str:
        where = f"{self.paths[0].parent}{os.sep}" if self.kind == "dir" else self.paths[0]
        if self.kind in ("strip", "dir"):
            return f"wrote {where}: {self.frames} frames"
        return f"wrote {where}: {self.frames} frames at {self.fps:g} fps ({self.seconds:.2f} s)"


def render_latents(
    model: VAEModel,
    z: np.ndarray,
    target: animate.FrameTarget,
    fps: float,
    size: int | None,
    loop: bool = True,
    progress: Progress | None = None,
) -> Rendered:
    """Decode latents and write them; ``progress(done, total)`` counts decode + write steps."""
    total = 2 * len(z)
    done = 0

    def tick(k: int) -> None:
        nonlocal done
        done += k
        if progress:
            progress(done, total)

    frames = decode_frames(model, z, tick)
    paths = animate.write_frames(frames, target, fps, size, loop=loop, progress=tick)
    return Rendered(paths, target.kind, len(z), fps)


def _image_keys(keys: Sequence[KeySpec]) -> list[Path]:
    return [v for kind, v in map(parse_key, keys) if kind == "image"]  # type: ignore[misc]


def _prepare(
    model: str | os.PathLike | VAEModel | None,
    backend: str,
    keys: Sequence[KeySpec],
    out: str | os.PathLike,
    n: int,
    fps: float,
    size: int | None,
    overwrite: bool,
) -> tuple[VAEModel, animate.FrameTarget]:
    target = animate.plan_target(out, _image_keys(keys), overwrite)
    m = load_sequence_model(model, backend)
    animate.check_target(target, n, fps, size or m.config.image_size)
    return m, target


def interpolate_file(
    model: str | os.PathLike | VAEModel | None,
    a: KeySpec,
    b: KeySpec,
    out: str | os.PathLike,
    steps: int = DEFAULT_STEPS,
    spherical: bool = True,
    fps: float = animate.DEFAULT_FPS,
    size: int | None = None,
    backend: str = "auto",
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Rendered:
    """``conceptvae interpolate``: ``.png`` a strip, ``.gif/.webp/.mp4`` an animation, DIR/."""
    steps = animate.check_count(steps, "--steps", minimum=2)
    fps = animate.check_fps(fps)
    parse_key(a), parse_key(b)
    m, target = _prepare(model, backend, [a, b], out, steps, fps, size, overwrite)
    za, zb = keyframe_latents(m, [a, b])
    return render_latents(m, interpolate_latents(za, zb, steps, spherical), target, fps, size,
                          progress=progress)  # fmt: skip


def morph_file(
    model: str | os.PathLike | VAEModel | None,
    keys: Sequence[KeySpec],
    out: str | os.PathLike,
    frames: int = DEFAULT_FRAMES,
    loop: bool = False,
    easing: str = "linear",
    spherical: bool = True,
    fps: float = animate.DEFAULT_FPS,
    size: int | None = None,
    backend: str = "auto",
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Rendered:
    """``conceptvae morph``: exactly ``frames`` frames through every keyframe, written to ``out``."""
    _check_morph(keys, frames, easing)
    fps = animate.check_fps(fps)
    m, target = _prepare(model, backend, keys, out, frames, fps, size, overwrite)
    z = morph_latents(keyframe_latents(m, keys), frames, loop, easing, spherical)
    return render_latents(m, z, target, fps, size, progress=progress)
