"""How good the generative model is: the importance-weighted bound on log p(x).

For an image x, an encoder q(z | x) = N(mean, diag(exp(log_var))), the prior
p(z) (N(0, I), or a model's learned mixture: :mod:`conceptvae.model.prior`)
and a decoder likelihood p(x | z), every K >= 1 gives a lower
bound on the log-likelihood (Burda et al. 2015, "Importance Weighted
Autoencoders")::

    log p(x) >= L_K = log (1/K) sum_k p(x, z_k) / q(z_k | x),   z_k ~ q(z | x)

L_1 is the ELBO; E[L_K] rises with K and tends to log p(x). The benchmark
number is -L_K in nats per image (K = 5000 in the papers), with the standard
error of its mean over the images.

The maths here is numpy in float64 (a stable logsumexp over the K weights);
the network comes in as two functions, so the same estimator runs on the Keras
model (:mod:`conceptvae.commands.evaluate`) and, in the tests, on a
linear-Gaussian model whose log p(x) is known in closed form. Nothing here
imports TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .prior import LOG_2PI, standard_normal_log_prob

# Rows (image, sample pairs) handed to the decoder at once: the decoder's
# activations for 2,048 MNIST-sized images are a few tens of MB.
DEFAULT_BATCH = 2048

Encode = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
LogLikelihood = Callable[[np.ndarray, np.ndarray], np.ndarray]
LogPrior = Callable[[np.ndarray], np.ndarray]


@dataclass
class LikelihoodEstimate:
    """Per-image figures of one run of :func:`importance_weighted_bound` (nats)."""

    log_px: np.ndarray  # L_K of each image: a lower bound on log p(x)
    elbo: np.ndarray  # the mean of the K single-sample ELBOs of each image
    kl: np.ndarray  # KL(q(z | x) || p(z)): closed form for N(0, I), else the K draws' mean
    log_px_given_z: np.ndarray  # the mean of log p(x | z_k): the reconstruction term
    samples: int

    @property
    def nll(self) -> float:
        """Negative log-likelihood in nats per image (mean of -L_K)."""
        return float(-self.log_px.mean())

    @property
    def stderr(self) -> float:
        """Standard error of :attr:`nll` over the images (0 for one image)."""
        n = len(self.log_px)
        return float(self.log_px.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0

    def summary(self) -> dict[str, float | int]:
        return {
            "nll_nats": round(self.nll, 3),
            "stderr": round(self.stderr, 3),
            "samples": self.samples,
            "images": len(self.log_px),
            "elbo_nats": round(float(self.elbo.mean()), 3),
            "kl_nats": round(float(self.kl.mean()), 3),
            "reconstruction_nats": round(float(-self.log_px_given_z.mean()), 3),
        }


def logmeanexp(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """log(mean(exp(a))) along ``axis`` without overflow or underflow."""
    a = np.asarray(a, np.float64)
    top = np.max(a, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    out = np.log(np.mean(np.exp(a - top), axis=axis)) + np.squeeze(top, axis=axis)
    return out


def gaussian_log_density(z: np.ndarray, mean: np.ndarray, log_var: np.ndarray) -> np.ndarray:
    """log N(z; mean, diag(exp(log_var))), summed over the last axis."""
    z, mean, log_var = (np.asarray(v, np.float64) for v in (z, mean, log_var))
    return -0.5 * np.sum(LOG_2PI + log_var + np.square(z - mean) * np.exp(-log_var), axis=-1)


def bernoulli_log_likelihood(x: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """log p(x | logits) of independent Bernoulli pixels, summed per image.

    log p = x * l - log(1 + e^l), computed as x * l - softplus(l) (stable for
    any logit); ``x`` may be grey levels (the cross-entropy then is not a
    normalised likelihood, which is why the benchmark binarises).
    """
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    logits = np.asarray(logits, np.float64).reshape(len(logits), -1)
    return np.sum(x * logits - np.logaddexp(0.0, logits), axis=1)


def binarize(images: np.ndarray, seed: int, first: int = 0) -> np.ndarray:
    """A fixed stochastic binarisation: each pixel is 1 with probability its
    intensity in [0, 1]. ``images`` are images ``first``, ``first + 1``, ... of a
    set whose draw is one stream of uniforms from ``seed``, image by image: each
    image gets the same pixels whatever slice of the set it comes in (and the
    first n images' draw is the one the whole set's starts with)."""
    rng = np.random.default_rng(seed)
    # random() takes one 64-bit output per double: skip the earlier images' pixels
    # without drawing them.
    rng.bit_generator.advance(int(first) * int(np.prod(images.shape[1:], dtype=np.int64)))
    u = rng.random(images.shape)
    return (u < images).astype(np.float32)


def importance_weighted_bound(
    images: np.ndarray,
    encode: Encode,
    log_likelihood: LogLikelihood,
    samples: int,
    *,
    seed: int = 0,
    first: int = 0,
    batch: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
    log_prior: LogPrior | None = None,
) -> LikelihoodEstimate:
    """L_K for each of ``images`` (N, ...) with ``samples`` = K draws from q(z | x).

    ``encode(x)`` returns the posterior's (mean, log_var), each (n, D);
    ``log_likelihood(x, z)`` returns log p(x | z) (m,) for images and latents
    paired row by row. The decoder sees at most ``batch`` rows at a time (K
    larger than ``batch`` is split over several calls), so memory stays bounded
    for any K. ``images`` are images ``first``, ``first + 1``, ... of a larger
    set, and image i of the set draws its K samples from a generator seeded by
    (seed, i): the figures depend neither on ``batch`` nor on how the set is cut
    into slices. ``progress(n)`` is told of each image done. ``log_prior(z)``
    is log p(z) for z (m, K, D) (default: the standard normal's).
    """
    if samples < 1:
        raise ValueError("samples must be at least 1")
    n = len(images)
    log_px, elbo, kl, rec = (np.empty(n) for _ in range(4))
    per_chunk = max(1, batch // samples)
    for start in range(0, n, per_chunk):
        xb = images[start : start + per_chunk]
        m = len(xb)
        mean, log_var = (np.asarray(v, np.float64) for v in encode(xb))
        d = mean.shape[1]
        eps = np.stack(
            [
                np.random.default_rng([seed, first + start + i]).standard_normal((samples, d))
                for i in range(m)
            ]
        )  # (m, K, D)
        z = mean[:, None] + np.exp(0.5 * log_var)[:, None] * eps
        # log q(z | x) from eps directly: the same value, without cancellation.
        log_q = -0.5 * np.sum(LOG_2PI + log_var[:, None] + np.square(eps), axis=-1)
        if log_prior is None:
            log_pz = standard_normal_log_prob(z)
        else:
            log_pz = np.asarray(log_prior(z), np.float64).reshape(m, samples)
        flat = z.reshape(m * samples, d).astype(np.float32)
        log_pxz = np.empty(m * samples)
        for r in range(0, m * samples, batch):
            rows = np.arange(r, min(r + batch, m * samples))
            log_pxz[rows] = log_likelihood(xb[rows // samples], flat[rows])
        log_pxz = log_pxz.reshape(m, samples)
        log_w = log_pxz + log_pz - log_q
        log_px[start : start + m] = logmeanexp(log_w, axis=1)
        elbo[start : start + m] = log_w.mean(axis=1)
        if log_prior is None:
            kl[start : start + m] = 0.5 * np.sum(
                np.square(mean) + np.exp(log_var) - 1.0 - log_var, axis=1
            )
        else:
            kl[start : start + m] = np.mean(log_q - log_pz, axis=1)
        rec[start : start + m] = log_pxz.mean(axis=1)
        if progress is not None:
            progress(m)
    return LikelihoodEstimate(log_px, elbo, kl, rec, samples)
