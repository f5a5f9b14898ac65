"""Datasets: image folders (+ labels CSV), .npz, IDX and keras.datasets names.

Every command reads data through :func:`open_dataset`. A dataset knows its
length, its label columns and how to produce uint8 batches at the model's size
and channels. Folder datasets decode lazily, batch by batch, so a folder of a
million images is never held in memory; array datasets are already in memory.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import math
import os
import socket
import struct
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import DataError, param
from .extras import has_extra
from .images import (
    IMAGE_SUFFIXES,
    load_image_uint8,
    native_size_and_channels,
    to_square,
)

KERAS_NAMES = ("mnist", "fashion_mnist")
FILE_COLUMNS = ("file", "filename", "path", "image", "img")
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


def find_images(root: Path) -> list[Path]:
    """All image files under ``root``, recursively, in a stable (sorted) order."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            if f.lower().endswith(IMAGE_SUFFIXES) and not f.startswith("."):
                out.append(Path(dirpath) / f)
    return out


def read_labels_csv(csv_path: Path, root: Path) -> tuple[list[Path], dict[str, np.ndarray]]:
    """Parse a labels CSV: one file column plus label columns."""
    from .readers import MAX_CSV_BYTES, read_bytes

    raw = read_bytes(csv_path, "labels file", MAX_CSV_BYTES, DataError)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError("labels file is not UTF-8 text", csv_path) from None
    try:
        rows = list(csv.reader(text.splitlines()))
    except csv.Error as exc:
        raise DataError(f"labels file is not valid CSV ({exc})", csv_path) from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise DataError("labels file needs a header row and at least one data row", csv_path)
    header = [h.strip() for h in rows[0]]
    lowered = [h.lower() for h in header]
    file_col = next((lowered.index(c) for c in FILE_COLUMNS if c in lowered), None)
    if file_col is None:
        raise DataError(
            f"labels file has no file column (one of {', '.join(FILE_COLUMNS)}); header is {','.join(header)}",
            csv_path,
        )
    if len(set(header)) != len(header):
        raise DataError("labels file has duplicate column names", csv_path)
    label_cols = [i for i in range(len(header)) if i != file_col]

    by_name: dict[str, list[Path]] | None = None
    paths: list[Path] = []
    seen: dict[str, int] = {}
    missing: list[str] = []
    for lineno, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DataError(
                f"line {lineno} has {len(row)} fields, the header has {len(header)}", csv_path
            )
        name = row[file_col].strip()
        if not name:
            raise DataError(f"line {lineno} has an empty file name", csv_path)
        if name in seen:
            raise DataError(
                f"duplicate row for {name!r} (lines {seen[name]} and {lineno})", csv_path
            )
        seen[name] = lineno
        candidates = [root / name, csv_path.parent / name]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            if by_name is None:
                by_name = {}
                for p in find_images(root):
                    by_name.setdefault(p.name, []).append(p)
            match = by_name.get(Path(name).name, [])
            found = match[0] if len(match) == 1 else None
        if found is None:
            missing.append(name)
        paths.append(found if found is not None else root / name)
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise DataError(
            f"{len(missing)} listed image(s) not found under {root}: {', '.join(missing[:3])}{more}",
            csv_path,
        )
    labels = {header[i]: _parse_label_column([r[i].strip() for r in rows[1:]]) for i in label_cols}
    return paths, labels


_TRUE = {"1", "1.0", "true", "yes", "y", "t"}
_FALSE = {"0", "0.0", "false", "no", "n", "f", "-1"}


def _parse_label_column(values: list[str]) -> np.ndarray:
    """0/1-like values give an int8 attribute column (-1 unknown); anything else is classes."""
    known = [v.lower() for v in values if v != ""]
    if known and all(v in _TRUE | _FALSE for v in known):
        return np.array([-1 if v == "" else int(v.lower() in _TRUE) for v in values], np.int8)
    return np.array(values, dtype=str)


