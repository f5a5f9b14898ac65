"""Export a Keras VAE to the LiteRT flatbuffers that inference runs on.

TensorFlow's converter turns the encoder and the decoder (with its sigmoid, so
the graph emits images in [0, 1]) into one flatbuffer each, with a dynamic
batch dimension and the signature names in :mod:`conceptvae.model.litert`.
Before anything is written, each graph is run by the LiteRT runtime on seeded
random inputs and compared with Keras; a difference above ``atol`` raises.
Both files are then written atomically. Imports TensorFlow: only training,
fine-tuning and ``conceptvae export`` come here.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..io import atomic_write_bytes
from . import files
from .litert import (
    DECODER_INPUT,
    DECODER_OUTPUT,
    ENCODER_INPUT,
    ENCODER_OUTPUTS,
    decoder_graph,
    encoder_graph,
)

ATOL = 1e-4
# The decoder is exported with a fixed batch (the runtime pads the last chunk).
# With a dynamic batch, each transposed convolution gets its output shape at run
# time, and LiteRT's XNNPACK CPU delegate only takes constant output shapes: the
# dynamic graph decoded 400-1200 images/s on the faces model where batch 8 did
# 5000, and a single image costs under 2 ms either way. The encoder has no such
# op and keeps a dynamic batch.
DECODER_BATCH = 8
# Batch sizes the check runs: one image (the CLI's usual case), and one that
# needs a resized encoder and a padded second decoder chunk.
CHECK_BATCHES = (1, DECODER_BATCH + 1)


@dataclass
class ExportResult:
    paths: list[Path]
    max_abs_diff: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    skipped: bool = False


def convert_encoder(vae, batch: int | None = None) -> bytes:  # noqa: ANN001 - network.VAE
    """The encoder as a flatbuffer: image -> {z_mean, z_log_var}; ``batch=None`` (the
    default) makes the batch dynamic."""
    import tensorflow as tf

    enc = vae.encoder

    def encode(image):  # noqa: ANN001, ANN202
        z_mean, z_log_var = enc(image, training=False)
        return {ENCODER_OUTPUTS[0]: z_mean, ENCODER_OUTPUTS[1]: z_log_var}

    spec = tf.TensorSpec([batch, *vae.vae_config.input_shape], tf.float32, name=ENCODER_INPUT)
    return _convert(enc, encode, spec)


def convert_decoder(vae, batch: int | None = DECODER_BATCH) -> bytes:  # noqa: ANN001 - network.VAE
    """The decoder as a flatbuffer: z -> {image}, the sigmoid included; ``batch=None``
    makes the batch dynamic."""
    import tensorflow as tf

    dec = vae.decoder

    def decode(z):  # noqa: ANN001, ANN202
        return {DECODER_OUTPUT: tf.sigmoid(dec(z, training=False))}

    spec = tf.TensorSpec([batch, vae.vae_config.latent_dim], tf.float32, name=DECODER_INPUT)
    return _convert(dec, decode, spec)


def _convert(model, fn, spec) -> bytes:  # noqa: ANN001
    import tensorflow as tf

    # The converter freezes the variables it finds through the trackable object.
    # Given the Keras 3 model itself it wrote a graph without the weights (NaN
    # outputs), so the underlying tf.Variables go into a plain tf.Module.
    holder = tf.Module()
    holder.variables_ = [v.value for v in model.variables]
    holder.fn = tf.function(fn, input_signature=[spec], autograph=False)
    concrete = holder.fn.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], holder)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    with _quiet():
        return converter.convert()


def verify(  # noqa: ANN001 - vae is a network.VAE
    vae,
    encoder: bytes,
    decoder: bytes,
    atol: float = ATOL,
    seed: int = 0,
    out_dir: Path | None = None,
) -> dict[str, float]:
    """Max |LiteRT - Keras| per output on seeded random inputs; raise above ``atol``.

    ``out_dir`` only names the files in error messages.
    """
    from .backends import KerasBackend

    cfg = vae.vae_config
    keras_be = KerasBackend(vae)
    where = Path(out_dir) if out_dir is not None else Path()
    enc = encoder_graph(encoder, cfg, label=where / files.ENCODER_TFLITE)
    dec = decoder_graph(decoder, cfg, label=where / files.DECODER_TFLITE)
    rng = np.random.default_rng(seed)
    diffs = {"z_mean": 0.0, "z_log_var": 0.0, "image": 0.0}
    for n in CHECK_BATCHES:
        x = rng.random((n, *cfg.input_shape), dtype=np.float32)
        z = rng.standard_normal((n, cfg.latent_dim), dtype=np.float32)
        got = enc(x)
        want = keras_be.encode(x)
        for name, ref in zip(ENCODER_OUTPUTS, want):
            diffs[name] = max(diffs[name], _max_diff(got[name], ref))
        diffs["image"] = max(diffs["image"], _max_diff(dec(z)[DECODER_OUTPUT], keras_be.decode(z)))
    worst = max(diffs, key=diffs.get)
    if diffs[worst] > atol:
        graph = where / (files.DECODER_TFLITE if worst == "image" else files.ENCODER_TFLITE)
        raise ModelError(
            f"exported graph differs from the Keras model: max |diff| of {worst} is "
            f"{diffs[worst]:.3g} > {atol:g}; nothing was written",
            graph,
        )
    return diffs


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return float("inf")
    diff = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)), initial=0.0))
    return diff if np.isfinite(diff) else float("inf")  # NaN would compare as "small"


def export_vae(vae, out_dir: str | os.PathLike, atol: float = ATOL) -> ExportResult:  # noqa: ANN001
    """Convert, verify, then write ``encoder.tflite`` and ``decoder.tflite`` into ``out_dir``."""
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    encoder, decoder, diffs = convert_and_verify(vae, out_dir, atol)
    return write_export(out_dir, encoder, decoder, diffs, t0)


def convert_and_verify(
    vae, out_dir: str | os.PathLike, atol: float = ATOL  # noqa: ANN001
) -> tuple[bytes, bytes, dict]:
    """The two flatbuffers, checked against Keras; writes nothing (raises above ``atol``)."""
    encoder = convert_encoder(vae)
    decoder = convert_decoder(vae)
    return encoder, decoder, verify(vae, encoder, decoder, atol, out_dir=Path(out_dir))


def write_export(
    out_dir: Path, encoder: bytes, decoder: bytes, diffs: dict, t0: float | None = None
) -> ExportResult:
    t0 = time.perf_counter() if t0 is None else t0
    paths = [out_dir / files.ENCODER_TFLITE, out_dir / files.DECODER_TFLITE]
    for path, data in zip(paths, (encoder, decoder)):
        atomic_write_bytes(path, data)
    return ExportResult(paths, diffs, time.perf_counter() - t0)


def export_model(model: str | os.PathLike, force: bool = False, atol: float = ATOL) -> ExportResult:
    """Give a saved model directory (path or name) its LiteRT flatbuffers.

    A model whose two flatbuffers load and fit its config.json is left alone
    unless ``force``; a missing, empty or corrupt one is re-created.
    """
    from ..config import VAEConfig
    from .backends import KerasBackend
    from .registry import resolve_model_path

    path = resolve_model_path(model)
    if not path.is_dir():
        raise ModelError(
            "export needs a model directory (config.json + model.weights.h5), not a file", path
        )
    files.require_files(path, [files.CONFIG, files.WEIGHTS])
    targets = [path / files.ENCODER_TFLITE, path / files.DECODER_TFLITE]
    if not force and all(t.is_file() for t in targets) and _loadable(path):
        return ExportResult(targets, skipped=True)
    if not os.access(path, os.W_OK):
        raise ModelError("model directory is not writable", path)
    cfg = VAEConfig.load(path / files.CONFIG)
    backend = KerasBackend.from_dir(path, cfg)
    return export_vae(backend.vae, path, atol)


def _loadable(model_dir: Path) -> bool:
    """Whether both flatbuffers load under LiteRT with the shapes config.json gives."""
    from ..config import VAEConfig
    from ..errors import ConceptVAEError
    from .litert import LiteRTBackend

    try:
        backend = LiteRTBackend.from_dir(model_dir, VAEConfig.load(model_dir / files.CONFIG))
        backend.encoder, backend.decoder  # noqa: B018 - loading them is the check
    except ConceptVAEError:
        return False
    return True


def _quiet():  # noqa: ANN202
    """The converter logs pages of MLIR and absl lines to fd 2."""
    import contextlib

    from .quiet import _stderr_to_devnull

    if os.environ.get("CONCEPTVAE_DEBUG"):
        return contextlib.nullcontext()
    return _stderr_to_devnull()


__all__ = [
    "ATOL",
    "DECODER_BATCH",
    "ExportResult",
    "convert_decoder",
    "convert_encoder",
    "export_model",
    "export_vae",
    "verify",
]
