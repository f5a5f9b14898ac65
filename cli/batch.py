"""How a command over several inputs reports the ones it left out."""

from __future__ import annotations

import click

from .main import error_line
from .options import flag


def echo_errors(errors: list) -> None:
    """Each error of a batch on its own ``Error:`` line on stderr."""
    for exc in errors:
        click.echo(error_line(exc.render(flag)), err=True)


def report_skipped(done: int, skipped: list, verb: str) -> None:
    """A batch's inputs left out: one error line each, a summary, and exit status 1
    (2 when nothing at all was done)."""
    if not skipped:
        return
    echo_errors(skipped)
    click.echo(f"{verb} {done}, skipped {len(skipped)}", err=True)
    raise click.exceptions.Exit(1 if done else 2)
