"""The fit wiring: options -> data -> batches -> network -> Keras fit -> saved model.

``train`` claims the run directory (and, under a multi-worker strategy, agrees
on the run with the chief); ``_train`` validates the run's options once into a
:class:`TrainOptions` and reads every choice from it, step by step below.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Any

from .. import distribute as dist
from ..config import VAEConfig
from ..data import Dataset, open_dataset, split_indices
from ..errors import ConceptVAEError, param
from ..model import files

# Keras comes from network, which imports TensorFlow without its start-up noise.
from ..model.network import build_vae, keras
from ..model.schedules import learning_rate
from .batches import BatchSource, cache_split, label_codes, supervision_spec
from .checkpoint import EpochCheckpoint, resolve_options, restore_checkpoint
from .options import TrainingInterrupted, TrainOptions, TrainResult
from .results import Subset, evaluate, face_alignment, save_model, save_preview
from .rundir import claim_run_dir


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
    if given.get("init") is not None:
        given["init"] = os.fspath(given["init"])
    if not isinstance(data, Dataset):
        given["data"] = os.fspath(data)
        if labels is not None:
            given["labels"] = os.fspath(labels)
    if devices and distribute != "mirrored":
        raise ConceptVAEError(f"{param('devices')} needs {param('distribute')} mirrored")
    run = _Run(out, resume, verbose, command, export)
    if not distribute:
        with claim_run_dir(out, resume):
            return _train(data, given, run)
    # Under a multi-worker strategy the chief alone claims and reads the model
    # directory and decides; the other workers receive its options and
    # checkpoint state, and touch nothing there.
    cluster = dist.connect(distribute, devices)
    with contextlib.ExitStack() as claim:

        def decide() -> tuple[dict[str, Any], dict[str, Any] | None]:
            claim.enter_context(claim_run_dir(out, resume))
            return resolve_options(out, resume, given)

        decided = dist.agree(cluster, decide)
        dist.check_command(cluster, given, decided[0])
        return _train(data, given, dataclasses.replace(run, cluster=cluster), decided)
    with claim_run_dir(out, resume):
        return _train(data, given, run)


@dataclasses.dataclass(frozen=True)
class _Run:
    """How a run is carried out (where, how loudly, on what), as opposed to what it learns."""

    out: Path
    resume: bool
    verbose: int | str
    command: str | None
    export: bool = True
    cluster: dist.Cluster | None = None

    @property
    def writes(self) -> bool:
        """Only the chief of a multi-worker run writes files."""
        return self.cluster is None or self.cluster.chief


def _train(
    data: str | os.PathLike | Dataset,
    given: dict[str, Any],
    run: _Run,
    decided: tuple | None = None,
) -> TrainResult:
    # `record` is what the checkpoint and meta.json keep (the options plus data and
    # labels, in the order they were decided); every choice is read from `options`.
    record, state = decided if decided is not None else resolve_options(run.out, run.resume, given)
    options = TrainOptions.from_dict(record).validate()
    _check_devices(options, run.cluster)
    dataset = (
        data
        if isinstance(data, Dataset)
        else open_dataset(record["data"], record.get("labels"), options.image_size, options.channels)
    )
    record["image_size"], record["channels"] = dataset.image_size, dataset.channels
    options = dataclasses.replace(options, image_size=dataset.image_size, channels=dataset.channels)
    # Read now, so a malformed face_alignment.json fails before training, not after.
    face_alignment(record.get("data"), dataset.image_size)
    cfg = _vae_config(options, dataset)
    if len(dataset) < 2:
        raise ConceptVAEError("need at least 2 images to train", dataset.name)
    if run.cluster is not None:
        dist.check_same(run.cluster, "datasets (images, height, width, channels)",
                        [len(dataset), *dataset.shape])  # fmt: skip
    train_idx, val_idx = split_indices(len(dataset), options.val_split, int(options.seed))
    if run.cluster is not None:
        dist.check_batch(run.cluster, int(options.batch_size), len(train_idx))
    train_src, val_src = _sources(dataset, cfg, options, train_idx, val_idx, run.cluster)
    vae, start_epoch, history = _network(cfg, options, run, state, train_src)
    # Files, evaluation and the chief's validation use a plain float32 copy.
    mixed = bool(options.mixed_precision)
    iwae = int(options.iwae or 1) > 1
    plain = build_vae(cfg) if run.cluster is not None or mixed or iwae else None
    final = vae if plain is None else plain
    # The chief's validation (distributed runs) computes the objective trained on:
    # --iwae K needs the IWAE's loss (and its K draws of noise per image).
    checker = plain
    if run.cluster is not None and iwae:
        from ..model.iwae import build_iwae

        checker = build_iwae(cfg, int(options.iwae))
    saved = record if run.cluster is None else {**record, "distribute": run.cluster.describe()}
    ckpt = EpochCheckpoint(run.out / files.CHECKPOINT if run.writes else None, record, history)
    feed = _fit_arguments(run, options, (train_src, val_src), checker, ckpt, start_epoch)
    t0, cpu0 = time.perf_counter(), time.process_time()
    if start_epoch < int(options.epochs):
        try:
            with dist.fitting(run.cluster, vae):
                vae.fit(**feed)
        except KeyboardInterrupt:
            done = ckpt.epoch
            if done > 0 and run.writes:
                restore_checkpoint(run.out / files.CHECKPOINT, final)
                save_model(run.out, final, cfg, dataset, saved, ckpt.history, {},
                           command=run.command, export=run.export)  # fmt: skip
            again = f"continue with {param('resume')}" + (" on every worker" if run.cluster else "")
            raise TrainingInterrupted(
                f"interrupted after {done} finished epoch(s); {again}", run.out
            ) from None
    if ckpt.diverged:
        raise ConceptVAEError(
            f"training diverged at epoch {ckpt.diverged} (the loss or the weights became NaN "
            f"or infinite); no model was saved. Try a lower {param('lr')} (this run: {options.lr:g})",
            run.out,
        )
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if plain is not None:
        plain.set_weights(vae.network_weights())
    if not run.writes:
        # Wait for the chief's figures, so every worker ends when the model is saved.
        shared = dist.share(run.cluster, None)
        return TrainResult(Path(shared["path"]), cfg, ckpt.history, shared["metrics"], chief=False)
    test = (
        dataset.test
        if dataset.test is not None
        else (Subset(dataset, val_idx) if len(val_idx) else Subset(dataset, train_idx[:1000]))
    )
    seed = int(options.seed)
    metrics = evaluate(final, test, seed)
    metrics["train_seconds"] = round(seconds, 2)
    # CPU time of every thread (wall time on a shared machine says little); this
    # session's part only when resumed: the history's per-epoch "cpu_seconds" add up.
    metrics["train_cpu_seconds"] = round(cpu, 2)
    metrics["epochs"] = int(options.epochs)
    save_model(run.out, final, cfg, dataset, saved, ckpt.history, metrics,
               command=run.command, export=run.export)  # fmt: skip
    save_preview(run.out / files.PREVIEW, final, test, seed)
    if run.cluster is not None:
        dist.share(run.cluster, {"path": os.fspath(run.out), "metrics": metrics})
    return TrainResult(run.out, cfg, ckpt.history, metrics)


def _check_devices(options: TrainOptions, cluster: dist.Cluster | None) -> None:
    """Refuse the combinations one device or the hardware cannot train."""
    mixed = bool(options.mixed_precision)
    if float(options.adversarial or 0.0) > 0 and (cluster is not None or mixed):
        # Its own train step (two optimizers) scales neither by the replicas nor the loss.
        what = "distribute" if cluster is not None else "mixed_precision"
        raise ConceptVAEError(f"{param('adversarial')} trains on one device, without {param(what)}")
    if mixed:
        dist.check_mixed_precision()


def _vae_config(options: TrainOptions, dataset: Dataset) -> VAEConfig:
    return VAEConfig(
        image_size=dataset.image_size, channels=dataset.channels, latent_dim=options.latent_dim,
        arch=options.arch, filters=list(options.filters or []), hidden=list(options.hidden or []),
        blocks=int(options.blocks or 0),
        activation=options.activation, beta=float(options.beta), recon_loss=options.recon_loss,
        supervise=supervision_spec(dataset, options.supervise or []),
        supervise_weight=float(options.supervise_weight),
        upsample=options.upsample, prior_components=int(options.prior_components or 0),
    )  # fmt: skip


def _sources(
    dataset: Dataset,
    cfg: VAEConfig,
    options: TrainOptions,
    train_idx: Any,
    val_idx: Any,
    cluster: dist.Cluster | None,
) -> tuple[BatchSource, BatchSource | None]:
    """The seeded batches of the training split and, when there is one, the validation split."""
    seed, bs = int(options.seed), int(options.batch_size)
    codes = label_codes(dataset, cfg.supervise)
    draws = cfg.latent_dim * int(options.iwae or 1)  # --iwae K: K noise draws per image
    train_src = BatchSource(dataset, train_idx, bs, draws, seed, options.denoise,
                            cache=cache_split(dataset, train_idx), labels=codes[train_idx],
                            flip=bool(options.flip))  # fmt: skip
    val_src = None
    if len(val_idx):
        val_src = BatchSource(dataset, val_idx, bs, draws, seed + 1, options.denoise,
                              shuffle=False, cache=cache_split(dataset, val_idx),
                              labels=codes[val_idx])  # fmt: skip
    if cluster is not None:
        train_src.drop_remainder = True
    for src in (train_src, val_src):
        if src is not None:
            src.binarize = bool(options.binarize)
    return train_src, val_src


def _network(
    cfg: VAEConfig,
    options: TrainOptions,
    run: _Run,
    state: dict[str, Any] | None,
    train_src: BatchSource,
) -> tuple[Any, int, dict[str, list[float]]]:
    """The compiled network (restored from the checkpoint when resuming; else
    from ``init``'s weights, or random, with a mixture prior fitted to its
    posteriors), the epoch it starts from and the history so far."""
    steps_per_epoch = len(train_src)
    keras.utils.set_random_seed(int(options.seed))
    cluster = run.cluster
    scope = cluster.strategy.scope() if cluster is not None else contextlib.nullcontext()
    adversarial_weight = float(options.adversarial or 0.0)
    with scope, dist.precision(bool(options.mixed_precision)):
        if adversarial_weight > 0:
            from ..model.adversarial import build_adversarial_vae

            start = int(options.adversarial_start or 0) * steps_per_epoch
            vae = build_adversarial_vae(cfg, adversarial_weight, start)
        elif int(options.iwae or 1) > 1:
            from ..model.iwae import build_iwae

            vae = build_iwae(cfg, int(options.iwae))
        else:
            vae = build_vae(cfg)
        rate = learning_rate(options.lr, options.lr_halflife or 0, steps_per_epoch)
        vae.compile(optimizer=keras.optimizers.Adam(learning_rate=rate))
        start_epoch, history = 0, {}
        if state is not None:
            if run.writes:
                restore_checkpoint(run.out / files.CHECKPOINT, vae)
            start_epoch, history = int(state["epoch"]), state["history"]
        elif run.writes:
            _start(vae, cfg, options, train_src)
        if cluster is not None:
            dist.broadcast_model(cluster, vae)
    return vae, start_epoch, history


def _start(vae: Any, cfg: VAEConfig, options: TrainOptions, train_src: BatchSource) -> None:
    """A new run's starting point: ``init``'s network, and a mixture prior fitted
    to the encoder's posteriors unless it came with ``init``."""
    from .prior import fit_prior, start_from

    has_prior = start_from(vae, options.init, cfg) if options.init else False
    if vae.prior is not None and not has_prior:
        fit_prior(vae, train_src, int(options.seed))


