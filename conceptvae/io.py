"""Every file conceptvae writes goes through :func:`atomic_write`.

A temp file in the destination's own directory is renamed over the target, so a
reader sees either the old file or the new one, never half of one, and a crash
leaves no partial output behind. A missing output directory is created at the
first write (and removed again if that write fails).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import ConceptVAEError, resource_problem


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temp path beside ``target``; rename it onto ``target`` on success.

    ``suffix`` lets writers that insist on an extension (Keras wants
    ``.weights.h5``, Pillow infers the format) see one.
    """
    target = Path(target)
    parent = target.parent if str(target.parent) else Path(".")
    # Output directories planned by conceptvae.outputs are created here, at the
    # first write, so a command that fails earlier leaves no empty directory.
    created = _make_parents(parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix or ".tmp", dir=parent)
    except OSError as exc:
        _remove_dirs(created)
        raise ConceptVAEError(f"cannot write here ({exc.strerror})", parent) from None
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp makes the file 0600; give it the permissions a plain open() would.
    os.chmod(tmp_path, 0o666 & ~_UMASK)
    try:
        yield tmp_path
        _fsync(tmp_path)
        os.replace(tmp_path, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        _remove_dirs(created)
        if isinstance(exc, ConceptVAEError):
            raise
        # A full disk or a failing device, reported by whichever writer hit it
        # (OSError; h5py raises RuntimeError): name the target, never the
        # hidden temp file, which is gone now.
        if isinstance(exc, OSError):
            reason = _hide(str(exc.strerror or exc), tmp_path, target)
            raise ConceptVAEError(f"cannot write ({reason})", target) from None
        problem = resource_problem(exc)
        if problem is not None:
            raise ConceptVAEError(_hide(problem, tmp_path, target), target) from None
        raise
    # Make the rename itself durable; not every filesystem supports it.
    with contextlib.suppress(OSError):
        dfd = os.open(parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _hide(text: str, tmp: Path, target: Path) -> str:
    """A library's message (h5py's names the file it was writing) with the temp file,
    which is gone by now, replaced by the target the user asked for."""
    return text.replace(str(tmp), str(target)).replace(tmp.name, target.name)


def _make_parents(parent: Path) -> list[Path]:
    """Create ``parent`` and any missing ancestors; return those created, deepest first."""
    missing = []
    probe = parent
    while not probe.exists() and probe.parent != probe:
        missing.append(probe)
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise ConceptVAEError("is a file, not a directory, so it cannot hold the output", probe)
    created: list[Path] = []
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            continue  # another writer made it meanwhile
        except OSError as exc:
            _remove_dirs(created)
            raise ConceptVAEError(f"cannot create output directory ({exc.strerror})", d) from None
        created.insert(0, d)
    return created


def _remove_dirs(dirs: list[Path]) -> None:
    """Undo :func:`_make_parents` after a failed write; directories others filled stay."""
    for d in dirs:
        with contextlib.suppress(OSError):
            d.rmdir()


def _fsync(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


def atomic_write_json(target: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(target, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike, what: str = "JSON file") -> Any:
    """A JSON file through the hardened reader (regular file, size, depth and
    integer-length limits): see :mod:`conceptvae.readers`."""
    from .readers import read_json as _read_json

    return _read_json(path, what)


def atomic_save_npy(target: str | os.PathLike, array: Any) -> None:
    import numpy as np

    with atomic_path(target, suffix=".npy") as tmp:
        np.save(tmp, np.asarray(array), allow_pickle=False)
