"""Build concepts: encode a dataset once, streaming, and add the concepts to the library.

One pass over the data feeds every requested concept at once: running sums
for the mean-based estimators, class centroids and principal directions, and a
bounded, class-balanced sample of latents (at most ``sample_size`` rows per
concept) for the classifier-based methods and the trust statistics. Memory
therefore does not grow with the number of images, only the per-image labels do.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import __version__
from ..data import Dataset, FolderDataset, open_dataset
from ..errors import ConceptError, DataError, param
from ..model.identity import model_ref
from ..options import BUILD_BATCH_SIZE
from . import stats
from .estimators import (
    METHODS,
    BalancedMeanDifference,
    ClassCentroids,
    DirectionEstimator,
    MeanDifference,
    Orthogonalized,
    PrincipalDirections,
    make_estimator,
    select_covariates,
    unit,
)
from .expressions import check_name
from .library import ConceptLibrary, update_library
from .manage import class_row, concept_row
from .values import ClassSet, Concept, now

MIN_EXAMPLES = 5
SAMPLE_SIZE = 10000
BATCH_SIZE = BUILD_BATCH_SIZE
# progress(done, total): images encoded so far, of all.
Progress = Callable[[int, int], None]


@dataclass
class BuildResult:
    library: str
    images: int
    seconds: float
    concepts: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Target:
    """One attribute concept being built."""

    name: str
    column: str
    y: np.ndarray
    covariates: list[str]
    accumulator: MeanDifference | BalancedMeanDifference
    sample: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


@dataclass
class BuildPlan:
    """Everything a build needs before the data is encoded: checked options, the
    model and its library, the labels, the concepts to fit and the rows to keep."""

    vae: Any
    ref: Any
    existing: ConceptLibrary
    dataset: Dataset
    columns: dict[str, np.ndarray]
    label_origin: dict[str, str]
    targets: list[_Target]
    method: str
    orthogonal_to: list[str]
    class_labels: np.ndarray | None
    class_set_name: str | None
    classes: str | None
    pca: int
    options: dict[str, Any]  # seed, permutations, bootstraps, batch_size, replace, ...
    keep: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    class_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pca_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    centroids: ClassCentroids | None = None
    pcs: PrincipalDirections | None = None


def build_concepts(
    model: Any,
    data: str | os.PathLike | Dataset,
    labels: str | os.PathLike | None = None,
    attributes: list[str] | tuple[str, ...] = (),
    all_attributes: bool = False,
    method: str = "mean",
    orthogonal_to: list[str] | tuple[str, ...] = (),
    classes: str | None = None,
    pca: int = 0,
    name: str | None = None,
    morpho: bool = False,
    replace: bool = False,
    ignore_fingerprint: bool = False,
    seed: int = 0,
    batch_size: int = BATCH_SIZE,
    sample_size: int = SAMPLE_SIZE,
    permutations: int = stats.PERMUTATIONS,
    bootstraps: int = stats.BOOTSTRAPS,
    backend: str = "auto",
    progress: Progress | None = None,
) -> BuildResult:
    """Build concepts from ``data`` for ``model`` and add them to its library.

    ``attributes`` are 0/1 label columns (``all_attributes``: every one), built
    with ``method`` (mean, balanced, logistic, svm) and optionally made
    orthogonal to the concepts named in ``orthogonal_to`` (library concepts,
    expressions, or attributes built in the same call). ``classes`` is a
    multi-class column: one concept per class value. ``pca`` adds principal
    directions pc1..pcK. ``morpho`` labels digit thickness and slant from the
    pixels (attributes ``thick`` and ``slant``). ``name`` renames a single
    attribute concept, or names the class set when only ``classes`` is given.
    ``progress(done, total)`` hears of every encoded batch.

    Three steps: :func:`plan_build` (everything checked before the slow part),
    :func:`stream_latents` (the one pass over the data), :func:`fit_concepts`;
    then the library is updated under its lock.
    """
    t0 = time.perf_counter()
    plan = plan_build(
        model, data, labels, attributes, all_attributes, method, orthogonal_to, classes, pca,
        name, morpho, replace, ignore_fingerprint, seed, batch_size, sample_size, permutations,
        bootstraps, backend,
    )  # fmt: skip
    kept = stream_latents(plan, progress)
    concepts, class_set = fit_concepts(plan, kept)
    with update_library(plan.ref, ignore_fingerprint) as lib:
        for c in concepts:
            lib.add_concept(c, replace=replace)
        if class_set is not None:
            lib.add_class_set(class_set, replace=replace)
        path = lib.path

    summaries = [concept_row(c) for c in concepts]
    if class_set is not None:
        summaries.extend(_class_summaries(class_set))
    n = len(plan.dataset)
    return BuildResult(str(path), n, round(time.perf_counter() - t0, 2), summaries)


def plan_build(
    model: Any,
    data: str | os.PathLike | Dataset,
    labels: str | os.PathLike | None = None,
    attributes: list[str] | tuple[str, ...] = (),
    all_attributes: bool = False,
    method: str = "mean",
    orthogonal_to: list[str] | tuple[str, ...] = (),
    classes: str | None = None,
    pca: int = 0,
    name: str | None = None,
    morpho: bool = False,
    replace: bool = False,
    ignore_fingerprint: bool = False,
    seed: int = 0,
    batch_size: int = BATCH_SIZE,
    sample_size: int = SAMPLE_SIZE,
    permutations: int = stats.PERMUTATIONS,
    bootstraps: int = stats.BOOTSTRAPS,
    backend: str = "auto",
) -> BuildPlan:
    """Check options, model, library, labels and names, and choose the rows to keep
    (bounded, balanced, seeded), before any image is encoded."""
    attributes = list(attributes)
    orthogonal_to = [o.strip() for o in orthogonal_to if o.strip()]
    _check_options(attributes, all_attributes, method, classes, pca, name, morpho, orthogonal_to)
    for knob, value, low in (
        ("batch size", batch_size, 1),
        ("sample size", sample_size, 2 * MIN_EXAMPLES),
        ("permutations", permutations, 1),
        ("bootstraps", bootstraps, 2),
    ):
        if value < low:
            raise ConceptError(f"{knob} must be at least {low}, got {value}")

    from ..model.api import load_model
    from ..model.loaded import VAEModel

    vae = model if isinstance(model, VAEModel) else load_model(model, backend=backend)
    ref = model_ref(vae)
    existing = _existing_library(ref, ignore_fingerprint)

    dataset = (
        data
        if isinstance(data, Dataset)
        else open_dataset(data, labels, vae.config.image_size, vae.config.channels)
    )
    if dataset.shape != vae.image_shape:
        dataset = dataset.with_format(vae.config.image_size, vae.config.channels)
    source = _label_source(dataset)
    columns = dict(dataset.labels)
    label_origin: dict[str, str] = {}
    if morpho:
        from .morpho import MORPHO_COLUMNS, morpho_labels

        clash = [c for c in MORPHO_COLUMNS if c in columns]
        if clash:
            raise DataError(
                f"the data already has a column {clash[0]!r}; {param('morpho')} would replace it",
                source,
            )
        with stats.one_thread():
            columns.update(morpho_labels(dataset, batch_size=max(batch_size, 1024)))
        label_origin = {c: "morpho" for c in MORPHO_COLUMNS}
        if not attributes and not all_attributes:
            attributes = list(MORPHO_COLUMNS)

    attr_columns = _attribute_columns(columns)
    if all_attributes:
        attributes = list(attr_columns)
        if not attributes:
            have = ", ".join(columns) or "none"
            raise DataError(f"no 0/1 attribute columns to build (columns: {have})", source)
    targets: list[_Target] = []
    for col in dict.fromkeys(attributes):
        y = _attribute(columns, col, source)
        n_pos, n_neg = int((y == 1).sum()), int((y == 0).sum())
        if min(n_pos, n_neg) < MIN_EXAMPLES:
            problem = (
                f"column {col!r} has {n_pos} examples with the attribute and {n_neg} without; "
                f"at least {MIN_EXAMPLES} of each are needed"
            )
            if all_attributes:  # all_attributes builds what it can
                warnings.warn(f"{source}: {problem}; skipped", stacklevel=3)
                continue
            raise DataError(problem, source)
        concept_name = name if name and len(attributes) == 1 else col
        try:
            check_name(concept_name)
        except ConceptError as exc:
            raise DataError(f"{exc.raw}; choose a name with {param('name')}", source) from None
        covs: list[str] = []
        if method == "balanced":
            others = {c: _attribute(columns, c, source) for c in attr_columns if c != col}
            covs = select_covariates(y, others)
        acc = BalancedMeanDifference() if method == "balanced" else MeanDifference()
        targets.append(_Target(concept_name, col, y, covs, acc))

    if all_attributes and not targets:
        raise DataError("no 0/1 attribute column has enough examples on both sides", source)

    class_labels = None
    class_set_name = None
    if classes:
        class_labels = _class_column(columns, classes, source)
        class_set_name = name if name and not targets else classes

    new_names = [t.name for t in targets]
    if class_labels is not None:
        new_names += [class_set_name, *sorted(set(class_labels.tolist()) - {""})]  # type: ignore[list-item]
    if pca:
        new_names += [f"pc{k + 1}" for k in range(pca)]
    _check_new_names(existing, new_names, targets, class_set_name, pca, replace)
    _check_orthogonal(existing, orthogonal_to, [t.name for t in targets])

    plan = BuildPlan(
        vae, ref, existing, dataset, columns, label_origin, targets, method, orthogonal_to,
        class_labels, class_set_name, classes, pca,
        {"seed": seed, "permutations": permutations, "bootstraps": bootstraps,
         "batch_size": batch_size},
    )  # fmt: skip
    # -- which rows are kept as latents: bounded, balanced, seeded ---------------
    per_target_rows = []
    for t in targets:
        t.sample = stats.balanced_sample(t.y, sample_size // 2, seed)
        per_target_rows.append(t.sample)
    if class_labels is not None:
        n_classes = len(set(class_labels.tolist()) - {""})
        plan.class_rows = stats.balanced_sample(
            class_labels, max(sample_size // n_classes, 50), seed
        )
        plan.centroids = ClassCentroids()
    if pca:
        rng = np.random.default_rng([seed, 5])
        plan.pca_rows = np.sort(
            rng.choice(len(dataset), min(len(dataset), sample_size), replace=False)
        )
        plan.pcs = PrincipalDirections(pca)
    plan.keep = np.unique(np.concatenate([*per_target_rows, plan.class_rows, plan.pca_rows]))
    return plan


def stream_latents(plan: BuildPlan, progress: Progress | None = None) -> np.ndarray:
    """The one pass over the data: feeds every accumulator, returns the kept latents;
    ``progress(done, total)`` hears of every encoded batch."""
    return _stream(
        plan.dataset, plan.vae, plan.options["batch_size"], plan.keep, plan.targets,
        plan.columns, plan.centroids, plan.class_labels, plan.pcs, progress,
    )  # fmt: skip


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
    seed = opts["seed"]
    common = {"created": now(), "data": data_info, "seed": seed, "conceptvae_version": __version__}

    # The fits below are small: one BLAS thread is fastest, and far faster than
    # oversubscribed pools when other jobs share the cores.
    with stats.one_thread():
        # -- attribute concepts ------------------------------------------------------------
        fitted: dict[str, DirectionEstimator] = {}
        for t in plan.targets:
            fitted[t.name] = _fit_direction(t, plan.method, rows_of(t.sample), plan.columns)
        concepts: list[Concept] = []
        for t in plan.targets:
            basis_names = [o for o in plan.orthogonal_to if o != t.name]
            basis = _basis(plan.existing, basis_names, fitted, plan.ref.latent_dim)
            concepts.append(
                _attribute_concept(
                    t,
                    plan.method,
                    fitted[t.name],
                    basis,
                    basis_names,
                    rows_of(t.sample),
                    plan.columns,
                    common,
                    plan.label_origin,
                    opts,
                )
            )

        class_set = None
        if plan.centroids is not None and plan.class_labels is not None:
            plan.centroids.finalize()
            class_set = _class_set(
                plan.class_set_name or plan.classes or "",
                plan.classes or "",
                plan.centroids,
                plan.class_labels,
                plan.class_rows,
                rows_of(plan.class_rows),
                common,
                opts,
            )

        if plan.pcs is not None:
            plan.pcs.finalize().calibrate(rows_of(plan.pca_rows))
            concepts.extend(_pc_concepts(plan.pcs, rows_of(plan.pca_rows), common, opts))
    return concepts, class_set


# -- option and label checks -----------------------------------------------------------


def _check_options(
    attributes: list[str],
    all_attributes: bool,
    method: str,
    classes: str | None,
    pca: int,
    name: str | None,
    morpho: bool,
    orthogonal_to: list[str],
) -> None:
    if method not in METHODS:
        raise ConceptError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    if attributes and all_attributes:
        raise ConceptError(f"give {param('attributes')} NAME or {param('all_attributes')}, not both")
    if not (attributes or all_attributes or classes or pca or morpho):
        raise ConceptError(
            f"nothing to build: give {param('attributes')} NAME, {param('all_attributes')}, "
            f"{param('classes')} COLUMN, {param('pca')} K or {param('morpho')}"
        )
    if pca < 0:
        raise ConceptError(f"{param('pca')} must be positive, got {pca}")
    n_attr = len(dict.fromkeys(attributes)) or (2 if (all_attributes or morpho) else 0)
    if name is not None and not (n_attr == 1 or (n_attr == 0 and classes)):
        raise ConceptError(
            f"{param('name')} names a single attribute concept (or the class column with "
            f"{param('classes')} alone)"
        )
    if orthogonal_to and not (attributes or all_attributes or morpho):
        raise ConceptError(
            f"{param('orthogonal_to')} applies to attribute concepts; give "
            f"{param('attributes')} or {param('all_attributes')}"
        )


def _label_source(dataset: Dataset) -> str:
    if isinstance(dataset, FolderDataset) and dataset.labels_file is not None:
        return str(dataset.labels_file)
    return dataset.name


def _as_binary(col: np.ndarray) -> np.ndarray | None:
    """int8 0/1/-1 for an attribute column, or a class column whose values are all 0/1."""
    if col.dtype.kind in "iub":
        return col.astype(np.int8)
    values = set(np.unique(col).tolist()) - {""}
    if values and values <= {"0", "1"}:
        return np.where(col == "1", 1, np.where(col == "0", 0, -1)).astype(np.int8)
    return None


def _attribute_columns(columns: dict[str, np.ndarray]) -> list[str]:
    return [c for c, v in columns.items() if _as_binary(v) is not None]


def _attribute(columns: dict[str, np.ndarray], col: str, source: str) -> np.ndarray:
    if col not in columns:
        have = ", ".join(columns) or "none"
        raise DataError(f"no label column {col!r} (columns: {have})", source)
    y = _as_binary(columns[col])
    if y is None:
        values = sorted(set(np.unique(columns[col]).tolist()) - {""})
        shown = ", ".join(values[:4]) + (", ..." if len(values) > 4 else "")
        raise DataError(
            f"column {col!r} is not a 0/1 attribute (values: {shown}); "
            f"use {param('classes')} {col} for one concept per value",
            source,
        )
    return y


def _class_column(columns: dict[str, np.ndarray], col: str, source: str) -> np.ndarray:
    if col not in columns:
        have = ", ".join(columns) or "none"
        raise DataError(f"no label column {col!r} (columns: {have})", source)
    raw = columns[col]
    labels = raw.astype(np.int64).astype(str) if raw.dtype.kind in "iub" else raw.astype(str)
    if raw.dtype.kind in "iub":
        labels = np.where(raw < 0, "", labels)
    values, counts = np.unique(labels[labels != ""], return_counts=True)
    if len(values) < 2:
        only = f" ({values[0]!r})" if len(values) else ""
        raise DataError(f"column {col!r} has {len(values)} class{only}; need at least two", source)
    rare = [f"{v!r} ({c})" for v, c in zip(values.tolist(), counts.tolist()) if c < MIN_EXAMPLES]
    if rare:
        raise DataError(
            f"column {col!r}: class {', '.join(rare[:3])} has fewer than {MIN_EXAMPLES} examples",
            source,
        )
    for v in values.tolist():
        try:
            check_name(v, "class name")
        except ConceptError as exc:
            raise DataError(f"column {col!r}: {exc.raw}", source) from None
    return labels


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
    targets: list[_Target],
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
        if class_set in lib.class_sets:
            taken -= {class_set, *lib.class_sets[class_set].classes}
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


# -- the one pass over the data ---------------------------------------------------------------


def _stream(
    dataset: Dataset,
    vae: Any,
    batch_size: int,
    keep: np.ndarray,
    targets: list[_Target],
    columns: dict[str, np.ndarray],
    centroids: ClassCentroids | None,
    class_labels: np.ndarray | None,
    pcs: PrincipalDirections | None,
    progress: Progress | None = None,
) -> np.ndarray:
    kept = np.zeros((len(keep), vae.latent_dim), np.float32)
    binary = {c: _as_binary(columns[c]) for t in targets for c in t.covariates}
    done = 0
    for idx, batch in dataset.iter_batches(batch_size):
        z = vae.encode(batch, batch_size=batch_size).astype(np.float64)
        for t in targets:
            if isinstance(t.accumulator, BalancedMeanDifference):
                cov = _covariates(binary, t.covariates, idx)
                t.accumulator.partial_fit(z, t.y[idx], cov)
            else:
                t.accumulator.partial_fit(z, t.y[idx])
        if centroids is not None and class_labels is not None:
            centroids.partial_fit(z, class_labels[idx])
        if pcs is not None:
            pcs.partial_fit(z)
        if len(keep):
            pos = np.minimum(np.searchsorted(keep, idx), len(keep) - 1)
            hit = keep[pos] == idx
            kept[pos[hit]] = z[hit]
        done += len(idx)
        if progress:
            progress(done, len(dataset))
    return kept


def _covariates(binary: dict[str, Any], names: list[str], idx: np.ndarray) -> np.ndarray:
    if not names:
        return np.zeros((len(idx), 0), np.int8)
    return np.stack([binary[n][idx] for n in names], 1)


# -- attribute concepts --------------------------------------------------------------------------


def _fit_direction(
    t: _Target, method: str, Z: np.ndarray, columns: dict[str, np.ndarray]
) -> DirectionEstimator:
    """The concept's direction, calibrated on the full data's class means."""
    acc = t.accumulator
    acc.finalize()
    if method in ("mean", "balanced"):
        return acc  # fitted exactly on every image
    full = acc if isinstance(acc, MeanDifference) else acc.totals_
    est = make_estimator(method).fit(Z, t.y[t.sample])
    return est.calibrate(full.mean_pos_, full.mean_neg_, full.n_pos_, full.n_neg_)


def _basis(
    lib: ConceptLibrary, names: list[str], fitted: dict[str, DirectionEstimator], dim: int
) -> np.ndarray:
    rows = []
    for n in names:
        if n in fitted:
            rows.append(fitted[n].direction_)
        else:
            rows.append(unit(lib.direction(n).astype(np.float64)))
    return np.array(rows) if rows else np.zeros((0, dim))


def _attribute_concept(
    t: _Target,
    method: str,
    est: DirectionEstimator,
    basis: np.ndarray,
    basis_names: list[str],
    Z: np.ndarray,
    columns: dict[str, np.ndarray],
    common: dict[str, Any],
    label_origin: dict[str, str],
    opts: dict[str, Any],
) -> Concept:
    spec: DirectionEstimator = make_estimator(method)
    if len(basis):
        spec = Orthogonalized(spec, basis)
        try:
            est = Orthogonalized(make_estimator(method), basis).from_fitted(est)
        except ConceptError as exc:
            raise ConceptError(f"{t.name}: {exc.raw}") from None
    y = t.y[t.sample].astype(np.int64)
    cov = None
    if t.covariates:
        binary = {c: _as_binary(columns[c]) for c in t.covariates}
        cov = _covariates(binary, t.covariates, t.sample)
    seed = opts["seed"]
    metrics: dict[str, Any] = dict(stats.probe_scores(Z, y, seed))
    metrics["direction_auc"] = stats.direction_auc(spec, Z, y, cov, seed)
    p, statistic = stats.permutation_test(Z, y, opts["permutations"], seed)
    metrics.update(
        p_value=p,
        statistic=statistic,
        permutations=opts["permutations"],
        alpha=stats.ALPHA,
        stability=stats.bootstrap_stability(spec, Z, y, cov, opts["bootstraps"], seed),
        bootstraps=opts["bootstraps"],
        sample_size=len(y),
    )
    metrics["trust"] = stats.trust_verdict(
        p, metrics["probe_auc"], est.n_pos_, est.n_neg_, metrics["probe_accuracy"]
    )
    metrics["significant"] = metrics["trust"] == "ok"
    n_known = est.n_pos_ + est.n_neg_
    coef, intercept = stats.fit_probe(Z, y, est.n_pos_ / n_known)
    info = {
        **common,
        "column": t.column,
        "labels": label_origin.get(t.column, "data"),
        "n_pos": est.n_pos_,
        "n_neg": est.n_neg_,
        "n_unknown": int((t.y < 0).sum()),
        "scale": float(est.scale_),
        "metrics": _clean(metrics),
    }
    if basis_names:
        info["orthogonal_to"] = basis_names
    if t.covariates:
        info["balanced_on"] = t.covariates
        base = getattr(est, "estimator_", est)
        info["strata"] = int(getattr(base, "n_strata_", 0))
    return Concept(
        t.name, "attribute", method, est.vector_, coef.astype(np.float32), intercept, info
    )


# -- class and principal-direction concepts -----------------------------------------------------


def _class_set(
    set_name: str,
    column: str,
    centroids: ClassCentroids,
    labels: np.ndarray,
    rows: np.ndarray,
    Z: np.ndarray,
    common: dict[str, Any],
    opts: dict[str, Any],
) -> ClassSet:
    classes = centroids.classes_
    k = len(classes)
    lookup = {c: i for i, c in enumerate(classes)}
    codes = np.array([lookup[v] for v in labels[rows].tolist()], np.int64)
    priors = centroids.counts_ / centroids.counts_.sum()
    seed = opts["seed"]
    probe = stats.class_probe(Z, codes, k, priors, seed)
    per_class: dict[str, Any] = {}
    C = centroids.centroids_
    for i, c in enumerate(classes):
        y = (codes == i).astype(np.int64)
        p, statistic = stats.permutation_test(Z, y, opts["permutations"], seed)
        n_here = int(centroids.counts_[i])
        verdict = stats.trust_verdict(
            p, probe["auc"][i], n_here, int(centroids.counts_.sum()) - n_here
        )
        rest = np.delete(C, i, axis=0).mean(0)
        per_class[c] = _clean(
            {
                "n": int(centroids.counts_[i]),
                "probe_auc": probe["auc"][i],
                "p_value": p,
                "statistic": statistic,
                "significant": verdict == "ok",
                "trust": verdict,
                "stability": stats.bootstrap_stability(
                    MeanDifference(), Z, y, None, opts["bootstraps"], seed
                ),
                "norm": float(np.linalg.norm(C[i] - rest)),
            }
        )
    info = {
        **common,
        "column": column,
        "method": "centroid",
        "metrics": _clean(
            {
                "probe_accuracy": probe["accuracy"],
                "permutations": opts["permutations"],
                "alpha": stats.ALPHA,
                "bootstraps": opts["bootstraps"],
                "sample_size": len(rows),
            }
        ),
        "per_class": per_class,
    }
    return ClassSet(
        set_name,
        list(classes),
        C.astype(np.float32),
        centroids.counts_.astype(np.int64),
        probe["coef"].astype(np.float32),
        probe["intercept"].astype(np.float64),
        info,
    )


def _pc_concepts(
    pcs: PrincipalDirections, Z: np.ndarray, common: dict[str, Any], opts: dict[str, Any]
) -> list[Concept]:
    rng = np.random.default_rng([opts["seed"], 17])
    boots = []
    for _ in range(opts["bootstraps"]):
        rows = rng.choice(len(Z), len(Z))
        boots.append(
            PrincipalDirections(pcs.n_components).partial_fit(Z[rows]).finalize().components_
        )
    boots_arr = np.array(boots)  # (B, K, D)
    out = []
    for k in range(pcs.n_components):
        metrics = {
            "explained_variance": float(pcs.explained_variance_[k]),
            "explained_variance_ratio": float(pcs.explained_variance_ratio_[k]),
            "stability": stats.mean_pairwise_cosine(boots_arr[:, k], absolute=True),
            "bootstraps": opts["bootstraps"],
            "sample_size": len(Z),
            "significant": None,
        }
        info = {
            **common,
            "component": k + 1,
            "scale": float(pcs.scales_[k]),
            "n_images": int(pcs.n_samples_),
            "metrics": _clean(metrics),
        }
        out.append(Concept(f"pc{k + 1}", "pc", "pca", pcs.vectors_[k], None, None, info))
    return out


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe: numpy scalars to Python, NaN to None."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, (np.floating, float)):
            v = float(v)
            out[k] = None if not np.isfinite(v) else round(v, 6)
        elif isinstance(v, np.integer):
            out[k] = int(v)
        elif isinstance(v, np.bool_):
            out[k] = bool(v)
        else:
            out[k] = v
    return out


def _class_summaries(s: ClassSet) -> list[dict[str, Any]]:
    return [class_row(s, i) for i in range(len(s.classes))]
