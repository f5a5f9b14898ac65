"""Training: data -> batches -> Keras fit, with checkpoints that make resume exact.

Every source of randomness is a function of (seed, epoch, batch): the order of
the examples, the reparameterisation noise and the --denoise corruption. The
checkpoint (weights, optimizer state, history) is one .npz file replaced
atomically at the end of each epoch, so a run killed at any moment resumes
from the last finished epoch onto the trajectory it would have followed.

The package, one job a module:

* :mod:`.options` - the defaults of a run's options, its result and its interruption
* :mod:`.batches` - seeded batches (order, noise, corruption, flips) and label codes
* :mod:`.checkpoint` - the checkpoint: write, read, check, restore; the options of a resume
* :mod:`.rundir` - the run directory, held by one process, cleaned after a failed new run
* :mod:`.fit` - ``train``: options -> data -> batches -> network -> Keras fit
* :mod:`.results` - the end of a run: test figures, the saved model and its preview

Importing it imports TensorFlow (the ``train`` extra).
"""

from __future__ import annotations

from .batches import CACHE_BYTES, BatchSource, label_codes, supervision_spec
from .checkpoint import read_checkpoint_state, restore_checkpoint, save_checkpoint, weights_finite
from .fit import train
from .options import TRAIN_DEFAULTS, TrainingInterrupted, TrainOptions, TrainResult
from .results import evaluate, plain_network, save_weights

__all__ = [
    "CACHE_BYTES", "TRAIN_DEFAULTS", "BatchSource", "TrainOptions", "TrainResult",
    "TrainingInterrupted", "evaluate", "label_codes", "plain_network", "read_checkpoint_state",
    "restore_checkpoint", "save_checkpoint", "save_weights", "supervision_spec", "train",
    "weights_finite",
]  # fmt: skip
