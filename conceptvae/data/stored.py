"""Uncompressed uint8 .npz members read from disk on indexing, never held whole."""

from __future__ import annotations

import os
import struct
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import DataError


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


def stored_members(path: Path) -> dict[str, StoredArray]:
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

