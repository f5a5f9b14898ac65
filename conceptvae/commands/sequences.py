"""``interpolate`` and ``morph`` on files: plan the output, decode the path, write frames.

The output's suffix picks the format (see :mod:`conceptvae.animate`): a ``.png``
strip, ``.gif``, ``.webp``, ``.mp4``, or ``DIR/`` of PNGs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import animate
from ..checks import check_count, check_fps
from ..errors import param
from ..keyframes import KeySpec, image_keys, keyframe_latents, parse_key
from ..model.loaded import VAEModel
from ..options import DEFAULT_FPS, DEFAULT_FRAMES, DEFAULT_STEPS
from ..outputs import refuse_overwriting_model
from ..resolve import resolve_model
from ..sequences import check_morph, decode_frames, interpolate_latents, morph_latents

Progress = Callable[[int, int], None]


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
    target = animate.plan_target(out, image_keys(keys), overwrite)
    m = resolve_model(model, (), backend)
    if target.kind != "dir":
        refuse_overwriting_model([target.path], m)
    animate.check_target(target, n, fps, size or m.config.image_size, image_keys(keys), overwrite)
    return m, target


def interpolate_file(
    model: str | os.PathLike | VAEModel | None,
    a: KeySpec,
    b: KeySpec,
    out: str | os.PathLike,
    *,
    steps: int = DEFAULT_STEPS,
    spherical: bool = True,
    fps: float = DEFAULT_FPS,
    size: int | None = None,
    backend: str = "auto",
    overwrite: bool = False,
    progress: Progress | None = None,
    align: bool = True,
    face: str | int = "largest",
) -> Rendered:
    """``.png`` a strip, ``.gif/.webp/.mp4`` an animation, ``DIR/`` one PNG per frame."""
    steps = check_count(steps, param("steps"), minimum=2)
    fps = check_fps(fps)
    parse_key(a), parse_key(b)
    m, target = _prepare(model, backend, [a, b], out, steps, fps, size, overwrite)
    za, zb = keyframe_latents(m, [a, b], align=align, face=face)
    return render_latents(m, interpolate_latents(za, zb, steps, spherical), target, fps, size,
                          progress=progress)  # fmt: skip


def morph_file(
    model: str | os.PathLike | VAEModel | None,
    keys: Sequence[KeySpec],
    out: str | os.PathLike,
    *,
    frames: int = DEFAULT_FRAMES,
    loop: bool = False,
    easing: str = "linear",
    spherical: bool = True,
    fps: float = DEFAULT_FPS,
    size: int | None = None,
    backend: str = "auto",
    overwrite: bool = False,
    progress: Progress | None = None,
    align: bool = True,
    face: str | int = "largest",
) -> Rendered:
    """Exactly ``frames`` frames through every keyframe, written to ``out``."""
    check_morph(keys, frames, easing)
    fps = check_fps(fps)
    m, target = _prepare(model, backend, keys, out, frames, fps, size, overwrite)
    z = morph_latents(keyframe_latents(m, keys, align=align, face=face), frames, loop, easing,
                      spherical)  # fmt: skip
    return render_latents(m, z, target, fps, size, progress=progress)
