"""What `conceptvae info` reports about a model directory."""

from __future__ import annotations

import os
from typing import Any

from ..config import VAEConfig, count_parameters
from . import files
from .registry import resolve_model_path


def model_info(spec: str | os.PathLike) -> dict[str, Any]:
    path = resolve_model_path(spec)
    files.require_files(path, [files.CONFIG])
    cfg = VAEConfig.load(path / files.CONFIG)
    meta = files.read_meta(path)
    backends = []
    if (path / files.WEIGHTS).is_file():
        backends.append("keras")
    if (path / files.ENCODER_TFLITE).is_file() and (path / files.DECODER_TFLITE).is_file():
        backends.append("litert")
    return {
        "path": str(path),
        "config": cfg.to_dict(),
        "parameters": meta.get("parameters") or count_parameters(cfg),
        "fingerprint": meta.get("fingerprint", "unknown"),
        "backends": backends,
        "data": meta.get("data"),
        "metrics": meta.get("metrics"),
        "command": meta.get("command"),
        "training": meta.get("training"),
    }
