"""Training beyond one device: tf.distribute strategies for ``train``.

``mirrored`` is MirroredStrategy over the visible GPUs (or the devices given);
``multiworker`` is MultiWorkerMirroredStrategy, configured by the standard
``TF_CONFIG`` environment variable: every worker runs the same command, the
chief (task ``chief``, else ``worker`` 0) resolves the run, writes the model
directory and its checkpoints, and shares what it decided with the others.

The global batch (``batch_size``) is what one optimizer step sees, whatever
the number of replicas. Every worker draws the same seeded global batch, as
single-device training would, and loads only its replicas' equal slices of it;
the slice losses are scaled by 1/replicas, so the all-reduced gradient is the
gradient of the global batch mean. Epochs hold whole global batches only (the
shuffled remainder is left out, a different one each epoch).

A worker that dies (SIGKILL, Ctrl-C) stops sending heartbeats to TensorFlow's
coordination service; the others' collectives then abort within seconds and
:func:`lost_worker` turns that into one line. Importing this package imports
TensorFlow.

One module per job: tf_config.py (TF_CONFIG and the wait read and checked),
rendezvous.py (every worker up before TensorFlow registers them), signals.py,
strategies.py (connect), cluster.py (Cluster), collectives.py (the chief's
decisions shared), around_fit.py (around Keras's fit, sharded batches),
lost.py (a lost worker as one line), mixed_precision.py.
"""

from __future__ import annotations

from ..model.quiet import import_tensorflow

import_tensorflow()

# Everything below imports TensorFlow, quieted above first.
from .around_fit import ChiefValidation, check_batch, dataset, fitting  # noqa: E402
from .cluster import Cluster  # noqa: E402
from .collectives import agree, broadcast_model, check_command, check_same, share  # noqa: E402
from .lost import failures, lost_worker  # noqa: E402
from .mixed_precision import check_mixed_precision, precision  # noqa: E402
from .rendezvous import REPORT_EVERY, STARTUP_WAIT  # noqa: E402
from .strategies import STRATEGIES, connect  # noqa: E402
from .tf_config import MAX_TIMEOUT, TIMEOUT_ENV, Task  # noqa: E402

__all__ = [
    "MAX_TIMEOUT", "REPORT_EVERY", "STARTUP_WAIT", "STRATEGIES", "TIMEOUT_ENV",
    "ChiefValidation", "Cluster", "Task", "agree", "broadcast_model", "check_batch",
    "check_command", "check_mixed_precision", "check_same", "connect", "dataset",
    "failures", "fitting", "lost_worker", "precision", "share",
]  # fmt: skip
