"""Hardened readers: every file a user hands conceptvae is read through one of these.

A hostile file must cost bounded memory and time and end in one
:class:`~conceptvae.errors.ConceptVAEError`, never a hang, a traceback or a
crash. So each reader

* opens only regular files (a FIFO would block forever, ``/dev/zero`` never
  ends), without blocking, and checks the size *before* reading;
* caps what it parses: JSON nesting depth and integer length (CPython's JSON
  decoder recurses, and turning a 5,000-digit integer into an ``int`` raises),
  the bytes a ``.npz`` / ``.npy`` declares before any array is allocated, the
  dimensions an IDX header declares;
* turns the errors of the libraries underneath (zlib, zipfile, numpy's header
  parser, MemoryError, RecursionError) into one line naming the file.

The limits are far above anything conceptvae writes or its users train on
(MNIST is 47 MB, a concept library a few hundred kB); see docs/bad-inputs.md.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .errors import ConceptVAEError

MiB = 1 << 20
GiB = 1 << 30
# JSON: configs, metadata, morph scripts, concept exports, checkpoint state.
MAX_JSON_BYTES = 64 * MiB
MAX_JSON_DEPTH = 64
MAX_INT_DIGITS = 40
# Decoded objects, not just bytes: 63 MB of "[]," are 21 million lists (3 GB). These
# bound a file of the largest size to a few hundred MB of Python objects. Counted
# on the text (brackets and commas inside strings count too: no file conceptvae
# reads holds millions of them).
MAX_JSON_CONTAINERS = 1_000_000
MAX_JSON_ITEMS = 8_000_000
# Labels CSV: a million rows of long paths fits with room to spare.
MAX_CSV_BYTES = 256 * MiB
# Arrays a .npz / .npy / IDX file may declare, in total (decoded bytes).
MAX_ARRAY_BYTES = 4 * GiB
MAX_NPZ_MEMBERS = 4096


def _fail(error: type[ConceptVAEError], message: str, path: str | os.PathLike) -> ConceptVAEError:
    return error(message, path)


@contextlib.contextmanager
def open_regular(
    path: str | os.PathLike,
    what: str = "file",
    max_bytes: int | None = None,
    error: type[ConceptVAEError] = ConceptVAEError,
) -> Iterator[BinaryIO]:
    """A regular file opened for reading, its size checked against ``max_bytes``.

    Opened with O_NONBLOCK so a FIFO does not block the open itself; anything
    that is not a regular file (FIFO, device, socket, directory) is refused.
    """
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise _fail(error, f"{what} not found", path) from None
    except IsADirectoryError:
        raise _fail(error, f"cannot read {what} (it is a directory)", path) from None
    except OSError as exc:
        raise _fail(error, f"cannot read {what} ({exc.strerror or exc})", path) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise _fail(error, f"cannot read {what} (it is a directory)", path)
        if not stat.S_ISREG(st.st_mode):
            raise _fail(
                error, f"cannot read {what} (not a regular file: a pipe, device or socket)", path
            )
        if max_bytes is not None and st.st_size > max_bytes:
            raise _fail(
                error,
                f"{what} is {st.st_size:,} bytes; more than the {max_bytes:,} conceptvae reads",
                path,
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with fh:
        yield fh  # type: ignore[misc]


def read_bytes(
    path: str | os.PathLike,
    what: str = "file",
    max_bytes: int = MAX_JSON_BYTES,
    error: type[ConceptVAEError] = ConceptVAEError,
) -> bytes:
    """All of a regular file, at most ``max_bytes`` (also if it grows while read)."""
    with open_regular(path, what, max_bytes, error) as fh:
        try:
            data = fh.read(max_bytes + 1)
        except OSError as exc:
            raise _fail(error, f"cannot read {what} ({exc.strerror or exc})", path) from None
    if len(data) > max_bytes:
        raise _fail(error, f"{what} is more than the {max_bytes:,} bytes conceptvae reads", path)
    return data


def read_text(
    path: str | os.PathLike,
    what: str = "file",
    max_bytes: int = MAX_JSON_BYTES,
    error: type[ConceptVAEError] = ConceptVAEError,
) -> str:
    data = read_bytes(path, what, max_bytes, error)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(error, f"cannot read {what} ({exc})", path) from None


class _JSONLimit(ValueError):
    pass


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise _JSONLimit(f"an integer with {digits} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _depth(value: Any) -> int:
    """Nesting depth, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            deepest = max(deepest, d)
            if deepest > MAX_JSON_DEPTH:
                return deepest
            stack.extend((x, d + 1) for x in (v.values() if isinstance(v, dict) else v))
    return deepest


