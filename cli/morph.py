"""interpolate, morph, run: latent paths rendered to strips, animations and frame folders."""

from __future__ import annotations

import click

from conceptvae.options import DEFAULT_FPS, DEFAULT_FRAMES, DEFAULT_STEPS, EASINGS, MAX_FPS, MIN_FPS

from .options import backend_option, face_options, model_option, overwrite_option, size_option
from .progress import progress_bar

OUT_HELP = (
    "out.png (a strip), out.gif, out.webp, out.mp4, or DIR/ (frame_0000.png, ...); "
    "the suffix picks the format."
)
fps_option = click.option(
    "--fps", type=float, default=DEFAULT_FPS, show_default=True,
    help=f"Frames per second (animations), {MIN_FPS:g} to {MAX_FPS:g}.",
)
lerp_option = click.option(
    "--lerp", is_flag=True, help="Straight lines between keyframes instead of slerp."
)


@click.command()
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@model_option()
@click.option("--steps", "-n", type=int, default=DEFAULT_STEPS, show_default=True,
              help="Frames from A to B, both included.")  # fmt: skip
@lerp_option
@click.option("--out", "-o", required=True, metavar="OUT", help=OUT_HELP)
@fps_option
@size_option
@overwrite_option
@face_options("largest")
@backend_option
def interpolate(*, a: str, b: str, model: str | None, steps: int, lerp: bool, out: str, fps: float,
                size: int | None, overwrite: bool, face: str | int, no_align: bool,
                backend: str) -> None:  # fmt: skip
    """Frames from A to B; each is an image file or seed:N (a prior sample)."""
    from conceptvae.commands.sequences import interpolate_file

    with progress_bar("interpolating") as progress:
        result = interpolate_file(model, a, b, out, steps=steps, spherical=not lerp, fps=fps,
                                  size=size, backend=backend, overwrite=overwrite,
                                  progress=progress, align=not no_align, face=face)  # fmt: skip
    click.echo(result.summary())


@click.command()
@click.argument("keys", nargs=-1, required=True, metavar="A B [C ...]")
@model_option()
@click.option("--frames", "-n", type=int, default=DEFAULT_FRAMES, show_default=True,
              help="Exactly this many frames.")  # fmt: skip
@click.option("--loop", is_flag=True, help="Return to the first keyframe (seamless repeat).")
@click.option("--ease", "easing", type=click.Choice(EASINGS), default=EASINGS[0],
              show_default=True, help="Speed within each segment.")  # fmt: skip
@lerp_option
@click.option("--out", "-o", required=True, metavar="OUT", help=OUT_HELP)
@fps_option
@size_option
@overwrite_option
@face_options("largest")
@backend_option
def morph(*, keys: tuple[str, ...], model: str | None, frames: int, loop: bool, easing: str, lerp: bool,
          out: str, fps: float, size: int | None, overwrite: bool, face: str | int, no_align: bool,
          backend: str) -> None:  # fmt: skip
    """One smooth path through every keyframe (image files or seed:N), in order."""
    from conceptvae.commands.sequences import morph_file

    with progress_bar("morphing") as progress:
        result = morph_file(model, list(keys), out, frames=frames, loop=loop, easing=easing,
                            spherical=not lerp, fps=fps, size=size, backend=backend,
                            overwrite=overwrite, progress=progress, align=not no_align,
                            face=face)  # fmt: skip
    click.echo(result.summary())


@click.command()
@click.argument("script", metavar="SCRIPT")
@click.option("--out", "-o", metavar="OUT",
              help="Override the script's output (relative to the current folder).")  # fmt: skip
@click.option(
    "--check", is_flag=True, help="Validate the script and print its plan; render nothing."
)
@overwrite_option
@backend_option
def run(script: str, out: str | None, check: bool, overwrite: bool, backend: str) -> None:
    """Render a morph script (JSON; see examples/scripts/smile.json)."""
    from conceptvae.commands.scripts import run_script

    with progress_bar("rendering") as progress:
        line = run_script(script, out, backend=backend, overwrite=overwrite, check=check,
                          progress=progress)  # fmt: skip
    click.echo(line)
