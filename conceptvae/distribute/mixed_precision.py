"""Mixed precision: float16 compute under a policy put back afterwards."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import tensorflow as tf

from ..errors import ConceptVAEError, param


def check_mixed_precision() -> None:
    if not tf.config.list_physical_devices("GPU"):
        raise ConceptVAEError(
            f"{param('mixed_precision')} needs a GPU (float16 on a CPU is slower than float32); "
            "train without it here"
        )


@contextlib.contextmanager
def precision(mixed: bool) -> Iterator[None]:
    """Build layers under the mixed_float16 policy (float32 variables, float16
    compute) and put the global policy back afterwards."""
    import keras

    if not mixed:
        yield
        return
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)
