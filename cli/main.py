"""The `conceptvae` group: lazy subcommands, one-line errors, exit status 2.

Subcommand modules are imported only when their command runs, and those
modules import TensorFlow (if at all) inside the command, so `--help` stays
instant.
"""

from __future__ import annotations

import gc
import importlib
import os
import re
import sys
import warnings

import click

# Module under conceptvae.cli -> its commands; a command's function is its name
# with "-" as "_" (align-faces -> align_faces).
_MODULES = {
    "train": ["train"],
    "codec": ["encode", "decode", "reconstruct", "sample"],
    "models": ["info", "models"],
    "export": ["export"],
    "concepts": ["concepts"],
    "edit": ["edit", "traverse", "analogy"],
    "morph": ["interpolate", "morph", "run"],
    "pictures": ["grid", "scatter"],
    "faces": ["faces", "align-faces"],
    "studio": ["studio"],
    "evaluate": ["evaluate"],
}
# command name -> (module under conceptvae.cli, attribute)
COMMANDS = {
    name: (module, name.replace("-", "_")) for module, names in _MODULES.items() for name in names
}


class LazyGroup(click.Group):
    """Imports a command's module only when that command is asked for, and turns
    user errors into one line on stderr with exit status 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr = COMMANDS[name]
        return getattr(importlib.import_module(f"conceptvae.cli.{module}"), attr)

    def main(self, args=None, prog_name=None, standalone_mode=True, **extra):  # noqa: ANN001, ANN201
        from conceptvae.errors import ConceptVAEError, resource_problem

        args = _global_flags_first(list(sys.argv[1:] if args is None else args))
        debug = args[:1] == ["--debug"] or bool(os.environ.get("CONCEPTVAE_DEBUG"))
        old_showwarning = warnings.showwarning
        warnings.showwarning = _show_warning
        try:
            status = super().main(
                args=args, prog_name=prog_name or "conceptvae", standalone_mode=False, **extra
            )
            # A batch in which some inputs failed (each already reported) raises
            # click.exceptions.Exit(1), which Click hands back as the return value here.
            if isinstance(status, int) and not isinstance(status, bool) and status:
                sys.exit(status)
        except ConceptVAEError as exc:
            if debug:
                raise
            from .options import flag

            click.echo(error_line(exc.render(flag)), err=True)
            sys.exit(130 if type(exc).__name__ == "TrainingInterrupted" else 2)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(130)
        except _NoArgsIsHelp as exc:
            # Bare `conceptvae` or `conceptvae concepts`: the help, as --help prints it.
            click.echo(exc.ctx.get_help())
            sys.exit(0)
        except click.ClickException as exc:
            if debug:
                raise
            hint = ""
            if isinstance(exc, click.UsageError) and exc.ctx is not None and getattr(exc, "usage_hint", True):
                hint = f" (see '{exc.ctx.command_path} --help')"
            click.echo(error_line(f"{exc.format_message()}{hint}"), err=True)
            sys.exit(2)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except OSError as exc:
            # The filesystem refused (read-only, full disk, a file where a folder
            # should be): the user's to fix, so one line naming the path.
            if debug:
                raise
            click.echo(error_line(_os_error_line(exc)), err=True)
            sys.exit(2)
        except Exception as exc:
            # Memory exhausted, absurd nesting, a full disk reported by h5py: the
            # input's or the machine's doing, so one line too. Anything else is a
            # bug and keeps its traceback.
            problem = resource_problem(exc)
            if problem is None or debug:
                raise
            click.echo(error_line(problem), err=True)
            sys.exit(2)
        finally:
            warnings.showwarning = old_showwarning
        sys.exit(0)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="conceptvae")
@click.option("--debug", is_flag=True, help="Show full tracebacks for errors.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars (none when piped either).")
def cli(debug: bool, quiet: bool) -> None:
    """Edit images with concept vectors in a VAE's latent space."""


# Click 8.2+ raises this for a group called without a subcommand (older ones
# print the help and exit 0 themselves).
_NoArgsIsHelp = getattr(click.exceptions, "NoArgsIsHelpError", ())


GLOBAL_FLAGS = ("--debug", "--quiet")


def _global_flags_first(args: list[str]) -> list[str]:
    """``--debug`` and ``--quiet`` anywhere before a ``--`` move to the front, where the
    group reads them (``conceptvae edit ... --debug`` works)."""
    end = args.index("--") if "--" in args else len(args)
    found = [f for f in GLOBAL_FLAGS if f in args[:end]]
    rest = [a for i, a in enumerate(args) if i >= end or a not in GLOBAL_FLAGS]
    return [*found, *rest]


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    # conceptvae applies its own pixel limit (conceptvae.images.MAX_PIXELS) and says
    # so in its own words; Pillow's generic alarm would be a second, confusing line.
    if category.__name__ == "DecompressionBombWarning":
        return
    from conceptvae.errors import render

    from .options import flag

    # The library names parameters in its warnings as in its errors: spelled as flags here.
    click.echo(f"warning: {_escape_newlines(render(str(message), flag))}", err=True)


def error_line(problem: object) -> str:
    """``Error: ...`` on exactly one line, even when a file name or a key in the
    message holds a newline (those are shown escaped, as \\n), and of readable
    length even when it quotes a hostile value (a 5,000-digit number)."""
    return f"Error: {_shorten(_escape_newlines(problem))}"


_LONG_RUN = re.compile(r"\S{300,}")


def _shorten(text: str) -> str:
    return _LONG_RUN.sub(
        lambda m: f"{m.group()[:60]}...({len(m.group()):,} characters)...{m.group()[-20:]}", text
    )


def _escape_newlines(text: object) -> str:
    return str(text).replace("\r", "\\r").replace("\n", "\\n")


def _os_error_line(exc: OSError) -> str:
    reason = exc.strerror or str(exc) or type(exc).__name__
    name = exc.filename
    if name is None:
        return reason
    return f"{os.fsdecode(name) if isinstance(name, (str, bytes)) else name}: {reason}"


# numpy's OpenBLAS starts a worker thread per core when numpy loads, and an idle
# worker spins (sched_yield) for 2^28 cycles, about 0.1 s, before it sleeps. On a
# small machine shared with other work that spin takes a core from the command
# itself: 40-70 ms of a cold 64x64 crop edit (0.3 s) on 2 loaded cores. 2^18
# cycles still bridge the gaps between one computation's BLAS calls; the same
# threads share the same work, so no result changes. A value the user set is kept.
BLAS_IDLE_SPIN = ("OPENBLAS_THREAD_TIMEOUT", "18")


def main() -> None:
    os.environ.setdefault(*BLAS_IDLE_SPIN)
    try:
        cli.main()
    finally:
        # At exit Python runs its cycle collector over every object still alive
        # (numpy's, h5py's, Click's: 100,000 and more), two or three times, to free
        # memory the process is about to give back whole: 20-50 ms of a 0.3 s
        # edit. Frozen, they are left to the operating system. Everything the
        # command wrote is closed by now; atexit handlers and refcounted cleanup run.
        gc.freeze()


if __name__ == "__main__":
    main()