def loads_json(
    text: str | bytes,
    source: str | os.PathLike | None = None,
    what: str = "JSON file",
    error: type[ConceptVAEError] = ConceptVAEError,
) -> Any:
    """``json.loads`` with bounded depth and integer length; errors are one line."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(f"cannot read {what} ({exc})", source) from None
    if len(text) > MAX_JSON_BYTES:
        raise error(f"{what} is more than the {MAX_JSON_BYTES:,} bytes conceptvae reads", source)
    if text.count("[") + text.count("{") > MAX_JSON_CONTAINERS:
        raise error(
            f"{what} is refused: it holds more than {MAX_JSON_CONTAINERS:,} lists and objects",
            source,
        )
    if text.count(",") > MAX_JSON_ITEMS:
        raise error(f"{what} is refused: it holds more than {MAX_JSON_ITEMS:,} values", source)
    try:
        value = json.loads(text, parse_int=_parse_int)
    except _JSONLimit as exc:
        raise error(f"{what} is refused: it holds {exc}", source) from None
    except json.JSONDecodeError as exc:
        raise error(f"{what} is not valid JSON ({exc.msg}, line {exc.lineno})", source) from None
    except RecursionError:
        raise error(
            f"{what} is refused: nested more than {MAX_JSON_DEPTH} levels deep", source
        ) from None
    except ValueError as exc:  # e.g. a float literal Python cannot convert
        raise error(f"{what} is not valid JSON ({exc})", source) from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise error(f"{what} is refused: nested more than {MAX_JSON_DEPTH} levels deep", source)
    return value


def read_json(
    path: str | os.PathLike,
    what: str = "JSON file",
    max_bytes: int = MAX_JSON_BYTES,
    error: type[ConceptVAEError] = ConceptVAEError,
) -> Any:
    """A JSON file: regular, at most ``max_bytes``, UTF-8, bounded depth and integers."""
    return loads_json(read_text(path, what, max_bytes, error), path, what, error)


def dumps_json(obj: Any, source: str | os.PathLike | None = None, what: str = "data") -> str:
    """``json.dumps`` that refuses NaN/inf and absurd nesting with one line."""
    if _depth(obj) > MAX_JSON_DEPTH:
        raise ConceptVAEError(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep", source)
    try:
        return json.dumps(obj, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConceptVAEError(f"{what} cannot be stored as JSON ({exc})", source) from None


# -- arrays --------------------------------------------------------------------------


def declared_bytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    """Bytes an array of this shape and dtype takes, in exact integer arithmetic."""
    return math.prod(int(s) for s in shape) * int(np.dtype(dtype).itemsize)


def _npy_header(fh: BinaryIO) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(fh, max_header_size=10000)
    if version in ((2, 0), (3, 0)):
        return np.lib.format.read_array_header_2_0(fh, max_header_size=10000)
    raise ValueError(f"unsupported .npy version {version}")


def check_npy_header(
    shape: tuple[int, ...], dtype: np.dtype, budget: int, path: str | os.PathLike,
    error: type[ConceptVAEError], name: str = "array",
) -> int:  # fmt: skip
    if dtype.hasobject:
        raise error("holds pickled Python objects, which are never loaded", path)
    if dtype.kind not in "biufcSU" or dtype.fields is not None:
        raise error(f"{name} has unsupported type {dtype}", path)
    if len(shape) > 8:
        raise error(f"{name} has {len(shape)} dimensions; at most 8 are read", path)
    # Zero-length dimensions hold no data, but numpy still refuses (or overflows on) a
    # shape whose other dimensions multiply beyond its index type: count them as 1.
    need = declared_bytes(tuple(max(1, int(s)) for s in shape), dtype)
    if need > budget:
        raise error(
            f"{name} declares shape {tuple(shape)} ({need:,} bytes); more than the "
            f"{budget:,} bytes conceptvae loads",
            path,
        )
    return need


def npz_headers(
    path: str | os.PathLike,
    budget: int = MAX_ARRAY_BYTES,
    error: type[ConceptVAEError] = ConceptVAEError,
) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Check every member's declared shape and type against ``budget`` (total bytes),
    reading only the small .npy headers; returns name -> (shape, dtype)."""
    out: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    total = 0
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_NPZ_MEMBERS:
                raise error(f"holds {len(infos)} arrays; at most {MAX_NPZ_MEMBERS} are read", path)
            for info in infos:
                name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                with zf.open(info) as fh:
                    shape, _, dtype = _npy_header(fh)  # type: ignore[arg-type]
                total += check_npy_header(shape, dtype, budget - total, path, error, repr(name))
                out[name] = (tuple(int(s) for s in shape), dtype)
    except ConceptVAEError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError) as exc:
        raise error(f"not a readable .npz file ({first_line(exc)})", path) from None
    except (ValueError, SyntaxError, TypeError, OSError, NotImplementedError, KeyError) as exc:
        raise error(f"not a readable .npz file ({first_line(exc)})", path) from None
    return out


def npy_header(
    path: str | os.PathLike,
    budget: int = MAX_ARRAY_BYTES,
    error: type[ConceptVAEError] = ConceptVAEError,
) -> tuple[tuple[int, ...], np.dtype]:
    """Check a .npy file's declared shape and type against ``budget``."""
    try:
        with open_regular(path, "file", None, error) as fh:
            shape, _, dtype = _npy_header(fh)
    except ConceptVAEError:
        raise
    except (ValueError, SyntaxError, TypeError, OSError, EOFError) as exc:
        raise error(f"not a readable .npy file ({first_line(exc)})", path) from None
    check_npy_header(shape, dtype, budget, path, error)
    return tuple(int(s) for s in shape), dtype


def first_line(exc: BaseException) -> str:
    """An exception's message as one line of readable length (its type when empty)."""
    text = str(exc).strip()
    return (text.splitlines()[0][:200] if text else "") or type(exc).__name__


def check_finite_float32(values: Any, what: str, source: str | os.PathLike | None) -> np.ndarray:
    """``values`` as float32, refusing NaN, inf and anything float32 cannot hold (1e39)."""
    arr = np.asarray(values, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ConceptVAEError(f"{what} holds NaN or infinite values", source)
    limit = float(np.finfo(np.float32).max)
    if arr.size and float(np.abs(arr).max()) > limit:
        raise ConceptVAEError(
            f"{what} holds {float(np.abs(arr).max()):g}, beyond float32's range (+-{limit:.3g})",
            source,
        )
    return arr.astype(np.float32)
