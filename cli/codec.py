"""encode, decode, reconstruct, sample: the model's four basic operations."""

from __future__ import annotations

import click

from conceptvae.options import MAX_SAMPLES

from .batch import report_skipped
from .options import (
    backend_option,
    face_options,
    model_option,
    overwrite_option,
    seed_option,
    size_option,
)
from .progress import progress_bar


@click.command()
@click.argument("images", nargs=-1, required=True)
@model_option()
@click.option(
    "--out",
    "-o",
    metavar="OUT",
    help="Output file (one input) or DIR/ [default: <stem>_recon.png].",
)
@size_option
@overwrite_option
@face_options("all")
@backend_option
def reconstruct(images: tuple[str, ...], model: str | None, out: str | None, size: int | None,
                overwrite: bool, face: str | int, no_align: bool, backend: str) -> None:  # fmt: skip
    """Encode and decode IMAGES (files or folders).

    A face model (faces) reconstructs the faces it finds in a photograph and puts
    them back in place; an image of the model's size gives the decode of its
    face, aligned as the model was trained.

    Of several inputs, one that cannot be used (unreadable, no face found) is
    named on stderr and the others are still written; the exit status is then
    1 (2 when none could be used, or for a usage error).
    """
    from conceptvae.commands.codec import reconstruct_files

    with progress_bar("reconstructing") as progress:
        batch = reconstruct_files(
            model, images, out, size=size, overwrite=overwrite, backend=backend,
            align=not no_align, face=face, progress=progress,
        )
    for w in batch.written:
        click.echo(str(w.path))
    report_skipped(batch.done, batch.skipped, "reconstructed")


@click.command()
@click.argument("images", nargs=-1, required=True)
@model_option()
@click.option(
    "--out", "-o", required=True, metavar="FILE", help="latents.npy, or .npz with file names."
)
@click.option("--sample", is_flag=True, help="Draw from the posterior instead of its mean.")
@seed_option
@face_options("largest")
@backend_option
def encode(
    images: tuple[str, ...], model: str | None, out: str, sample: bool, seed: int,
    face: str | int, no_align: bool, backend: str,
) -> None:  # fmt: skip
    """Encode IMAGES (files or folders) to latent vectors (a face model: one face each).

    Of several inputs, one that cannot be encoded (unreadable, no face found) is
    named on stderr and left out (a .npz lists the files encoded); the exit
    status is then 1 (2 when none could be encoded, or for a usage error).
    """
    from conceptvae.commands.codec import encode_files

    skipped: list = []
    with progress_bar("encoding") as progress:
        z = encode_files(model, images, out, sample=sample, seed=seed, backend=backend,
                         progress=progress, align=not no_align, face=face,
                         skipped=skipped)  # fmt: skip
    if len(z):
        click.echo(f"wrote {out}: {z.shape[0]} latents of size {z.shape[1]}")
    report_skipped(len(z), skipped, "encoded")


@click.command()
@click.argument("latents")
@model_option()
@click.option(
    "--out", "-o", required=True, metavar="OUT", help="DIR/ for one PNG per latent, or one .png."
)
@size_option
@backend_option
def decode(latents: str, model: str | None, out: str, size: int | None, backend: str) -> None:
    """Decode LATENTS (.npy of shape (N, D), or .npz from `encode`) to images."""
    from conceptvae.commands.codec import decode_file

    for path in decode_file(model, latents, out, size=size, backend=backend):
        click.echo(str(path))


@click.command()
@model_option()
@click.option("-n", "count", type=click.IntRange(1, MAX_SAMPLES), default=16, show_default=True)
@click.option(
    "--out", "-o", required=True, metavar="OUT", help="grid.png, or DIR/ for one PNG each."
)
@click.option("--temperature", "-t", type=float, default=1.0, show_default=True,
              help="Scale of the prior draws.")  # fmt: skip
@click.option("--grid/--no-grid", default=True, show_default=True, help="One grid picture.")
@size_option
@seed_option
@backend_option
def sample(model: str, count: int, out: str, temperature: float, grid: bool,
           size: int | None, seed: int, backend: str) -> None:  # fmt: skip
    """Decode random draws from the prior."""
    from conceptvae.commands.codec import sample_files

    paths = sample_files(model, count, out, temperature=temperature, seed=seed, grid=grid,
                         size=size, backend=backend)  # fmt: skip
    for path in paths:
        click.echo(str(path))
