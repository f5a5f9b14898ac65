"""The seed: F. Chollet's latent-2 conv VAE ("Deep Learning with Python", 1st ed., 2017, 8.4),
ported to Keras 3 as the reference for benchmarks/time_to_quality.py.

It is a benchmark reference, not part of conceptvae. Two deliberate changes from the book:
the sampling is the correct z = mean + exp(0.5 * log_var) * eps (the book's Lambda used
exp(log_var)), and the loss is the textbook ELBO (BCE summed over pixels + KL summed over
latent dimensions, both averaged over the batch) instead of the book's per-pixel mean BCE plus
a 5e-4-weighted KL. Everything else follows the book: the layers, sigmoid outputs, RMSprop with
Keras defaults, batch 16, 10 epochs, shuffled numpy input.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers, ops  # noqa: E402

IMG_SHAPE = (28, 28, 1)
LATENT_DIM = 2
BATCH_SIZE = 16
EPOCHS = 10


def load_mnist(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(x_train, x_test) as float32 in [0, 1], shape (n, 28, 28, 1)."""
    with np.load(path, allow_pickle=False) as npz:
        x_train, x_test = npz["x_train"], npz["x_test"]
    scale = np.float32(1 / 255)
    return (
        x_train.astype(np.float32)[..., None] * scale,
        x_test.astype(np.float32)[..., None] * scale,
    )


def build_encoder() -> keras.Model:
    x_in = keras.Input(IMG_SHAPE, name="image")
    h = layers.Conv2D(32, 3, padding="same", activation="relu")(x_in)
    h = layers.Conv2D(64, 3, padding="same", activation="relu", strides=(2, 2))(h)
    h = layers.Conv2D(64, 3, padding="same", activation="relu")(h)
    h = layers.Conv2D(64, 3, padding="same", activation="relu")(h)
    h = layers.Flatten()(h)
    h = layers.Dense(32, activation="relu")(h)
    z_mean = layers.Dense(LATENT_DIM, name="z_mean")(h)
    z_log_var = layers.Dense(LATENT_DIM, name="z_log_var")(h)
    return keras.Model(x_in, [z_mean, z_log_var], name="seed_encoder")


def build_decoder() -> keras.Model:
    z_in = keras.Input((LATENT_DIM,), name="z")
    h = layers.Dense(14 * 14 * 64, activation="relu")(z_in)
    h = layers.Reshape((14, 14, 64))(h)
    h = layers.Conv2DTranspose(32, 3, padding="same", activation="relu", strides=(2, 2))(h)
    x_out = layers.Conv2D(1, 3, padding="same", activation="sigmoid")(h)
    return keras.Model(z_in, x_out, name="seed_decoder")


class SeedVAE(keras.Model):
    """Encoder + sampling + decoder; ``call`` reconstructs from the posterior mean."""

    def __init__(self, seed: int = 0, **kwargs) -> None:  # noqa: ANN003
        super().__init__(**kwargs)
        self.encoder = build_encoder()
        self.decoder = build_decoder()
        self.noise = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self) -> list:
        return [self.loss_tracker]

    def call(self, x, training: bool = False):  # noqa: ANN001, ANN201
        z_mean, _ = self.encoder(x, training=training)
        return self.decoder(z_mean, training=training)

    def train_step(self, data):  # noqa: ANN001, ANN201
        import tensorflow as tf

        x = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            z_mean, z_log_var = self.encoder(x, training=True)
            eps = keras.random.normal(ops.shape(z_mean), seed=self.noise)
            z = z_mean + ops.exp(0.5 * z_log_var) * eps
            x_hat = self.decoder(z, training=True)
            # Elementwise BCE on probabilities, as keras.losses.binary_crossentropy computes it.
            bce = ops.sum(ops.binary_crossentropy(x, x_hat), axis=(1, 2, 3))
            kl = -0.5 * ops.sum(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)
            loss = ops.mean(bce + kl)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply(grads, self.trainable_weights)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


def build_seed_vae(seed: int = 0) -> SeedVAE:
    keras.utils.set_random_seed(seed)
    vae = SeedVAE(seed)
    vae.compile(optimizer=keras.optimizers.RMSprop())
    return vae


def test_mse(vae: SeedVAE, x_test: np.ndarray, batch: int = 500) -> float:
    """Per-pixel MSE of reconstructions from the posterior mean."""
    total = 0.0
    for s in range(0, len(x_test), batch):
        xb = x_test[s : s + batch]
        recon = np.asarray(vae(xb))
        total += float(np.sum((recon - xb) ** 2, dtype=np.float64))
    return total / x_test.size
