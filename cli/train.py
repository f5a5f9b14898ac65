"""conceptvae train."""

from __future__ import annotations

import os
import shlex
import sys

import click

from conceptvae.config import MAX_BATCH, MAX_EPOCHS, TrainOptions
from conceptvae.options import (
    ACTIVATIONS,
    ARCHES,
    MAX_IWAE_SAMPLES,
    MAX_PRIOR_COMPONENTS,
    RECON_LOSSES,
    UPSAMPLES,
)

from .options import int_list

D = TrainOptions()  # the library's defaults, shown in --help


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
@click.option("--latent-dim", type=click.IntRange(1, 4096), help=f"Latent size [default: {D.latent_dim}].")
@click.option(
    "--arch", type=click.Choice(ARCHES), help=f"Network family [default: {D.arch}]."
)
@click.option("--filters", callback=int_list, help="Conv filters per stride-2 layer, e.g. 32,64.")
@click.option("--hidden", callback=int_list, help="Dense hidden sizes, e.g. 512 or 512,256.")
@click.option(
    "--blocks", type=click.IntRange(0, 8), help=f"Extra stride-1 convs per level [default: {D.blocks}]."
)
@click.option("--activation", type=click.Choice(ACTIVATIONS),
              help=f"[default: {D.activation}]")  # fmt: skip
@click.option("--beta", type=float, help=f"KL weight; 0 trains a plain autoencoder [default: {D.beta:g}].")
@click.option(
    "--likelihood", "--recon-loss", "recon_loss", type=click.Choice(RECON_LOSSES),
    help="Pixel likelihood of the decoder (its logits): bce (cross-entropy on grey levels), "
    "bernoulli (the same loss, for binary pixels: with --binarize, the model whose test "
    f"NLL `conceptvae evaluate --nll` measures) or mse [default: {D.recon_loss}].",
)
@click.option(
    "--binarize", is_flag=True, default=None,
    help="Dynamic binarisation: each epoch, train on a fresh draw of every pixel as 0 or 1 "
    "with probability its intensity (the likelihood benchmark's MNIST).",
)
@click.option(
    "--iwae", type=click.IntRange(1, MAX_IWAE_SAMPLES), metavar="K",
    help="Train on the K-sample importance-weighted bound (Burda et al. 2015) instead of the "
    "ELBO; each step decodes every image K times [default: 1, the ELBO].",
)
@click.option(
    "--prior-components", type=click.IntRange(0, MAX_PRIOR_COMPONENTS), metavar="C",
    help="Learn the prior p(z) as a mixture of C diagonal Gaussians (Tomczak and Welling "
    "2018), fitted to the encoder's posteriors before the first epoch, then trained with "
    "the network; saved in prior.npz, used by sampling, seed:N keyframes and "
    "`conceptvae evaluate --nll` "
    f"[default: {D.prior_components}, the standard normal].",
)
@click.option(
    "--init", metavar="MODEL",
    help="Start from the network weights of the model directory MODEL (the same "
    "architecture; its prior too, if it has the same --prior-components) instead of "
    "random ones.",
)
@click.option("--epochs", type=click.IntRange(1, MAX_EPOCHS), help=f"Epochs [default: {D.epochs}].")
@click.option("--batch-size", type=click.IntRange(1, MAX_BATCH),
              help=f"Batch size [default: {D.batch_size}].")  # fmt: skip
@click.option("--lr", type=float, help=f"Adam learning rate [default: {D.lr:g}].")
@click.option(
    "--lr-halflife", type=click.FloatRange(0, MAX_EPOCHS), metavar="EPOCHS",
    help="Halve the learning rate every EPOCHS epochs (smoothly) [default: 0, constant].",
)  # fmt: skip
@click.option("--val-split", type=float, help=f"Held-out fraction for validation [default: {D.val_split:g}].")
@click.option("--seed", type=int, help=f"Seed for initialisation, order and noise [default: {D.seed}].")
@click.option(
    "--denoise", type=float, metavar="STD", help="Train on inputs with Gaussian noise of this std (0 to 10)."
)
@click.option(
    "--supervise", multiple=True, metavar="COLUMN",
    help="Make this label column linearly readable from the latent (repeatable).",
)  # fmt: skip
@click.option(
    "--supervise-weight", type=float, help=f"Weight of the --supervise loss [default: {D.supervise_weight:g}]."
)
@click.option(
    "--upsample", type=click.Choice(UPSAMPLES),
    help="Decoder upsampling: transposed convs, or resize + conv (no checkerboard) "
    "[default: transpose].",
)  # fmt: skip
@click.option(
    "--flip", is_flag=True, default=None,
    help="Mirror a random half of each batch left-right (faces, not digits).",
)  # fmt: skip
@click.option(
    "--adversarial", type=float, metavar="WEIGHT",
    help="Train with a patch discriminator (VAE-GAN: adversarial + feature-matching loss, "
    "scaled to this fraction of the reconstruction loss's gradient at the decoder's last "
    "layer; the discriminator is not saved in the model) [default: 0, off].",
)  # fmt: skip
@click.option(
    "--adversarial-start", type=click.IntRange(0), metavar="EPOCHS",
    help="Epochs of plain VAE training before the discriminator joins [default: 0].",
)  # fmt: skip
@click.option(
    "--distribute", type=click.Choice(["mirrored", "multiworker"]),
    help="Train with tf.distribute: mirrored (this machine's GPUs, or --devices) or "
    "multiworker (the cluster in TF_CONFIG; run the same command on every worker). "
    "--batch-size is then the global batch.",
)  # fmt: skip
@click.option(
    "--devices", callback=lambda ctx, param, value: value.split(",") if value else None,
    metavar="LIST",
    help="Devices for --distribute mirrored, e.g. GPU:0,GPU:1 [default: every GPU].",
)  # fmt: skip
@click.option(
    "--mixed-precision", is_flag=True, default=None,
    help="float16 compute, float32 weights (GPU only; refused on a CPU).",
)  # fmt: skip
@click.option(
    "--resume", is_flag=True, help="Continue the run in --out from its last finished epoch."
)
def train(data: str, out: str, labels: str | None, channels: str | None, resume: bool,
          **options) -> None:  # noqa: ANN003  # fmt: skip
    """Train a VAE on DATA: an image folder, .npz, IDX file, mnist or fashion_mnist."""
    if options.get("distribute") and not os.environ.get("CONCEPTVAE_DEBUG"):
        # A lost worker makes TensorFlow log C++ errors on stderr; the one-line
        # error says it all. Set before TensorFlow is imported.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from conceptvae.training import train as run

    command = "conceptvae " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    result = run(data, out, labels=labels, resume=resume, command=command,
                 channels=int(channels) if channels else None, **options)  # fmt: skip
    m = result.metrics
    where = "saved" if result.chief else "the chief saved (on its machine)"
    click.echo(
        f"{where} {result.path}: test MSE {m['test_mse']:.5f}/pixel, ELBO {m['test_elbo']:.2f} "
        f"nats on {m['test_images']} images ({m['train_seconds']:.0f} s training)"
    )
