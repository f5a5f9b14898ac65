"""Concept direction estimators, fitted on posterior-mean latents.

scikit-learn estimators (``sklearn.base.BaseEstimator``: get_params, set_params,
clone, repr): hyperparameters in ``__init__``, ``fit`` returns self, learned
attributes end in ``_``. Attribute estimators take ``y`` with 1 (has the
attribute), 0 (lacks it) and -1 (unknown, ignored), and all end with:

``direction_``            unit vector (D,) from the negatives towards the positives
``mean_pos_, mean_neg_``  the class means the amounts are calibrated on
``n_pos_, n_neg_``        how many known examples each side had
``scale_``                ``(mean_pos_ - mean_neg_) . direction_``: one typical difference
``vector_``               ``direction_ * scale_`` as float32: the calibrated concept

Calibration is what makes amounts comparable: whatever the method, adding
``vector_`` moves the average negative example exactly onto the average positive
along the direction. Methods differ only in the direction they choose.

The mean-based estimators (and :class:`ClassCentroids`, :class:`PrincipalDirections`)
also have ``partial_fit``: they keep running sums, so a dataset can be streamed
through them in batches with constant memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from ..errors import ConceptError, param


def _check_latents(Z: Any, n: int | None = None) -> np.ndarray:
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2:
        raise ConceptError(f"latents must be a 2-D array (N, D), got shape {Z.shape}")
    if n is not None and len(Z) != n:
        raise ConceptError(f"{len(Z)} latents but {n} labels")
    if not np.isfinite(Z).all():
        raise ConceptError("latents contain NaN or infinite values")
    return Z


def _check_binary(y: Any, n: int) -> np.ndarray:
    y = np.asarray(y).reshape(-1)
    if len(y) != n:
        raise ConceptError(f"{n} latents but {len(y)} labels")
    if y.dtype.kind not in "iub":
        raise ConceptError(f"attribute labels must be integers 0/1 (-1 unknown), got {y.dtype}")
    y = y.astype(np.int8)
    if not np.isin(y, (-1, 0, 1)).all():
        raise ConceptError("attribute labels must be 0, 1 or -1 (unknown)")
    return y


def unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    if not np.isfinite(norm) or norm < 1e-12:
        raise ConceptError("the concept direction is zero: positives and negatives do not differ")
    return np.asarray(v, np.float64) / norm


def calibrated(
    direction: np.ndarray, mean_pos: np.ndarray, mean_neg: np.ndarray
) -> tuple[np.ndarray, float]:
    """(unit direction pointing to the positives, typical difference along it)."""
    u = unit(direction)
    scale = float(np.dot(np.asarray(mean_pos) - np.asarray(mean_neg), u))
    if scale < 0:
        u, scale = -u, -scale
    return u, scale


def orthogonalize(vector: np.ndarray, basis: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """``vector`` minus its least-squares fit by the rows of ``basis``.

    The result has zero projection on every basis vector, whether or not they
    are orthogonal to each other or even independent (lstsq handles rank).
    """
    v = np.asarray(vector, np.float64)
    B = np.atleast_2d(np.asarray(basis, np.float64))
    if B.size == 0:
        return v.copy()
    if B.shape[1] != v.shape[0]:
        raise ConceptError(
            f"cannot orthogonalise a {v.shape[0]}-d vector against {B.shape[1]}-d ones"
        )
    # Twice: the second pass removes what round-off left of the first.
    for _ in range(2):
        coef, *_ = np.linalg.lstsq(B.T, v, rcond=None)
        v = v - B.T @ coef
    return v


class DirectionEstimator(BaseEstimator):
    """Base class: subclasses set ``direction_`` and call :meth:`calibrate`.

    ``fit(Z, y, covariates=None)`` is what a build (and the trust statistics, on
    clones) call; a new method is a subclass in its own module plus one entry in
    :mod:`.methods`.
    """

    # True: fit takes the co-occurring attributes as covariates (see .methods).
    uses_covariates = False

    def calibrate(
        self,
        mean_pos: np.ndarray,
        mean_neg: np.ndarray,
        n_pos: int | None = None,
        n_neg: int | None = None,
    ) -> DirectionEstimator:
        """Express amounts against these class means (e.g. the full data's, after
        fitting a classifier on a sample of it)."""
        check_is_fitted(self, "direction_")
        self.direction_, self.scale_ = calibrated(self.direction_, mean_pos, mean_neg)
        self.mean_pos_ = np.asarray(mean_pos, np.float64)
        self.mean_neg_ = np.asarray(mean_neg, np.float64)
        if n_pos is not None:
            self.n_pos_, self.n_neg_ = int(n_pos), int(n_neg)
        self.vector_ = (self.direction_ * self.scale_).astype(np.float32)
        return self

    def _binary_data(self, Z: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        Z = _check_latents(Z)
        y = _check_binary(y, len(Z))
        known = y >= 0
        Z, y = Z[known], y[known]
        n_pos = int(y.sum())
        if n_pos == 0 or n_pos == len(y):
            raise ConceptError(
                f"need examples with and without the attribute (got {n_pos} with, "
                f"{len(y) - n_pos} without)"
            )
        return Z, y

    def _means_of(self, Z: np.ndarray, y: np.ndarray) -> None:
        self.n_pos_, self.n_neg_ = int((y == 1).sum()), int((y == 0).sum())
        self.mean_pos_, self.mean_neg_ = Z[y == 1].mean(0), Z[y == 0].mean(0)


class MeanDifference(DirectionEstimator):
    """mean(z | has attribute) - mean(z | lacks it): the seeds' method."""

    def fit(self, Z: Any, y: Any, covariates: Any = None) -> MeanDifference:
        for attr in ("sums_", "counts_"):
            self.__dict__.pop(attr, None)
        return self.partial_fit(Z, y)

    def partial_fit(self, Z: Any, y: Any, covariates: Any = None) -> MeanDifference:
        Z = _check_latents(Z)
        y = _check_binary(y, len(Z))
        if not hasattr(self, "sums_"):
            self.sums_ = np.zeros((2, Z.shape[1]))
            self.counts_ = np.zeros(2, np.int64)
        for label in (0, 1):
            rows = y == label
            self.counts_[label] += int(rows.sum())
            self.sums_[label] += Z[rows].sum(0)
        if self.counts_.min() > 0:
            self._update()
        return self

    def _update(self) -> None:
        self.n_neg_, self.n_pos_ = (int(c) for c in self.counts_)
        self.mean_neg_, self.mean_pos_ = self.sums_ / self.counts_[:, None]
        self.direction_ = self.mean_pos_ - self.mean_neg_
        self.calibrate(self.mean_pos_, self.mean_neg_)

    def finalize(self) -> MeanDifference:
        if not hasattr(self, "counts_") or self.counts_.min() == 0:
            got = (0, 0) if not hasattr(self, "counts_") else tuple(self.counts_[::-1])
            raise ConceptError(
                f"need examples with and without the attribute (got {got[0]} with, {got[1]} without)"
            )
        return self


