"""The writers' lock on a concept library: read-modify-write under it loses nothing."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import ConceptError


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on the library's directory (no-op where fcntl is
    missing). Locking the directory itself, not a lock file beside the library,
    leaves nothing behind, whatever happens to the command."""
    try:
        import fcntl
    except ImportError:  # Windows: single-writer use only
        yield
        return
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError as exc:
        raise ConceptError(f"cannot lock the concept library ({exc.strerror})", folder) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
