"""grid, scatter: pictures of a model's latent space."""

from __future__ import annotations

import click

from conceptvae.options import (
    DEFAULT_GRID_N,
    DEFAULT_MAX_POINTS,
    DEFAULT_SPAN,
    PROJECTIONS,
)

from .options import backend_option, model_option, seed_option, size_option
from .progress import progress_bar


def _axes(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    parts = tuple(p.strip() for p in value.split(","))
    if len(parts) != 2 or not all(parts):
        raise click.BadParameter(f"expected two names separated by a comma, got {value!r}")
    return parts


@click.command()
@model_option()
@click.option("-n", "count", type=int, default=DEFAULT_GRID_N, show_default=True,
              help="Cells per side.")  # fmt: skip
@click.option("--axes", callback=_axes, metavar="A,B",
              help="Two concepts (or latent axes z1..zD) to walk; default: z1,z2 quantiles for "
                   "a 2-D latent, else pc1,pc2 from the concept library.")  # fmt: skip
@click.option("--span", type=float, default=DEFAULT_SPAN, show_default=True,
              help="Amounts from -SPAN to +SPAN along each axis.")  # fmt: skip
@click.option("--center", metavar="KEY",
              help="Image file or seed:N at the centre (default: the prior's mean, 0 unless "
                   "the model learned its prior).")  # fmt: skip
@click.option("--out", "-o", required=True, metavar="FILE", help="Picture (.png, .jpg, .webp).")
@size_option
@backend_option
def grid(model: str, count: int, axes: tuple[str, str] | None, span: float, center: str | None,
         out: str, size: int | None, backend: str) -> None:  # fmt: skip
    """Decode a grid over a 2-D slice of the latent space, with labelled axes."""
    from conceptvae.commands.pictures import grid_file

    click.echo(str(grid_file(model, out, count, axes, span, center, size, backend)))


@click.command()
@click.argument("data")
@model_option()
@click.option(
    "--labels", metavar="CSV", help="Labels for an image folder (default: its labels.csv)."
)
@click.option("--color-by", metavar="COLUMN",
              help="Label column for colours (default: the first class column).")  # fmt: skip
@click.option("--method", type=click.Choice(PROJECTIONS), default=PROJECTIONS[0], show_default=True,
              help="Projection to 2-D when the latent is larger.")  # fmt: skip
@click.option("--max-points", type=int, default=DEFAULT_MAX_POINTS, show_default=True,
              help="Plot a seeded sample of at most this many images.")  # fmt: skip
@click.option("--width", type=int, default=800, show_default=True)
@click.option("--height", type=int, default=600, show_default=True)
@click.option("--out", "-o", required=True, metavar="FILE", help="Picture (.png, .jpg, .webp).")
@seed_option
@backend_option
def scatter(*, data: str, model: str | None, labels: str | None, color_by: str | None, method: str,
            max_points: int, width: int, height: int, out: str, seed: int,
            backend: str) -> None:  # fmt: skip
    """Plot the latents of DATA (folder, .npz, mnist) coloured by a label, with a legend."""
    from conceptvae.commands.pictures import scatter_file

    with progress_bar("encoding") as progress:
        path = scatter_file(model, data, out, labels=labels, color_by=color_by, method=method,
                            max_points=max_points, seed=seed, width=width, height=height,
                            backend=backend, progress=progress)  # fmt: skip
    click.echo(str(path))