class BalancedMeanDifference(DirectionEstimator):
    """Mean difference with co-occurring attributes held fixed (White, 2016).

    ``covariates`` (N, k) holds the other labeled attributes (0/1, -1 unknown
    counts as a level of its own). The examples are split into strata, one per
    combination of covariates; within a stratum the covariates do not vary, so
    its positive-minus-negative difference cannot carry them along. The strata
    differences are averaged with weight ``min(n_pos, n_neg)`` - the number of
    pairs left after equalising the combination - or the harmonic
    ``n_pos n_neg / (n_pos + n_neg)`` with ``weighting="harmonic"``. Strata
    lacking either side are skipped. Without covariates this is the plain mean
    difference.
    """

    uses_covariates = True

    def __init__(self, weighting: str = "min") -> None:
        self.weighting = weighting

    def fit(self, Z: Any, y: Any, covariates: Any = None) -> BalancedMeanDifference:
        self.__dict__.pop("strata_sums_", None)
        return self.partial_fit(Z, y, covariates).finalize()

    def partial_fit(self, Z: Any, y: Any, covariates: Any = None) -> BalancedMeanDifference:
        if self.weighting not in ("min", "harmonic"):
            raise ConceptError(f"weighting must be 'min' or 'harmonic', got {self.weighting!r}")
        Z = _check_latents(Z)
        y = _check_binary(y, len(Z))
        cov = np.zeros((len(Z), 0), np.int8) if covariates is None else np.asarray(covariates)
        if cov.ndim == 1:
            cov = cov[:, None]
        if len(cov) != len(Z):
            raise ConceptError(f"{len(Z)} latents but {len(cov)} rows of covariates")
        if cov.shape[1] > 39:  # 3**39 is the most that fits an int64 key
            raise ConceptError("at most 39 covariates can be balanced at once")
        if not hasattr(self, "strata_sums_"):
            self.strata_sums_: dict[int, np.ndarray] = {}
            self.strata_counts_: dict[int, np.ndarray] = {}
            self.n_covariates_ = cov.shape[1]
            self.totals_ = MeanDifference()
        elif cov.shape[1] != self.n_covariates_:
            raise ConceptError(f"expected {self.n_covariates_} covariates, got {cov.shape[1]}")
        self.totals_.partial_fit(Z, y)
        keep = y >= 0
        Z, y, cov = Z[keep], y[keep], np.clip(cov[keep].astype(np.int64), -1, 1)
        keys = ((cov + 1) * 3 ** np.arange(cov.shape[1], dtype=np.int64)).sum(1)
        uniq, inverse = np.unique(keys, return_inverse=True)
        group = inverse * 2 + y
        sums = np.zeros((2 * len(uniq), Z.shape[1]))
        np.add.at(sums, group, Z)
        counts = np.bincount(group, minlength=2 * len(uniq))
        for i, key in enumerate(uniq.tolist()):
            if key not in self.strata_sums_:
                self.strata_sums_[key] = np.zeros((2, Z.shape[1]))
                self.strata_counts_[key] = np.zeros(2, np.int64)
            self.strata_sums_[key] += sums[2 * i : 2 * i + 2]
            self.strata_counts_[key] += counts[2 * i : 2 * i + 2]
        return self

    def finalize(self) -> BalancedMeanDifference:
        if not hasattr(self, "strata_sums_"):
            raise ConceptError("no data: call fit or partial_fit first")
        self.totals_.finalize()
        total_w, diff = 0.0, 0.0
        used = 0
        for key, sums in self.strata_sums_.items():
            n_neg, n_pos = self.strata_counts_[key]
            if n_neg == 0 or n_pos == 0:
                continue
            w = min(n_neg, n_pos) if self.weighting == "min" else n_neg * n_pos / (n_neg + n_pos)
            diff = diff + w * (sums[1] / n_pos - sums[0] / n_neg)
            total_w += w
            used += 1
        if used == 0:
            raise ConceptError(
                "cannot balance: no combination of the other attributes has examples "
                "both with and without this one"
            )
        self.n_strata_ = used
        self.direction_ = np.asarray(diff) / total_w
        t = self.totals_
        return self.calibrate(t.mean_pos_, t.mean_neg_, t.n_pos_, t.n_neg_)  # type: ignore[return-value]


