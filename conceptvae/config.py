"""VAEConfig and TrainOptions: what a model is, and how it is trained.

The model directory's ``config.json`` (a :class:`VAEConfig`) is the only thing
needed to rebuild the network before its weights are loaded, so loading never
needs code from a file. :class:`TrainOptions` holds every training choice with
its default; the checkpoint keeps them, so a resumed run continues the same one.
Nothing here imports TensorFlow: the CLI reads its help defaults from it.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any

from .errors import ConceptVAEError, param
from .options import (
    ACTIVATIONS,
    ARCHES,
    MAX_IWAE_SAMPLES,
    MAX_PRIOR_COMPONENTS,
    RECON_LOSSES,
    UPSAMPLES,
)

FORMAT_VERSION = 1
# 200 million float32 weights are 800 MB: far beyond any model this toolkit trains
# on a laptop, and a config asking for more is refused before anything is built.
MAX_PARAMETERS = 200_000_000
MAX_EPOCHS = 100_000
MAX_BATCH = 65_536


def default_filters(image_size: int) -> list[int]:
    """Halve the image until it is 7 or 8 pixels (or can't be halved evenly)."""
    filters, size, width = [], image_size, 32
    while size % 2 == 0 and size > 8 and len(filters) < 5:
        filters.append(width)
        size //= 2
        width = min(width * 2, 256)
    return filters or [32]


@dataclass
class VAEConfig:
    image_size: int = 28
    channels: int = 1
    latent_dim: int = 16
    arch: str = "conv"
    filters: list[int] = field(default_factory=list)
    hidden: list[int] = field(default_factory=list)
    # Extra stride-1 3x3 convs at each resolution level (conv arch): capacity
    # without more halvings. 0 keeps the plain strided network.
    blocks: int = 0
    activation: str = "relu"
    beta: float = 1.0
    # Label columns made linearly readable from the latent by a linear head on z
    # during training: [{"column": "label", "kind": "class", "classes": [...]},
    # {"column": "smile", "kind": "attribute"}]. The heads are not used at inference.
    supervise: list[dict] = field(default_factory=list)
    supervise_weight: float = 10.0
    recon_loss: str = "bce"
    upsample: str = "transpose"
    # The prior p(z): 0 is the standard normal N(0, I); C > 0 a learned mixture of
    # C diagonal Gaussians (conceptvae.model.prior), saved in prior.npz beside the
    # weights. The likelihood, sampling, seed:N keyframes and the edits' far-from-
    # the-prior warning read it. Written only when > 0, so a model with the
    # standard prior keeps the config an earlier conceptvae reads.
    prior_components: int = 0
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.arch == "conv" and not self.filters:
            self.filters = default_filters(self.image_size)
        if self.arch == "dense" and not self.hidden:
            self.hidden = [512]
        self.validate()

    def validate(self) -> None:
        def bad(msg: str) -> ConceptVAEError:
            return ConceptVAEError(f"invalid model config: {msg}")

        # JSON true/false would pass isinstance(int) checks below.
        for name in ("image_size", "channels", "latent_dim", "blocks", "beta",
                     "prior_components", "format_version"):  # fmt: skip
            if isinstance(getattr(self, name), bool):
                raise bad(f"{name} must be a number, got {getattr(self, name)!r}")

        if not isinstance(self.image_size, int) or not 4 <= self.image_size <= 1024:
            raise bad(f"image_size must be an integer from 4 to 1024, got {self.image_size!r}")
        if self.channels not in (1, 3):
            raise bad(f"channels must be 1 or 3, got {self.channels!r}")
        if not isinstance(self.latent_dim, int) or not 1 <= self.latent_dim <= 4096:
            raise bad(f"latent_dim must be an integer from 1 to 4096, got {self.latent_dim!r}")
        if self.arch not in ARCHES:
            raise bad(f"arch must be one of {', '.join(ARCHES)}, got {self.arch!r}")
        if self.recon_loss not in RECON_LOSSES:
            raise bad(
                f"recon_loss must be one of {', '.join(RECON_LOSSES)}, got {self.recon_loss!r}"
            )
        if self.upsample not in UPSAMPLES:
            raise bad(f"upsample must be one of {', '.join(UPSAMPLES)}, got {self.upsample!r}")
        if self.activation not in ACTIVATIONS:
            raise bad(
                f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}"
            )
        if not isinstance(self.beta, (int, float)) or not math.isfinite(self.beta) or self.beta < 0:
            raise bad(f"beta must be a finite number >= 0, got {self.beta!r}")
        for name in ("filters", "hidden"):
            sizes = getattr(self, name)
            if not isinstance(sizes, list) or not all(
                isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= 4096 for s in sizes
            ):
                raise bad(f"{name} must be a list of positive integers, got {sizes!r}")
        if self.arch == "conv":
            factor = 2 ** len(self.filters)
            if self.image_size % factor:
                raise bad(
                    f"image_size {self.image_size} is not divisible by 2**{len(self.filters)} "
                    f"(one halving per conv filter); use fewer filters or another size"
                )
        self._validate_supervise(bad)
        if not isinstance(self.blocks, int) or not 0 <= self.blocks <= 8:
            raise bad(f"blocks must be an integer from 0 to 8, got {self.blocks!r}")
        if not isinstance(self.prior_components, int) or not (
            0 <= self.prior_components <= MAX_PRIOR_COMPONENTS
        ):
            raise bad(
                f"prior_components must be an integer from 0 to {MAX_PRIOR_COMPONENTS}, "
                f"got {self.prior_components!r}"
            )
        if len(self.filters) > 8 or len(self.hidden) > 16:
            raise bad("at most 8 filters and 16 hidden sizes")
        params = count_parameters(self)
        if params > MAX_PARAMETERS:
            raise bad(
                f"the network would have {params:,} parameters; at most {MAX_PARAMETERS:,}"
            )
        if self.format_version > FORMAT_VERSION:
            raise bad(
                f"format_version {self.format_version} is newer than this conceptvae "
                f"understands ({FORMAT_VERSION}); upgrade conceptvae"
            )

    def _validate_supervise(self, bad: Any) -> None:
        if not isinstance(self.supervise, list):
            raise bad("supervise must be a list")
        for head in self.supervise:
            ok = isinstance(head, dict) and isinstance(head.get("column"), str)
            kind = head.get("kind") if ok else None
            if kind == "class":
                classes = head.get("classes")
                ok = isinstance(classes, list) and len(classes) >= 2
                ok = ok and all(isinstance(c, str) for c in classes)
            elif kind != "attribute":
                ok = False
            if not ok:
                raise bad(f"malformed supervise entry {head!r}")
        w = self.supervise_weight
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 <= w <= 1e4:
            raise bad(f"supervise_weight must be a number in [0, 10000], got {w!r}")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.image_size, self.image_size, self.channels)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        if not self.prior_components:
            del out["prior_components"]
        return out

    @classmethod
    def from_dict(cls, data: Any, source: str | os.PathLike | None = None) -> VAEConfig:
        if not isinstance(data, dict):
            raise ConceptVAEError("model config must be a JSON object", source)
        version = data.get("format_version", FORMAT_VERSION)
        if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
            # Before the unknown keys: a newer format's new keys are not the problem.
            raise ConceptVAEError(
                f"invalid model config: format_version {version} is newer than this "
                f"conceptvae understands ({FORMAT_VERSION}); upgrade conceptvae",
                source,
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            shown = ", ".join(repr(k)[1:-1] if isinstance(k, str) else repr(k) for k in unknown)
            raise ConceptVAEError(f"unknown model config keys: {shown}", source)
        try:
            return cls(**data)
        except ConceptVAEError as exc:
            raise ConceptVAEError(exc.raw, source) from None
        except TypeError as exc:
            raise ConceptVAEError(f"invalid model config ({exc})", source) from None

    def save(self, path: str | os.PathLike) -> None:
        from .io import atomic_write_json

        atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> VAEConfig:
        # io (tempfile, shutil) loads on use: the CLI reads TrainOptions for --help.
        from .io import read_json

        return cls.from_dict(read_json(path, "model config"), path)


@dataclass
class TrainOptions:
    """Every choice of a training run, with its default.

    ``image_size`` and ``channels`` of None come from the data (image size at
    most 64); ``filters``/``hidden`` of None take the architecture's defaults;
    ``supervise`` lists label columns made linearly readable from the latent.
    """

    latent_dim: int = 16
    arch: str = "conv"
    filters: list[int] | None = None
    hidden: list[int] | None = None
    blocks: int = 0
    supervise: list[str] | None = None
    supervise_weight: float = 10.0
    activation: str = "relu"
    beta: float = 1.0
    recon_loss: str = "bce"
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    val_split: float = 0.05
    seed: int = 0
    denoise: float = 0.0
    # Faces: decoder upsampling (a VAEConfig field), left-right flips of half of
    # each batch, and a training-only patch discriminator (weight 0: off) that
    # joins after adversarial_start epochs (conceptvae.model.adversarial).
    upsample: str = "transpose"
    flip: bool = False
    adversarial: float = 0.0
    adversarial_start: int = 0
    image_size: int | None = None
    channels: int | None = None
    # float16 compute with float32 weights (GPU only): a choice of the run,
    # since it changes the optimizer's state (its loss scale).
    mixed_precision: bool = False
    # The likelihood benchmark (`evaluate --nll`): a fresh Bernoulli draw of every
    # training pixel each epoch (dynamic binarisation), and the K-sample
    # importance-weighted bound as the objective (1: the ELBO).
    binarize: bool = False
    iwae: int = 1
    # Epochs over which the learning rate halves (0: constant).
    lr_halflife: float = 0.0
    # A learned mixture prior of this many components (0: N(0, I)), and a model
    # directory whose network weights the run starts from (None: random).
    prior_components: int = 0
    init: str | None = None

    # Options a resumed run may change (the others must match the checkpoint).
    RESUMABLE = ("epochs",)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def validate(self) -> TrainOptions:
        """Every option against its documented range, types included: the values may
        come from a checkpoint someone edited, not only from the command line."""

        def num(v: Any) -> bool:
            return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

        def whole(v: Any, lo: int, hi: int) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi

        def sizes(v: Any) -> bool:
            return v is None or (
                isinstance(v, list) and len(v) <= 16 and all(whole(x, 1, 4096) for x in v)
            )

        checks = [
            (whole(self.epochs, 1, MAX_EPOCHS), "epochs",
             f"must be a whole number from 1 to {MAX_EPOCHS}"),
            (whole(self.batch_size, 1, MAX_BATCH), "batch_size",
             f"must be a whole number from 1 to {MAX_BATCH}"),
            (num(self.lr) and 0 < self.lr <= 10, "lr", "must be in (0, 10]"),
            (num(self.beta) and 0 <= self.beta <= 1e4, "beta", "must be in [0, 10000]"),
            (whole(self.seed, 0, 2**32 - 1), "seed", "must be in [0, 2**32)"),
            (num(self.denoise) and 0 <= self.denoise <= 10, "denoise", "must be in [0, 10]"),
            (num(self.val_split) and 0 <= self.val_split < 1, "val_split", "must be in [0, 1)"),
            (num(self.supervise_weight) and 0 <= self.supervise_weight <= 1e4,
             "supervise_weight", "must be in [0, 10000]"),
            (whole(self.latent_dim, 1, 4096), "latent_dim", "must be a whole number from 1 to 4096"),
            (sizes(self.filters), "filters", "must be at most 16 sizes from 1 to 4096"),
            (sizes(self.hidden), "hidden", "must be at most 16 sizes from 1 to 4096"),
            (whole(self.blocks, 0, 8), "blocks", "must be a whole number from 0 to 8"),
            (self.arch in ARCHES, "arch", f"must be one of {', '.join(ARCHES)}"),
            (self.activation in ACTIVATIONS, "activation",
             f"must be one of {', '.join(ACTIVATIONS)}"),
            (self.recon_loss in RECON_LOSSES, "recon_loss",
             f"must be one of {', '.join(RECON_LOSSES)}"),
            (self.supervise is None or (isinstance(self.supervise, list)
             and all(isinstance(c, str) for c in self.supervise)), "supervise",
             "must name label columns"),
            (self.image_size is None or whole(self.image_size, 4, 1024), "image_size",
             "must be a whole number from 4 to 1024"),
            (self.channels in (None, 1, 3), "channels", "must be 1 or 3"),
            (self.upsample in UPSAMPLES, "upsample", f"must be one of {', '.join(UPSAMPLES)}"),
            (isinstance(self.flip, bool), "flip", "must be true or false"),
            (isinstance(self.mixed_precision, bool), "mixed_precision", "must be true or false"),
            (num(self.adversarial) and 0 <= self.adversarial <= 100, "adversarial",
             "must be in [0, 100]"),
            (whole(self.adversarial_start, 0, MAX_EPOCHS), "adversarial_start",
             f"must be a whole number from 0 to {MAX_EPOCHS}"),
            (isinstance(self.binarize, bool), "binarize", "must be true or false"),
            (num(self.lr_halflife) and 0 <= self.lr_halflife <= MAX_EPOCHS, "lr_halflife",
             f"must be in [0, {MAX_EPOCHS}]"),
            (whole(self.prior_components, 0, MAX_PRIOR_COMPONENTS), "prior_components",
             f"must be a whole number from 0 to {MAX_PRIOR_COMPONENTS}"),
            (self.init is None or isinstance(self.init, str), "init", "must be a model directory"),
            (self.prior_components == 0 or self.recon_loss != "mse", "prior_components",
             "needs a likelihood (bce or bernoulli), not mse"),
            (self.prior_components == 0 or not self.adversarial, "prior_components",
             "and adversarial do not combine"),
            (whole(self.iwae, 1, MAX_IWAE_SAMPLES), "iwae",
             f"must be a whole number from 1 to {MAX_IWAE_SAMPLES}"),
            (self.iwae == 1 or self.recon_loss != "mse", "iwae",
             "needs a likelihood (bce or bernoulli), not mse"),
            (self.iwae == 1 or not self.adversarial, "iwae", "and adversarial do not combine"),
        ]  # fmt: skip
        for ok, name, problem in checks:
            if not ok:
                raise ConceptVAEError(f"{param(name)} {problem}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainOptions:
        """The options a checkpoint or meta.json holds (other keys are ignored)."""
        known = set(cls.names())
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def given(cls, options: TrainOptions | None, overrides: dict[str, Any]) -> dict[str, Any]:
        """What a caller set: fields of ``options`` that differ from the defaults,
        then ``overrides`` that are not None."""
        unknown = sorted(set(overrides) - set(cls.names()))
        if unknown:
            raise TypeError(f"train() got an unexpected keyword argument {unknown[0]!r}")
        out: dict[str, Any] = {}
        if options is not None:
            default = cls()
            out = {k: v for k, v in options.to_dict().items() if getattr(default, k) != v}
        out.update({k: v for k, v in overrides.items() if v is not None})
        if out.get("supervise") is not None:
            out["supervise"] = list(out["supervise"]) or None
        return {k: v for k, v in out.items() if v is not None}

    @staticmethod
    def check_resume(saved: dict[str, Any], given: dict[str, Any], where: Any = None) -> None:
        """Refuse a resumed run whose options differ from the interrupted one's."""
        for key, value in given.items():
            if key in TrainOptions.RESUMABLE:
                continue
            # A checkpoint from before an option existed ran with its default.
            before = saved.get(key, getattr(TrainOptions(), key, None))
            if before != value:
                raise ConceptVAEError(
                    f"{param(key)} {value} differs from the interrupted run ({before}); "
                    "resume with the same options",
                    where,
                )


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
    # a learned mixture prior: means and log-variances (C, D), weights' logits (C,)
    total += cfg.prior_components * (2 * cfg.latent_dim + 1)
    for head in cfg.supervise:  # linear heads on z, trained with --supervise
        units = len(head["classes"]) if head["kind"] == "class" else 1
        total += cfg.latent_dim * units + units
    return total
