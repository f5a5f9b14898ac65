"""The vendored face models, run by the LiteRT interpreter (never TensorFlow).

The three flatbuffers in ``models/`` come from the ``mediapipe==0.10.21`` wheel
(``models/NOTICE`` says where, with their sha256; ``models/LICENSE`` is their
Apache-2.0 licence). They have no signatures, so they are driven by tensor index.
Each is loaded once per process, on first use.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from importlib import resources

import numpy as np

from ..errors import ModelError

_MODELS = "models"
_LOCK = threading.Lock()
_CACHE: dict[str, _Graph] = {}


def _threads() -> int:
    env = os.environ.get("CONCEPTVAE_THREADS", "").strip()
    if env.isdigit() and int(env) >= 1:
        return int(env)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


@contextlib.contextmanager
def _quiet_fd2():  # noqa: ANN202
    """The runtime prints an INFO line to fd 2 when it applies its CPU delegate."""
    if os.environ.get("CONCEPTVAE_DEBUG"):
        yield
        return
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


class _Graph:
    """One flatbuffer with one float32 input and its outputs, in file order."""

    def __init__(self, name: str) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise ModelError(f"the LiteRT runtime is not installed ({exc})", name) from None
        data = resources.files(__package__).joinpath(_MODELS, name).read_bytes()
        with _quiet_fd2():
            interp = Interpreter(model_content=data, num_threads=_threads())
            interp.allocate_tensors()
        self._interp = interp
        inp = interp.get_input_details()[0]
        self._input = inp["index"]
        self.input_shape = tuple(int(d) for d in inp["shape"])
        self._outputs = [d["index"] for d in interp.get_output_details()]
        self._lock = threading.Lock()

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        x = np.ascontiguousarray(x, dtype=np.float32).reshape(self.input_shape)
        with self._lock:  # one interpreter, one invocation at a time
            self._interp.set_tensor(self._input, x)
            self._interp.invoke()
            return [np.array(self._interp.get_tensor(i), dtype=np.float32) for i in self._outputs]


def graph(name: str) -> _Graph:
    """The vendored flatbuffer ``name``, loaded once."""
    with _LOCK:
        g = _CACHE.get(name)
        if g is None:
            g = _CACHE[name] = _Graph(name)
        return g
