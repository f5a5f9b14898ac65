"""Where a run starts: another model's network (``init``), and a mixture prior
fitted to the encoder's posteriors before the first epoch.

A learned mixture prior trained from the network's random start moves slowly
at a network's learning rate, and a mixture started far from the posteriors
(narrow components where no code lies) costs many epochs to recover. So before
the first epoch the mixture is fitted alone to the aggregate posterior: the
average of q(z | x) over the training images, which is the prior that
maximises the ELBO for the encoder and decoder as they are (Hoffman and Johnson
2016). Only the encoder runs (no decoder), so this costs a fraction of an
epoch; from a trained network (``init``) it is most of what the prior gains.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..config import VAEConfig
from ..errors import ConceptVAEError, param
from ..model.network import keras, ops
from .batches import BatchSource, rng

# Adam steps of the mixture fit, images per step and its learning rate.
FIT_STEPS = 2000
FIT_BATCH = 1024
FIT_LR = 1e-2


def start_from(vae: Any, init: str | os.PathLike, cfg: VAEConfig) -> bool:
    """Copy the network weights of the model directory ``init`` into ``vae``.

    Its config must be the run's, up to the prior and the loss weights. Returns
    whether the prior came with it (both have the same mixture)."""
    from ..model.api import load_model

    model = load_model(init, backend="keras")
    theirs = model.config.to_dict()
    ours = cfg.to_dict()
    free = ("prior_components", "beta", "supervise_weight")
    differ = sorted(k for k in ours if k not in free and theirs.get(k) != ours[k])
    if differ:
        raise ConceptVAEError(
            f"{param('init')} model's network differs from this run's in "
            f"{', '.join(differ)}; train with the same architecture",
            init,
        )
    source = model.backend.vae
    for mine, other in zip(
        [vae.encoder, vae.decoder, *vae.heads], [source.encoder, source.decoder, *source.heads]
    ):
        mine.set_weights(other.get_weights())
    if vae.prior is not None and source.prior is not None:
        if source.prior.components == vae.prior.components:
            vae.prior.set_weights(source.prior.get_weights())
            return True
    return False


def fit_prior(vae: Any, source: BatchSource, seed: int, steps: int = FIT_STEPS) -> float:
    """Fit ``vae.prior`` to the aggregate posterior of the images of ``source``
    (their epoch-0 batches); returns the final cross-entropy, in nats per code.

    The mixture starts with unit-variance components at the posterior means of
    C images drawn by ``seed`` and equal weights; then ``steps`` Adam steps
    maximise the mean log p(z) of draws z ~ q(z | x) from the training images.
    """
    prior = vae.prior
    means, log_vars = [], []
    for b in range(len(source)):
        x_in = source.batch(0, b)[0]
        mean, log_var = vae.encoder(x_in, training=False)
        means.append(np.asarray(mean, np.float32))
        log_vars.append(np.asarray(log_var, np.float32))
    mean, log_var = np.concatenate(means), np.concatenate(log_vars)
    n, d = mean.shape
    r = rng(seed, 0x9210)
    pick = r.choice(n, size=prior.components, replace=prior.components > n)
    prior.set_weights(
        [mean[pick], np.zeros((prior.components, d), np.float32),
         np.zeros(prior.components, np.float32)]
    )  # fmt: skip
    optimizer = keras.optimizers.Adam(FIT_LR)
    optimizer.build(prior.trainable_variables)
    import tensorflow as tf

    @tf.function
    def step(m, lv, eps):  # noqa: ANN001, ANN202
        z = m + ops.exp(0.5 * lv) * eps
        with tf.GradientTape() as tape:
            loss = -ops.mean(prior.log_prob(z))
        grads = tape.gradient(loss, prior.trainable_variables)
        optimizer.apply(grads, prior.trainable_variables)
        return loss

    batch = min(FIT_BATCH, n)
    loss = float("nan")
    for _ in range(steps):
        rows = r.integers(0, n, batch)
        eps = r.standard_normal((batch, d)).astype(np.float32)
        loss = float(step(mean[rows], log_var[rows], eps))
    return loss