class _LinearClassifierDirection(DirectionEstimator):
    """The normal of a linear decision boundary (InterFaceGAN, TCAV)."""

    def _classifier(self) -> Any:
        raise NotImplementedError

    def fit(self, Z: Any, y: Any, covariates: Any = None) -> _LinearClassifierDirection:
        Z, y = self._binary_data(Z, y)
        clf = self._classifier().fit(Z, y)
        self.coef_ = np.asarray(clf.coef_, np.float64).reshape(-1)
        self.intercept_ = float(np.asarray(clf.intercept_).reshape(-1)[0])
        self.direction_ = self.coef_
        self._means_of(Z, y)
        return self.calibrate(self.mean_pos_, self.mean_neg_)  # type: ignore[return-value]


class LogisticDirection(_LinearClassifierDirection):
    """Normal of a scikit-learn LogisticRegression boundary."""

    def __init__(
        self, C: float = 1.0, class_weight: str | None = "balanced", max_iter: int = 1000
    ) -> None:
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter

    def _classifier(self) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter)


class SVMDirection(_LinearClassifierDirection):
    """Normal of a scikit-learn LinearSVC boundary."""

    def __init__(
        self,
        C: float = 1.0,
        class_weight: str | None = "balanced",
        max_iter: int = 5000,
        random_state: int = 0,
    ) -> None:
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.random_state = random_state

    def _classifier(self) -> Any:
        from sklearn.svm import LinearSVC

        return LinearSVC(
            C=self.C,
            class_weight=self.class_weight,
            max_iter=self.max_iter,
            dual="auto",
            random_state=self.random_state,
        )

    def fit(self, Z: Any, y: Any, covariates: Any = None) -> SVMDirection:
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        # An unconverged LinearSVC still has a usable normal; stability reports the rest.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return super().fit(Z, y)  # type: ignore[return-value]


