"""``run``: a morph script checked whole, then rendered to its output."""

from __future__ import annotations

import os

from .. import animate
from ..errors import ConceptVAEError, param
from ..outputs import refuse_overwriting_model
from ..script import (
    MorphScript,
    Prepared,
    as_fields,
    load_script,
    prepare_script,
    script_error,
    script_latents,
)
from ..shipped import example_path, is_example
from .sequences import Progress, Rendered, render_latents


def plan_script(
    script: MorphScript | str | os.PathLike,
    out: str | os.PathLike | None = None,
    backend: str = "auto",
    overwrite: bool = False,
) -> tuple[Prepared, animate.FrameTarget]:
    """Check the output (``out`` overrides the script's), then everything else.

    ``script`` may be ``example:NAME`` (a shipped script): its output is then
    written to the current folder, never into the installed package."""
    if not isinstance(script, MorphScript):
        script = load_script(example_path(script))
    if out is None and script.output is not None and is_example(script.path):
        out = os.path.basename(os.path.normpath(script.output))
        if not overwrite and os.path.lexists(out):
            raise ConceptVAEError(f"already exists (pass {param('overwrite')} to replace it)", out)
    fail = script_error(script)
    output = out if out is not None else script.output
    if output is None:
        raise fail("output", 'missing: set "output" in the script or pass -o')
    images = [k.image for k in script.keyframes if k.image is not None]
    if script.path is not None:
        images.append(script.path)  # a script never renders over itself
    try:
        if out is None:
            _check_script_output(script, output, overwrite)
        target = animate.plan_target(output, images, overwrite)
    except ConceptVAEError as exc:
        raise (exc if out is not None else fail("output", exc)) from None
    prepared = prepare_script(script, backend)
    if target.kind != "dir":
        refuse_overwriting_model([target.path], prepared.model)
    try:
        animate.check_target(
            target, script.n_frames, script.fps, prepared.size, images, overwrite
        )
        if out is None and target.kind == "dir" and not overwrite:
            taken = [p for p in target.frame_paths(script.n_frames) if os.path.lexists(p)]
            if taken:
                raise ConceptVAEError(
                    f"would replace existing files (pass {param('overwrite')} to allow it)", taken[0]
                )
    except ConceptVAEError as exc:
        # The frame size and rate are the script's fields, whichever output is used.
        if out is not None:
            raise ConceptVAEError(as_fields(exc.raw), exc.path) from None
        raise fail("output", exc) from None
    return prepared, target


def _check_script_output(script: MorphScript, output: str | os.PathLike, overwrite: bool) -> None:
    """A script's own "output" stays inside the script's folder and replaces no existing
    file unless --overwrite: a shared script must not write ``../victim.png``. The
    command line's ``-o`` is the user's own choice and is not confined."""
    base = os.path.realpath(script.base)
    # realpath of the parent: a symlink inside the folder may not lead out of it either
    parent, name = os.path.split(os.path.normpath(os.fspath(output)))
    real = os.path.join(os.path.realpath(parent or "."), name)
    if os.path.commonpath([base, real]) != base:
        raise ConceptVAEError(
            "must stay inside the script's folder; write elsewhere with -o on the command line",
            output,
        )
    if not overwrite and os.path.lexists(output) and not os.path.isdir(output):
        raise ConceptVAEError(f"already exists (pass {param('overwrite')} to replace it)", output)


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
