"""The vendored face models, run by the LiteRT interpreter (never TensorFlow).

The three flatbuffers in ``models/`` come from the ``mediapipe==0.10.21`` wheel
(``models/NOTICE`` says where, with their sha256; ``models/LICENSE`` is their
Apache-2.0 licence). They have no signatures, so they are driven by tensor index.
Each is loaded once per process, on first use.
"""

from __future__ import annotations

import threading
from importlib import resources

import numpy as np

from ..errors import ModelError
from ..model.litert import _quiet, default_threads

_MODELS = "models"
_LOCK = threading.Lock()
_CACHE: dict[str, _Graph] = {}


class _Graph:
    """One flatbuffer with one float32 input and its outputs, in file order."""

    def __init__(self, name: str) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise ModelError(f"the LiteRT runtime is not installed ({exc})", name) from None
        data = resources.files(__package__).joinpath(_MODELS, name).read_bytes()
        # The VAE's runtime helpers: the same validated CONCEPTVAE_THREADS (absurd
        # counts crash the runtime) and the same silenced INFO line on fd 2.
        with _quiet():
            interp = Interpreter(model_content=data, num_threads=default_threads())
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
