"""Training: data -> batches -> Keras fit, with checkpoints that make resume exact.

Every source of randomness is a function of (seed, epoch, batch): the order of
the examples, the reparameterisation noise and the --denoise corruption. The
checkpoint (weights, optimizer state, history) is one .npz file replaced
atomically at the end of each epoch, so a run killed at any moment resumes
from the last finished epoch onto the trajectory it would have followed.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from . import distribute as dist
from .config import MAX_EPOCHS, TrainOptions, VAEConfig
from .data import Dataset, FolderDataset, open_dataset, split_indices
from .errors import ConceptVAEError, param
from .io import atomic_path, atomic_write_json
from .model import files

# Keras comes from network, which imports TensorFlow without its start-up noise.
from .model.network import build_vae, keras
from .model.schedules import learning_rate

# Decoded training images are kept in memory below this size; above it they are
# streamed from disk every epoch.
CACHE_BYTES = 1 << 30

TRAIN_DEFAULTS: dict[str, Any] = {
    k: v for k, v in TrainOptions().to_dict().items() if k not in ("image_size", "channels")
}


class TrainingInterrupted(ConceptVAEError):
    """Ctrl-C during training; the last finished epoch is saved and resumable."""


@dataclass
class TrainResult:
    path: Path
    config: VAEConfig
    history: dict[str, list[float]]
    metrics: dict[str, float] = field(default_factory=dict)
    chief: bool = True  # False on the other workers of a multi-worker run: they write nothing


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, *keys])


class BatchSource:
    """Seeded batches of (x_in, x_target, eps) for one split of a dataset."""

    def __init__(
        self,
        dataset: Dataset,
        indices: np.ndarray,
        batch_size: int,
        latent_dim: int,
        seed: int,
        denoise: float = 0.0,
        shuffle: bool = True,
        cache: np.ndarray | None = None,
        labels: np.ndarray | None = None,
        flip: bool = False,
    ) -> None:
        self.dataset = dataset
        self.indices = indices
        self.batch_size = batch_size
        self.latent_dim = latent_dim
        self.seed = seed
        self.denoise = denoise
        self.shuffle = shuffle
        self.cache = cache  # uint8 images for exactly `indices`, in that order
        self.flip = flip  # mirror a seeded half of each batch (left-right)
        self._orders: dict[int, np.ndarray] = {}
        self.drop_remainder = False  # distributed epochs hold whole global batches only
        self.binarize = False  # --binarize: a fresh Bernoulli draw of the pixels per batch
        # (len(indices), heads) int32 codes for --supervise, -1 unknown
        self.labels = np.zeros((len(indices), 0), np.int32) if labels is None else labels

    def __len__(self) -> int:
        if self.drop_remainder:
            return len(self.indices) // self.batch_size
        return -(-len(self.indices) // self.batch_size)

    def batch(
        self, epoch: int, b: int, part: tuple[int, int] | None = None
    ) -> tuple[np.ndarray, ...]:
        """Batch ``b`` of ``epoch``: a pure function of (seed, epoch, b). ``part``
        (k, n) is the k-th of n equal slices of it (one replica's share)."""
        order = self._order(epoch)
        pos = order[b * self.batch_size : (b + 1) * self.batch_size]
        whole, rows = len(pos), slice(None)
        if part is not None:
            size = whole // part[1]
            rows = slice(part[0] * size, (part[0] + 1) * size)
            pos = pos[rows]
        if self.cache is not None:
            raw = self.cache[pos]
        else:
            raw = self.dataset.load(self.indices[np.sort(pos)])
        x = raw.astype(np.float32) * np.float32(1 / 255)
        if self.flip:
            mirror = _rng(self.seed, 6, epoch, b).random(whole)[rows] < 0.5
            x[mirror] = x[mirror, :, ::-1]
        if self.binarize:
            x = (_rng(self.seed, 7, epoch, b).random((whole, *x.shape[1:]), np.float32)[rows] < x)
            x = x.astype(np.float32)
        # Noise is drawn for the whole global batch, so a slice sees what it would on one device.
        eps = _rng(self.seed, 2, epoch, b).standard_normal((whole, self.latent_dim), np.float32)
        eps = eps[rows]
        x_in = x
        if self.denoise > 0:
            noise = _rng(self.seed, 3, epoch, b).standard_normal((whole, *x.shape[1:]), np.float32)
            noise = noise[rows]
            x_in = np.clip(x + np.float32(self.denoise) * noise, 0.0, 1.0)
        return x_in, x, eps, self.labels[pos]

    def _order(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(len(self.indices))
        cached = self._orders.get(epoch)
        if cached is None:
            cached = _rng(self.seed, 1, epoch).permutation(len(self.indices))
            self._orders = {epoch: cached}  # batches arrive in epoch order
        return cached

    def epoch(self, epoch: int) -> Iterator[tuple[np.ndarray, ...]]:
        for b in range(len(self)):
            yield self.batch(epoch, b)

    def tf_dataset(
        self,
        start: int,
        stop: int,
        repeat_same: bool = False,
        parts: tuple[int, int, int] | None = None,
    ):  # noqa: ANN201
        """Batches for epochs [start, stop) as one stream (Keras keeps one iterator
        across epochs when steps_per_epoch is set); ``repeat_same`` repeats epoch 0.
        ``parts`` (first, count, total): slices first..first+count-1 of ``total`` of
        each batch, one after another (a worker's replicas under tf.distribute)."""
        import tensorflow as tf

        nb = len(self)
        shape = (None, *self.dataset.shape)
        count = 1 if parts is None else parts[1]

        def make(i):  # noqa: ANN001, ANN202
            step, j = divmod(int(i), count)
            epoch, b = (0, step % nb) if repeat_same else divmod(step, nb)
            return self.batch(epoch, b, None if parts is None else (parts[0] + j, parts[2]))

        def load(step):  # noqa: ANN001, ANN202
            types = [tf.float32] * 3 + [tf.int32]
            x_in, x, eps, y = tf.numpy_function(make, [step], types, stateful=False)
            x_in.set_shape(shape)
            x.set_shape(shape)
            eps.set_shape((None, self.latent_dim))
            y.set_shape((None, self.labels.shape[1]))
            return x_in, x, eps, y

        steps = tf.data.Dataset.range(start * nb * count, stop * nb * count)
        if repeat_same:
            steps = tf.data.Dataset.range(nb * count).repeat()
        return steps.map(load, num_parallel_calls=2, deterministic=True).prefetch(4)


def _natural_key(value: str) -> tuple:
    return (0, float(value), value) if _is_number(value) else (1, 0.0, value)


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def supervision_spec(dataset: Dataset, columns: list[str]) -> list[dict[str, Any]]:
    """The heads for --supervise: one per label column, class or 0/1 attribute."""
    spec = []
    for column in columns:
        values = dataset.label_column(column)
        if values.dtype.kind == "i":
            known = values[values >= 0]
            if len(np.unique(known)) < 2:
                raise ConceptVAEError(
                    f"{param('supervise')} {column}: needs both 0 and 1 labels", dataset.name
                )
            spec.append({"column": column, "kind": "attribute"})
        else:
            classes = sorted({str(v) for v in values if v != ""}, key=_natural_key)
            if len(classes) < 2:
                raise ConceptVAEError(
                    f"{param('supervise')} {column}: needs at least 2 classes", dataset.name
                )
            spec.append({"column": column, "kind": "class", "classes": classes})
    return spec


def label_codes(dataset: Dataset, spec: list[dict[str, Any]]) -> np.ndarray:
    """(N, heads) int32: class index or 0/1, -1 where the label is unknown."""
    codes = np.full((len(dataset), len(spec)), -1, np.int32)
    for i, head in enumerate(spec):
        values = dataset.label_column(head["column"])
        if head["kind"] == "attribute":
            codes[:, i] = values.astype(np.int32)
        else:
            index = {c: k for k, c in enumerate(head["classes"])}
            codes[:, i] = [index.get(str(v), -1) for v in values]
    return codes


def _cache_split(dataset: Dataset, indices: np.ndarray) -> np.ndarray | None:
    """Decode a split once when it fits the cache budget (streamed, batch by batch)."""
    nbytes = len(indices) * int(np.prod(dataset.shape))
    if nbytes > CACHE_BYTES:
        return None
    if not isinstance(dataset, FolderDataset):
        return dataset.load(indices)
    out = np.empty((len(indices), *dataset.shape), np.uint8)
    for start in range(0, len(indices), 512):
        out[start : start + 512] = dataset.load(indices[start : start + 512])
    return out


# -- checkpoint --------------------------------------------------------------


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
    from .readers import loads_json, npz_headers, open_regular

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
    problem = _state_problem(state)
    if problem:
        raise ConceptVAEError(
            f"checkpoint state is malformed ({problem}; not written by conceptvae?)", path
        )
    return state


def _state_problem(state: Any) -> str | None:
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


# -- the run -----------------------------------------------------------------


def _resolve_options(
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


def train(
    data: str | os.PathLike | Dataset,
    out: str | os.PathLike,
    options: TrainOptions | None = None,
    *,
    labels: str | os.PathLike | None = None,
    distribute: str | None = None,
    devices: list[str] | None = None,
    resume: bool = False,
    verbose: int | str = "auto",
    command: str | None = None,
    export: bool = True,
    **overrides: Any,
) -> TrainResult:
    """Train a VAE on ``data`` and save it to the model directory ``out``.

    ``options`` (a :class:`TrainOptions`) and keyword ``overrides`` of its
    fields (``latent_dim=8, epochs=5``) set the run; an override of None is
    unset. Unset options come from the checkpoint when resuming, else from the
    defaults and the data (image size and channels). ``export=False`` skips
    writing the LiteRT flatbuffers (the model then runs on the Keras backend).
    ``distribute`` (``mirrored`` over ``devices``, default every GPU, or
    ``multiworker`` from TF_CONFIG) trains under tf.distribute, see
    :mod:`conceptvae.distribute`; ``batch_size`` is then the global batch.
    """
    out = Path(out)
    given = TrainOptions.given(options, overrides)
    if not isinstance(data, Dataset):
        given["data"] = os.fspath(data)
        if labels is not None:
            given["labels"] = os.fspath(labels)
    if devices and distribute != "mirrored":
        raise ConceptVAEError(f"{param('devices')} needs {param('distribute')} mirrored")
    if not distribute:
        with _claim_run_dir(out, resume):
            return _train(data, out, given, resume, verbose, command, export)
    # Under a multi-worker strategy the chief alone claims and reads the model
    # directory and decides; the other workers receive its options and
    # checkpoint state, and touch nothing there.
    cluster = dist.connect(distribute, devices)
    with contextlib.ExitStack() as claim:

        def decide() -> tuple[dict[str, Any], dict[str, Any] | None]:
            claim.enter_context(_claim_run_dir(out, resume))
            return _resolve_options(out, resume, given)

        decided = dist.agree(cluster, decide)
        dist.check_command(cluster, given, decided[0])
        return _train(data, out, given, resume, verbose, command, export, cluster, decided)
    with _claim_run_dir(out, resume):
        return _train(data, out, given, resume, verbose, command, export)


@contextlib.contextmanager
def _claim_run_dir(out: Path, resume: bool) -> Iterator[None]:
    """Hold the run directory for this process alone (a second `train --resume` on it is
    refused), and leave no trace of a new run that fails: no empty directory, no
    checkpoint of a run that diverged or whose data turned out unreadable."""
    missing = []
    probe = out
    while not probe.exists() and probe.parent != probe:
        missing.append(probe)
        probe = probe.parent
    if resume and missing:
        raise ConceptVAEError("nothing to resume: no checkpoint.npz in this directory", out)
    before = {p.name for p in out.iterdir()} if out.is_dir() else set()
    out.mkdir(parents=True, exist_ok=True)
    try:
        lock = _lock_dir(out)
    except BaseException:
        # Another run holds the directory: its files are its own, so only the
        # (empty) directories this call created go.
        _forget(out, missing, None)
        raise
    try:
        yield
    except TrainingInterrupted:
        raise
    except BaseException:
        if not resume:
            _forget(out, missing, before)
        raise
    finally:
        os.close(lock)


def _lock_dir(path: Path) -> int:
    """An exclusive lock on the directory itself: no lock file to leave behind."""
    fd = os.open(path, os.O_RDONLY)
    try:
        import fcntl
    except ImportError:  # Windows: one training per directory is on the user
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise ConceptVAEError(
            "another `conceptvae train` is using this run directory; wait for it to finish",
            path,
        ) from None
    return fd


def _forget(out: Path, created_dirs: list[Path], before: set[str] | None) -> None:
    """Remove what a failed new run wrote: new files in ``out`` (none when ``before``
    is None), then the directories it created (deepest first), when they are empty."""
    import shutil

    with contextlib.suppress(OSError):
        for p in out.iterdir() if before is not None else ():
            if p.name not in before:
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink()
    for d in created_dirs:
        with contextlib.suppress(OSError):
            d.rmdir()


def _train(
    data: str | os.PathLike | Dataset,
    out: Path,
    given: dict[str, Any],
    resume: bool,
    verbose: int | str,
    command: str | None,
    export: bool = True,
    cluster: dist.Cluster | None = None,
    decided: tuple | None = None,
) -> TrainResult:
    opts, state = decided if decided is not None else _resolve_options(out, resume, given)
    TrainOptions.from_dict(opts).validate()
    mixed = bool(opts.get("mixed_precision"))
    adversarial_weight = float(opts.get("adversarial") or 0.0)
    if adversarial_weight > 0 and (cluster is not None or mixed):
        # Its own train step (two optimizers) scales neither by the replicas nor the loss.
        what = "distribute" if cluster is not None else "mixed_precision"
        raise ConceptVAEError(f"{param('adversarial')} trains on one device, without {param(what)}")
    if mixed:
        dist.check_mixed_precision()
    writes = cluster is None or cluster.chief

    dataset = (
        data
        if isinstance(data, Dataset)
        else open_dataset(
            opts["data"], opts.get("labels"), opts.get("image_size"), opts.get("channels")
        )
    )
    opts["image_size"], opts["channels"] = dataset.image_size, dataset.channels
    # Read now, so a malformed face_alignment.json fails before training, not after.
    _face_alignment(opts.get("data"), dataset.image_size)
    cfg = VAEConfig(
        image_size=dataset.image_size, channels=dataset.channels, latent_dim=opts["latent_dim"],
        arch=opts["arch"], filters=list(opts["filters"] or []), hidden=list(opts["hidden"] or []),
        blocks=int(opts.get("blocks") or 0),
        activation=opts["activation"], beta=float(opts["beta"]), recon_loss=opts["recon_loss"],
        supervise=supervision_spec(dataset, opts.get("supervise") or []),
        supervise_weight=float(opts.get("supervise_weight", 10.0)),
        upsample=opts.get("upsample", "transpose"),
    )  # fmt: skip
    if len(dataset) < 2:
        raise ConceptVAEError("need at least 2 images to train", dataset.name)
    if cluster is not None:
        dist.check_same(cluster, "datasets (images, height, width, channels)",
                        [len(dataset), *dataset.shape])  # fmt: skip

    seed_ = int(opts["seed"])
    train_idx, val_idx = split_indices(len(dataset), opts["val_split"], seed_)
    bs = int(opts["batch_size"])
    if cluster is not None:
        dist.check_batch(cluster, bs, len(train_idx))
    codes = label_codes(dataset, cfg.supervise)
    draws = cfg.latent_dim * int(opts.get("iwae") or 1)  # --iwae K: K noise draws per image
    train_src = BatchSource(dataset, train_idx, bs, draws, seed_, opts["denoise"],
                            cache=_cache_split(dataset, train_idx), labels=codes[train_idx],
                            flip=bool(opts.get("flip")))  # fmt: skip
    val_src = None
    if len(val_idx):
        val_src = BatchSource(dataset, val_idx, bs, draws, seed_ + 1, opts["denoise"],
                              shuffle=False, cache=_cache_split(dataset, val_idx),
                              labels=codes[val_idx])  # fmt: skip
    if cluster is not None:
        train_src.drop_remainder = True
    for src in (train_src, val_src):
        if src is not None:
            src.binarize = bool(opts.get("binarize"))

    keras.utils.set_random_seed(seed_)
    scope = cluster.strategy.scope() if cluster is not None else contextlib.nullcontext()
    with scope, dist.precision(mixed):
        if adversarial_weight > 0:
            from .model.adversarial import build_adversarial_vae

            start = int(opts.get("adversarial_start") or 0) * len(train_src)
            vae = build_adversarial_vae(cfg, adversarial_weight, start)
        elif int(opts.get("iwae") or 1) > 1:
            from .model.iwae import build_iwae

            vae = build_iwae(cfg, int(opts["iwae"]))
        else:
            vae = build_vae(cfg)
        rate = learning_rate(opts["lr"], opts.get("lr_halflife") or 0, len(train_src))
        vae.compile(optimizer=keras.optimizers.Adam(learning_rate=rate))
        start_epoch, history = 0, {}
        if state is not None:
            if writes:
                restore_checkpoint(out / files.CHECKPOINT, vae)
            start_epoch, history = int(state["epoch"]), state["history"]
        if cluster is not None:
            dist.broadcast_model(cluster, vae)
    total_epochs = int(opts["epochs"])
    # Files, evaluation and the chief's validation use a plain float32 copy.
    plain = build_vae(cfg) if cluster is not None or mixed or int(opts.get("iwae") or 1) > 1 else None
    final = vae if plain is None else plain
    saved_opts = opts if cluster is None else {**opts, "distribute": cluster.describe()}

    ckpt = _EpochCheckpoint(out / files.CHECKPOINT if writes else None, opts, history)
    callbacks: list = [ckpt]
    if cluster is not None:
        train_data = dist.dataset(cluster, train_src, start_epoch, total_epochs)
        if val_src is not None and writes:
            callbacks.insert(0, dist.ChiefValidation(plain, val_src))
    else:
        train_data = train_src.tf_dataset(start_epoch, total_epochs)
    validation = val_src if cluster is None else None
    if verbose == "auto":
        verbose = 1 if sys.stdout.isatty() else 2
    t0, cpu0 = time.perf_counter(), time.process_time()
    if start_epoch < total_epochs:
        try:
            with dist.fitting(cluster, vae):
                vae.fit(
                    train_data,
                    epochs=total_epochs,
                    initial_epoch=start_epoch,
                    steps_per_epoch=len(train_src),
                    validation_data=validation.tf_dataset(0, 1, repeat_same=True)
                    if validation
                    else None,
                    validation_steps=len(validation) if validation else None,
                    shuffle=False,
                    callbacks=callbacks,
                    verbose=verbose,
                )
        except KeyboardInterrupt:
            done = ckpt.epoch
            if done > 0 and writes:
                restore_checkpoint(out / files.CHECKPOINT, final)
                _save_model(out, final, cfg, dataset, saved_opts, ckpt.history, {}, command,
                            export)  # fmt: skip
            again = f"continue with {param('resume')}" + (" on every worker" if cluster else "")
            raise TrainingInterrupted(
                f"interrupted after {done} finished epoch(s); {again}", out
            ) from None
    if ckpt.diverged:
        raise ConceptVAEError(
            f"training diverged at epoch {ckpt.diverged} (the loss or the weights became NaN "
            f"or infinite); no model was saved. Try a lower {param('lr')} (this run: {opts['lr']:g})",
            out,
        )
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if plain is not None:
        plain.set_weights(vae.network_weights())
    if not writes:
        # Wait for the chief's figures, so every worker ends when the model is saved.
        saved = dist.share(cluster, None)
        return TrainResult(Path(saved["path"]), cfg, ckpt.history, saved["metrics"], chief=False)
    test = (
        dataset.test
        if dataset.test is not None
        else (_Subset(dataset, val_idx) if len(val_idx) else _Subset(dataset, train_idx[:1000]))
    )
    metrics = evaluate(final, test, seed_)
    metrics["train_seconds"] = round(seconds, 2)
    # CPU time of every thread (wall time on a shared machine says little); this
    # session's part only when resumed: the history's per-epoch "cpu_seconds" add up.
    metrics["train_cpu_seconds"] = round(cpu, 2)
    metrics["epochs"] = total_epochs
    _save_model(out, final, cfg, dataset, saved_opts, ckpt.history, metrics, command, export)
    _save_preview(out / files.PREVIEW, final, test, seed_)
    if cluster is not None:
        dist.share(cluster, {"path": os.fspath(out), "metrics": metrics})
    return TrainResult(out, cfg, ckpt.history, metrics)


class _Subset:
    """The first 1,000 images of a split, for the end-of-run report."""

    def __init__(self, dataset: Dataset, indices: np.ndarray) -> None:
        self.dataset, self.indices = dataset, indices[:1000]

    def load(self) -> np.ndarray:
        return self.dataset.load(self.indices)


def _test_images(test: Dataset | _Subset, limit: int = 10000) -> np.ndarray:
    if isinstance(test, _Subset):
        return test.load()
    return test.load(np.arange(min(len(test), limit)))


def evaluate(vae, test: Dataset | _Subset, seed: int) -> dict[str, float]:  # noqa: ANN001
    """Test reconstruction MSE per pixel (posterior mean) and the ELBO in nats per image."""
    x = _test_images(test).astype(np.float32) / 255.0
    mse, rec, kl = [], [], []
    for s in range(0, len(x), 500):
        xb = x[s : s + 500]
        eps = _rng(seed, 4, s).standard_normal((len(xb), vae.vae_config.latent_dim), np.float32)
        terms = vae.losses_for(xb, xb, eps)
        recon = np.asarray(vae(xb))
        mse.append(np.mean((recon - xb) ** 2, axis=(1, 2, 3)))
        rec.append(float(terms["reconstruction_loss"]) * len(xb))
        kl.append(float(terms["kl_loss"]) * len(xb))
    n = len(x)
    return {
        "test_images": n,
        "test_mse": round(float(np.concatenate(mse).mean()), 6),
        "test_reconstruction_loss": round(sum(rec) / n, 3),
        "test_kl_loss": round(sum(kl) / n, 3),
        "test_elbo": round(-(sum(rec) + sum(kl)) / n, 3),
    }


class _EpochCheckpoint(keras.callbacks.Callback):
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


def _face_alignment(data: Any, image_size: int) -> dict | None:
    """A folder made by ``conceptvae align-faces`` holds face_alignment.json: the
    model trained on it records that alignment (at its own image size), which
    makes it a face model that finds and aligns faces in photographs."""
    if not isinstance(data, (str, os.PathLike)) or not Path(data).is_dir():
        return None
    from .faces.align import FaceAlignment, read_alignment_file

    entry = read_alignment_file(data)
    if entry is None:
        return None
    found = FaceAlignment.from_meta({"face_alignment": entry})
    return found.scaled(image_size).to_meta() if found is not None else None


def _save_model(
    out: Path,
    vae,
    cfg: VAEConfig,
    dataset: Dataset,
    opts: dict[str, Any],
    history: dict[str, list[float]],
    metrics: dict[str, Any],
    command: str | None,
    export: bool = True,
) -> None:  # noqa: ANN001
    from .model.export import convert_and_verify, write_export

    # Everything that can fail is checked before the first file is replaced.
    plain = plain_network(vae)
    if not weights_finite(plain):
        raise ConceptVAEError(
            "training diverged (the weights became NaN or infinite); no model was saved. "
            f"Try a lower {param('lr')}",
            out,
        )
    if any(isinstance(v, float) and not np.isfinite(v) for v in metrics.values()):
        raise ConceptVAEError(
            "training diverged (the test loss is NaN or infinite); no model was saved. "
            f"Try a lower {param('lr')}",
            out,
        )
    # Every saved model ships its LiteRT flatbuffers, so inference never needs TensorFlow;
    # they are converted and checked against Keras before anything is written.
    if export:
        encoder, decoder, diffs = convert_and_verify(plain, out)
    save_weights(vae, out, plain)
    cfg.save(out / files.CONFIG)
    meta = {
        "fingerprint": files.weights_fingerprint(plain.get_weights()),
        "parameters": int(plain.count_params()),
        "data": {"source": dataset.name, "images": len(dataset), "fingerprint": dataset.fingerprint(),
                 "labels": sorted(dataset.labels)},
        "training": {k: v for k, v in opts.items() if k not in ("data", "labels")},
        "metrics": metrics,
        "command": command,
        "conceptvae_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }  # fmt: skip
    alignment = _face_alignment(opts.get("data"), cfg.image_size)
    if alignment is not None:
        meta["face_alignment"] = alignment
    files.write_meta(out, meta)
    atomic_write_json(out / files.HISTORY, history)
    if export:
        write_export(out, encoder, decoder, diffs)


def plain_network(vae):  # noqa: ANN001, ANN201
    """The network alone, as a plain, uncompiled VAE (no discriminator, no optimizer)."""
    plain = build_vae(vae.vae_config)
    plain.set_weights(vae.network_weights())
    return plain


def save_weights(vae, out: Path, plain=None):  # noqa: ANN001, ANN201
    """Write the network alone and return it as a plain, uncompiled VAE.

    A compiled model would also write the optimizer's two moments per weight,
    tripling the file (resuming reads checkpoint.npz), and training-only parts
    (a discriminator) are no part of the model.
    """
    plain = plain if plain is not None else plain_network(vae)
    with atomic_path(out / files.WEIGHTS, suffix=".weights.h5") as tmp:
        tmp.unlink()
        plain.save_weights(tmp)
    return plain


def _save_preview(path: Path, vae, test: Dataset | _Subset, seed: int) -> None:  # noqa: ANN001
    from .images import save_pil
    from .render import grid

    x = _test_images(test, 10).astype(np.float32) / 255.0
    recon = np.asarray(vae(x))
    z = _rng(seed, 5).standard_normal((len(x), vae.vae_config.latent_dim), np.float32)
    samples = np.asarray(keras.ops.sigmoid(vae.decoder(z)))
    cell = max(vae.vae_config.image_size, 48)
    pic = grid(np.concatenate([x, recon, samples]), ncols=len(x), cell=cell,
               row_labels=["test", "recon", "sample"])  # fmt: skip
    save_pil(pic, path)
