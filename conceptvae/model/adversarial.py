"""VAE-GAN training (Larsen et al. 2016): a patch discriminator sharpens the decoder.

Pixel losses average over every face that could have produced a latent, so
decoded faces come out soft; a discriminator that tells photographs from
reconstructions, patch by patch, penalises exactly that softness. After
``start_step`` optimizer steps (the VAE first learns faces on its own; a
discriminator from the first step only teaches it texture), the decoder gets
two extra terms:

* the non-saturating adversarial loss on its reconstructions, and
* feature matching: the mean absolute difference between the discriminator's
  intermediate features of the photograph and of its reconstruction (a learned
  similarity metric, which is what keeps the person rather than any sharp face).

Their sum is scaled, as in VQGAN (Esser et al. 2021), by ``weight`` times the
ratio of the gradient norms of the reconstruction loss and of the extra terms
at the decoder's last layer, so ``weight`` means "this fraction of the pixel
loss's pull" whatever the loss units; a fixed scale let the adversarial term
swamp the reconstruction (every face drew the same texture).

The discriminator is a training-only part: it is not in ``model.weights.h5``,
the fingerprint, the parameter count or the LiteRT files; its weights and its
optimizer's state live in ``checkpoint.npz`` (arrays) so ``--resume`` is exact.
"""

from __future__ import annotations

from ..config import VAEConfig
from .network import VAE, keras, layers, ops

# The discriminator's own Adam: the usual GAN settings (Radford et al. 2016).
D_LEARNING_RATE = 2e-4
D_BETA_1 = 0.5
# Bounds on the adaptive scale (VQGAN clamps it to [0, 1e4] too).
MAX_SCALE = 1e4


def build_discriminator(cfg: VAEConfig) -> keras.Model:
    """Image -> (features of each conv, patch logits). Three stride-2 convs give
    each logit a receptive field of about a sixth of a 64-pixel face: a mouth."""
    x_in = keras.Input(cfg.input_shape, name="image")
    h, feats = x_in, []
    for i, f in enumerate((32, 64, 128)):
        h = layers.Conv2D(f, 4, strides=2, padding="same", name=f"d_conv{i}")(h)
        h = layers.LeakyReLU(0.2, name=f"d_act{i}")(h)
        feats.append(h)
    logits = layers.Conv2D(1, 3, padding="same", name="d_logits")(h)
    return keras.Model(x_in, [*feats, logits], name="discriminator")


@keras.saving.register_keras_serializable(package="conceptvae")
class AdversarialVAE(VAE):
    """A :class:`VAE` trained with a patch discriminator; ``adversarial_weight`` scales
    the decoder's adversarial and feature-matching terms."""

    def __init__(
        self,
        vae_config: dict | VAEConfig,
        adversarial_weight: float = 0.1,
        start_step: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(vae_config, **kwargs)
        self.adversarial_weight = float(adversarial_weight)
        self.start_step = int(start_step)
        self.discriminator = build_discriminator(self.vae_config)
        self.adv_tracker = keras.metrics.Mean(name="adversarial_loss")
        self.fm_tracker = keras.metrics.Mean(name="feature_loss")
        self.d_tracker = keras.metrics.Mean(name="discriminator_loss")
        self.scale_tracker = keras.metrics.Mean(name="adversarial_scale")
        # Kept out of Keras' attribute tracking: its variables are not model weights.
        object.__setattr__(
            self, "_d_optimizer",
            keras.optimizers.Adam(learning_rate=D_LEARNING_RATE, beta_1=D_BETA_1),
        )  # fmt: skip

    @property
    def d_optimizer(self):  # noqa: ANN201
        return self._d_optimizer

    def get_config(self) -> dict:
        return {**super().get_config(), "adversarial_weight": self.adversarial_weight,
                "start_step": self.start_step}  # fmt: skip

    @property
    def metrics(self) -> list:
        return [*super().metrics, self.adv_tracker, self.fm_tracker, self.d_tracker,
                self.scale_tracker]  # fmt: skip

    def _adversarial_terms(self, x_target, logits) -> dict:  # noqa: ANN001
        recon = ops.sigmoid(logits)
        *real_feats, real_logits = self.discriminator(x_target, training=True)
        *fake_feats, fake_logits = self.discriminator(recon, training=True)
        adv = ops.mean(ops.softplus(-fake_logits))
        fm = sum(
            ops.mean(ops.abs(ops.stop_gradient(r) - f)) for r, f in zip(real_feats, fake_feats)
        ) / len(real_feats)
        # Differentiated only with respect to the discriminator's variables.
        d_loss = ops.mean(ops.softplus(-real_logits)) + ops.mean(ops.softplus(fake_logits))
        return {"adversarial_loss": adv, "feature_loss": fm, "discriminator_loss": d_loss}

    def train_step(self, data):  # noqa: ANN001, ANN201
        import tensorflow as tf

        x_in, x_target, eps, labels = data
        with tf.GradientTape(persistent=True) as tape:
            terms, logits = self.losses_and_logits(x_in, x_target, eps, labels, training=True)
            extra = self._adversarial_terms(x_target, logits)
            g_extra = extra["adversarial_loss"] + extra["feature_loss"]
        last = self.decoder.get_layer("logits").kernel
        rec_norm = tf.norm(tape.gradient(terms["reconstruction_loss"], last))
        extra_norm = tf.norm(tape.gradient(g_extra, last))
        on = tf.cast(self.optimizer.iterations >= self.start_step, "float32")
        scale = on * tf.clip_by_value(rec_norm / (extra_norm + 1e-4), 0.0, MAX_SCALE)
        scale = tf.stop_gradient(self.adversarial_weight * scale)
        with tape:  # recorded too, so one backward pass serves the sum
            g_loss = terms["loss"] + scale * g_extra
        g_vars = self.generator_variables
        self.optimizer.apply(tape.gradient(g_loss, g_vars), g_vars)
        d_vars = self.discriminator.trainable_variables
        self.d_optimizer.apply(tape.gradient(extra["discriminator_loss"], d_vars), d_vars)
        del tape
        self.scale_tracker.update_state(scale)
        self.adv_tracker.update_state(extra["adversarial_loss"])
        self.fm_tracker.update_state(extra["feature_loss"])
        self.d_tracker.update_state(extra["discriminator_loss"])
        return self._track(terms)

    def test_step(self, data):  # noqa: ANN001, ANN201
        x_in, x_target, eps, labels = data
        terms, logits = self.losses_and_logits(x_in, x_target, eps, labels)
        extra = self._adversarial_terms(x_target, logits)
        self.adv_tracker.update_state(extra["adversarial_loss"])
        self.fm_tracker.update_state(extra["feature_loss"])
        self.d_tracker.update_state(extra["discriminator_loss"])
        return self._track(terms)


def build_adversarial_vae(cfg: VAEConfig, weight: float, start_step: int = 0) -> AdversarialVAE:
    vae = AdversarialVAE(cfg, weight, start_step)
    vae.build()
    return vae
