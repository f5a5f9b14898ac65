"""Progress bars on stderr: on a terminal only, and never with ``conceptvae --quiet``."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

import click

Update = Callable[..., None]


def quiet() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.find_root().params.get("quiet"))


@contextlib.contextmanager
def progress_bar(label: str) -> Iterator[Update | None]:
    """``update(done, total, label=None)`` drawing a bar, or None when piped or quiet.

    A new ``label`` (or total) starts a new bar: one command can show its stages
    (encoding, then t-SNE).
    """
    if quiet() or not sys.stderr.isatty():
        yield None
        return
    state: dict = {}

    def close() -> None:
        if "bar" in state:
            state.pop("bar").__exit__(None, None, None)

    def update(done: int, total: int, label: str | None = None) -> None:
        name = label or state.get("label", default)
        bar = state.get("bar")
        if bar is None or name != state.get("label") or total != bar.length:
            close()
            bar = click.progressbar(length=total, label=name, file=sys.stderr)
            bar.__enter__()
            state.update(bar=bar, label=name)
        bar.update(done - bar.pos)

    default = label
    try:
        yield update
    finally:
        close()
