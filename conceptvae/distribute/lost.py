"""A collective aborted because another worker went away, as one line."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator

import tensorflow as tf

from ..errors import ConceptVAEError, param
from .cluster import Cluster
from .tf_config import TIMEOUT_ENV

_LOST = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError)
# Other errors count only when TensorFlow says a collective was aborted for a peer.
_MAYBE_LOST = (tf.errors.CancelledError, tf.errors.AbortedError, tf.errors.InternalError)
_PEER = re.compile(r"Collective ops is aborted|unhealthy|heartbeat|Connection reset|Socket closed")


def lost_worker(exc: BaseException, cluster: Cluster) -> ConceptVAEError | None:
    """One line for a collective that failed because another worker went away."""
    text = str(exc)
    lost = isinstance(exc, _LOST) or (isinstance(exc, _MAYBE_LOST) and _PEER.search(text))
    if cluster.workers == 1 or not lost:
        return None
    unhealthy = re.search(r"/job:(\w+)/replica:\d+/task:(\d+)", text.split("unhealthy", 1)[-1])
    if "unhealthy" in text and unhealthy:
        why = f"{unhealthy.group(1)} {unhealthy.group(2)} stopped sending heartbeats"
    elif isinstance(exc, tf.errors.DeadlineExceededError):
        why = f"a collective waited longer than {TIMEOUT_ENV}={os.environ.get(TIMEOUT_ENV)} s"
    else:
        m = re.search(r"aborted by: ([^\n]+)", text)
        why = (m.group(1) if m else text.strip().splitlines()[-1]).strip()[:160]
    return ConceptVAEError(
        f"lost another worker ({why}); restart every worker with {param('resume')}"
    )


@contextlib.contextmanager
def failures(cluster: Cluster | None) -> Iterator[None]:
    """Turn a collective aborted by a lost worker into one ConceptVAEError."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - re-raised unless it is a lost worker
        lost = None if cluster is None else lost_worker(exc, cluster)
        if lost is None:
            raise
        raise lost from None
