"""edit, traverse, analogy: move images along concept directions."""

from __future__ import annotations

import click

from conceptvae.options import (
    DEFAULT_AMOUNT,
    DEFAULT_ANALOGY_STEPS,
    DEFAULT_MAX_AMOUNT,
    DEFAULT_RANGE,
    DEFAULT_TRAVERSE_STEPS,
    EDIT_MODES,
    MAX_ANALOGY_STEPS,
    MAX_SIZE,
    MAX_STEPS,
)

from .batch import report_skipped
from .options import backend_option, face_options, model_option, overwrite_option
from .params import AmountRange, AmountSweep
from .progress import progress_bar

concept_option = click.option(
    "--concept", "-c", "concepts", multiple=True, required=True, metavar="EXPR[=AMOUNT]",
    help="A concept or expression (smile, -smile, smile+0.5*thick, 3->8, 8), optionally with "
    "its own amount; repeatable.",
)  # fmt: skip

mode_option = click.option(
    "--mode", type=click.Choice(tuple(EDIT_MODES)), default=None,
    help="; ".join(f"{name}: {text}" for name, text in EDIT_MODES.items())
    + ". [default: the model's, else decode]",
)  # fmt: skip

library_option = click.option(
    "--library", metavar="FILE", default=None,
    help="Concept library to use [default: the model's concepts.h5].",
)  # fmt: skip

edit_size_option = click.option(
    "--size", type=click.IntRange(1, MAX_SIZE), default=None, metavar="N",
    help="Output size in pixels [default: the model's resolution; detail/blend mode: the input's; "
    "with --sweep: cells of the model's resolution, at least 64].",
)  # fmt: skip

cell_size_option = click.option(
    "--size", type=click.IntRange(1, MAX_SIZE), default=None, metavar="N",
    help="Cell size in pixels [default: the model's resolution, at least 64].",
)  # fmt: skip

ignore_fingerprint_option = click.option(
    "--ignore-fingerprint", is_flag=True,
    help="Use a library built for other weights of this architecture anyway.",
)  # fmt: skip


@click.command()
@click.argument("images", nargs=-1, required=True)
@concept_option
@click.option(
    "--amount",
    "-a",
    type=float,
    default=None,
    help="Amount for concepts without =AMOUNT; 1 is one typical difference. "
    f"[default: {DEFAULT_AMOUNT:g}]",
)
@model_option()
@click.option(
    "--out",
    "-o",
    metavar="OUT",
    help="Output file (one input) or DIR/ [default: <stem>_<concept><amount>.png; a JPEG "
    "photograph stays a JPEG, <stem>_<concept><amount>.jpg, at quality 95].",
)
@mode_option
@click.option(
    "--until",
    type=float,
    metavar="P",
    help="Per image, the amount at which the concept's probe reaches probability P "
    "(attributes: closed form; class targets like 8 or 3->8: no closed form, a 1-D "
    "search); the amount used is printed per image. P above 0.5 raises the probability, "
    "below 0.5 lowers it: an image already past P is left as it is (amount 0), never "
    "moved the other way. P is what a logistic probe on the "
    "latent reads, not what a viewer sees: on faces the probe is sure long before a "
    "smile shows (P 0.9 at a median amount of 0.6), so for pictures a fixed --amount "
    "(1.5 on the faces model) shows more.",
)
@click.option(
    "--max-amount",
    type=float,
    default=DEFAULT_MAX_AMOUNT,
    show_default=True,
    help="Cap on the size of the amount --until chooses.",
)
@click.option(
    "--sweep",
    type=AmountSweep(),
    metavar="START:STOP:COUNT",
    help="One strip across COUNT amounts (one row per input), e.g. --sweep=-2:2:9.",
)
@edit_size_option
@overwrite_option
@library_option
@ignore_fingerprint_option
@face_options("all")
@backend_option
def edit(*, images: tuple[str, ...], concepts: tuple[str, ...], amount: float | None, model: str | None,
         out: str | None, mode: str | None, until: float | None, max_amount: float,
         sweep: list[float] | None, size: int | None, overwrite: bool, library: str | None,
         ignore_fingerprint: bool, face: str | int, no_align: bool, backend: str) -> None:  # fmt: skip
    """Edit IMAGES (files or folders) along concepts and write the results.

    \b
    Examples:
      conceptvae edit face.png --concept smile --amount 1.5     # the pretrained faces model
      conceptvae edit group.jpg -c smile --face largest          # photographs: faces found
      conceptvae edit face.png -c smile -a 1.5 --mode decode -m runs/my-faces
      conceptvae edit digits/ -c '3->8' -o edited/               # the pretrained digits model
      conceptvae edit a.png b.png -c smile --sweep=-2:2:9 -o strip.png

    Of several inputs, one that cannot be edited (unreadable, no face found) is
    named on stderr and the others are still written; the exit status is then 1
    (2 when none could be edited, or for a usage error).
    """
    from conceptvae.commands.edit import edit_files
    from conceptvae.editing.options import EditOptions

    options = EditOptions(
        amount=amount, mode=mode, until=until, max_amount=max_amount, library=library,
        ignore_fingerprint=ignore_fingerprint, backend=backend, align=not no_align, face=face,
    )  # fmt: skip
    with progress_bar("editing") as progress:
        batch = edit_files(model, images, concepts, out, options=options, sweep=sweep,
                           size=size, overwrite=overwrite, progress=progress)  # fmt: skip
    for w in batch.written:
        if w.probability is None:
            click.echo(str(w.path))
            continue
        if w.faces:
            for f in w.faces:
                used = ", ".join(f"{c} {a:.4g}" for c, a in f.amounts.items())
                note = " (capped at --max-amount)" if f.capped else ""
                click.echo(f"{w.path}: face {f.number}: amount {used}; probability "
                           f"{f.probability:.4f}{note}")  # fmt: skip
            continue
        used = ", ".join(f"{c} {a:.4g}" for c, a in w.amounts.items())
        note = " (capped at --max-amount)" if w.capped else ""
        click.echo(f"{w.path}: amount {used}; probability {w.probability:.4f}{note}")
    report_skipped(batch.done, batch.skipped, "edited")


