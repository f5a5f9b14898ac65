"""The dataset types: images plus label columns, as uint8 batches at a chosen size.

Folder datasets decode lazily, batch by batch, so a folder of a million images is
never held in memory; array datasets are in memory (or stored uncompressed in an
.npz and read on indexing, :class:`~conceptvae.data.stored.StoredArray`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataError
from ..images import load_image_uint8, to_square
from .stored import StoredArray

DEFAULT_MAX_SIZE = 64


class Dataset:
    """Images plus label columns. Subclasses implement :meth:`_load`.

    ``labels`` maps a column name to a 1-D array: int8 (0/1, -1 unknown) for
    attribute columns, str for class columns ("" unknown).
    """

    def __init__(
        self,
        name: str,
        keys: Sequence[str],
        labels: dict[str, np.ndarray],
        image_size: int,
        channels: int,
        test: Dataset | None = None,
    ) -> None:
        self.name = name
        self.keys = list(keys)
        self.labels = labels
        self.image_size = image_size
        self.channels = channels
        self.test = test

    def __len__(self) -> int:
        return len(self.keys)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.name!r}: {len(self)} images, labels={list(self.labels)}>"
        )

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.image_size, self.image_size, self.channels)

    def with_format(self, image_size: int, channels: int) -> Dataset:
        raise NotImplementedError

    def _load(self, indices: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def load(self, indices: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """uint8 array (k, size, size, channels) for the given indices (default: all)."""
        idx = np.arange(len(self)) if indices is None else np.asarray(indices, dtype=np.int64)
        if idx.size == 0:
            return np.zeros((0, *self.shape), np.uint8)
        return self._load(idx)

    def load_float(self, indices: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        return self.load(indices).astype(np.float32) / 255.0

    def iter_batches(
        self, batch_size: int, indices: Sequence[int] | np.ndarray | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (indices, uint8 batch) in order; memory is bounded by one batch."""
        idx = np.arange(len(self)) if indices is None else np.asarray(indices, dtype=np.int64)
        for start in range(0, len(idx), batch_size):
            chunk = idx[start : start + batch_size]
            yield chunk, self._load(chunk)

    def fingerprint(self) -> str:
        raise NotImplementedError

    def label_column(self, column: str) -> np.ndarray:
        if column not in self.labels:
            have = ", ".join(self.labels) or "none"
            raise DataError(f"no label column {column!r} (columns: {have})", self.name)
        return self.labels[column]


class ArrayDataset(Dataset):
    """Images held in memory as an array (N, H, W[, C]), uint8 or float in [0, 1]."""

    def __init__(
        self,
        name: str,
        images: np.ndarray,
        labels: dict[str, np.ndarray] | None = None,
        image_size: int | None = None,
        channels: int | None = None,
        test: ArrayDataset | None = None,
    ) -> None:
        images = _validate_image_array(images, name)
        native_c = 1 if images.ndim == 3 else images.shape[-1]
        native_s = min(images.shape[1:3])
        self.images = images
        super().__init__(
            name,
            [str(i) for i in range(len(images))],
            labels or {},
            image_size or min(native_s, DEFAULT_MAX_SIZE),
            channels or (1 if native_c == 1 else 3),
            test,
        )

    def with_format(self, image_size: int, channels: int) -> ArrayDataset:
        test = self.test.with_format(image_size, channels) if self.test is not None else None
        return ArrayDataset(self.name, self.images, self.labels, image_size, channels, test)

    def _load(self, indices: np.ndarray) -> np.ndarray:
        batch = self.images[indices]
        if batch.dtype != np.uint8:
            batch = (np.clip(batch.astype(np.float32), 0, 1) * 255 + 0.5).astype(np.uint8)
        if batch.ndim == 3:
            batch = batch[..., None]
        if batch.shape[1:3] != (self.image_size, self.image_size):
            batch = np.stack([_resize_array(im, self.image_size) for im in batch])
        c = batch.shape[-1]
        if c == self.channels:
            return batch
        if self.channels == 1:
            # ITU-R 601 luma, as Pillow's convert("L") does.
            rgb = batch[..., :3].astype(np.float32)
            gray = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
            return (gray + 0.5).astype(np.uint8)[..., None]
        return np.repeat(batch[..., :1], 3, axis=-1) if c == 1 else batch[..., :3]

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        h.update(str(self.images.shape).encode())
        # In chunks: the same digest as hashing the whole array, without a copy of it.
        for start in range(0, len(self.images), 4096):
            h.update(np.ascontiguousarray(self.images[start : start + 4096]).tobytes())
        for k in sorted(self.labels):
            h.update(k.encode())
            h.update(np.asarray(self.labels[k]).astype(str).tobytes())
        return "sha256:" + h.hexdigest()[:16]


