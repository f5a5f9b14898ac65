"""The Keras 3 VAE: encoder, decoder and the loss, built only from a VAEConfig.

Imported only for training, export and the Keras backend: it pulls in
TensorFlow. The decoder network emits logits; :meth:`VAE.decode` and the
exported graphs apply the sigmoid, and the BCE loss works on logits for
numerical stability.
"""

from __future__ import annotations

import math

from ..config import VAEConfig
from .quiet import import_tensorflow

import_tensorflow()

import keras  # noqa: E402
from keras import layers, ops  # noqa: E402

_LOG_2PI = math.log(2.0 * math.pi)


def _act(cfg: VAEConfig) -> str | layers.Layer:
    return "leaky_relu" if cfg.activation == "leaky_relu" else cfg.activation


def build_encoder(cfg: VAEConfig) -> keras.Model:
    x_in = keras.Input(cfg.input_shape, name="image")
    h = x_in
    if cfg.arch == "conv":
        for i, f in enumerate(cfg.filters):
            h = layers.Conv2D(
                f, 3, strides=2, padding="same", activation=_act(cfg), name=f"conv{i}"
            )(h)
            for j in range(cfg.blocks):
                h = layers.Conv2D(f, 3, padding="same", activation=_act(cfg), name=f"conv{i}_{j}")(
                    h
                )
    h = layers.Flatten(name="flatten")(h)
    for i, units in enumerate(cfg.hidden):
        h = layers.Dense(units, activation=_act(cfg), name=f"dense{i}")(h)
    z_mean = layers.Dense(cfg.latent_dim, name="z_mean")(h)
    z_log_var = layers.Dense(cfg.latent_dim, name="z_log_var")(h)
    return keras.Model(x_in, [z_mean, z_log_var], name="encoder")


def build_decoder(cfg: VAEConfig) -> keras.Model:
    """Mirror of the encoder; outputs logits."""
    z_in = keras.Input((cfg.latent_dim,), name="z")
    h = z_in
    for i, units in enumerate(reversed(cfg.hidden)):
        h = layers.Dense(units, activation=_act(cfg), name=f"dense{i}")(h)
    if cfg.arch == "conv":
        side = cfg.image_size // 2 ** len(cfg.filters)
        h = layers.Dense(side * side * cfg.filters[-1], activation=_act(cfg), name="project")(h)
        h = layers.Reshape((side, side, cfg.filters[-1]), name="unflatten")(h)
        # Each transposed conv undoes one encoder conv: filters[i] -> filters[i-1].
        # With blocks, the last one keeps filters[0] channels at full resolution
        # and a final conv maps them to pixel logits.
        for i in reversed(range(len(cfg.filters))):
            for j in range(cfg.blocks):
                h = layers.Conv2D(
                    cfg.filters[i], 3, padding="same", activation=_act(cfg), name=f"deconv{i}_{j}"
                )(h)
            last = i == 0 and cfg.blocks == 0
            if cfg.upsample == "resize":
                h = layers.UpSampling2D(2, interpolation="nearest", name=f"up{i}")(h)
            up = layers.Conv2D if cfg.upsample == "resize" else layers.Conv2DTranspose
            h = up(
                cfg.channels if last else cfg.filters[max(i - 1, 0)],
                3,
                strides=1 if cfg.upsample == "resize" else 2,
                padding="same",
                activation=None if last else _act(cfg),
                name="logits" if last else f"deconv{i}",
            )(h)
        if cfg.blocks:
            h = layers.Conv2D(cfg.channels, 3, padding="same", name="logits")(h)
    else:
        h = layers.Dense(cfg.image_size * cfg.image_size * cfg.channels, name="logits")(h)
        h = layers.Reshape(cfg.input_shape, name="unflatten")(h)
    return keras.Model(z_in, h, name="decoder")


