"""conceptvae studio: serve the slider page on this machine."""

from __future__ import annotations

import click

from .options import flag, model_option

# The page's "copy command" is spelled as this CLI spells it, short forms first.
SHORT_FLAGS = {"concepts": "-c", "out": "-o"}


def command_flag(name: str) -> str:
    return SHORT_FLAGS.get(name) or flag(name)


@click.command()
@model_option()
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="TCP port (0: any free one).")  # fmt: skip
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback is reachable from other "
              "machines (a warning is printed).")  # fmt: skip
@click.option("--no-browser", is_flag=True, help="Print the URL but do not open a browser.")
def studio(model: str | None, port: int, host: str, no_browser: bool) -> None:
    """A local page with a slider per concept: edit, download, copy the command, morph.

    \b
    Examples:
      conceptvae studio                     # opens http://127.0.0.1:8765/
      conceptvae studio --model digits --no-browser --port 9000
    """
    from conceptvae.errors import ConceptVAEError
    from conceptvae.studio import EXTRA, missing_requirements

    if missing_requirements():
        raise ConceptVAEError(
            f"the studio needs the {EXTRA!r} extra: pip install \"conceptvae[{EXTRA}]\""
        )
    from conceptvae.studio.server import serve

    serve(model, host=host, port=port, open_browser=not no_browser, flag=command_flag,
          echo=lambda line: click.echo(line),
          warn=lambda line: click.echo(f"warning: {line}", err=True))  # fmt: skip
