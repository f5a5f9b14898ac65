"""Seeded batches: every source of randomness is a function of (seed, epoch, batch).

The order of the examples, the reparameterisation noise, the --denoise
corruption and the flips, so a resumed run follows the trajectory it would have.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..data import Dataset, FolderDataset
from ..errors import ConceptVAEError, param

# Decoded training images are kept in memory below this size; above it they are
# streamed from disk every epoch.
CACHE_BYTES = 1 << 30


def rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, *keys])


class BatchSource:
    """Seeded batches of (x_in, x_target, eps) for one split of a dataset."""

    def __init__(
        self,
        dataset: Dataset,
        indices: np.ndarray,
        batch_size: int,
        latent_dim: int,
        seed: int,
        denoise: float = 0.0,
        shuffle: bool = True,
        cache: np.ndarray | None = None,
        labels: np.ndarray | None = None,
        flip: bool = False,
    ) -> None:
        self.dataset = dataset
        self.indices = indices
        self.batch_size = batch_size
        self.latent_dim = latent_dim
        self.seed = seed
        self.denoise = denoise
        self.shuffle = shuffle
        self.cache = cache  # uint8 images for exactly `indices`, in that order
        self.flip = flip  # mirror a seeded half of each batch (left-right)
        self._orders: dict[int, np.ndarray] = {}
        self.drop_remainder = False  # distributed epochs hold whole global batches only
        self.binarize = False  # --binarize: a fresh Bernoulli draw of the pixels per batch
        # (len(indices), heads) int32 codes for --supervise, -1 unknown
        self.labels = np.zeros((len(indices), 0), np.int32) if labels is None else labels

    def __len__(self) -> int:
        if self.drop_remainder:
            return len(self.indices) // self.batch_size
        return -(-len(self.indices) // self.batch_size)

    def batch(
        self, epoch: int, b: int, part: tuple[int, int] | None = None
    ) -> tuple[np.ndarray, ...]:
        """Batch ``b`` of ``epoch``: a pure function of (seed, epoch, b). ``part``
        (k, n) is the k-th of n equal slices of it (one replica's share)."""
        order = self._order(epoch)
        pos = order[b * self.batch_size : (b + 1) * self.batch_size]
        whole, rows = len(pos), slice(None)
        if part is not None:
            size = whole // part[1]
            rows = slice(part[0] * size, (part[0] + 1) * size)
            pos = pos[rows]
        if self.cache is not None:
            raw = self.cache[pos]
        else:
            # Read in file order (streamed reads seek less), then put back in batch order:
            # row i must be image pos[i], whose label and noise row i carry.
            order = np.argsort(pos, kind="stable")
            loaded = self.dataset.load(self.indices[pos[order]])
            raw = np.empty_like(loaded)
            raw[order] = loaded
        x = raw.astype(np.float32) * np.float32(1 / 255)
        if self.flip:
            mirror = rng(self.seed, 6, epoch, b).random(whole)[rows] < 0.5
            x[mirror] = x[mirror, :, ::-1]
        if self.binarize:
            x = (rng(self.seed, 7, epoch, b).random((whole, *x.shape[1:]), np.float32)[rows] < x)
            x = x.astype(np.float32)
        # Noise is drawn for the whole global batch, so a slice sees what it would on one device.
        eps = rng(self.seed, 2, epoch, b).standard_normal((whole, self.latent_dim), np.float32)
        eps = eps[rows]
        x_in = x
        if self.denoise > 0:
            noise = rng(self.seed, 3, epoch, b).standard_normal((whole, *x.shape[1:]), np.float32)
            noise = noise[rows]
            x_in = np.clip(x + np.float32(self.denoise) * noise, 0.0, 1.0)
        return x_in, x, eps, self.labels[pos]

    def _order(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(len(self.indices))
        cached = self._orders.get(epoch)
        if cached is None:
            cached = rng(self.seed, 1, epoch).permutation(len(self.indices))
            self._orders = {epoch: cached}  # batches arrive in epoch order
        return cached

    def epoch(self, epoch: int) -> Iterator[tuple[np.ndarray, ...]]:
        for b in range(len(self)):
            yield self.batch(epoch, b)

    def tf_dataset(
        self,
        start: int,
        stop: int,
        repeat_same: bool = False,
        parts: tuple[int, int, int] | None = None,
    ):  # noqa: ANN201
        """Batches for epochs [start, stop) as one stream (Keras keeps one iterator
        across epochs when steps_per_epoch is set); ``repeat_same`` repeats epoch 0.
        ``parts`` (first, count, total): slices first..first+count-1 of ``total`` of
        each batch, one after another (a worker's replicas under tf.distribute)."""
        import tensorflow as tf

        nb = len(self)
        shape = (None, *self.dataset.shape)
        count = 1 if parts is None else parts[1]

        def make(i):  # noqa: ANN001, ANN202
            step, j = divmod(int(i), count)
            epoch, b = (0, step % nb) if repeat_same else divmod(step, nb)
            return self.batch(epoch, b, None if parts is None else (parts[0] + j, parts[2]))

        def load(step):  # noqa: ANN001, ANN202
            types = [tf.float32] * 3 + [tf.int32]
            x_in, x, eps, y = tf.numpy_function(make, [step], types, stateful=False)
            x_in.set_shape(shape)
            x.set_shape(shape)
            eps.set_shape((None, self.latent_dim))
            y.set_shape((None, self.labels.shape[1]))
            return x_in, x, eps, y

        steps = tf.data.Dataset.range(start * nb * count, stop * nb * count)
        if repeat_same:
            steps = tf.data.Dataset.range(nb * count).repeat()
        return steps.map(load, num_parallel_calls=2, deterministic=True).prefetch(4)


def _natural_key(value: str) -> tuple:
    return (0, float(value), value) if _is_number(value) else (1, 0.0, value)


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def supervision_spec(dataset: Dataset, columns: list[str]) -> list[dict[str, Any]]:
    """The heads for --supervise: one per label column, class or 0/1 attribute."""
    spec = []
    for column in columns:
        values = dataset.label_column(column)
        if values.dtype.kind == "i":
            known = values[values >= 0]
            if len(np.unique(known)) < 2:
                raise ConceptVAEError(
                    f"{param('supervise')} {column}: needs both 0 and 1 labels", dataset.name
                )
            spec.append({"column": column, "kind": "attribute"})
        else:
            classes = sorted({str(v) for v in values if v != ""}, key=_natural_key)
            if len(classes) < 2:
                raise ConceptVAEError(
                    f"{param('supervise')} {column}: needs at least 2 classes", dataset.name
                )
            spec.append({"column": column, "kind": "class", "classes": classes})
    return spec


def label_codes(dataset: Dataset, spec: list[dict[str, Any]]) -> np.ndarray:
    """(N, heads) int32: class index or 0/1, -1 where the label is unknown."""
    codes = np.full((len(dataset), len(spec)), -1, np.int32)
    for i, head in enumerate(spec):
        values = dataset.label_column(head["column"])
        if head["kind"] == "attribute":
            codes[:, i] = values.astype(np.int32)
        else:
            index = {c: k for k, c in enumerate(head["classes"])}
            codes[:, i] = [index.get(str(v), -1) for v in values]
    return codes


def cache_split(dataset: Dataset, indices: np.ndarray) -> np.ndarray | None:
    """Decode a split once when it fits the cache budget (streamed, batch by batch)."""
    nbytes = len(indices) * int(np.prod(dataset.shape))
    if nbytes > CACHE_BYTES:
        return None
    if not isinstance(dataset, FolderDataset):
        return dataset.load(indices)
    out = np.empty((len(indices), *dataset.shape), np.uint8)
    for start in range(0, len(indices), 512):
        out[start : start + 512] = dataset.load(indices[start : start + 512])
    return out