@keras.saving.register_keras_serializable(package="conceptvae")
class MixturePrior(layers.Layer):
    """A learned prior p(z): a mixture of ``components`` diagonal Gaussians.

    Its weights are the means and log-variances (C, D) and the logits of the
    mixture weights (C,); :meth:`log_prob` is log p(z) for z (..., D). The numpy
    twin, :class:`conceptvae.model.prior.GaussianMixture`, is what a model
    directory's prior.npz holds.
    """

    def __init__(self, components: int, latent_dim: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.components, self.latent_dim = int(components), int(latent_dim)
        # Spread like draws from N(0, I), so a fresh mixture starts close to it.
        self.means = self.add_weight(
            shape=(self.components, self.latent_dim), name="means",
            initializer=keras.initializers.RandomNormal(stddev=1.0),
        )  # fmt: skip
        self.log_vars = self.add_weight(
            shape=(self.components, self.latent_dim), name="log_vars", initializer="zeros"
        )
        self.logits = self.add_weight(shape=(self.components,), name="logits", initializer="zeros")

    def get_config(self) -> dict:
        return {**super().get_config(), "components": self.components,
                "latent_dim": self.latent_dim}  # fmt: skip

    def log_prob(self, z):  # noqa: ANN001, ANN201
        z = ops.cast(z, "float32")
        inv_var = ops.exp(-self.log_vars)
        # sum_d (z - m)^2 / v expanded into two matrix products: no (..., C, D) array.
        const = -0.5 * ops.sum(_LOG_2PI + self.log_vars + ops.square(self.means) * inv_var, -1)
        per = (
            const
            - 0.5 * ops.matmul(ops.square(z), ops.transpose(inv_var))
            + ops.matmul(z, ops.transpose(self.means * inv_var))
        )  # (..., C)
        return ops.logsumexp(per + ops.log_softmax(self.logits), axis=-1)

    def call(self, z):  # noqa: ANN001, ANN201
        return self.log_prob(z)


def log_standard_normal(z):  # noqa: ANN001, ANN201
    """log N(z; 0, I) summed over the last axis."""
    return -0.5 * ops.sum(_LOG_2PI + ops.square(z), axis=-1)


@keras.saving.register_keras_serializable(package="conceptvae")
class VAE(keras.Model):
    """A variational autoencoder; ``beta=0`` makes it a plain autoencoder.

    Training batches are ``(x_in, x_target, eps, labels)``: the noise for the
    reparameterisation comes with the data, from a generator seeded by
    (seed, epoch, batch), so an interrupted run resumes onto exactly the same
    trajectory as an uninterrupted one.
    """

    def __init__(self, vae_config: dict | VAEConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        cfg = vae_config if isinstance(vae_config, VAEConfig) else VAEConfig.from_dict(vae_config)
        self.vae_config = cfg
        self.encoder = build_encoder(cfg)
        self.decoder = build_decoder(cfg)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.recon_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")
        self.mse_tracker = keras.metrics.Mean(name="mse")
        self.sup_tracker = keras.metrics.Mean(name="supervised_loss")
        # Linear heads on z for --supervise; built now so weight order is fixed.
        self.heads = []
        for i, head in enumerate(cfg.supervise):
            units = len(head["classes"]) if head["kind"] == "class" else 1
            layer = layers.Dense(units, name=f"head{i}")
            layer.build((None, cfg.latent_dim))
            self.heads.append(layer)
        self.prior = (
            MixturePrior(cfg.prior_components, cfg.latent_dim, name="prior")
            if cfg.prior_components
            else None
        )

    def log_prior(self, z):  # noqa: ANN001, ANN201
        """log p(z) for z (..., D): the learned mixture, or the standard normal."""
        return log_standard_normal(z) if self.prior is None else self.prior.log_prob(z)

    def get_config(self) -> dict:
        return {**super().get_config(), "vae_config": self.vae_config.to_dict()}

    @classmethod
    def from_config(cls, config: dict) -> VAE:
        return cls(**config)

    def build(self, input_shape=None) -> None:  # noqa: ANN001 - Keras signature
        self.built = True

    @property
    def metrics(self) -> list:
        trackers = [self.loss_tracker, self.recon_tracker, self.kl_tracker, self.mse_tracker]
        return trackers + ([self.sup_tracker] if self.heads else [])

    def call(self, x, training: bool = False):  # noqa: ANN001, ANN201
        z_mean, _ = self.encoder(x, training=training)
        return ops.sigmoid(self.decoder(z_mean, training=training))

    def losses_for(self, x_in, x_target, eps, labels=None, training: bool = False) -> dict:  # noqa: ANN001
        """Per-batch loss terms: sums over pixels / latent dims, means over the batch.

        ``labels`` (B, heads) int32, -1 unknown, feeds the --supervise heads.
        """
        return self.losses_and_logits(x_in, x_target, eps, labels, training)[0]

    def losses_and_logits(self, x_in, x_target, eps, labels=None, training: bool = False):  # noqa: ANN001, ANN201
        """:meth:`losses_for` and the decoder's logits for the batch (for extra losses)."""
        z_mean, z_log_var = self.encoder(x_in, training=training)
        # Losses in float32 whatever the compute dtype (--mixed-precision: float16).
        z_mean, z_log_var = ops.cast(z_mean, "float32"), ops.cast(z_log_var, "float32")
        z = z_mean + ops.exp(0.5 * z_log_var) * eps
        logits = ops.cast(self.decoder(z, training=training), "float32")
        recon = ops.sigmoid(logits)
        if self.vae_config.recon_loss != "mse":  # bce, bernoulli: the same cross-entropy
            per_pixel = ops.softplus(logits) - x_target * logits
        else:
            per_pixel = ops.square(recon - x_target)
        rec = ops.mean(ops.sum(per_pixel, axis=(1, 2, 3)))
        if self.prior is None:
            kl = ops.mean(
                -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)
            )
        else:
            # No closed form against a mixture: the one-draw estimate log q(z|x) - log p(z).
            log_q = -0.5 * ops.sum(_LOG_2PI + z_log_var + ops.square(eps), axis=-1)
            kl = ops.mean(log_q - self.prior.log_prob(z))
        total = rec + self.vae_config.beta * kl
        mse = ops.mean(ops.square(recon - x_target))
        terms = {"reconstruction_loss": rec, "kl_loss": kl, "mse": mse}
        if self.heads and labels is not None:
            sup = self._supervised_loss(z, labels)
            terms["supervised_loss"] = sup
            total = total + self.vae_config.supervise_weight * sup
        terms["loss"] = total
        return terms, logits

    @property
    def network_layers(self) -> list:
        """What a model directory holds (training-only parts such as a discriminator
        are not among them), in the order of :meth:`get_weights` of a plain VAE."""
        prior = [] if self.prior is None else [self.prior]
        return [self.encoder, self.decoder, *self.heads, *prior]

    def network_weights(self) -> list:
        return [w for layer in self.network_layers for w in layer.get_weights()]

    @property
    def generator_variables(self) -> list:
        """The variables the main optimizer updates."""
        return [v for layer in self.network_layers for v in layer.trainable_variables]

    def _supervised_loss(self, z, labels):  # noqa: ANN001, ANN202
        """Mean cross-entropy (nats) of each head over the examples whose label is known."""
        total = 0.0
        for i, (head, spec) in enumerate(zip(self.heads, self.vae_config.supervise)):
            y = labels[:, i]
            known = ops.cast(y >= 0, "float32")
            logits = ops.cast(head(z), "float32")
            if spec["kind"] == "class":
                ce = keras.losses.sparse_categorical_crossentropy(
                    ops.maximum(y, 0), logits, from_logits=True
                )
            else:
                logit = logits[:, 0]
                ce = ops.softplus(logit) - ops.cast(ops.maximum(y, 0), "float32") * logit
            total = total + ops.sum(ce * known) / ops.maximum(ops.sum(known), 1.0)
        return total

    def _track(self, terms: dict) -> dict:
        self.loss_tracker.update_state(terms["loss"])
        self.recon_tracker.update_state(terms["reconstruction_loss"])
        self.kl_tracker.update_state(terms["kl_loss"])
        self.mse_tracker.update_state(terms["mse"])
        if "supervised_loss" in terms:
            self.sup_tracker.update_state(terms["supervised_loss"])
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):  # noqa: ANN001, ANN201
        import tensorflow as tf

        x_in, x_target, eps, labels = data
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            terms = self.losses_for(x_in, x_target, eps, labels, training=True)
            loss = terms["loss"]
            if replicas > 1:
                # Each replica holds an equal slice of the global batch and the
                # gradients are summed: 1/replicas makes it the global mean's.
                loss = loss / replicas
            # A no-op except under mixed precision (LossScaleOptimizer).
            loss = self.optimizer.scale_loss(loss)
        grads = tape.gradient(loss, self.generator_variables)
        self.optimizer.apply(grads, self.generator_variables)
        return self._track(terms)

    def test_step(self, data):  # noqa: ANN001, ANN201
        x_in, x_target, eps, labels = data
        return self._track(self.losses_for(x_in, x_target, eps, labels, training=False))


def build_vae(cfg: VAEConfig) -> VAE:
    vae = VAE(cfg)
    vae.build()
    return vae
