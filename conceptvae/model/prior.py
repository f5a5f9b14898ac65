"""The prior p(z): the standard normal N(0, I), or a learned Gaussian mixture.

A VAE trained with the standard normal prior leaves part of its ELBO in the
mismatch between N(0, I) and the aggregate posterior (the average of q(z | x)
over the data: Hoffman and Johnson 2016, "ELBO surgery"). A mixture of C
diagonal Gaussians whose means, log-variances and weights are learned with
the network (the mixture prior of Tomczak and Welling 2018) closes much of it,
and the model's log-likelihood rises by the same amount.

The mixture is three arrays (the Keras layer in :mod:`conceptvae.model.network`
holds them while training; a model directory keeps them in ``prior.npz``,
read without pickle). This module is numpy only: the likelihood estimator and
sampling use it with either backend, so nothing here imports TensorFlow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..errors import ModelError

LOG_2PI = float(np.log(2.0 * np.pi))
PRIOR_FILE = "prior.npz"
_ARRAYS = ("means", "log_vars", "logits")


def standard_normal_log_prob(z: np.ndarray) -> np.ndarray:
    """log N(z; 0, I), summed over the last axis (float64)."""
    z = np.asarray(z, np.float64)
    return -0.5 * np.sum(LOG_2PI + np.square(z), axis=-1)


@dataclass(frozen=True)
class GaussianMixture:
    """p(z) = sum_c softmax(logits)_c N(z; means_c, diag(exp(log_vars_c)))."""

    means: np.ndarray  # (C, D)
    log_vars: np.ndarray  # (C, D)
    logits: np.ndarray  # (C,)

    def __post_init__(self) -> None:
        c, d = np.shape(self.means)
        if np.shape(self.log_vars) != (c, d) or np.shape(self.logits) != (c,):
            raise ValueError("a mixture needs means and log_vars (C, D) and logits (C,)")

    @property
    def components(self) -> int:
        return int(np.shape(self.means)[0])

    @property
    def log_weights(self) -> np.ndarray:
        logits = np.asarray(self.logits, np.float64)
        top = logits.max()
        return logits - top - np.log(np.sum(np.exp(logits - top)))

    @property
    def mean(self) -> np.ndarray:
        """E[z] under the mixture (float32, (D,)): where a map centred on the prior sits."""
        w = np.exp(self.log_weights)
        return (w @ np.asarray(self.means, np.float64)).astype(np.float32)

    @cached_property
    def typical_floor(self) -> float:
        """The log-density that all but 1 in 1,000 of the prior's own draws reach.

        Under N(0, I) "far from the prior" is a norm far from sqrt(D); a mixture
        has no such shell (its components sit where the data put them), so a
        latent is far when the mixture's density there is lower than almost any
        draw of its own. Fixed draws (seed 0) make the floor, and so the
        warnings it gives, the same on every run.
        """
        draws = self.sample(4096, np.random.default_rng(0))
        return float(np.quantile(self.log_prob(draws), 0.001))

    def log_prob(self, z: np.ndarray, chunk: int = 4096) -> np.ndarray:
        """log p(z) for z (..., D), in float64; at most ``chunk`` rows of z at a
        time, fewer for a large C, keep the (rows, C) intermediates near 32 MB."""
        chunk = max(1, min(chunk, (1 << 22) // self.components))
        z = np.asarray(z, np.float64)
        flat = z.reshape(-1, z.shape[-1])
        means = np.asarray(self.means, np.float64)
        log_vars = np.asarray(self.log_vars, np.float64)
        inv_var = np.exp(-log_vars)
        # log N(z; m, v) = -0.5 sum(log 2pi + log v + z^2/v - 2 z m / v + m^2 / v):
        # the z-dependent part is two matrix products, so no (rows, C, D) array.
        const = -0.5 * np.sum(LOG_2PI + log_vars + np.square(means) * inv_var, axis=1)
        scaled, log_w = means * inv_var, self.log_weights
        out = np.empty(len(flat))
        for s in range(0, len(flat), chunk):
            zc = flat[s : s + chunk]
            per = const - 0.5 * (np.square(zc) @ inv_var.T) + zc @ scaled.T + log_w  # (rows, C)
            top = per.max(axis=1, keepdims=True)
            out[s : s + chunk] = np.log(np.sum(np.exp(per - top), axis=1)) + top[:, 0]
        return out.reshape(z.shape[:-1])

    def sample(self, n: int, rng: np.random.Generator, temperature: float = 1.0) -> np.ndarray:
        """``n`` draws (float32): a component by its weight, then its Gaussian with
        the standard deviation scaled by ``temperature``."""
        which = rng.choice(self.components, size=n, p=np.exp(self.log_weights))
        eps = rng.standard_normal((n, np.shape(self.means)[1]))
        std = np.exp(0.5 * np.asarray(self.log_vars, np.float64))[which]
        z = np.asarray(self.means, np.float64)[which] + temperature * std * eps
        return z.astype(np.float32)

    def save(self, path: str | os.PathLike) -> None:
        from ..io import atomic_path

        with atomic_path(path, suffix=".npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **{k: np.asarray(getattr(self, k), np.float32) for k in _ARRAYS})

    @classmethod
    def load(cls, path: str | os.PathLike, components: int, latent_dim: int) -> GaussianMixture:
        """The mixture a model directory's ``prior.npz`` holds; it must have the
        ``components`` and ``latent_dim`` of the model's config and finite values."""
        from ..readers import npz_headers, open_regular

        with open_regular(path, "prior", None, ModelError):
            pass
        shapes = {
            "means": (components, latent_dim),
            "log_vars": (components, latent_dim),
            "logits": (components,),
        }
        found = npz_headers(path, error=ModelError)
        for name, shape in shapes.items():
            if name not in found or found[name][0] != shape or found[name][1].kind != "f":
                raise ModelError(
                    f"prior must hold float arrays {', '.join(_ARRAYS)} of shapes "
                    f"{', '.join(str(s) for s in shapes.values())} (the config's "
                    f"prior_components and latent_dim)",
                    path,
                )
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {k: np.asarray(npz[k], np.float32) for k in _ARRAYS}
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user problem
            raise ModelError(f"cannot read the prior ({type(exc).__name__})", path) from None
        if not all(np.isfinite(a).all() for a in arrays.values()):
            raise ModelError("prior holds NaN or infinite values", path)
        if float(np.abs(arrays["log_vars"]).max()) > 80:
            raise ModelError("prior's log-variances are beyond +-80", path)
        return cls(**arrays)
