"""The keras.datasets names (mnist, fashion_mnist): the keras cache, a download only when missing."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from ..errors import DataError
from ..extras import has_extra
from .datasets import ArrayDataset
from .formats import read_idx, read_npz
from .labels import class_labels

KERAS_NAMES = ("mnist", "fashion_mnist")


def keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def load_keras_dataset(name: str) -> ArrayDataset:
    """mnist / fashion_mnist: the keras cache first, a download only when it is missing."""
    cache = keras_cache_dir()
    if name == "mnist":
        target = cache / "mnist.npz"
        if not target.exists():
            _download_keras(name, target)
        return read_npz(target)
    folder = cache / "fashion-mnist"
    files = {
        "x_train": "train-images-idx3-ubyte.gz",
        "y_train": "train-labels-idx1-ubyte.gz",
        "x_test": "t10k-images-idx3-ubyte.gz",
        "y_test": "t10k-labels-idx1-ubyte.gz",
    }
    if not all((folder / f).exists() for f in files.values()):
        _download_keras(name, folder)
    arr = {k: read_idx(folder / f) for k, f in files.items()}
    ds = ArrayDataset(name, arr["x_train"], {"label": class_labels(arr["y_train"])})
    ds.test = ArrayDataset(name + "[test]", arr["x_test"], {"label": class_labels(arr["y_test"])})
    return ds


def _download_keras(name: str, target: Path) -> None:
    hint = (
        f"{name} is not in the keras cache and could not be downloaded; place the file at "
        f"{target} (or pass the path of a local .npz / IDX file instead of '{name}')"
    )
    if os.environ.get("CONCEPTVAE_OFFLINE"):
        raise DataError(hint)
    if not has_extra("train"):
        # Keras does the download; the plain install has no Keras.
        raise DataError(hint)
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(20)
    try:
        import keras

        getattr(keras.datasets, name).load_data()
    except Exception:  # noqa: BLE001 - any failure means "offline or unreachable"
        raise DataError(hint) from None
    finally:
        socket.setdefaulttimeout(old)

