"""conceptvae train."""

from __future__ import annotations

import shlex
import sys

import click

from .options import int_list


@click.command()
@click.argument("data")
@click.option(
    "--out", "-o", required=True, metavar="DIR", help="Model directory to create (or resume)."
)
@click.option(
    "--labels", metavar="CSV", help="Labels CSV for an image folder (file column + labels)."
)
@click.option(
    "--image-size",
    type=click.IntRange(4, 1024),
    help="Square training size [default: from data, at most 64].",
)
@click.option(
    "--channels",
    type=click.Choice(["1", "3"]),
    help="1 (grayscale) or 3 (RGB) [default: from data].",
)
@click.option("--latent-dim", type=click.IntRange(1, 4096), help="Latent size [default: 16].")
@click.option(
    "--arch", type=click.Choice(["conv", "dense"]), help="Network family [default: conv]."
)
@click.option("--filters", callback=int_list, help="Conv filters per stride-2 layer, e.g. 32,64.")
@click.option("--hidden", callback=int_list, help="Dense hidden sizes, e.g. 512 or 512,256.")
@click.option(
    "--blocks", type=click.IntRange(0, 8), help="Extra stride-1 convs per level [default: 0]."
)
@click.option("--activation", type=click.Choice(["relu", "swish", "gelu", "leaky_relu", "elu"]))
@click.option("--beta", type=float, help="KL weight; 0 trains a plain autoencoder [default: 1].")
@click.option(
    "--recon-loss", type=click.Choice(["bce", "mse"]), help="Reconstruction loss [default: bce]."
)
@click.option("--epochs", type=click.IntRange(1), help="Epochs [default: 10].")
@click.option("--batch-size", type=click.IntRange(1), help="Batch size [default: 128].")
@click.option("--lr", type=float, help="Adam learning rate [default: 0.001].")
@click.option("--val-split", type=float, help="Held-out fraction for validation [default: 0.05].")
@click.option("--seed", type=int, help="Seed for initialisation, order and noise [default: 0].")
@click.option(
    "--denoise", type=float, metavar="STD", help="Train on inputs with Gaussian noise of this std."
)
@click.option(
    "--supervise", multiple=True, metavar="COLUMN",
    help="Make this label column linearly readable from the latent (repeatable).",
)  # fmt: skip
@click.option(
    "--supervise-weight", type=float, help="Weight of the --supervise loss [default: 10]."
)
@click.option(
    "--resume", is_flag=True, help="Continue the run in --out from its last finished epoch."
)
def train(data: str, out: str, channels: str | None, **options) -> None:  # noqa: ANN003
    """Train a VAE on DATA: an image folder, .npz, IDX file, mnist or fashion_mnist."""
    from conceptvae.training import train as run

    command = "conceptvae " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    result = run(
        data, out, channels=int(channels) if channels else None, command=command, **options
    )
    m = result.metrics
    click.echo(
        f"saved {result.path}: test MSE {m['test_mse']:.5f}/pixel, ELBO {m['test_elbo']:.2f} nats "
        f"on {m['test_images']} images ({m['train_seconds']:.0f} s training)"
    )
