"""faces, align-faces: the faces in photographs."""

from __future__ import annotations

import json

import click

from .batch import echo_errors, report_skipped
from .options import FaceChoice, overwrite_option


@click.command()
@click.argument("photos", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: a list with one object per face (box [x, y, w, h] in the "
              "photo's pixels, score, the five landmarks); several photos: an object "
              "mapping each path to its list.")  # fmt: skip
@click.option("--out", "-o", metavar="OUT",
              help="Draw the faces: an image file (one photo) or DIR/ (several).")  # fmt: skip
@overwrite_option
def faces(photos: tuple[str, ...], as_json: bool, out: str | None, overwrite: bool) -> None:
    """List the faces in PHOTOS, numbered from 1 in reading order (the numbers --face takes).

    \b
    Examples:
      conceptvae faces group.jpg
      conceptvae faces group.jpg --json
      conceptvae faces group.jpg -o overlay.png

    Of several photos, one that cannot be read or shows no face is named on
    stderr and left out; the exit status is then 1 (2 when none had a face).
    """
    from conceptvae.commands.faces import faces_files

    skipped: list = []
    reports = faces_files(photos, out, overwrite=overwrite, skipped=skipped)
    if as_json:
        if len(reports) == 1:
            click.echo(json.dumps(reports[0].to_list()))
        else:
            click.echo(json.dumps({str(r.path): r.to_list() for r in reports}))
    else:
        for r in reports:
            n = len(r.faces)
            click.echo(f"{r.path}: {n} face{'s' * (n != 1)} ({r.size[0]}x{r.size[1]})")
            for k, f in enumerate(r.faces, 1):
                x, y, w, h = f.box
                click.echo(f"  {k}: box {x:.0f},{y:.0f} {w:.0f}x{h:.0f}  score {f.score:.2f}")
    for r in reports:
        if r.overlay is not None and not as_json:
            click.echo(str(r.overlay))
    report_skipped(len(reports), skipped, "searched")


@click.command("align-faces")
@click.argument("folder")
@click.option("--out", "-o", required=True, metavar="DIR",
              help="Where the aligned crops go (with face_alignment.json).")  # fmt: skip
@click.option("--size", type=click.IntRange(8, 1024), default=64, show_default=True,
              help="Side of the crops in pixels.")  # fmt: skip
@click.option("--face", type=FaceChoice(), default="largest", show_default=True,
              help="largest or N: one crop per photo, same name (labels keep working); "
              "all: <stem>-<k>.png per face.")  # fmt: skip
@click.option("--grayscale", is_flag=True, help="Write one-channel crops.")
@click.option("--overwrite", is_flag=True,
              help="Replace crops, labels.csv and face_alignment.json already in DIR.")  # fmt: skip
def align_faces(folder: str, out: str, size: int, face: str | int, grayscale: bool,
                overwrite: bool) -> None:  # fmt: skip
    """Aligned face crops of the photos in FOLDER, for training a face model.

    The crops put the five landmarks where the shipped faces model's training
    crops have them. `conceptvae train OUT ...` then records the alignment in
    the model's meta.json, so edit/traverse/morph find and paste back faces in
    photographs with your model too.

    Every photo is read and every crop planned before the first is written;
    nothing already in DIR is replaced without --overwrite. A photo that cannot
    be read (or has fewer faces than --face N asks for) is reported as an error
    and the others are still done (exit status 1).
    """
    from conceptvae.commands.faces import align_folder

    s = align_folder(folder, out, size=size, face=face, grayscale=grayscale, overwrite=overwrite)
    click.echo(f"{s.out}: {s.written} crops from {s.faces} faces found; "
               f"{len(s.skipped)} image(s) without a face skipped")  # fmt: skip
    for p in s.skipped[:20]:
        click.echo(f"  skipped: {p}")
    if len(s.skipped) > 20:
        click.echo(f"  ... and {len(s.skipped) - 20} more")
    echo_errors(s.failed)
    if s.failed:
        raise click.exceptions.Exit(1)
