"""Datasets: image folders (+ labels CSV), .npz, IDX and keras.datasets names.

Every command reads data through :func:`open_dataset`. A dataset knows its
length, its label columns and how to produce uint8 batches at the model's size
and channels. Folder datasets decode lazily, batch by batch, so a folder of a
million images is never held in memory; array datasets are already in memory.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import DataError, param
from ..images import IMAGE_SUFFIXES, native_size_and_channels
from .datasets import DEFAULT_MAX_SIZE, ArrayDataset, Dataset, FolderDataset
from .formats import idx_labels_for, read_idx, read_npz
from .keras_names import KERAS_NAMES, keras_cache_dir, load_keras_dataset
from .labels import FILE_COLUMNS, find_images, labels_from_y, read_labels_csv
from .stored import StoredArray

__all__ = [
    "DEFAULT_MAX_SIZE", "FILE_COLUMNS", "KERAS_NAMES", "ArrayDataset", "Dataset", "FolderDataset",
    "StoredArray", "find_images", "keras_cache_dir", "load_keras_dataset", "open_dataset",
    "read_idx", "read_labels_csv", "read_npz", "split_indices",
]  # fmt: skip


def open_dataset(
    spec: str | os.PathLike,
    labels: str | os.PathLike | None = None,
    image_size: int | None = None,
    channels: int | None = None,
) -> Dataset:
    """Open any supported data source, converted to ``image_size`` x ``channels``.

    ``spec`` is an image folder, a .npz file, an IDX file (raw or .gz), or one of
    the names ``mnist`` / ``fashion_mnist``. ``labels`` is a CSV for folders.
    Unset size and channels are taken from the data (size capped at 64).
    """
    spec_str = os.fspath(spec)
    path = Path(spec_str)
    if spec_str in KERAS_NAMES and not path.exists():
        ds: Dataset = load_keras_dataset(spec_str)
    elif path.is_dir():
        ds = _open_folder(path, Path(labels) if labels else None, image_size, channels)
    elif not path.exists():
        raise DataError(
            "no such file or folder (expected an image folder, .npz, IDX file, "
            f"or one of {', '.join(KERAS_NAMES)})",
            path,
        )
    elif path.suffix.lower() == ".npz":
        ds = read_npz(path)
    elif "idx" in path.name.lower() or path.suffix.lower() in (".gz", ".ubyte"):
        images = read_idx(path)
        label_path = idx_labels_for(path)
        y = read_idx(label_path) if label_path else None
        ds = ArrayDataset(str(path), images, labels_from_y(y, len(images), str(label_path)))
    elif path.suffix.lower() in IMAGE_SUFFIXES:
        raise DataError("is a single image; training and concepts need a folder of images", path)
    else:
        raise DataError("unrecognised data format (expected a folder, .npz or IDX file)", path)
    if labels and not isinstance(ds, FolderDataset):
        raise DataError(
            f"{param('labels')} applies to image folders; this source carries its own labels",
            labels,
        )
    size = image_size or ds.image_size
    chans = channels or ds.channels
    if (size, chans) != (ds.image_size, ds.channels):
        ds = ds.with_format(size, chans)
    elif ds.test is not None:
        ds.test = ds.test.with_format(size, chans)
    return ds


def _open_folder(
    root: Path, labels: Path | None, image_size: int | None, channels: int | None
) -> FolderDataset:
    if labels is None and (root / "labels.csv").is_file():
        labels = root / "labels.csv"
    if labels is not None:
        paths, columns = read_labels_csv(labels, root)
    else:
        paths, columns = find_images(root), {}
    if not paths:
        raise DataError(
            f"no images found (looked for {', '.join(IMAGE_SUFFIXES)}, recursively)", root
        )
    if image_size is None or channels is None:
        native, native_c = native_size_and_channels(paths[0])
        image_size = image_size or min(native, DEFAULT_MAX_SIZE)
        channels = channels or native_c
    return FolderDataset(root, paths, columns, image_size, channels, labels)


def split_indices(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded (train, held-out) split of range(n)."""
    if not 0.0 <= fraction < 1.0:
        raise DataError(f"split fraction must be in [0, 1), got {fraction}")
    order = np.random.default_rng(seed).permutation(n)
    k = int(round(n * fraction))
    if fraction > 0 and n >= 2:
        k = min(max(k, 1), n - 1)
    return np.sort(order[k:]), np.sort(order[:k])
