"""Build concepts: encode a dataset once, streaming, and add the concepts to the library.

One pass over the data feeds every requested concept at once: running sums
for the mean-based estimators, class centroids and principal directions, and a
bounded, class-balanced sample of latents (at most ``sample_size`` rows per
concept) for the classifier-based methods and the trust statistics. Memory
therefore does not grow with the number of images, only the per-image labels do.

The choices are one :class:`~.build_options.BuildOptions`; the labels are read by
:mod:`.labels`, the concepts fitted by :mod:`.fit`.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..data import Dataset, open_dataset
from ..errors import ConceptError, DataError, param
from ..model.identity import ModelRef, model_ref
from ..version import __version__
from . import stats
from .build_options import SAMPLE_SIZE, BuildOptions
from .estimators import (
    ClassCentroids,
    DirectionEstimator,
    MeanDifference,
    PrincipalDirections,
    select_covariates,
)
from .expressions import check_name
from .fit import Target, attribute_concept, basis_of, class_set, fit_direction, pc_concepts
from .labels import (
    MIN_EXAMPLES,
    as_binary,
    attribute_column,
    attribute_columns,
    class_column,
    covariates_of,
    label_source,
)
from .library import ConceptLibrary, update_library
from .manage import class_row, concept_row
from .methods import estimator_class, make_estimator, streams
from .values import ClassSet, Concept, now

__all__ = [
    "MIN_EXAMPLES", "SAMPLE_SIZE", "BuildOptions", "BuildPlan", "BuildResult", "build_concepts",
    "fit_concepts", "plan_build", "stream_latents",
]  # fmt: skip

# progress(done, total): images encoded so far, of all.
Progress = Callable[[int, int], None]


@dataclass
class BuildResult:
    library: str
    images: int
    seconds: float
    concepts: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class BuildPlan:
    """Everything a build needs before the data is encoded: checked options, the
    model and its library, the labels, the concepts to fit and the rows to keep."""

    options: BuildOptions
    vae: Any
    ref: ModelRef
    existing: ConceptLibrary
    dataset: Dataset
    columns: dict[str, np.ndarray]
    label_origin: dict[str, str]
    targets: list[Target]
    orthogonal_to: list[str]
    class_labels: np.ndarray | None
    class_set_name: str | None
    keep: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    class_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pca_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    centroids: ClassCentroids | None = None
    pcs: PrincipalDirections | None = None


def build_concepts(
    model: Any,
    data: str | os.PathLike | Dataset,
    options: BuildOptions | None = None,
    *,
    labels: str | os.PathLike | None = None,
    progress: Progress | None = None,
    **overrides: Any,
) -> BuildResult:
    """Build concepts from ``data`` for ``model`` and add them to its library.

    ``options`` (a :class:`BuildOptions`) and keyword ``overrides`` of its fields
    (``attributes=["smile"], method="logistic"``) say what to build: 0/1 label
    columns (``attributes``, or ``all_attributes``) with ``method`` and
    optionally orthogonal to ``orthogonal_to`` (library concepts, expressions,
    or attributes built in the same call); ``classes``, a multi-class column
    (one concept per class value); ``pca`` principal directions pc1..pcK;
    ``morpho``, digit thickness and slant labelled from the pixels; ``name``
    renames a single attribute concept, or names the class set when only
    ``classes`` is given. ``labels`` is the CSV of an image folder.
    ``progress(done, total)`` hears of every encoded batch.

    Three steps: :func:`plan_build` (everything checked before the slow part),
    :func:`stream_latents` (the one pass over the data), :func:`fit_concepts`;
    then the library is updated under its lock.
    """
    t0 = time.perf_counter()
    options = BuildOptions.given(options, overrides, "build_concepts")
    plan = plan_build(model, data, options, labels=labels)
    kept = stream_latents(plan, progress)
    concepts, new_class_set = fit_concepts(plan, kept)
    with update_library(plan.ref, options.ignore_fingerprint) as lib:
        for c in concepts:
            lib.add_concept(c, replace=options.replace)
        if new_class_set is not None:
            lib.add_class_set(new_class_set, replace=options.replace)
        path = lib.path

    summaries = [concept_row(c) for c in concepts]
    if new_class_set is not None:
        summaries.extend(_class_summaries(new_class_set))
    n = len(plan.dataset)
    return BuildResult(str(path), n, round(time.perf_counter() - t0, 2), summaries)


def plan_build(
    model: Any,
    data: str | os.PathLike | Dataset,
    options: BuildOptions | None = None,
    *,
    labels: str | os.PathLike | None = None,
    **overrides: Any,
) -> BuildPlan:
    """Check options, model, library, labels and names, and choose the rows to keep
    (bounded, balanced, seeded), before any image is encoded."""
    options = BuildOptions.given(options, overrides, "plan_build")
    from ..model.api import load_model
    from ..model.loaded import VAEModel

    vae = model if isinstance(model, VAEModel) else load_model(model, backend=options.backend)
    ref = model_ref(vae)
    existing = _existing_library(ref, options.ignore_fingerprint)

    dataset = (
        data
        if isinstance(data, Dataset)
        else open_dataset(data, labels, vae.config.image_size, vae.config.channels)
    )
    if dataset.shape != vae.image_shape:
        dataset = dataset.with_format(vae.config.image_size, vae.config.channels)
    source = label_source(dataset)
    columns, label_origin, attributes = _columns(dataset, options, source)
    targets = _targets(columns, attributes, options, source)

    class_labels = None
    class_set_name = None
    if options.classes:
        class_labels = class_column(columns, options.classes, source)
        class_set_name = options.name if options.name and not targets else options.classes

    new_names = [t.name for t in targets]
    if class_labels is not None:
        new_names += [class_set_name, *sorted(set(class_labels.tolist()) - {""})]  # type: ignore[list-item]
    if options.pca:
        new_names += [f"pc{k + 1}" for k in range(options.pca)]
    _check_new_names(existing, new_names, targets, class_set_name, options.pca, options.replace)
    orthogonal_to = list(options.orthogonal_to)
    _check_orthogonal(existing, orthogonal_to, [t.name for t in targets])

    plan = BuildPlan(
        options, vae, ref, existing, dataset, columns, label_origin, targets, orthogonal_to,
        class_labels, class_set_name,
    )  # fmt: skip
    _choose_rows(plan)
    return plan


def _columns(
    dataset: Dataset, options: BuildOptions, source: str
) -> tuple[dict[str, np.ndarray], dict[str, str], list[str]]:
    """The label columns (with the morpho ones added), where each came from, and the
    attribute columns to build."""
    attributes = list(options.attributes)
    columns = dict(dataset.labels)
    label_origin: dict[str, str] = {}
    if options.morpho:
        from .morpho import MORPHO_COLUMNS, morpho_labels

        clash = [c for c in MORPHO_COLUMNS if c in columns]
        if clash:
            raise DataError(
                f"the data already has a column {clash[0]!r}; {param('morpho')} would replace it",
                source,
            )
        with stats.one_thread():
            columns.update(morpho_labels(dataset, batch_size=max(options.batch_size, 1024)))
        label_origin = {c: "morpho" for c in MORPHO_COLUMNS}
        if not attributes and not options.all_attributes:
            attributes = list(MORPHO_COLUMNS)
    if options.all_attributes:
        attributes = attribute_columns(columns)
        if not attributes:
            have = ", ".join(columns) or "none"
            raise DataError(f"no 0/1 attribute columns to build (columns: {have})", source)
    return columns, label_origin, attributes


def _targets(
    columns: dict[str, np.ndarray], attributes: list[str], options: BuildOptions, source: str
) -> list[Target]:
    """One target per attribute column with enough examples on both sides."""
    attr_columns = attribute_columns(columns)
    estimator = estimator_class(options.method)
    targets: list[Target] = []
    for col in dict.fromkeys(attributes):
        y = attribute_column(columns, col, source)
        n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
        if min(n_pos, n_neg) < MIN_EXAMPLES:
            problem = (
                f"column {col!r} has {n_pos} examples with the attribute and {n_neg} without; "
                f"at least {MIN_EXAMPLES} of each are needed"
            )
            if options.all_attributes:  # all_attributes builds what it can
                warnings.warn(f"{source}: {problem}; skipped", stacklevel=4)
                continue
            raise DataError(problem, source)
        concept_name = options.name if options.name and len(attributes) == 1 else col
        try:
            check_name(concept_name)
        except ConceptError as exc:
            raise DataError(f"{exc.raw}; choose a name with {param('name')}", source) from None
        covs: list[str] = []
        if estimator.uses_covariates:
            others = {c: attribute_column(columns, c, source) for c in attr_columns if c != col}
            covs = select_covariates(y, others)
        # Streaming estimators are fed every image; the others are fitted on the sample
        # and calibrated on the full data's class means, which the accumulator keeps.
        acc = make_estimator(options.method) if streams(options.method) else MeanDifference()
        targets.append(Target(concept_name, col, y, covs, acc))

    if options.all_attributes and not targets:
        raise DataError("no 0/1 attribute column has enough examples on both sides", source)
    return targets


def _choose_rows(plan: BuildPlan) -> None:
    """Which rows are kept as latents: bounded, balanced, seeded."""
    opts = plan.options
    per_target_rows = []
    for t in plan.targets:
        t.sample = stats.balanced_sample(t.y, opts.sample_size // 2, opts.seed)
        per_target_rows.append(t.sample)
    if plan.class_labels is not None:
        n_classes = len(set(plan.class_labels.tolist()) - {""})
        plan.class_rows = stats.balanced_sample(
            plan.class_labels, max(opts.sample_size // n_classes, 50), opts.seed
        )
        plan.centroids = ClassCentroids()
    if opts.pca:
        n = len(plan.dataset)
        rng = np.random.default_rng([opts.seed, 5])
        plan.pca_rows = np.sort(rng.choice(n, min(n, opts.sample_size), replace=False))
        plan.pcs = PrincipalDirections(opts.pca)
    plan.keep = np.unique(np.concatenate([*per_target_rows, plan.class_rows, plan.pca_rows]))


def stream_latents(plan: BuildPlan, progress: Progress | None = None) -> np.ndarray:
    """The one pass over the data: feeds every accumulator, returns the kept latents;
    ``progress(done, total)`` hears of every encoded batch."""
    dataset, vae, keep = plan.dataset, plan.vae, plan.keep
    batch_size = plan.options.batch_size
    kept = np.zeros((len(keep), vae.latent_dim), np.float32)
    binary = {c: as_binary(plan.columns[c]) for t in plan.targets for c in t.covariates}
    done = 0
    for idx, batch in dataset.iter_batches(batch_size):
        z = vae.encode(batch, batch_size=batch_size).astype(np.float64)
        for t in plan.targets:
            if t.accumulator.uses_covariates:
                cov = covariates_of(binary, t.covariates, idx)
                t.accumulator.partial_fit(z, t.y[idx], cov)
            else:
                t.accumulator.partial_fit(z, t.y[idx])
        if plan.centroids is not None and plan.class_labels is not None:
            plan.centroids.partial_fit(z, plan.class_labels[idx])
        if plan.pcs is not None:
            plan.pcs.partial_fit(z)
        if len(keep):
            pos = np.minimum(np.searchsorted(keep, idx), len(keep) - 1)
            hit = keep[pos] == idx
            kept[pos[hit]] = z[hit]
        done += len(idx)
        if progress:
            progress(done, len(dataset))
    return kept


def fit_concepts(plan: BuildPlan, kept: np.ndarray) -> tuple[list[Concept], ClassSet | None]:
    """Directions, calibration, probes and trust statistics from the streamed pass."""
    keep, dataset, opts = plan.keep, plan.dataset, plan.options

    def rows_of(idx: np.ndarray) -> np.ndarray:
        return kept[np.searchsorted(keep, idx)].astype(np.float64)

    data_info = {
        "source": dataset.name,
        "fingerprint": dataset.fingerprint(),
        "images": len(dataset),
    }
    seed = opts.seed
    common = {"created": now(), "data": data_info, "seed": seed, "conceptvae_version": __version__}

    # The fits below are small: one BLAS thread is fastest, and far faster than
    # oversubscribed pools when other jobs share the cores.
    with stats.one_thread():
        # -- attribute concepts ------------------------------------------------------------
        fitted: dict[str, DirectionEstimator] = {}
        for t in plan.targets:
            fitted[t.name] = fit_direction(t, opts.method, rows_of(t.sample))
        concepts: list[Concept] = []
        for t in plan.targets:
            basis_names = [o for o in plan.orthogonal_to if o != t.name]
            basis = basis_of(plan.existing, basis_names, fitted, plan.ref.latent_dim)
            concepts.append(
                attribute_concept(
                    t,
                    fitted[t.name],
                    rows_of(t.sample),
                    method=opts.method,
                    basis=basis,
                    basis_names=basis_names,
                    columns=plan.columns,
                    common=common,
                    label_origin=plan.label_origin,
                    options=opts,
                )
            )

        new_class_set = None
        if plan.centroids is not None and plan.class_labels is not None:
            plan.centroids.finalize()
            new_class_set = class_set(
                plan.centroids, plan.class_labels, plan.class_rows, rows_of(plan.class_rows),
                set_name=plan.class_set_name or opts.classes or "", column=opts.classes or "",
                common=common, options=opts,
            )  # fmt: skip

        if plan.pcs is not None:
            plan.pcs.finalize().calibrate(rows_of(plan.pca_rows))
            concepts.extend(
                pc_concepts(plan.pcs, rows_of(plan.pca_rows), common=common, options=opts)
            )
    return concepts, new_class_set


# -- checks against the library ---------------------------------------------------------------


def _existing_library(ref: Any, ignore_fingerprint: bool) -> ConceptLibrary:
    path = ref.library_path
    if not path.exists():
        return ConceptLibrary(ref.latent_dim, ref.fingerprint, path=path)
    lib = ConceptLibrary.read(path)
    lib.check_model(ref, ignore_fingerprint)
    return lib


def _check_new_names(
    lib: ConceptLibrary,
    names: list[str],
    targets: list[Target],
    class_set: str | None,
    pca: int,
    replace: bool,
) -> None:
    """Refuse clashes before the (slow) encoding; the locked write checks again."""
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise ConceptError(f"the name {n!r} would be used twice in this build")
        seen.add(n)
    taken = set(lib.all_names())
    if replace:
        taken -= {t.name for t in targets if t.name in lib.concepts}
        taken -= {f"pc{k + 1}" for k in range(pca) if f"pc{k + 1}" in lib.concepts}
        if class_set is not None:
            # Rebuilding a class set (under its name or another) replaces every
            # set it shares a name with, whole.
            for cs in lib.class_sets_sharing(names):
                taken -= {cs.name, *cs.classes}
    clash = [n for n in names if n in taken]
    if clash:
        hint = f"; pass {param('replace')} to overwrite, or {param('name')} to choose another name"
        raise ConceptError(
            f"the library already has {', '.join(map(repr, clash[:5]))}"
            + (hint if not replace else " (as another kind of concept; remove it first)")
        )


def _check_orthogonal(lib: ConceptLibrary, items: list[str], new: list[str]) -> None:
    for item in items:
        if item in new:
            continue
        if lib.needs_latents(item):
            raise ConceptError(
                f"cannot orthogonalise against {item!r}: a class alone has no fixed direction "
                "(write SOURCE->CLASS)"
            )


def _class_summaries(s: ClassSet) -> list[dict[str, Any]]:
    return [class_row(s, i) for i in range(len(s.classes))]
