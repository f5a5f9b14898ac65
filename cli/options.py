"""Options shared by several commands, defined once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from conceptvae.options import BACKENDS, MAX_SIZE


def model_option(required: bool = False) -> Callable:
    return click.option(
        "--model", "-m", "model", required=required, metavar="MODEL",
        help="Model directory, .keras file, or name (see `conceptvae models`). Default: the "
        "pretrained model that holds the concepts named, else the faces model.",
    )  # fmt: skip


backend_option = click.option(
    "--backend", type=click.Choice(BACKENDS), default=BACKENDS[0], show_default=True,
    help="Inference engine; auto uses LiteRT when the model has its flatbuffers.",
)  # fmt: skip

seed_option = click.option(
    "--seed", type=int, default=0, show_default=True,
    help="Random seed, 0 to 2**64 - 1 (same seed, same bytes).",
)

overwrite_option = click.option(
    "--overwrite", is_flag=True, help="Allow an output path that is also an input."
)

size_option = click.option(
    "--size", type=click.IntRange(1, MAX_SIZE), default=None, metavar="N",
    help="Upscale pictures to N pixels per image (default: the model's resolution).",
)  # fmt: skip


# Library errors name Python parameters (conceptvae.errors.param); this is the one
# place they become this CLI's flags: `max_amount` -> --max-amount unless listed here.
FLAG_NAMES = {
    "align=False": "--no-align",
    "concepts": "--concept",
    "attributes": "--attribute",
    "all_attributes": "--all",
    "n": "-n",
    "data": "DATA",
}


def flag(name: str) -> str:
    """The command-line spelling of a library parameter."""
    return FLAG_NAMES.get(name) or "--" + name.replace("_", "-")


def int_list(ctx: click.Context, param: click.Parameter, value: Any) -> list[int] | None:
    if value is None:
        return None
    try:
        items = [int(v) for v in str(value).split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from None
    if any(v <= 0 for v in items):
        raise click.BadParameter("sizes must be positive")
    return items


class FaceChoice(click.ParamType):
    """``all``, ``largest`` or a face number from 1 (as `conceptvae faces` numbers them)."""

    name = "all|largest|N"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int):
            return value
        text = str(value).strip().lower()
        if text in ("all", "largest"):
            return text
        if text.isascii() and text.isdigit() and len(text) <= 9 and int(text) >= 1:
            return int(text)
        self.fail(f"expected all, largest or a face number from 1, got {value!r}", param, ctx)


def face_options(default: str) -> Callable:
    """--face and --no-align: which faces of a photograph a face model uses."""
    what = (
        "Faces to use in each image: all, largest, or N (the Nth in reading order, as "
        "`conceptvae faces` numbers them)."
        if default == "all"
        else "The one face each image contributes: largest, or N (as `conceptvae faces` numbers them)."
    )
    face = click.option("--face", "face", type=FaceChoice(), default=default, show_default=True,
                        help=what)  # fmt: skip
    no_align = click.option(
        "--no-align", "no_align", is_flag=True,
        help="Face models: use each input as an aligned face crop (no face finding).",
    )  # fmt: skip

    def decorate(f: Callable) -> Callable:
        return face(no_align(f))

    return decorate

