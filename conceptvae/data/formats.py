"""The binary formats: IDX files (raw or gzip) and .npz archives of image arrays."""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import DataError
from .datasets import ArrayDataset
from .labels import labels_from_y
from .stored import stored_members


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST layout), raw or gzip-compressed."""
    from ..readers import MAX_ARRAY_BYTES, open_regular

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


def idx_labels_for(path: Path) -> Path | None:
    name = path.name
    for a, b in (("images-idx3", "labels-idx1"), ("images.idx3", "labels.idx1")):
        if a in name:
            cand = path.with_name(name.replace(a, b))
            if cand.exists():
                return cand
    return None



def read_npz(path: Path) -> ArrayDataset:
    from ..readers import npz_headers, open_regular

    with open_regular(path, "file", None, DataError):
        pass
    # Declared shapes first: a few bytes of header can promise terabytes.
    npz_headers(path, error=DataError)
    try:
        lazy = stored_members(path)
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
            labels_from_y(arrays.get("y_train"), len(arrays["x_train"]), name),
        )
        if "x_test" in arrays:
            train.test = ArrayDataset(
                name + "[test]",
                arrays["x_test"],
                labels_from_y(arrays.get("y_test"), len(arrays["x_test"]), name),
                train.image_size,
                train.channels,
            )
        return train
    if "x" in arrays:
        return ArrayDataset(
            name, arrays["x"], labels_from_y(arrays.get("y"), len(arrays["x"]), name)
        )
    raise DataError(
        f"expected arrays x_train/y_train[/x_test/y_test] or x[/y]; found {', '.join(arrays) or 'none'}",
        path,
    )

