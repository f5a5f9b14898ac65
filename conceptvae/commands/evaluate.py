"""``evaluate``: how good a model is as a generative model of a dataset's test split.

Reads the model and the test images, checks everything before TensorFlow
loads, and runs :func:`conceptvae.model.likelihood.importance_weighted_bound`
on the Keras network (the decoder's logits: the LiteRT decoder emits sigmoid
pixels, whose logits are lost to rounding near 0 and 1). Writes nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import ConceptVAEError, DataError, ModelError, param
from ..model.likelihood import (
    DEFAULT_BATCH,
    bernoulli_log_likelihood,
    importance_weighted_bound,
)
from ..model.likelihood import (
    binarize as binarize_images,
)
from ..options import DEFAULT_NLL_SAMPLES, MAX_NLL_SAMPLES, MAX_SEED

MAX_IMAGES = 1_000_000


def evaluate_model(
    model: str | os.PathLike,
    data: str | os.PathLike,
    *,
    nll: bool = False,
    samples: int | None = None,
    limit: int | None = None,
    binarize: int | None = None,
    seed: int = 0,
    batch: int = DEFAULT_BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The test split of ``data`` under ``model``, in nats per image.

    With ``nll``: the importance-weighted bound with ``samples`` draws per
    image (``nll_nats`` is minus it: an upper bound on the negative
    log-likelihood, tight as ``samples`` grows), its standard error over the
    images, and the ELBO and KL. Without: the ELBO, KL and reconstruction term
    alone (one draw per image). ``limit`` takes the first images of the split;
    ``binarize`` (a seed) replaces each pixel by a fixed 0/1 draw with
    probability its intensity, which is what the published MNIST figures
    measure. ``seed`` seeds the posterior draws.
    """
    k = _check_options(nll, samples, limit, binarize, seed)
    from ..data import open_dataset
    from ..extras import require_extra
    from ..model.api import load_model

    m = load_model(model, backend="keras")
    cfg = m.config
    if cfg.recon_loss == "mse":
        raise ModelError(
            "was trained with the mse loss, which is no likelihood; the NLL needs a "
            "Bernoulli decoder (train with likelihood bce or bernoulli)",
            m.path,
        )
    ds = open_dataset(data, image_size=cfg.image_size, channels=cfg.channels)
    test = ds.test
    if test is None or len(test) == 0:
        raise DataError(
            "has no test split (a .npz with x_test, or mnist / fashion_mnist); the "
            "likelihood is measured on held-out images",
            data,
        )
    n = len(test) if limit is None else min(limit, len(test))
    require_extra("train")
    vae = getattr(m.backend, "vae", None)
    if vae is None:  # load_model(backend="keras") gives the Keras network
        raise ModelError("no Keras network to evaluate", m.path)
    x = test.load(np.arange(n)).astype(np.float32) / np.float32(255)
    if binarize is not None:
        x = binarize_images(x, binarize)

    def encode(xb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, log_var = vae.encoder(xb, training=False)
        return np.asarray(mean), np.asarray(log_var)

    def log_likelihood(xb: np.ndarray, z: np.ndarray) -> np.ndarray:
        return bernoulli_log_likelihood(xb, np.asarray(vae.decoder(z, training=False)))

    done = [0]

    def step(count: int) -> None:
        done[0] += count
        if progress is not None:
            progress(done[0], n)

    t0, cpu0 = time.perf_counter(), time.process_time()
    est = importance_weighted_bound(
        x, encode, log_likelihood, k, seed=seed, batch=batch, progress=step
    )
    out: dict[str, Any] = est.summary()
    if not nll:
        for key in ("nll_nats", "stderr"):
            out.pop(key)
    return _described(out, m, data, test, binarize, seed, t0, cpu0)


def _check_options(
    nll: bool, samples: int | None, limit: int | None, binarize: int | None, seed: int
) -> int:
    """The number of draws per image, every option checked before anything is read."""
    if samples is not None and not nll:
        raise ConceptVAEError(f"{param('samples')} applies to {param('nll')}")
    k = DEFAULT_NLL_SAMPLES if samples is None else samples
    k = k if nll else 1
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_NLL_SAMPLES:
        raise ConceptVAEError(
            f"{param('samples')} must be a whole number from 1 to {MAX_NLL_SAMPLES:,}"
        )
    if limit is not None and (isinstance(limit, bool) or not 1 <= limit <= MAX_IMAGES):
        raise ConceptVAEError(f"{param('limit')} must be a whole number from 1 to {MAX_IMAGES:,}")
    for name, value in (("binarize", binarize), ("seed", seed)):
        if value is not None and not 0 <= value <= MAX_SEED:
            raise ConceptVAEError(f"{param(name)} must be a seed from 0 to 2**64 - 1")
    return k


def _described(
    out: dict[str, Any], m: Any, data: Any, test: Any, binarize: int | None, seed: int,
    t0: float, cpu0: float,
) -> dict[str, Any]:  # fmt: skip
    """The figures with what they were measured on, and the time they took."""
    out.update(
        {
            "binarize": binarize,
            "seed": seed,
            "model": os.fspath(m.path) if m.path is not None else None,
            "model_fingerprint": m.meta.get("fingerprint"),
            "data": os.fspath(data),
            "data_fingerprint": test.fingerprint(),
            "seconds": round(time.perf_counter() - t0, 1),
            "cpu_seconds": round(time.process_time() - cpu0, 1),
        }
    )
    return out
