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