def _resize_array(im: np.ndarray, size: int) -> np.ndarray:
    mode = "L" if im.shape[-1] == 1 else "RGB"
    pil = Image.fromarray(im[..., 0] if mode == "L" else im[..., :3], mode=mode)
    return np.asarray(to_square(pil, size), np.uint8).reshape(size, size, -1)


def _validate_image_array(images: np.ndarray | StoredArray, name: str) -> np.ndarray:
    if isinstance(images, StoredArray):
        # uint8 by construction: no values to check, and reading them would defeat the point.
        if images.ndim not in (3, 4) or len(images) == 0 or min(images.shape[1:3]) < 4:
            raise DataError(
                f"expected an image array of shape (N, H, W[, C]), got {images.shape}", name
            )
        if images.ndim == 4 and images.shape[-1] not in (1, 3, 4):
            raise DataError(
                f"image array has {images.shape[-1]} channels; expected 1, 3 or 4", name
            )
        return images
    images = np.asarray(images)
    if images.dtype == object or images.dtype.kind not in "uif":
        raise DataError(f"images must be a numeric array, got dtype {images.dtype}", name)
    if images.ndim == 4 and images.shape[-1] not in (1, 3, 4):
        raise DataError(f"image array has {images.shape[-1]} channels; expected 1, 3 or 4", name)
    if images.ndim not in (3, 4) or len(images) == 0:
        raise DataError(
            f"expected an image array of shape (N, H, W) or (N, H, W, C), got {images.shape}", name
        )
    if min(images.shape[1:3]) < 4:
        raise DataError(
            f"images are {images.shape[1]}x{images.shape[2]}; at least 4x4 is needed", name
        )
    if images.dtype.kind == "f" and not np.isfinite(images).all():
        raise DataError("image array contains NaN or infinite values", name)
    if images.dtype != np.uint8 and images.dtype.kind in "ui":
        top = images.max()
        if top > 255:
            raise DataError(f"integer images must be 0..255, found {top}", name)
        low = images.min()
        if low < 0:  # would wrap to 255 - low in uint8
            raise DataError(f"integer images must be 0..255, found {low}", name)
        images = images.astype(np.uint8)
    return images


class FolderDataset(Dataset):
    """Image files decoded on demand, with a small thread pool (Pillow drops the GIL)."""

    def __init__(
        self,
        root: Path,
        paths: Sequence[Path],
        labels: dict[str, np.ndarray],
        image_size: int,
        channels: int,
        labels_file: Path | None = None,
    ) -> None:
        self.root = root
        self.paths = list(paths)
        self.labels_file = labels_file
        keys = [_rel(p, root) for p in self.paths]
        super().__init__(str(root), keys, labels, image_size, channels)

    def with_format(self, image_size: int, channels: int) -> FolderDataset:
        return FolderDataset(
            self.root, self.paths, self.labels, image_size, channels, self.labels_file
        )

    def _load(self, indices: np.ndarray) -> np.ndarray:
        paths = [self.paths[i] for i in indices]
        if len(paths) < 8:
            imgs = [load_image_uint8(p, self.image_size, self.channels) for p in paths]
        else:
            with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
                imgs = list(
                    pool.map(lambda p: load_image_uint8(p, self.image_size, self.channels), paths)
                )
        return np.stack(imgs)

    def fingerprint(self) -> str:
        # A listing fingerprint (names, sizes, labels): cheap on a million files.
        h = hashlib.sha256()
        for key, path in zip(self.keys, self.paths):
            try:
                size = path.stat().st_size
            except OSError:
                size = -1
            h.update(f"{key}\0{size}\n".encode())
        for k in sorted(self.labels):
            h.update(k.encode())
            h.update("\n".join(map(str, self.labels[k])).encode())
        return "sha256:" + h.hexdigest()[:16]


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()

