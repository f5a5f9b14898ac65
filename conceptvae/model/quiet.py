"""Import TensorFlow without its C++ start-up chatter on the user's terminal.

TensorFlow's native logger prints INFO lines (oneDNN, absl) to file descriptor 2
before any Python-level setting can reach it; they would break the promise of
one clean line per error. Set CONCEPTVAE_DEBUG=1 to see them.
"""

from __future__ import annotations

import contextlib
import os
import sys


def import_tensorflow() -> None:
    """Import TensorFlow (and Keras), or say in one line which extra brings them."""
    from ..extras import require_extra

    require_extra("train")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "tensorflow" in sys.modules or os.environ.get("CONCEPTVAE_DEBUG"):
        import tensorflow  # noqa: F401

        return
    with _stderr_to_devnull():
        import tensorflow  # noqa: F401


@contextlib.contextmanager
def _stderr_to_devnull():  # noqa: ANN202
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (e.g. captured by a test runner)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
