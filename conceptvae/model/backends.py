"""Inference backends: the same two functions, computed by Keras or by LiteRT.

A backend maps float32 images (N, S, S, C) in [0, 1] to (z_mean, z_log_var),
and latents (N, D) to images in [0, 1]. Nothing here imports TensorFlow at
module level; the Keras backend does so only when it is chosen.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Protocol

import numpy as np

from ..config import VAEConfig
from ..errors import ModelError
from . import files


class Backend(Protocol):
    """``name``, ``encode`` and ``decode``; optionally ``pads_decoder_batch`` (True:
    decoding any rows costs a full fixed batch and gives each row the same bits
    in whatever batch it runs, so several arrays may share a pass)."""

    name: str

    def encode(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...

    def decode(self, z: np.ndarray) -> np.ndarray: ...


class KerasBackend:
    name = "keras"

    def __init__(self, vae) -> None:  # noqa: ANN001 - a conceptvae.model.network.VAE
        self.vae = vae

    @classmethod
    def from_dir(cls, model_dir: Path, cfg: VAEConfig) -> KerasBackend:
        files.require_files(model_dir, [files.WEIGHTS])
        from .network import build_vae

        vae = build_vae(cfg)
        try:
            # Keras only warns about variables it skips; a partial load is a wrong model.
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                vae.load_weights(model_dir / files.WEIGHTS)
        except Exception as exc:  # noqa: BLE001 - h5py/Keras raise many types for bad files
            raise ModelError(
                f"cannot load weights: corrupt, or not made for this config.json ({type(exc).__name__})",
                model_dir / files.WEIGHTS,
            ) from None
        return cls(vae)

    def encode(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, log_var = self.vae.encoder(x, training=False)
        return np.asarray(mean, np.float32), np.asarray(log_var, np.float32)

    def decode(self, z: np.ndarray) -> np.ndarray:
        import keras

        logits = self.vae.decoder(z, training=False)
        return np.asarray(keras.ops.sigmoid(logits), np.float32)

    def fingerprint(self) -> str:
        return files.weights_fingerprint(self.vae.get_weights())
