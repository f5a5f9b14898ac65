"""The model directory format, in one place.

config.json         VAEConfig (architecture, loss)
model.weights.h5    Keras weights (no code, no pickle)
meta.json           fingerprint of the weights, data fingerprint, metrics, command
encoder.tflite      LiteRT encoder: image -> (z_mean, z_log_var)
decoder.tflite      LiteRT decoder: z -> image in [0, 1]
concepts.h5         the concept library (optional)
history.json        per-epoch training metrics (after training)
preview.png         test reconstructions and samples (after training)
checkpoint.npz      resumable training state (while/after training)
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from ..io import atomic_write_json, read_json

CONFIG = "config.json"
WEIGHTS = "model.weights.h5"
META = "meta.json"
ENCODER_TFLITE = "encoder.tflite"
DECODER_TFLITE = "decoder.tflite"
CONCEPTS = "concepts.h5"
HISTORY = "history.json"
PREVIEW = "preview.png"
CHECKPOINT = "checkpoint.npz"


def weights_fingerprint(arrays: Iterable[np.ndarray]) -> str:
    """Hash of the weight values themselves (file bytes carry timestamps)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a, dtype=np.float32)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return "sha256:" + h.hexdigest()[:16]


def read_meta(model_dir: str | os.PathLike) -> dict[str, Any]:
    path = Path(model_dir) / META
    if not path.exists():
        return {}
    meta = read_json(path, "model metadata")
    if not isinstance(meta, dict):
        raise ModelError("model metadata must be a JSON object", path)
    return meta


def write_meta(model_dir: str | os.PathLike, meta: dict[str, Any]) -> None:
    atomic_write_json(Path(model_dir) / META, meta)


def is_model_dir(path: str | os.PathLike) -> bool:
    p = Path(path)
    return p.is_dir() and (p / CONFIG).is_file()


def require_files(model_dir: Path, names: Iterable[str]) -> None:
    for name in names:
        if not (model_dir / name).is_file():
            raise ModelError(f"model directory is missing {name}", model_dir / name)
