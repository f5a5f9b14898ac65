"""From the streamed pass to stored concepts: directions, calibration, probes and
the trust statistics of each attribute, class set and principal direction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConceptError
from . import stats
from .build_options import BuildOptions
from .estimators import (
    ClassCentroids,
    DirectionEstimator,
    MeanDifference,
    Orthogonalized,
    PrincipalDirections,
    unit,
)
from .labels import as_binary, covariates_of
from .library import ConceptLibrary
from .methods import make_estimator, streams
from .values import ClassSet, Concept


@dataclass
class Target:
    """One attribute concept being built."""

    name: str
    column: str
    y: np.ndarray
    covariates: list[str]
    accumulator: DirectionEstimator  # fed every image; see conceptvae.concepts.methods
    sample: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def fit_direction(t: Target, method: str, Z: np.ndarray) -> DirectionEstimator:
    """The concept's direction, calibrated on the full data's class means."""
    acc = t.accumulator
    acc.finalize()
    if streams(method):
        return acc  # fitted exactly on every image
    full = acc if isinstance(acc, MeanDifference) else acc.totals_
    est = make_estimator(method).fit(Z, t.y[t.sample])
    return est.calibrate(full.mean_pos_, full.mean_neg_, full.n_pos_, full.n_neg_)


def basis_of(
    lib: ConceptLibrary, names: list[str], fitted: dict[str, DirectionEstimator], dim: int
) -> np.ndarray:
    rows = []
    for n in names:
        if n in fitted:
            rows.append(fitted[n].direction_)
        else:
            rows.append(unit(lib.direction(n).astype(np.float64)))
    return np.array(rows) if rows else np.zeros((0, dim))


def attribute_concept(
    t: Target,
    est: DirectionEstimator,
    Z: np.ndarray,
    *,
    method: str,
    basis: np.ndarray,
    basis_names: list[str],
    columns: dict[str, np.ndarray],
    common: dict[str, Any],
    label_origin: dict[str, str],
    options: BuildOptions,
) -> Concept:
    """The stored concept: direction (made orthogonal to ``basis``), probe, trust statistics."""
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
        binary = {c: as_binary(columns[c]) for c in t.covariates}
        cov = covariates_of(binary, t.covariates, t.sample)
    seed = options.seed
    metrics: dict[str, Any] = dict(stats.probe_scores(Z, y, seed))
    metrics["direction_auc"] = stats.direction_auc(spec, Z, y, cov, seed)
    p, statistic = stats.permutation_test(Z, y, options.permutations, seed)
    metrics.update(
        p_value=p,
        statistic=statistic,
        permutations=options.permutations,
        alpha=stats.ALPHA,
        stability=stats.bootstrap_stability(spec, Z, y, cov, options.bootstraps, seed),
        bootstraps=options.bootstraps,
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
        "metrics": clean(metrics),
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


def class_set(
    centroids: ClassCentroids,
    labels: np.ndarray,
    rows: np.ndarray,
    Z: np.ndarray,
    *,
    set_name: str,
    column: str,
    common: dict[str, Any],
    options: BuildOptions,
) -> ClassSet:
    """Centroids, counts, a multinomial probe and per-class trust statistics."""
    classes = centroids.classes_
    k = len(classes)
    lookup = {c: i for i, c in enumerate(classes)}
    codes = np.array([lookup[v] for v in labels[rows].tolist()], np.int64)
    priors = centroids.counts_ / centroids.counts_.sum()
    seed = options.seed
    probe = stats.class_probe(Z, codes, k, priors, seed)
    per_class: dict[str, Any] = {}
    C = centroids.centroids_
    for i, c in enumerate(classes):
        y = (codes == i).astype(np.int64)
        p, statistic = stats.permutation_test(Z, y, options.permutations, seed)
        n_here = int(centroids.counts_[i])
        verdict = stats.trust_verdict(
            p, probe["auc"][i], n_here, int(centroids.counts_.sum()) - n_here
        )
        rest = np.delete(C, i, axis=0).mean(0)
        per_class[c] = clean(
            {
                "n": int(centroids.counts_[i]),
                "probe_auc": probe["auc"][i],
                "p_value": p,
                "statistic": statistic,
                "significant": verdict == "ok",
                "trust": verdict,
                "stability": stats.bootstrap_stability(
                    MeanDifference(), Z, y, None, options.bootstraps, seed
                ),
                "norm": float(np.linalg.norm(C[i] - rest)),
            }
        )
    info = {
        **common,
        "column": column,
        "method": "centroid",
        "metrics": clean(
            {
                "probe_accuracy": probe["accuracy"],
                "permutations": options.permutations,
                "alpha": stats.ALPHA,
                "bootstraps": options.bootstraps,
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


def pc_concepts(
    pcs: PrincipalDirections, Z: np.ndarray, *, common: dict[str, Any], options: BuildOptions
) -> list[Concept]:
    """pc1..pcK with their share of the variance and bootstrap stability."""
    rng = np.random.default_rng([options.seed, 17])
    boots = []
    for _ in range(options.bootstraps):
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
            "bootstraps": options.bootstraps,
            "sample_size": len(Z),
            "significant": None,
        }
        info = {
            **common,
            "component": k + 1,
            "scale": float(pcs.scales_[k]),
            "n_images": int(pcs.n_samples_),
            "metrics": clean(metrics),
        }
        out.append(Concept(f"pc{k + 1}", "pc", "pca", pcs.vectors_[k], None, None, info))
    return out


def clean(d: dict[str, Any]) -> dict[str, Any]:
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
