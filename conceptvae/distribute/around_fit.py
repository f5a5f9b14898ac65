"""Around Keras's fit under a strategy: the two Keras 3 faults stepped around,
validation on the chief alone, the global batch checked and sharded per worker."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ..errors import ConceptVAEError, param
from .cluster import Cluster
from .lost import failures


@contextlib.contextmanager
def fitting(cluster: Cluster | None, vae) -> Iterator[None]:  # noqa: ANN001
    """Around ``vae.fit``: a lost worker becomes one error. Under
    MultiWorkerMirroredStrategy it also steps around two Keras 3 faults
    (keras-team/keras#20585): the symbolic build averages a first batch over
    the replicas (the VAE is built already, so it is skipped: with no strategy
    of its own the model takes the one whose scope is entered), and the step's
    scalar logs are averaged along an axis they lack (each gets one)."""
    if cluster is None or cluster.workers == 1:
        with failures(cluster):
            yield
        return
    own, step = vae._distribute_strategy, vae.train_step

    def train_step(data):  # noqa: ANN001, ANN202
        return {name: tf.reshape(value, (1,)) for name, value in step(data).items()}

    vae._distribute_strategy, vae.train_step = None, train_step
    try:
        with failures(cluster), cluster.strategy.scope():
            yield
    finally:
        vae._distribute_strategy = own
        del vae.train_step


class ChiefValidation(keras.callbacks.Callback):
    """Validation on the chief alone, on a plain copy of the weights: the same
    batches, noise and mean of batch means as Keras's own validation on one
    device, without splitting a small held-out set over the replicas."""

    def __init__(self, plain, source) -> None:  # noqa: ANN001
        super().__init__()
        self.plain, self.source = plain, source

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is None:
            return
        self.plain.set_weights(self.model.network_weights())
        values: dict[str, list[float]] = {}
        for x_in, x, eps, y in self.source.epoch(0):
            terms = self.plain.losses_for(x_in, x, eps, y)
            for name, value in terms.items():
                values.setdefault(name, []).append(float(value))
        for metric in self.plain.metrics:
            if metric.name in values:
                logs[f"val_{metric.name}"] = float(np.mean(values[metric.name]))


def check_batch(cluster: Cluster, batch_size: int, train_images: int) -> None:
    if batch_size % cluster.replicas:
        raise ConceptVAEError(
            f"{param('batch_size')} {batch_size} (the global batch) must be a multiple of the "
            f"{cluster.replicas} replicas"
        )
    if train_images < batch_size:
        raise ConceptVAEError(
            f"{param('batch_size')} {batch_size} exceeds the {train_images} training images; distributed "
            "epochs hold whole global batches only"
        )


def dataset(cluster: Cluster, source: Any, start: int, stop: int):  # noqa: ANN401, ANN201
    """Epochs [start, stop) of ``source`` as a distributed dataset: each worker
    loads its replicas' slices of every global batch, nothing more."""
    local = cluster.local_replicas

    def per_worker(ctx: tf.distribute.InputContext):  # noqa: ANN202
        first = ctx.input_pipeline_id * local
        return source.tf_dataset(start, stop, parts=(first, local, cluster.replicas))

    options = tf.distribute.InputOptions(experimental_fetch_to_device=True)
    return cluster.strategy.distribute_datasets_from_function(per_worker, options)
