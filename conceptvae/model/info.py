"""What `conceptvae info` reports about a model directory."""

from __future__ import annotations

import os
from typing import Any

from ..config import VAEConfig
from . import files
from .registry import resolve_model_path


def count_parameters(cfg: VAEConfig) -> int:
    """Parameter count from the config alone, so `info` needs no TensorFlow."""
    k = 3
    total = 0
    prev = cfg.channels
    if cfg.arch == "conv":
        for f in cfg.filters:
            total += k * k * prev * f + f
            total += cfg.blocks * (k * k * f * f + f)
            prev = f
        side = cfg.image_size // 2 ** len(cfg.filters)
        flat = side * side * cfg.filters[-1]
    else:
        flat = cfg.image_size * cfg.image_size * cfg.channels
    width = flat
    for h in cfg.hidden:
        total += width * h + h
        width = h
    total += 2 * (width * cfg.latent_dim + cfg.latent_dim)
    # decoder
    width = cfg.latent_dim
    for h in reversed(cfg.hidden):
        total += width * h + h
        width = h
    if cfg.arch == "conv":
        total += width * flat + flat
        prev = cfg.filters[-1]
        for i in reversed(range(len(cfg.filters))):
            total += cfg.blocks * (k * k * cfg.filters[i] * cfg.filters[i] + cfg.filters[i])
            out = cfg.filters[max(i - 1, 0)] if (i > 0 or cfg.blocks) else cfg.channels
            total += k * k * prev * out + out
            prev = out
        if cfg.blocks:
            total += k * k * prev * cfg.channels + cfg.channels
    else:
        total += width * flat + flat
    for head in cfg.supervise:  # linear heads on z, trained with --supervise
        units = len(head["classes"]) if head["kind"] == "class" else 1
        total += cfg.latent_dim * units + units
    return total


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
