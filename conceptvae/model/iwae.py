"""The IWAE objective (Burda et al. 2015): train on the K-sample bound, not the ELBO.

The ELBO (K = 1) punishes a posterior q(z | x) that misses part of the true
posterior, so the decoder learns to be explained by a simple q; the bound

    L_K = log (1/K) sum_k p(x | z_k) p(z_k) / q(z_k | x)

is tighter, and maximising it trains a better generative model (a lower
test NLL) from the same network. Each image is decoded K times per step, so a
step costs about K times a VAE step in the decoder.

The reparameterisation noise still comes with the data (K draws per image,
``(B, K * latent_dim)``), so resuming stays exact. Only training differs: the
network, the files and every other command are those of a plain :class:`VAE`.
"""

from __future__ import annotations

import math

from ..config import VAEConfig
from .network import VAE, keras, ops

_LOG_2PI = math.log(2.0 * math.pi)


@keras.saving.register_keras_serializable(package="conceptvae")
class IWAE(VAE):
    """A :class:`VAE` trained on the importance-weighted bound with ``samples`` draws."""

    def __init__(self, vae_config: dict | VAEConfig, samples: int = 5, **kwargs) -> None:
        super().__init__(vae_config, **kwargs)
        self.samples = int(samples)

    def get_config(self) -> dict:
        return {**super().get_config(), "samples": self.samples}

    def losses_and_logits(self, x_in, x_target, eps, labels=None, training: bool = False):  # noqa: ANN001, ANN201
        """The loss is -L_K (mean over the batch); ``reconstruction_loss`` and
        ``kl_loss`` are the single-sample ELBO's terms, averaged over the K draws,
        so the logs read like a VAE's. ``beta`` weights log p(z) - log q(z | x)."""
        k, d = self.samples, self.vae_config.latent_dim
        z_mean, z_log_var = self.encoder(x_in, training=training)
        z_mean, z_log_var = ops.cast(z_mean, "float32"), ops.cast(z_log_var, "float32")
        eps = ops.reshape(eps, (-1, k, d))
        z = z_mean[:, None, :] + ops.exp(0.5 * z_log_var)[:, None, :] * eps  # (B, K, D)
        logits = ops.cast(self.decoder(ops.reshape(z, (-1, d)), training=training), "float32")
        shape = ops.shape(x_target)
        target = ops.repeat(x_target, k, axis=0)  # row b*K + j is image b
        per_pixel = ops.softplus(logits) - target * logits
        log_pxz = -ops.reshape(ops.sum(per_pixel, axis=(1, 2, 3)), (-1, k))  # (B, K)
        log_prior = self.log_prior(z)
        log_q = -0.5 * ops.sum(_LOG_2PI + z_log_var[:, None, :] + ops.square(eps), axis=-1)
        log_w = log_pxz + self.vae_config.beta * (log_prior - log_q)
        bound = ops.logsumexp(log_w, axis=1) - math.log(k)
        if self.prior is None:
            kl = ops.mean(
                -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)
            )
        else:  # against a mixture: the K draws' estimate
            kl = ops.mean(log_q - log_prior)
        recon = ops.sigmoid(logits)
        mse = ops.mean(ops.square(recon - target))
        terms = {"reconstruction_loss": -ops.mean(log_pxz), "kl_loss": kl, "mse": mse}
        total = -ops.mean(bound)
        if self.heads and labels is not None:
            sup = self._supervised_loss(z[:, 0, :], labels)
            terms["supervised_loss"] = sup
            total = total + self.vae_config.supervise_weight * sup
        terms["loss"] = total
        # The first draw's logits per image, in the batch's shape (for extra losses).
        first = ops.reshape(logits, (-1, k, *shape[1:]))[:, 0]
        return terms, first


def build_iwae(cfg: VAEConfig, samples: int) -> IWAE:
    vae = IWAE(cfg, samples)
    vae.build()
    return vae
