"""The learning rate over a run: constant, or halving every ``halflife`` epochs.

Adam at a constant rate keeps jittering around a minimum; the likelihood
benchmark's models gain from a rate that decays as they converge. The decay is
a function of the optimizer's step count, which the checkpoint holds, so a
resumed run follows the same schedule, and a run stopped after N epochs is the
run of ``epochs=N`` (the schedule does not depend on the planned length).
"""

from __future__ import annotations

from .network import keras


def learning_rate(lr: float, halflife: float, steps_per_epoch: int):  # noqa: ANN201
    """``lr`` itself when ``halflife`` is 0, else lr * 0.5 ** (epochs done / halflife)."""
    if not halflife:
        return float(lr)
    return keras.optimizers.schedules.ExponentialDecay(
        float(lr), decay_steps=float(halflife) * steps_per_epoch, decay_rate=0.5
    )
