"""The LiteRT backend: the exported encoder and decoder flatbuffers, run without TensorFlow.

Loading ``ai_edge_litert`` costs about 0.15 s and 35 MB where TensorFlow costs
seconds and half a gigabyte, which is what makes the CLI usable in shell loops.
The flatbuffers are written by :mod:`conceptvae.model.export` with one signature
each, whose tensor names are fixed here so both sides agree:

encoder.tflite  serving_default(image: (N, S, S, C)) -> {z_mean: (N, D), z_log_var: (N, D)}
decoder.tflite  serving_default(z: (B, D)) -> {image: (B, S, S, C) in [0, 1]}

The encoder's batch N is dynamic; the decoder's B is fixed (8, see
``export.DECODER_BATCH`` for why) and larger batches run in padded chunks.
Either kind of graph works here, whatever its batch.

Nothing here imports TensorFlow, and each graph is loaded on first use, so
``decode`` and ``sample`` never read the encoder.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..config import VAEConfig
from ..errors import ConceptVAEError, ModelError
from ..options import MAX_THREADS
from . import files
from .quiet import _stderr_to_devnull

ENCODER_INPUT = "image"
ENCODER_OUTPUTS = ("z_mean", "z_log_var")
DECODER_INPUT = "z"
DECODER_OUTPUT = "image"

REEXPORT_HINT = "re-create it with `conceptvae export`"


def default_threads() -> int:
    """CONCEPTVAE_THREADS, else the CPUs this process may use, at most 4.

    Past 4 threads these small convolutions gain nothing and contend with
    whatever else the machine runs.
    """
    env = os.environ.get("CONCEPTVAE_THREADS", "").strip()
    if env:
        # Validated, not passed through: the runtime crashes on absurd thread counts.
        if not (env.isascii() and env.isdigit() and len(env) <= 4 and 1 <= int(env) <= MAX_THREADS):
            raise ConceptVAEError(
                f"CONCEPTVAE_THREADS must be a whole number from 1 to {MAX_THREADS}, got {env!r}"
            )
        return int(env)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


class LiteRTGraph:
    """One flatbuffer with one signature, callable on any batch size.

    Graphs exported with a dynamic batch (-1) are resized to each batch; a
    graph with a fixed batch B runs in chunks of B, the last one zero-padded.
    """

    def __init__(
        self,
        source: str | os.PathLike | bytes,
        input_name: str,
        input_shape: tuple[int, ...],
        outputs: dict[str, tuple[int, ...]],
        num_threads: int | None = None,
        label: str | os.PathLike | None = None,
    ) -> None:
        """``source`` is a .tflite path or its bytes; ``input_shape`` and ``outputs``
        give the per-example shapes the model's config requires."""
        where = label if label is not None else (None if isinstance(source, bytes) else source)
        if not isinstance(source, bytes):
            path = Path(source)
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                raise ModelError("LiteRT flatbuffer not found", path) from None
            if size == 0:
                raise ModelError(f"empty file (0 bytes); {REEXPORT_HINT}", path)
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise ModelError(
                f"the LiteRT runtime is not installed ({exc}); pip install ai-edge-litert",
                where,
            ) from None

        threads = num_threads or default_threads()
        if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= MAX_THREADS:
            raise ConceptVAEError(f"num_threads must be from 1 to {MAX_THREADS}, got {threads!r}")
        # The runtime prints an INFO line to fd 2 when it applies its CPU delegate
        # (at the first allocation); no setting reaches its logger.
        with _quiet():
            try:
                if isinstance(source, bytes):
                    interp = Interpreter(model_content=source, num_threads=threads)
                else:
                    interp = Interpreter(model_path=os.fspath(source), num_threads=threads)
                # Before the runner exists: it holds the native interpreter, and
                # allocate_tensors() refuses while anything else does.
                interp.allocate_tensors()
                runner = interp.get_signature_runner()
            except (ValueError, RuntimeError) as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
                raise ModelError(
                    f"not a usable LiteRT flatbuffer ({first}); {REEXPORT_HINT}", where
                ) from None
            ins = runner.get_input_details()
            outs = runner.get_output_details()
            self._check(ins, outs, input_name, input_shape, outputs, where)
            sig = ins[input_name]["shape_signature"]
            self.fixed_batch = None if int(sig[0]) == -1 else int(sig[0])
        self._interp = interp  # the runner needs its interpreter alive
        self._runner = runner
        self.input_name = input_name
        self.input_shape = tuple(input_shape)
        self.output_names = tuple(outputs)
        self.num_threads = threads

    @staticmethod
    def _check(
        ins: dict,
        outs: dict,
        input_name: str,
        input_shape: tuple[int, ...],
        outputs: dict[str, tuple[int, ...]],
        where: str | os.PathLike | None,
    ) -> None:
        """Refuse a flatbuffer whose signature does not fit this model's config."""
        problems = []
        if set(ins) != {input_name}:
            problems.append(f"inputs {sorted(ins)}, expected [{input_name!r}]")
        if set(outs) != set(outputs):
            problems.append(f"outputs {sorted(outs)}, expected {sorted(outputs)}")
        if not problems:
            for name, want, detail in [(input_name, input_shape, ins[input_name])] + [
                (n, s, outs[n]) for n, s in outputs.items()
            ]:
                got = tuple(int(d) for d in detail["shape_signature"][1:])
                if got != tuple(want) or detail["dtype"] != np.float32:
                    problems.append(
                        f"{name} is {np.dtype(detail['dtype']).name} (N, {', '.join(map(str, got))})"
                        f", config.json needs float32 (N, {', '.join(map(str, want))})"
                    )
        if problems:
            raise ModelError(
                f"flatbuffer does not match this model: {'; '.join(problems)}; {REEXPORT_HINT}",
                where,
            )

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        x = np.ascontiguousarray(x, dtype=np.float32)
        n = len(x)
        if n == 0:
            return {k: np.zeros((0, *self._out_shape(k)), np.float32) for k in self.output_names}
        if self.fixed_batch is None:
            return self._run(x)
        b = self.fixed_batch
        parts = []
        for s in range(0, n, b):
            chunk = x[s : s + b]
            if len(chunk) < b:
                pad = np.zeros((b - len(chunk), *chunk.shape[1:]), np.float32)
                chunk = np.concatenate([chunk, pad])
            out = self._run(chunk)
            parts.append({k: v[: min(b, n - s)] for k, v in out.items()})
        return {k: np.concatenate([p[k] for p in parts]) for k in self.output_names}

    def _run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        # The runner resizes (a no-op for an unchanged batch), allocates and
        # copies the outputs out of the interpreter's buffers.
        out = self._runner(**{self.input_name: x})
        return {k: np.asarray(out[k], np.float32) for k in self.output_names}

    def _out_shape(self, name: str) -> tuple[int, ...]:
        detail = self._runner.get_output_details()[name]
        return tuple(int(d) for d in detail["shape_signature"][1:])


