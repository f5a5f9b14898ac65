"""The run directory: held by one process, and left as found when a new run fails."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import ConceptVAEError
from .options import TrainingInterrupted


@contextlib.contextmanager
def claim_run_dir(out: Path, resume: bool) -> Iterator[None]:
    """Hold the run directory for this process alone (a second `train --resume` on it is
    refused), and leave no trace of a new run that fails: no empty directory, no
    checkpoint of a run that diverged or whose data turned out unreadable."""
    missing = []
    probe = out
    while not probe.exists() and probe.parent != probe:
        missing.append(probe)
        probe = probe.parent
    if resume and missing:
        raise ConceptVAEError("nothing to resume: no checkpoint.npz in this directory", out)
    before = {p.name for p in out.iterdir()} if out.is_dir() else set()
    out.mkdir(parents=True, exist_ok=True)
    try:
        lock = _lock_dir(out)
    except BaseException:
        # Another run holds the directory: its files are its own, so only the
        # (empty) directories this call created go.
        _forget(out, missing, None)
        raise
    try:
        yield
    except TrainingInterrupted:
        raise
    except BaseException:
        if not resume:
            _forget(out, missing, before)
        raise
    finally:
        os.close(lock)


def _lock_dir(path: Path) -> int:
    """An exclusive lock on the directory itself: no lock file to leave behind."""
    fd = os.open(path, os.O_RDONLY)
    try:
        import fcntl
    except ImportError:  # Windows: one training per directory is on the user
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise ConceptVAEError(
            "another `conceptvae train` is using this run directory; wait for it to finish",
            path,
        ) from None
    return fd


def _forget(out: Path, created_dirs: list[Path], before: set[str] | None) -> None:
    """Remove what a failed new run wrote: new files in ``out`` (none when ``before``
    is None), then the directories it created (deepest first), when they are empty."""
    import shutil

    with contextlib.suppress(OSError):
        for p in out.iterdir() if before is not None else ():
            if p.name not in before:
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink()
    for d in created_dirs:
        with contextlib.suppress(OSError):
            d.rmdir()