def _fit_arguments(
    run: _Run,
    options: TrainOptions,
    sources: tuple[BatchSource, BatchSource | None],
    checker: Any,
    ckpt: EpochCheckpoint,
    start_epoch: int,
) -> dict[str, Any]:
    """Keras fit's arguments for the epochs left, one checkpoint per finished epoch."""
    train_src, val_src = sources
    cluster, total_epochs = run.cluster, int(options.epochs)
    callbacks: list = [ckpt]
    if cluster is not None:
        train_data = dist.dataset(cluster, train_src, start_epoch, total_epochs)
        if val_src is not None and run.writes:
            callbacks.insert(0, dist.ChiefValidation(checker, val_src))
    else:
        train_data = train_src.tf_dataset(start_epoch, total_epochs)
    validation = val_src if cluster is None else None
    verbose = run.verbose
    if verbose == "auto":
        verbose = 1 if sys.stdout.isatty() else 2
    return dict(
        x=train_data,
        epochs=total_epochs,
        initial_epoch=start_epoch,
        steps_per_epoch=len(train_src),
        validation_data=validation.tf_dataset(0, 1, repeat_same=True) if validation else None,
        validation_steps=len(validation) if validation else None,
        shuffle=False,
        callbacks=callbacks,
        verbose=verbose,
    )