class Orthogonalized(DirectionEstimator):
    """Any direction estimator, then projected off the rows of ``basis``.

    InterFaceGAN's conditional editing, for any number of conditions: the
    direction keeps no component along the named concepts, so moving along it
    leaves their projections unchanged. Amounts are recalibrated along the new
    direction.
    """

    def __init__(self, estimator: DirectionEstimator, basis: Any = None) -> None:
        self.estimator = estimator
        self.basis = basis

    def fit(self, Z: Any, y: Any, covariates: Any = None) -> Orthogonalized:
        base = clone(self.estimator).fit(Z, y, covariates)
        return self.from_fitted(base)

    def from_fitted(self, base: DirectionEstimator) -> Orthogonalized:
        """Orthogonalise an estimator that is already fitted (and calibrated)."""
        check_is_fitted(base, "direction_")
        self.estimator_ = base
        basis = np.zeros((0, len(base.direction_))) if self.basis is None else self.basis
        residual = orthogonalize(base.direction_, basis)
        self.residual_ = float(np.linalg.norm(residual))
        if self.residual_ < 1e-6:
            raise ConceptError(
                "nothing is left of the concept after orthogonalisation: it lies in the "
                "span of the concepts it was made orthogonal to"
            )
        self.direction_ = residual
        return self.calibrate(base.mean_pos_, base.mean_neg_, base.n_pos_, base.n_neg_)  # type: ignore[return-value]


def select_covariates(
    y: np.ndarray,
    others: dict[str, np.ndarray],
    min_correlation: float = 0.05,
    max_covariates: int = 6,
) -> list[str]:
    """The other attributes that co-occur with ``y``, most correlated first.

    Only labels are needed, so the choice is made before any image is encoded.
    Correlation is the phi coefficient over rows where both are known; at most
    ``max_covariates`` (2**6 = 64 strata) keep every stratum populated.
    """
    scored = []
    for name, col in others.items():
        both = (y >= 0) & (col >= 0)
        if both.sum() < 3:
            continue
        a, b = y[both].astype(np.float64), col[both].astype(np.float64)
        if a.std() == 0 or b.std() == 0:
            continue
        phi = float(np.corrcoef(a, b)[0, 1])
        if abs(phi) >= min_correlation:
            scored.append((-abs(phi), name))
    return [name for _, name in sorted(scored)[:max_covariates]]


def _class_order(values: Sequence[str]) -> list[str]:
    """Numeric order when every class is an integer (so 2 < 10), else text order."""
    values = list(values)
    try:
        return sorted(values, key=lambda v: (int(v), v))
    except ValueError:
        return sorted(values)


class ClassCentroids(BaseEstimator):
    """One centroid per class of a multi-class label column ("" = unknown).

    The concept ``a->b`` is ``centroids_[b] - centroids_[a]``: amount 1.0 moves
    the average ``a`` onto the average ``b``.
    """

    def fit(self, Z: Any, labels: Any) -> ClassCentroids:
        self.__dict__.pop("sums_", None)
        return self.partial_fit(Z, labels).finalize()

    def partial_fit(self, Z: Any, labels: Any) -> ClassCentroids:
        Z = _check_latents(Z)
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != len(Z):
            raise ConceptError(f"{len(Z)} latents but {len(labels)} labels")
        labels = labels.astype(str)
        if not hasattr(self, "sums_"):
            self.sums_: dict[str, np.ndarray] = {}
            self.class_counts_: dict[str, int] = {}
        uniq, inverse = np.unique(labels, return_inverse=True)
        sums = np.zeros((len(uniq), Z.shape[1]))
        np.add.at(sums, inverse, Z)
        counts = np.bincount(inverse, minlength=len(uniq))
        for i, name in enumerate(uniq.tolist()):
            if name == "":
                continue
            if name not in self.sums_:
                self.sums_[name] = np.zeros(Z.shape[1])
                self.class_counts_[name] = 0
            self.sums_[name] += sums[i]
            self.class_counts_[name] += int(counts[i])
        return self

    def finalize(self) -> ClassCentroids:
        if not getattr(self, "sums_", None):
            raise ConceptError("no labeled examples")
        if len(self.sums_) < 2:
            raise ConceptError(f"only one class ({next(iter(self.sums_))!r}); need at least two")
        self.classes_ = _class_order(self.sums_)
        self.counts_ = np.array([self.class_counts_[c] for c in self.classes_], np.int64)
        self.centroids_ = np.stack([self.sums_[c] for c in self.classes_]) / self.counts_[:, None]
        return self

    def index(self, name: str) -> int:
        check_is_fitted(self, "classes_")
        try:
            return self.classes_.index(name)
        except ValueError:
            raise ConceptError(f"unknown class {name!r}") from None

    def transition(self, source: str, target: str) -> np.ndarray:
        return (self.centroids_[self.index(target)] - self.centroids_[self.index(source)]).astype(
            np.float32
        )

    def predict(self, Z: Any) -> np.ndarray:
        """Nearest centroid, as class names."""
        check_is_fitted(self, "centroids_")
        Z = _check_latents(Z)
        d = ((Z[:, None, :] - self.centroids_[None]) ** 2).sum(-1)
        return np.array(self.classes_)[d.argmin(1)]