def encoder_graph(
    source: str | os.PathLike | bytes,
    cfg: VAEConfig,
    num_threads: int | None = None,
    label: str | os.PathLike | None = None,
) -> LiteRTGraph:
    d = (cfg.latent_dim,)
    return LiteRTGraph(
        source,
        ENCODER_INPUT,
        cfg.input_shape,
        dict.fromkeys(ENCODER_OUTPUTS, d),
        num_threads,
        label,
    )


def decoder_graph(
    source: str | os.PathLike | bytes,
    cfg: VAEConfig,
    num_threads: int | None = None,
    label: str | os.PathLike | None = None,
) -> LiteRTGraph:
    return LiteRTGraph(
        source,
        DECODER_INPUT,
        (cfg.latent_dim,),
        {DECODER_OUTPUT: cfg.input_shape},
        num_threads,
        label,
    )


class LiteRTBackend:
    """Backend over ``encoder.tflite`` and ``decoder.tflite``; each loads on first use."""

    name = "litert"

    def __init__(
        self,
        encoder: str | os.PathLike | bytes | LiteRTGraph,
        decoder: str | os.PathLike | bytes | LiteRTGraph,
        cfg: VAEConfig,
        num_threads: int | None = None,
    ) -> None:
        self.cfg = cfg
        self.num_threads = num_threads
        self._encoder = encoder
        self._decoder = decoder

    @classmethod
    def from_dir(
        cls, model_dir: Path, cfg: VAEConfig, num_threads: int | None = None
    ) -> LiteRTBackend:
        model_dir = Path(model_dir)
        files.require_files(model_dir, [files.ENCODER_TFLITE, files.DECODER_TFLITE])
        return cls(
            model_dir / files.ENCODER_TFLITE, model_dir / files.DECODER_TFLITE, cfg, num_threads
        )

    @property
    def encoder(self) -> LiteRTGraph:
        if not isinstance(self._encoder, LiteRTGraph):
            self._encoder = encoder_graph(self._encoder, self.cfg, self.num_threads)
        return self._encoder

    @property
    def decoder(self) -> LiteRTGraph:
        if not isinstance(self._decoder, LiteRTGraph):
            self._decoder = decoder_graph(self._decoder, self.cfg, self.num_threads)
        return self._decoder

    @property
    def pads_decoder_batch(self) -> bool:
        """Every decoder pass runs the graph's fixed batch, padded (see VAEModel.decode_each)."""
        return self.decoder.fixed_batch is not None

    def encode(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = self.encoder(x)
        return out["z_mean"], out["z_log_var"]

    def decode(self, z: np.ndarray) -> np.ndarray:
        return self.decoder(z)[DECODER_OUTPUT]


def _quiet():  # noqa: ANN202
    import contextlib

    if os.environ.get("CONCEPTVAE_DEBUG"):
        return contextlib.nullcontext()
    return _stderr_to_devnull()
