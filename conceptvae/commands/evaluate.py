"""``evaluate``: how good a model is as a generative model of a dataset's test split.

Checks the options and that TensorFlow is installed before anything is read,
then reads the model and the test images and runs
:func:`conceptvae.model.likelihood.importance_weighted_bound` on the Keras
network (the decoder's logits: the LiteRT decoder emits sigmoid pixels, whose
logits are lost to rounding near 0 and 1) and the model's prior (its learned
mixture, when it was trained with one). :class:`HeldOutLikelihood` keeps
the model loaded for slices of the split (benchmarks/nll_full.py). Writes
nothing.
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
    LikelihoodEstimate,
    bernoulli_log_likelihood,
    importance_weighted_bound,
)
from ..model.likelihood import (
    binarize as binarize_images,
)
from ..options import DEFAULT_NLL_SAMPLES, MAX_NLL_SAMPLES, MAX_SEED

MAX_IMAGES = 1_000_000


class HeldOutLikelihood:
    """A model and the test split of a dataset, loaded once, for the
    importance-weighted bound over any slice of the split.

    ``binarize`` (a seed) replaces each pixel by a fixed 0/1 draw with
    probability its intensity; ``seed`` seeds the posterior draws. Image i of
    the split gets the same binarisation and draws whatever slice it comes in,
    so the per-image figures of slices are those of the whole run. Raises the
    one-line errors (no TensorFlow, an mse model, no test split) on creation.
    """

    def __init__(
        self,
        model: str | os.PathLike,
        data: str | os.PathLike,
        *,
        binarize: int | None = None,
        seed: int = 0,
        batch: int = DEFAULT_BATCH,
    ) -> None:
        for name, value in (("binarize", binarize), ("seed", seed)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED
            ):
                raise ConceptVAEError(f"{param(name)} must be a seed from 0 to 2**64 - 1")
        from ..extras import require_extra

        # Before the model or the data is read: a plain install fails at once.
        require_extra("train")
        from ..data import open_dataset
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
        vae = getattr(m.backend, "vae", None)
        if vae is None:  # load_model(backend="keras") gives the Keras network
            raise ModelError("no Keras network to evaluate", m.path)
        self.model, self.data, self.test, self.vae = m, data, test, vae
        self.binarize, self.seed, self.batch = binarize, seed, batch

    @property
    def images(self) -> int:
        """The number of images in the test split."""
        return len(self.test)

    def span(self, start: int = 0, limit: int | None = None) -> range:
        """The image indices ``start`` to ``start + limit - 1``, cut at the split's end."""
        _check_slice(start, limit)
        if start >= self.images:
            raise DataError(
                f"{param('start')} {start} is past the test split's last image "
                f"({self.images:,} images, numbered from 0)",
                self.data,
            )
        stop = self.images if limit is None else min(start + limit, self.images)
        return range(start, stop)

    def estimate(
        self,
        start: int = 0,
        limit: int | None = None,
        *,
        samples: int = DEFAULT_NLL_SAMPLES,
        progress: Callable[[int], None] | None = None,
    ) -> LikelihoodEstimate:
        """The bound with ``samples`` draws for each image of :meth:`span`;
        ``progress(n)`` is told of each n images done."""
        _check_samples(samples)
        span = self.span(start, limit)
        x = self.test.load(np.asarray(span)).astype(np.float32) / np.float32(255)
        if self.binarize is not None:
            x = binarize_images(x, self.binarize, first=span.start)
        vae = self.vae

        def encode(xb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            mean, log_var = vae.encoder(xb, training=False)
            return np.asarray(mean), np.asarray(log_var)

        def log_likelihood(xb: np.ndarray, z: np.ndarray) -> np.ndarray:
            return bernoulli_log_likelihood(xb, np.asarray(vae.decoder(z, training=False)))

        prior = self.model.prior  # a learned mixture, or None: N(0, I)
        return importance_weighted_bound(
            x, encode, log_likelihood, samples, seed=self.seed, first=span.start,
            batch=self.batch, progress=progress,
            log_prior=None if prior is None else prior.log_prob,
        )  # fmt: skip

    def described(self) -> dict[str, Any]:
        """What the figures are measured on: the model, the data and the seeds."""
        m = self.model
        return {
            "binarize": self.binarize,
            "seed": self.seed,
            "model": os.fspath(m.path) if m.path is not None else None,
            "model_fingerprint": m.meta.get("fingerprint"),
            "data": os.fspath(self.data),
            "data_fingerprint": self.test.fingerprint(),
        }


def evaluate_model(
    model: str | os.PathLike,
    data: str | os.PathLike,
    *,
    nll: bool = False,
    samples: int | None = None,
    start: int = 0,
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
    alone (one draw per image). ``start`` and ``limit`` take images ``start``
    to ``start + limit - 1`` of the split (numbered from 0); each image's
    figures are the same in any slice. ``binarize`` (a seed) replaces each
    pixel by a fixed 0/1 draw with probability its intensity, which is what
    the published MNIST figures measure. ``seed`` seeds the posterior draws.
    """
    if samples is not None and not nll:
        raise ConceptVAEError(f"{param('samples')} applies to {param('nll')}")
    k = (DEFAULT_NLL_SAMPLES if samples is None else samples) if nll else 1
    _check_samples(k)
    _check_slice(start, limit)
    held_out = HeldOutLikelihood(model, data, binarize=binarize, seed=seed, batch=batch)
    span = held_out.span(start, limit)
    done = [0]

    def step(count: int) -> None:
        done[0] += count
        if progress is not None:
            progress(done[0], len(span))

    t0, cpu0 = time.perf_counter(), time.process_time()
    est = held_out.estimate(span.start, len(span), samples=k, progress=step)
    out: dict[str, Any] = est.summary()
    if not nll:
        for key in ("nll_nats", "stderr"):
            out.pop(key)
    out["start"] = span.start
    out.update(held_out.described())
    out["seconds"] = round(time.perf_counter() - t0, 1)
    out["cpu_seconds"] = round(time.process_time() - cpu0, 1)
    return out


def _check_samples(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_NLL_SAMPLES:
        raise ConceptVAEError(
            f"{param('samples')} must be a whole number from 1 to {MAX_NLL_SAMPLES:,}"
        )


def _check_slice(start: int, limit: int | None) -> None:
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start < MAX_IMAGES:
        raise ConceptVAEError(
            f"{param('start')} must be a whole number from 0 to {MAX_IMAGES - 1:,}"
        )
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_IMAGES
    ):
        raise ConceptVAEError(f"{param('limit')} must be a whole number from 1 to {MAX_IMAGES:,}")
