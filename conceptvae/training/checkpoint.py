"""The checkpoint that makes resume exact, and the options a resumed run takes from it.

The checkpoint (weights, optimizer state, history) is one .npz file replaced
atomically at the end of each epoch, so a run killed at any moment resumes from
the last finished epoch.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..config import MAX_EPOCHS, TrainOptions
from ..errors import ConceptVAEError, param
from ..io import atomic_path
from ..model import files

# Keras comes from network, which imports TensorFlow without its start-up noise.
from ..model.network import keras
from .options import TRAIN_DEFAULTS


def save_checkpoint(path: Path, vae, state: dict[str, Any]) -> None:  # noqa: ANN001
    arrays = {f"w{i}": w for i, w in enumerate(vae.get_weights())}
    arrays.update({f"o{i}": np.asarray(v) for i, v in enumerate(vae.optimizer.variables)})
    d_opt = getattr(vae, "d_optimizer", None)  # a training-only discriminator's Adam
    if d_opt is not None:
        arrays.update({f"p{i}": np.asarray(v) for i, v in enumerate(d_opt.variables)})
    arrays["state"] = np.array(json.dumps(state))
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def read_checkpoint_state(path: Path) -> dict[str, Any]:
    from ..readers import loads_json, npz_headers, open_regular

    with open_regular(path, "checkpoint", None):
        pass
    try:
        npz_headers(path)  # declared sizes within budget before anything is loaded
        with np.load(path, allow_pickle=False) as npz:
            raw = npz["state"]
            if raw.dtype.kind != "U" or raw.shape != ():
                raise ValueError("state is not a text")
            state = loads_json(str(raw), path, "checkpoint state")
    except ConceptVAEError as exc:
        raise ConceptVAEError(f"cannot read checkpoint ({exc.message})", path) from None
    except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint is the same user problem
        raise ConceptVAEError(f"cannot read checkpoint ({type(exc).__name__})", path) from None
    problem = state_problem(state)
    if problem:
        raise ConceptVAEError(
            f"checkpoint state is malformed ({problem}; not written by conceptvae?)", path
        )
    return state


def state_problem(state: Any) -> str | None:
    """What is wrong with a checkpoint's state (epoch, options, history), or None."""
    if not isinstance(state, dict):
        return "not an object"
    epoch = state.get("epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch <= MAX_EPOCHS:
        return f"epoch must be a whole number from 0 to {MAX_EPOCHS}"
    opts = state.get("options")
    if not isinstance(opts, dict):
        return "options is not an object"
    unknown = set(opts) - set(TRAIN_DEFAULTS) - {"data", "labels", "image_size", "channels"}
    if unknown:
        # repr: a name may hold anything, a line break included (one-line errors).
        names = sorted(map(repr, unknown))
        more = f" and {len(names) - 5} more" if len(names) > 5 else ""
        return f"unknown option(s) {', '.join(n[:40] for n in names[:5])}{more}"
    for key in ("data", "labels"):
        if opts.get(key) is not None and not isinstance(opts[key], str):
            return f"options: {key} must be a path"
    try:
        TrainOptions.from_dict({**TRAIN_DEFAULTS, **opts}).validate()
    except (ConceptVAEError, TypeError) as exc:
        return f"options: {getattr(exc, 'message', exc)}"
    history = state.get("history")
    if not isinstance(history, dict):
        return "history is not an object"
    for key, values in history.items():
        if (
            not isinstance(values, list)
            or len(values) > epoch  # a metric added by a newer version starts later
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        ):
            return f"history[{key!r}] must be at most {epoch} numbers"
    return None


def restore_checkpoint(path: Path, vae) -> None:  # noqa: ANN001
    try:
        with np.load(path, allow_pickle=False) as npz:
            want = vae.get_weights()
            weights = [npz[f"w{i}"] for i in range(len(want))]
            if getattr(vae, "optimizer", None) is None:  # an uncompiled copy takes the weights
                vae.set_weights(weights)
                return
            vae.optimizer.build(vae.generator_variables)
            slots = [npz[f"o{i}"] for i in range(len(vae.optimizer.variables))]
            refs = want + [v.numpy() for v in vae.optimizer.variables]
            d_opt = getattr(vae, "d_optimizer", None)
            d_slots: list[np.ndarray] = []
            if d_opt is not None:
                d_opt.build(vae.discriminator.trainable_variables)
                d_slots = [npz[f"p{i}"] for i in range(len(d_opt.variables))]
                refs += [v.numpy() for v in d_opt.variables]
            for got, ref in zip(weights + slots + d_slots, refs):
                if got.shape != np.shape(ref) or got.dtype.kind not in "fiu":
                    raise ValueError("shape")
                if got.dtype.kind == "f" and not np.isfinite(got).all():
                    raise ConceptVAEError("checkpoint holds NaN or infinite weights", path)
            vae.set_weights(weights)
            for var, value in zip(vae.optimizer.variables, slots):
                var.assign(value)
            if d_opt is not None:
                for var, value in zip(d_opt.variables, d_slots):
                    var.assign(value)
    except ConceptVAEError:
        raise
    except Exception as exc:  # noqa: BLE001 - keras, numpy and zipfile raise many types
        raise ConceptVAEError(
            f"checkpoint does not match this model ({type(exc).__name__}); start a new run", path
        ) from None



def resolve_options(
    out: Path, resume: bool, given: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The run's options (TrainOptions fields plus data and labels) and, when
    resuming, the checkpoint state."""
    ckpt = out / files.CHECKPOINT
    if resume:
        if not ckpt.exists():
            raise ConceptVAEError("nothing to resume: no checkpoint.npz in this directory", out)
        state = read_checkpoint_state(ckpt)
        opts = dict(state["options"])
        TrainOptions.check_resume(opts, given, out)
        if given.get("epochs") is not None:
            opts["epochs"] = given["epochs"]
        return opts, state
    if ckpt.exists() or (out / files.CONFIG).exists():
        raise ConceptVAEError(
            f"already holds a training run; continue it with {param('resume')} or choose "
            f"another {param('out')}",
            out,
        )
    opts = dict(TRAIN_DEFAULTS)
    opts.update(given)
    return opts, None


class EpochCheckpoint(keras.callbacks.Callback):
    def __init__(
        self, path: Path | None, options: dict[str, Any], history: dict[str, list[float]]
    ) -> None:
        super().__init__()
        self.path, self.options = path, options
        self.history = {k: list(v) for k, v in history.items()}
        self.epoch = 0
        self._t = self._cpu = 0.0
        self.diverged = 0  # the epoch in which loss or weights stopped being finite

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(float(loss)):
            self.diverged = self.epoch + 1
            self.model.stop_training = True

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch
        self._t, self._cpu = time.perf_counter(), time.process_time()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = dict(logs or {})
        finite = all(np.isfinite(float(v)) for v in logs.values()) and weights_finite(self.model)
        if self.diverged or not finite:
            # Keep the last good checkpoint: a NaN one would poison --resume.
            self.diverged = self.diverged or epoch + 1
            self.model.stop_training = True
            return
        logs["seconds"] = time.perf_counter() - self._t
        logs["cpu_seconds"] = time.process_time() - self._cpu
        for k, v in logs.items():
            self.history.setdefault(k, []).append(round(float(v), 6))
        self.epoch = epoch + 1
        if self.path is None:  # a worker other than the chief writes nothing
            return
        save_checkpoint(
            self.path,
            self.model,
            {"epoch": epoch + 1, "options": self.options, "history": self.history},
        )


def weights_finite(vae) -> bool:  # noqa: ANN001
    return all(np.isfinite(w).all() for w in vae.get_weights())