@click.command()
@click.argument("images", nargs=-1, required=True)
@concept_option
@click.option(
    "--range",
    "range_",
    type=AmountRange(),
    default="{:g}:{:g}".format(*DEFAULT_RANGE),
    show_default=True,
    metavar="START:STOP",
    help="Amounts to span, e.g. --range=-3:3.",
)
@click.option(
    "--steps",
    type=click.IntRange(1, MAX_STEPS),
    default=DEFAULT_TRAVERSE_STEPS,
    show_default=True,
    help="Number of amounts (columns).",
)
@model_option()
@click.option(
    "--out",
    "-o",
    metavar="OUT",
    help="Output .png, or DIR/ [default: <stem>_traverse_<concept>.png].",
)
@mode_option
@cell_size_option
@overwrite_option
@library_option
@ignore_fingerprint_option
@face_options("all")
@backend_option
def traverse(*, images: tuple[str, ...], concepts: tuple[str, ...], range_: tuple[float, float],
             steps: int,
             model: str | None, out: str | None, mode: str | None, size: int | None, overwrite: bool,
             library: str | None, ignore_fingerprint: bool, face: str | int, no_align: bool,
             backend: str) -> None:  # fmt: skip
    """A labelled strip of IMAGES moved along a concept (one row per image).

    Of several inputs, one that cannot be used (unreadable, no face found) is
    named on stderr and left out of the strip; the exit status is then 1 (2 when
    none could be used, or for a usage error).
    """
    from conceptvae.commands.edit import traverse_file
    from conceptvae.editing.options import EditOptions

    options = EditOptions(mode=mode, library=library, ignore_fingerprint=ignore_fingerprint,
                          backend=backend, align=not no_align, face=face)  # fmt: skip
    batch = traverse_file(model, images, concepts, range_, steps, out, options=options,
                          size=size, overwrite=overwrite)  # fmt: skip
    for w in batch.written:
        click.echo(str(w.path))
    report_skipped(batch.done, batch.skipped, "traversed")


@click.command()
@click.argument("a")
@click.argument("b")
@click.argument("c")
@model_option()
@click.option(
    "--out", "-o", metavar="OUT", help="Output .png, or DIR/ [default: analogy_<a>_<b>_<c>.png]."
)
@click.option(
    "--steps",
    type=click.IntRange(2, MAX_ANALOGY_STEPS),
    default=DEFAULT_ANALOGY_STEPS,
    show_default=True,
    help="Cells per side of the diagram (2 shows just A, B, C, D).",
)
@cell_size_option
@overwrite_option
@backend_option
def analogy(*, a: str, b: str, c: str, model: str | None, out: str | None, steps: int, size: int | None,
            overwrite: bool, backend: str) -> None:  # fmt: skip
    """A is to B as C is to D: D = C + (B - A), drawn as a labelled J-diagram.

    The first row shows the inputs; below, cell (row v, column u) decodes
    A + u(B - A) + v(C - A): A top left, B top right, C bottom left, D bottom right.
    """
    from conceptvae.commands.edit import analogy_file

    written = analogy_file(model, a, b, c, out, steps=steps, size=size, overwrite=overwrite,
                           backend=backend)  # fmt: skip
    click.echo(str(written.path))