class PrincipalDirections(BaseEstimator):
    """Unsupervised principal directions of the latents, as GANSpace uses them.

    Streams exactly: running sums of z and z z^T give the covariance, whose
    eigenvectors are scikit-learn PCA's components (same order, same sign
    convention: the largest coordinate of each component is positive).
    With no labels, a component's "typical difference" is the gap between the
    average latent on either side of the mean along it; :meth:`fit` measures it
    on the data, after ``partial_fit`` it is estimated from the variance as for
    a Gaussian (``2 sqrt(2/pi) sigma``) until :meth:`calibrate` is given latents.
    """

    def __init__(self, n_components: int = 5) -> None:
        self.n_components = n_components

    def fit(self, Z: Any, y: Any = None) -> PrincipalDirections:
        self.__dict__.pop("n_samples_", None)
        self.partial_fit(Z).finalize()
        return self.calibrate(Z)

    def partial_fit(self, Z: Any, y: Any = None) -> PrincipalDirections:
        Z = _check_latents(Z)
        if not hasattr(self, "n_samples_"):
            self.n_samples_ = 0
            self.sum_ = np.zeros(Z.shape[1])
            self.outer_ = np.zeros((Z.shape[1], Z.shape[1]))
        # Centre each batch on the running mean: sums of squares stay well conditioned.
        shift = self.sum_ / self.n_samples_ if self.n_samples_ else Z.mean(0)
        if not hasattr(self, "shift_"):
            self.shift_ = shift
        Zc = Z - self.shift_
        self.n_samples_ += len(Z)
        self.sum_ += Z.sum(0)
        self.outer_ += Zc.T @ Zc
        return self

    def finalize(self) -> PrincipalDirections:
        n, dim = getattr(self, "n_samples_", 0), len(getattr(self, "sum_", []))
        if not 1 <= self.n_components <= dim:
            raise ConceptError(
                f"{param('pca')} must be from 1 to the latent size {dim}, got {self.n_components}"
            )
        if n < 2:
            raise ConceptError("principal directions need at least 2 examples")
        self.mean_ = self.sum_ / n
        d = self.mean_ - self.shift_
        cov = (self.outer_ - n * np.outer(d, d)) / (n - 1)
        values, vectors = np.linalg.eigh(cov)
        order = np.argsort(values)[::-1][: self.n_components]
        comps = vectors[:, order].T
        signs = np.sign(comps[np.arange(len(comps)), np.abs(comps).argmax(1)])
        self.components_ = comps * signs[:, None]
        self.explained_variance_ = np.clip(values[order], 0, None)
        self.explained_variance_ratio_ = self.explained_variance_ / max(
            values.clip(0).sum(), 1e-300
        )
        self.scales_ = 2 * np.sqrt(2 / np.pi) * np.sqrt(self.explained_variance_)
        self.vectors_ = (self.components_ * self.scales_[:, None]).astype(np.float32)
        return self

    def calibrate(self, Z: Any) -> PrincipalDirections:
        """Typical differences measured on these latents (e.g. a sample of the data)."""
        check_is_fitted(self, "components_")
        Z = _check_latents(Z)
        proj = (Z - self.mean_) @ self.components_.T
        scales = []
        for k in range(proj.shape[1]):
            p = proj[:, k]
            hi, lo = p[p > 0], p[p <= 0]
            gap = hi.mean() - lo.mean() if len(hi) and len(lo) else 0.0
            scales.append(gap)
        self.scales_ = np.array(scales)
        self.vectors_ = (self.components_ * self.scales_[:, None]).astype(np.float32)
        return self
