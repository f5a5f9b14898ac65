"""conceptvae evaluate."""

from __future__ import annotations

import json

import click

from conceptvae.options import DEFAULT_NLL_SAMPLES, MAX_NLL_SAMPLES, MAX_SEED

from .progress import progress_bar


@click.command()
@click.argument("model")
@click.argument("data")
@click.option(
    "--nll", is_flag=True,
    help="Estimate the negative log-likelihood with the importance-weighted bound.",
)  # fmt: skip
@click.option(
    "--samples", type=click.IntRange(1, MAX_NLL_SAMPLES), metavar="K",
    help=f"Posterior draws per image for --nll [default: {DEFAULT_NLL_SAMPLES}; the papers' "
    "tables use 5000].",
)  # fmt: skip
@click.option(
    "--start", type=click.IntRange(0), default=0, metavar="INDEX",
    help="Begin at test image INDEX, numbered from 0 [default: 0]. Each image's "
    "binarisation and posterior draws depend on its index and the seeds alone, so "
    "slices (--start 0 --limit 500, --start 500 ...) give the per-image figures of "
    "one whole run; benchmarks/nll_full.py pools them.",
)  # fmt: skip
@click.option(
    "--limit", type=click.IntRange(1), metavar="N",
    help="Only N test images, from --start on [default: all to the end].",
)  # fmt: skip
@click.option(
    "--binarize", type=click.IntRange(0, MAX_SEED), metavar="SEED",
    help="Binarise the test images once, each pixel 0/1 with probability its intensity, "
    "drawn from SEED (the published MNIST figures are on binary pixels).",
)  # fmt: skip
@click.option(
    "--seed", type=click.IntRange(0, MAX_SEED), default=0, show_default=True,
    help="Seed of the posterior draws.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def evaluate(model: str, data: str, *, nll: bool, samples: int | None, start: int,
             limit: int | None, binarize: int | None, seed: int, as_json: bool) -> None:  # fmt: skip
    """How good MODEL is as a generative model of DATA's test split, in nats per image.

    --nll reports the negative log-likelihood -log p(x) as estimated by the
    importance-weighted bound of Burda et al. 2015: for each test image, K draws
    z_k from the encoder's posterior q(z|x), and log p(x) >= log (1/K) sum_k
    p(x|z_k) p(z_k) / q(z_k|x). The bound tightens as K grows, so the printed
    NLL is an upper bound (lower is better), with its standard error over the
    images; the ELBO (the K = 1 bound) and the KL term come with it. Without
    --nll: the ELBO and KL only. p(z) is the model's prior: N(0, I), or the
    mixture a model trained with --prior-components learned (its prior.npz; the
    KL is then the average over the K draws, not a closed form).

    The benchmark figure (benchmarks/README.md: 83.7 +- 0.7 nats for the shipped
    model; published, on all 10,000 digits at K = 5000: VAE 86.76, IWAE 84.78),
    on the first 1,000 MNIST test digits binarised with seed 0:

        conceptvae evaluate benchmarks/models/mnist-bernoulli mnist.npz --nll
        --samples 500 --limit 1000 --binarize 0

    The full test set at K = 5000 takes hours on a CPU: benchmarks/nll_full.py
    runs it in resumable slices (--start, --limit) and pools them.

    Needs conceptvae[train] (TensorFlow): the decoder's logits come from Keras.
    """
    from conceptvae.commands.evaluate import evaluate_model

    label = f"importance sampling, K={samples or DEFAULT_NLL_SAMPLES}" if nll else "ELBO"
    with progress_bar(label) as progress:
        result = evaluate_model(model, data, nll=nll, samples=samples, start=start, limit=limit,
                                binarize=binarize, seed=seed, progress=progress)  # fmt: skip
    if as_json:
        click.echo(json.dumps(result, sort_keys=True))
        return
    what = f"{result['images']} test images of {data}"
    if result["start"]:
        first, last = result["start"], result["start"] + result["images"] - 1
        what = f"test images {first} to {last} of {data}"
    if binarize is not None:
        what += f", binarised with seed {binarize}"
    if nll:
        click.echo(
            f"NLL {result['nll_nats']:.2f} +- {result['stderr']:.2f} nats/image "
            f"(importance-weighted bound, K={result['samples']}; {what})"
        )
    else:
        click.echo(f"{what}")
    click.echo(
        f"ELBO {result['elbo_nats']:.2f} nats/image: reconstruction "
        f"{result['reconstruction_nats']:.2f}, KL {result['kl_nats']:.2f} "
        f"({result['seconds']:.0f} s)"
    )
