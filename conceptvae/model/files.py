"""The model directory format, in one place.

config.json         VAEConfig (architecture, loss)
model.weights.h5    Keras weights (no code, no pickle)
prior.npz           a learned mixture prior (config prior_components > 0; numpy, no pickle)
meta.json           fingerprint of the weights, data fingerprint, metrics, command
encoder.tflite      LiteRT encoder: image -> (z_mean, z_log_var)
decoder.tflite      LiteRT decoder: z -> image in [0, 1]
concepts.h5         the concept library (optional)
history.json        per-epoch training metrics (after training)
preview.png         test reconstructions and samples (after training)
checkpoint.npz      resumable training state (while/after training)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError
from ..io import atomic_write_json, read_json
from ..options import EDIT_MODES

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
    import hashlib  # its OpenSSL load (3 ms) is for trained and exported models only

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
    check_meta(meta, path)
    return meta


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# meta.json fields conceptvae reads, with the type each must have; others are kept
# untouched (a newer conceptvae may add some).
_META_FIELDS: dict[str, tuple[str, Any]] = {
    "fingerprint": ("a text", lambda v: isinstance(v, str) and len(v) <= 200),
    "parameters": (
        "a whole number from 0 to 10**12",
        lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 10**12,
    ),
    "data": ("an object or null", lambda v: v is None or isinstance(v, dict)),
    "metrics": (
        "an object of numbers",
        lambda v: v is None
        or (isinstance(v, dict) and all(_is_number(x) or x is None for x in v.values())),
    ),
    "command": ("a text or null", lambda v: v is None or isinstance(v, str)),
    "training": ("an object or null", lambda v: v is None or isinstance(v, dict)),
    "created": ("a text", lambda v: isinstance(v, str)),
    "conceptvae_version": ("a text", lambda v: isinstance(v, str)),
    "face_alignment": ("an object or null", lambda v: v is None or isinstance(v, dict)),
    "edit_defaults": (
        f'an object like {{"mode": "detail"}} (mode one of {", ".join(EDIT_MODES)})',
        lambda v: isinstance(v, dict)
        and v.get("mode", "decode") in EDIT_MODES,
    ),
}


def check_meta(meta: dict[str, Any], path: str | os.PathLike) -> None:
    """Refuse a meta.json whose known fields have the wrong type (one line, no traceback)."""
    for key, (kind, ok) in _META_FIELDS.items():
        if key in meta and not ok(meta[key]):
            raise ModelError(f"invalid model metadata: {key} must be {kind}", path)
    data = meta.get("data") or {}
    for key in ("source", "fingerprint"):
        if key in data and not isinstance(data[key], (str, type(None))):
            raise ModelError(f"invalid model metadata: data.{key} must be a text", path)
    if "images" in data and not (
        isinstance(data["images"], int) and not isinstance(data["images"], bool)
    ):
        raise ModelError("invalid model metadata: data.images must be a whole number", path)
    from .metadata import check_edit_defaults, check_face_alignment

    try:
        if meta.get("face_alignment") is not None:
            check_face_alignment(meta["face_alignment"])
        if isinstance(meta.get("edit_defaults"), dict):
            check_edit_defaults(meta["edit_defaults"])
    except ValueError as exc:
        raise ModelError(f"invalid model metadata: {exc}", path) from None


def write_meta(model_dir: str | os.PathLike, meta: dict[str, Any]) -> None:
    atomic_write_json(Path(model_dir) / META, meta)


def is_model_dir(path: str | os.PathLike) -> bool:
    p = Path(path)
    return p.is_dir() and (p / CONFIG).is_file()


def require_files(model_dir: Path, names: Iterable[str]) -> None:
    for name in names:
        if not (model_dir / name).is_file():
            raise ModelError(f"model directory is missing {name}", model_dir / name)