# -- binary formats ---------------------------------------------------------


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST layout), raw or gzip-compressed."""
    from .readers import MAX_ARRAY_BYTES, open_regular

    try:
        with open_regular(path, "file", None, DataError) as raw:
            head = raw.read(2)
            raw.seek(0)
            fh = gzip.GzipFile(fileobj=raw, mode="rb") if head == b"\x1f\x8b" else raw
            # Never more than the array budget plus a header, however well it compresses.
            data = fh.read(MAX_ARRAY_BYTES + 64)
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"cannot read IDX file ({exc})", path) from None
    if len(data) < 4 or data[:2] != b"\0\0":
        raise DataError("not an IDX file (bad magic number)", path)
    dtype_code, ndim = data[2], data[3]
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if dtype_code not in dtypes or not 1 <= ndim <= 4:
        raise DataError("not an IDX file (unknown type code)", path)
    if len(data) < 4 + 4 * ndim:
        raise DataError("truncated IDX header", path)
    dims = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    dt = np.dtype(dtypes[dtype_code])
    if 0 in dims:
        raise DataError(f"IDX header declares an empty array of shape {dims}", path)
    need = math.prod(dims) * dt.itemsize  # exact: four 32-bit dims overflow int64
    if need > MAX_ARRAY_BYTES:
        raise DataError(
            f"IDX header declares shape {dims} ({need:,} bytes); more than the "
            f"{MAX_ARRAY_BYTES:,} bytes conceptvae loads",
            path,
        )
    body = data[4 + 4 * ndim :]
    if len(body) < need:
        raise DataError(f"truncated IDX file: header promises {dims}, data is short", path)
    return np.frombuffer(body[:need], dtype=dt).reshape(dims).astype(dt.newbyteorder("="))


def _idx_labels_for(path: Path) -> Path | None:
    name = path.name
    for a, b in (("images-idx3", "labels-idx1"), ("images.idx3", "labels.idx1")):
        if a in name:
            cand = path.with_name(name.replace(a, b))
            if cand.exists():
                return cand
    return None


def _class_labels(y: np.ndarray) -> np.ndarray:
    return (
        np.asarray(y).astype(np.int64).astype(str)
        if np.asarray(y).dtype.kind in "iu"
        else np.asarray(y).astype(str)
    )


def _labels_from_y(y: np.ndarray | None, n: int, source: str) -> dict[str, np.ndarray]:
    if y is None:
        return {}
    y = np.asarray(y)
    if (
        y.ndim not in (1, 2)
        or y.dtype.kind not in "biufUS"
        or (y.ndim == 2 and y.dtype.kind in "US")
    ):
        raise DataError(
            f"labels must be 1-D (classes) or 2-D numeric (attributes), got {y.dtype} {y.shape}",
            source,
        )
    if len(y) != n:
        raise DataError(f"labels have {len(y)} rows but there are {n} images", source)
    if y.ndim == 1:
        return {"label": _class_labels(y)}
    if y.ndim == 2:
        return {
            f"y{i}": _parse_label_column(
                [str(int(v)) if float(v).is_integer() else str(v) for v in y[:, i]]
            )
            for i in range(y.shape[1])
        }
    raise DataError(f"labels must be 1-D or 2-D, got shape {y.shape}", source)


class StoredArray:
    """A uint8 array stored uncompressed in an .npz member, read from disk on indexing.

    Rows are read with ``os.pread`` rather than a memory map: mapped pages that
    have been touched count towards the process's resident memory, file reads
    land in the page cache, which does not. So streaming over 60,000 images
    costs no more memory than streaming over 6,000.
    """

    dtype = np.dtype(np.uint8)

    def __init__(self, path: Path, offset: int, shape: tuple[int, ...]) -> None:
        self.path, self.offset, self.shape = path, offset, tuple(shape)
        self.ndim = len(self.shape)
        self.row_bytes = int(np.prod(self.shape[1:], dtype=np.int64))

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:  # noqa: ANN001
        arr = self[np.arange(len(self))]
        return arr if dtype is None else arr.astype(dtype)

    def __getitem__(self, key: int | slice | np.ndarray | Sequence[int]) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            return self[np.array([key])][0]
        if isinstance(key, slice):
            rows = np.arange(len(self))[key]
        else:
            rows = np.asarray(key)
            if rows.dtype == bool:
                rows = np.flatnonzero(rows)
            rows = rows.astype(np.int64).reshape(-1)
            rows = np.where(rows < 0, rows + len(self), rows)
            if rows.size and (rows.min() < 0 or rows.max() >= len(self)):
                raise IndexError(f"index out of range for {len(self)} rows")
        out = np.empty((len(rows), *self.shape[1:]), np.uint8)
        if not len(rows):
            return out
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        # One read per run of consecutive rows: a sequential batch is a single read.
        breaks = np.flatnonzero(np.diff(sorted_rows) != 1) + 1
        flat = out.reshape(len(rows), -1)
        with open(self.path, "rb") as fh:
            fd = fh.fileno()
            for run in np.split(np.arange(len(rows)), breaks):
                first = int(sorted_rows[run[0]])
                unique = np.unique(sorted_rows[run])
                want = len(unique) * self.row_bytes
                data = os.pread(fd, want, self.offset + first * self.row_bytes)
                if len(data) != want:
                    raise DataError("truncated .npz member", self.path)
                block = np.frombuffer(data, np.uint8).reshape(len(unique), -1)
                flat[order[run]] = block[sorted_rows[run] - first]
        return out


def _stored_members(path: Path) -> dict[str, StoredArray]:
    """uint8 C-order members stored without compression, as lazy arrays."""
    found: dict[str, StoredArray] = {}
    with zipfile.ZipFile(path) as zf, open(path, "rb") as fh:
        for info in zf.infolist():
            if (
                info.compress_type != zipfile.ZIP_STORED
                or info.flag_bits & 0x1
                or not info.filename.endswith(".npy")
            ):
                continue
            fh.seek(info.header_offset)
            local = fh.read(30)
            if len(local) != 30 or local[:4] != b"PK\x03\x04":
                continue
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            start = info.header_offset + 30 + name_len + extra_len
            fh.seek(start)
            try:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
                else:
                    continue
            except ValueError:
                continue
            data_start = fh.tell()
            if dtype != np.uint8 or fortran or len(shape) not in (3, 4):
                continue
            if data_start - start + int(np.prod(shape, dtype=np.int64)) > info.file_size:
                continue
            found[info.filename[: -len(".npy")]] = StoredArray(path, data_start, shape)
    return found


def read_npz(path: Path) -> ArrayDataset:
    from .readers import npz_headers, open_regular

    with open_regular(path, "file", None, DataError):
        pass
    # Declared shapes first: a few bytes of header can promise terabytes.
    npz_headers(path, error=DataError)
    try:
        lazy = _stored_members(path)
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: lazy[k] if k in lazy else npz[k] for k in npz.files}
    except FileNotFoundError:
        raise DataError("file not found", path) from None
    except MemoryError:
        raise DataError("declares arrays too large to load", path) from None
    except Exception as exc:  # noqa: BLE001 - zipfile, zlib and numpy's header parser raise many types
        raise DataError(f"not a readable .npz file ({exc})", path) from None
    name = str(path)
    for key in ("x_train", "x_test", "x"):
        if key in arrays and getattr(arrays[key], "ndim", 0) not in (3, 4):
            shape = getattr(arrays[key], "shape", ())
            raise DataError(
                f"expected an image array of shape (N, H, W) or (N, H, W, C), got {shape}", path
            )
    if "x_train" in arrays:
        train = ArrayDataset(
            name,
            arrays["x_train"],
            _labels_from_y(arrays.get("y_train"), len(arrays["x_train"]), name),
        )
        if "x_test" in arrays:
            train.test = ArrayDataset(
                name + "[test]",
                arrays["x_test"],
                _labels_from_y(arrays.get("y_test"), len(arrays["x_test"]), name),
                train.image_size,
                train.channels,
            )
        return train
    if "x" in arrays:
        return ArrayDataset(
            name, arrays["x"], _labels_from_y(arrays.get("y"), len(arrays["x"]), name)
        )
    raise DataError(
        f"expected arrays x_train/y_train[/x_test/y_test] or x[/y]; found {', '.join(arrays) or 'none'}",
        path,
    )


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
    ds = ArrayDataset(name, arr["x_train"], {"label": _class_labels(arr["y_train"])})
    ds.test = ArrayDataset(name + "[test]", arr["x_test"], {"label": _class_labels(arr["y_test"])})
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
        label_path = _idx_labels_for(path)
        y = read_idx(label_path) if label_path else None
        ds = ArrayDataset(str(path), images, _labels_from_y(y, len(images), str(label_path)))
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
