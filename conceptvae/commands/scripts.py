"""``run``: a morph script checked whole, then rendered to its output."""

from __future__ import annotations

import os

from .. import animate
from ..errors import ConceptVAEError
from ..script import (
    MorphScript,
    Prepared,
    as_fields,
    load_script,
    prepare_script,
    script_error,
    script_latents,
)
from .sequences import Progress, Rendered, render_latents


def plan_script(
    script: MorphScript | str | os.PathLike,
    out: str | os.PathLike | None = None,
    backend: str = "auto",
    overwrite: bool = False,
) -> tuple[Prepared, animate.FrameTarget]:
    """Check the output (``out`` overrides the script's), then everything else."""
    if not isinstance(script, MorphScript):
        script = load_script(script)
    fail = script_error(script)
    output = out if out is not None else script.output
    if output is None:
        raise fail("output", 'missing: set "output" in the script or pass -o')
    images = [k.image for k in script.keyframes if k.image is not None]
    try:
        target = animate.plan_target(output, images, overwrite)
    except ConceptVAEError as exc:
        raise (exc if out is not None else fail("output", exc)) from None
    prepared = prepare_script(script, backend)
    try:
        animate.check_target(target, script.n_frames, script.fps, prepared.size)
    except ConceptVAEError as exc:
        # The frame size and rate are the script's fields, whichever output is used.
        if out is not None:
            raise ConceptVAEError(as_fields(exc.raw), exc.path) from None
        raise fail("output", exc) from None
    return prepared, target


def render_script(
    script: MorphScript | str | os.PathLike,
    out: str | os.PathLike | None = None,
    backend: str = "auto",
    overwrite: bool = False,
    progress: Progress | None = None,
) -> Rendered:
    """Validate the whole script, then render and write it."""
    prepared, target = plan_script(script, out, backend, overwrite)
    s = prepared.script
    z = script_latents(prepared)
    return render_latents(prepared.model, z, target, s.fps, s.size, progress=progress)


def run_script(
    script: str | os.PathLike,
    out: str | os.PathLike | None = None,
    backend: str = "auto",
    overwrite: bool = False,
    check: bool = False,
    progress: Progress | None = None,
) -> str:
    """What ``conceptvae run`` does; returns the line it prints.

    ``check`` validates everything (files, model, concepts, output) and renders nothing.
    """
    prepared, target = plan_script(script, out, backend=backend, overwrite=overwrite)
    if check:
        return f"{script}: ok: {prepared.script.summary()} -> {target.path}"
    s = prepared.script
    z = script_latents(prepared)
    return render_latents(prepared.model, z, target, s.fps, s.size, progress=progress).summary()
