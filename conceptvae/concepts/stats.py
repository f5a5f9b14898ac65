"""How far to trust a concept: held-out probes, a permutation test, bootstrap stability.

Everything here runs on a bounded, class-balanced sample of the latents (see
:func:`balanced_sample`), so the cost does not grow with the dataset. All
randomness comes from the ``seed`` arguments.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .estimators import DirectionEstimator

ALPHA = 0.05
PERMUTATIONS = 100
BOOTSTRAPS = 20
FOLDS = 5
# Rows per label value the statistics use at most (the build samples 10,000 latents).
SAMPLE_PER_LABEL = 5000


def chance_auc(n_pos: int, n_neg: int, z: float = 1.645) -> float:
    """The held-out AUC a probe at chance stays under 95% of the time.

    0.5 plus 1.645 standard errors of the AUC under the null (Hanley & McNeil),
    for ``n_pos`` positives and ``n_neg`` negatives.
    """
    n_pos, n_neg = max(int(n_pos), 1), max(int(n_neg), 1)
    return 0.5 + z * math.sqrt((n_pos + n_neg + 1) / (12 * n_pos * n_neg))


def trust_verdict(
    p_value: float | None,
    probe_auc: float | None,
    n_pos: int | None,
    n_neg: int | None,
    probe_accuracy: float | None = None,
    alpha: float = ALPHA,
) -> str | None:
    """``ok``, ``NOT SIGNIFICANT`` or ``AT CHANCE``, from the numbers a row shows.

    The permutation test alone once called a concept at held-out accuracy 0.495
    and AUC 0.44 significant: the verdict also needs the held-out probe to beat
    chance (AUC above :func:`chance_auc` for the counts, balanced accuracy above
    0.5 where it is a two-class accuracy). ``None`` when nothing was tested.
    """
    if p_value is None:
        return None
    if not p_value < alpha:
        return "NOT SIGNIFICANT"
    if probe_auc is None or not math.isfinite(probe_auc) or not n_pos or not n_neg:
        return "AT CHANCE"
    sample = SAMPLE_PER_LABEL
    if probe_auc <= chance_auc(min(n_pos, sample), min(n_neg, sample)):
        return "AT CHANCE"
    if probe_accuracy is not None and probe_accuracy <= 0.5:
        return "AT CHANCE"
    return "ok"


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Limit BLAS and OpenMP pools to one thread for small, many fits.

    On a shared 2-core machine, scikit-learn's multinomial logistic regression ran
    50 times slower with the default pools (oversubscribed) than with one thread.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def balanced_sample(labels: np.ndarray, per_label: int, seed: int) -> np.ndarray:
    """Sorted indices: up to ``per_label`` rows of each known label value.

    Unknown rows (-1 for attributes, "" for classes) are never drawn. Balancing
    keeps a rare attribute's positives from drowning in the sample.
    """
    labels = np.asarray(labels)
    unknown = "" if labels.dtype.kind in "US" else -1
    rng = np.random.default_rng([seed, 7])
    picked = []
    for value in np.unique(labels):
        if value == unknown:
            continue
        rows = np.flatnonzero(labels == value)
        if len(rows) > per_label:
            rows = rng.choice(rows, per_label, replace=False)
        picked.append(rows)
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, np.int64)


def auc(scores: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    from scipy.stats import rankdata

    y = np.asarray(y).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _folds(y: np.ndarray, seed: int, folds: int = FOLDS) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import StratifiedKFold

    smallest = int(np.bincount(np.unique(y, return_inverse=True)[1]).min())
    k = min(folds, smallest)
    if k < 2:
        return []
    return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def _logistic(C: float = 1.0, class_weight: str | None = None) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, class_weight=class_weight, max_iter=1000)


def _quiet_fit(model: Any, Z: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(Z, y)


def probe_scores(Z: np.ndarray, y: np.ndarray, seed: int = 0) -> dict[str, float | None]:
    """Cross-validated logistic probe on held-out latents: balanced accuracy and AUC."""
    acc, scores, truth = [], [], []
    for train, test in _folds(y, seed):
        # Balanced weights: the score is balanced accuracy, so the threshold should be too.
        clf = _quiet_fit(_logistic(class_weight="balanced"), Z[train], y[train])
        pred = clf.predict(Z[test])
        per_class = [np.mean(pred[y[test] == c] == c) for c in (0, 1)]
        acc.append(np.mean(per_class) * len(test))
        scores.append(clf.decision_function(Z[test]))
        truth.append(y[test])
    if not acc:
        return {"probe_accuracy": None, "probe_auc": None}
    return {
        "probe_accuracy": float(np.sum(acc) / sum(len(t) for t in truth)),
        "probe_auc": auc(np.concatenate(scores), np.concatenate(truth)),
    }


def direction_auc(
    estimator: DirectionEstimator,
    Z: np.ndarray,
    y: np.ndarray,
    covariates: np.ndarray | None = None,
    seed: int = 0,
) -> float | None:
    """Held-out AUC of the projection on the concept, refitted on each training fold."""
    from sklearn.base import clone

    values = []
    for train, test in _folds(y, seed):
        cov = None if covariates is None else covariates[train]
        est = clone(estimator).fit(Z[train], y[train], cov)
        values.append(auc(Z[test] @ est.direction_, y[test]))
    return float(np.mean(values)) if values else None


def fit_probe(Z: np.ndarray, y: np.ndarray, prevalence: float) -> tuple[np.ndarray, float]:
    """A logistic probe P(attribute | z) = sigmoid(coef . z + intercept).

    Fitted on the balanced sample, then the intercept is moved by the log odds
    of the true prevalence against the sample's (the standard prior
    correction), so probabilities refer to the data the concept came from.
    """
    clf = _quiet_fit(_logistic(), Z, y)
    sample_prev = float(np.mean(y))
    shift = _logit(prevalence) - _logit(sample_prev)
    return clf.coef_.reshape(-1).astype(np.float64), float(clf.intercept_[0] + shift)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def permutation_test(
    Z: np.ndarray, y: np.ndarray, permutations: int = PERMUTATIONS, seed: int = 0
) -> tuple[float, float]:
    """(p-value, statistic): is the label associated with the latents at all?

    The statistic is the squared Mahalanobis distance between the two class
    means, with the pooled covariance of all rows (it does not change under
    permutation, so it is computed once). Its null distribution comes from
    ``permutations`` label shuffles, TCAV-style; p = (1 + #{T_perm >= T}) /
    (1 + permutations), so it is never 0.
    """
    Z = np.asarray(Z, np.float64)
    y = np.asarray(y).astype(bool)
    n, n1 = len(y), int(y.sum())
    n0 = n - n1
    Zc = Z - Z.mean(0)
    cov = Zc.T @ Zc / n
    cov += np.eye(len(cov)) * (1e-9 + 1e-6 * np.trace(cov) / len(cov))
    W = np.linalg.solve(np.linalg.cholesky(cov), Zc.T).T.astype(np.float32)
    rng = np.random.default_rng([seed, 11])
    shuffled = rng.permuted(np.tile(y, (permutations, 1)), axis=1)
    labels = np.vstack([y[None], shuffled]).astype(np.float32)
    # W is centred, so the negatives' mean is -n1/n0 times the positives'.
    m1 = labels @ W / n1
    stats = ((m1 * (n / n0)) ** 2).sum(1)
    observed = stats[0]
    p = (1 + int(np.sum(stats[1:] >= observed * (1 - 1e-6)))) / (1 + permutations)
    return float(p), float(observed)


def bootstrap_stability(
    estimator: DirectionEstimator,
    Z: np.ndarray,
    y: np.ndarray,
    covariates: np.ndarray | None = None,
    bootstraps: int = BOOTSTRAPS,
    seed: int = 0,
) -> float:
    """Mean pairwise cosine between directions fitted on bootstrap resamples.

    Resampling is stratified (positives and negatives separately), so every
    resample has both. 1.0 means the data pin the direction down exactly.
    """
    from sklearn.base import clone

    rng = np.random.default_rng([seed, 13])
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    dirs = []
    for _ in range(bootstraps):
        rows = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        cov = None if covariates is None else covariates[rows]
        dirs.append(clone(estimator).fit(Z[rows], y[rows], cov).direction_)
    return mean_pairwise_cosine(np.array(dirs))


def mean_pairwise_cosine(V: np.ndarray, absolute: bool = False) -> float:
    V = V / np.linalg.norm(V, axis=1, keepdims=True)
    G = V @ V.T
    if absolute:
        G = np.abs(G)
    k = len(V)
    return float((G.sum() - np.trace(G)) / (k * (k - 1))) if k > 1 else 1.0


def class_probe(
    Z: np.ndarray, codes: np.ndarray, n_classes: int, priors: np.ndarray, seed: int = 0
) -> dict[str, Any]:
    """Multinomial logistic probe over class codes 0..K-1.

    Returns held-out balanced accuracy, one-vs-rest AUC per class (from the
    held-out probabilities), and the probe refitted on all rows with its
    intercepts prior-corrected to the full data's class frequencies:
    P(class k | z) = softmax(coef @ z + intercept)[k].
    """
    prob = np.zeros((len(codes), n_classes))
    covered = np.zeros(len(codes), bool)
    for train, test in _folds(codes, seed):
        clf = _quiet_fit(_logistic(), Z[train], codes[train])
        prob[np.ix_(test, clf.classes_)] = clf.predict_proba(Z[test])
        covered[test] = True
    accuracy, per_class_auc = None, [None] * n_classes
    if covered.any():
        pred = prob[covered].argmax(1)
        truth = codes[covered]
        accuracy = float(np.mean([np.mean(pred[truth == k] == k) for k in np.unique(truth)]))
        per_class_auc = [auc(prob[covered, k], truth == k) for k in range(n_classes)]
    clf = _quiet_fit(_logistic(), Z, codes)
    coef = np.zeros((n_classes, Z.shape[1]))
    intercept = np.zeros(n_classes)
    if clf.coef_.shape[0] == 1:
        # scikit-learn keeps one row for two classes; softmax over (-w/2, w/2) is the same model.
        w, b = clf.coef_[0], clf.intercept_[0]
        coef[clf.classes_] = np.stack([-w / 2, w / 2])
        intercept[clf.classes_] = [-b / 2, b / 2]
    else:
        coef[clf.classes_] = clf.coef_
        intercept[clf.classes_] = clf.intercept_
    sample_prior = np.bincount(codes, minlength=n_classes) / len(codes)
    intercept += np.log(np.clip(priors, 1e-12, None)) - np.log(np.clip(sample_prior, 1e-12, None))
    return {
        "accuracy": accuracy,
        "auc": per_class_auc,
        "coef": coef,
        "intercept": intercept,
    }
