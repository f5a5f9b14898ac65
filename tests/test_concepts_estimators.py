"""Concept estimators and statistics on synthetic latents whose true direction is known."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from conceptvae.concepts import stats
from conceptvae.concepts.estimators import (
    BalancedMeanDifference,
    ClassCentroids,
    LogisticDirection,
    MeanDifference,
    Orthogonalized,
    PrincipalDirections,
    SVMDirection,
    orthogonalize,
    select_covariates,
)
from conceptvae.concepts.methods import make_estimator
from conceptvae.concepts.morpho import measure, tercile_labels, thin
from conceptvae.errors import ConceptError

D = 8


def unit(v):
    return v / np.linalg.norm(v)


def cos(a, b):
    return float(np.dot(unit(a), unit(b)))


def planted(n=4000, seed=0, strength=1.5, prevalence=0.4):
    """Latents N(0, I) shifted by `strength` along a known direction for the positives."""
    rng = np.random.default_rng(seed)
    u = unit(rng.standard_normal(D))
    y = (rng.random(n) < prevalence).astype(np.int8)
    Z = rng.standard_normal((n, D)) + strength * y[:, None] * u
    return Z, y, u


@pytest.mark.parametrize("method", ["mean", "logistic", "svm", "balanced"])
def test_estimators_recover_the_planted_direction(method):
    Z, y, u = planted()
    est = make_estimator(method).fit(Z, y)
    assert cos(est.direction_, u) >= 0.99
    assert est.vector_.dtype == np.float32 and est.n_pos_ + est.n_neg_ == len(y)


def test_calibration_makes_amounts_comparable_across_methods():
    Z, y, u = planted()
    y[:10] = -1  # unknown labels are ignored
    fits = {m: make_estimator(m).fit(Z, y) for m in ("mean", "logistic", "svm")}
    known = y >= 0
    gap = Z[known & (y == 1)].mean(0) - Z[known & (y == 0)].mean(0)
    np.testing.assert_allclose(fits["mean"].vector_, gap, rtol=1e-5, atol=1e-6)
    for est in fits.values():
        # amount 1.0 moves the average negative onto the average positive along the vector
        d = est.direction_
        moved = (Z[known & (y == 0)].mean(0) + est.vector_) @ d
        assert moved == pytest.approx(Z[known & (y == 1)].mean(0) @ d, abs=1e-5)
        assert est.scale_ == pytest.approx(1.5, rel=0.05)


def test_partial_fit_streams_to_the_same_answer():
    Z, y, u = planted(1000)
    whole = MeanDifference().fit(Z, y)
    streamed = MeanDifference()
    for s in range(0, len(Z), 128):
        streamed.partial_fit(Z[s : s + 128], y[s : s + 128])
    np.testing.assert_allclose(streamed.finalize().vector_, whole.vector_, rtol=1e-6)
    cov = np.random.default_rng(1).integers(0, 2, (len(Z), 2))
    whole = BalancedMeanDifference().fit(Z, y, cov)
    streamed = BalancedMeanDifference()
    for s in range(0, len(Z), 100):
        streamed.partial_fit(Z[s : s + 100], y[s : s + 100], cov[s : s + 100])
    np.testing.assert_allclose(streamed.finalize().vector_, whole.vector_, rtol=1e-6)


def test_balanced_removes_a_planted_correlation():
    rng = np.random.default_rng(3)
    n = 6000
    u, v = unit(rng.standard_normal(D)), rng.standard_normal(D)
    v = unit(v - np.dot(v, u) * u)
    t = (rng.random(n) < 0.5).astype(np.int8)
    a = np.where(rng.random(n) < 0.85, t, 1 - t).astype(np.int8)  # co-occurs with t
    noise_col = (rng.random(n) < 0.5).astype(np.int8)
    Z = rng.standard_normal((n, D)) + 1.5 * t[:, None] * u + 2.0 * a[:, None] * v
    naive = MeanDifference().fit(Z, t).direction_
    assert abs(np.dot(naive, v)) > 0.5  # the plain mean drags the other attribute along
    chosen = select_covariates(t, {"a": a, "noise": noise_col})
    assert chosen == ["a"]
    bal = BalancedMeanDifference().fit(Z, t, a[:, None])
    assert abs(np.dot(bal.direction_, v)) < 0.05
    assert cos(bal.direction_, u) >= 0.99
    assert bal.n_strata_ == 2
    harmonic = BalancedMeanDifference(weighting="harmonic").fit(Z, t, a[:, None])
    assert cos(harmonic.direction_, u) >= 0.99


def test_balanced_refuses_when_no_stratum_has_both_sides():
    Z, y, _ = planted(200)
    with pytest.raises(ConceptError, match="cannot balance"):
        BalancedMeanDifference().fit(Z, y, y[:, None].copy())


def test_orthogonalisation_leaves_zero_projection_on_named_concepts():
    Z, y, u = planted()
    rng = np.random.default_rng(5)
    basis = rng.standard_normal((3, D))
    basis[2] = basis[0] + basis[1]  # dependent rows are fine (least squares)
    for base in (MeanDifference(), LogisticDirection()):
        est = Orthogonalized(base, basis).fit(Z, y)
        assert np.abs(basis @ est.direction_).max() < 1e-9
        assert np.abs(basis @ est.vector_.astype(np.float64)).max() < 1e-5
        neg, pos = Z[y == 0].mean(0), Z[y == 1].mean(0)
        assert (neg + est.vector_) @ est.direction_ == pytest.approx(pos @ est.direction_)
    assert np.allclose(orthogonalize(basis[0], basis[:1]), 0)
    with pytest.raises(ConceptError, match="span"):
        Orthogonalized(MeanDifference(), np.eye(D)).fit(Z, y)


def test_clone_and_params():
    est = Orthogonalized(LogisticDirection(C=0.5), np.eye(D)[:1])
    copy = clone(est)
    assert copy is not est and copy.estimator.C == 0.5 and copy.estimator is not est.estimator
    assert "C=0.5" in repr(LogisticDirection(C=0.5))
    assert SVMDirection().set_params(C=2.0).C == 2.0
    with pytest.raises(ConceptError, match="unknown method"):
        make_estimator("magic")
    # scikit-learn's fitted check: a clear error, not an AttributeError deep inside
    with pytest.raises(NotFittedError):
        ClassCentroids().predict(np.zeros((2, D)))
    with pytest.raises(NotFittedError):
        PrincipalDirections(2).calibrate(np.zeros((4, D)))
    with pytest.raises(NotFittedError):
        Orthogonalized(MeanDifference()).from_fitted(MeanDifference())


def test_estimators_refuse_one_sided_labels():
    Z, _, _ = planted(50)
    ones = np.ones(50, np.int8)
    with pytest.raises(ConceptError, match="with and without"):
        MeanDifference().fit(Z, ones).finalize()
    with pytest.raises(ConceptError, match="with and without"):
        LogisticDirection().fit(Z, ones)
    with pytest.raises(ConceptError, match="0, 1 or -1"):
        MeanDifference().fit(Z, np.full(50, 2))


def test_random_labels_are_not_significant_and_real_ones_are():
    Z, y, _ = planted(3000)
    p_real, _ = stats.permutation_test(Z, y, 100, seed=0)
    assert p_real == pytest.approx(1 / 101)
    noise = np.random.default_rng(9).integers(0, 2, len(Z))
    p_noise, _ = stats.permutation_test(Z, noise, 100, seed=0)
    assert p_noise >= 0.05
    assert stats.permutation_test(Z, noise, 100, seed=0) == (p_noise, _)  # seeded
    real = stats.bootstrap_stability(MeanDifference(), Z, y, bootstraps=10)
    fake = stats.bootstrap_stability(MeanDifference(), Z, noise, bootstraps=10)
    assert real > 0.99 and fake < 0.5


def test_probe_scores_and_prior_corrected_probe():
    Z, y, u = planted(6000, prevalence=0.2)
    scores = stats.probe_scores(Z, y)
    assert 0.7 < scores["probe_accuracy"] < 0.85 and 0.8 < scores["probe_auc"] < 0.95
    rows = stats.balanced_sample(y, 500, seed=0)
    assert (y[rows] == 1).sum() == 500 and (y[rows] == 0).sum() == 500
    coef, intercept = stats.fit_probe(Z[rows], y[rows], prevalence=float(y.mean()))
    p = 1 / (1 + np.exp(-(Z @ coef + intercept)))
    assert p.mean() == pytest.approx(y.mean(), abs=0.03)  # calibrated to the data, not the sample
    assert cos(coef, u) > 0.95
    assert stats.direction_auc(MeanDifference(), Z[rows], y[rows]) > 0.8


def test_class_centroids_and_class_probe():
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((3, D)) * 3
    labels = rng.choice(["2", "10", "1"], 900)
    codes = np.searchsorted(["1", "10", "2"], labels)
    Z = centres[codes] + rng.standard_normal((900, D)) * 0.5
    labels[:5] = ""  # unknown
    cc = ClassCentroids()
    for s in range(0, 900, 200):
        cc.partial_fit(Z[s : s + 200], labels[s : s + 200])
    cc.finalize()
    assert cc.classes_ == ["1", "2", "10"]  # numeric order
    assert cc.counts_.sum() == 895
    np.testing.assert_allclose(cc.transition("1", "2"), centres[2] - centres[0], atol=0.15)
    assert (cc.predict(Z[5:]) == labels[5:]).mean() > 0.99
    known = labels != ""
    order = {c: i for i, c in enumerate(cc.classes_)}
    k = np.array([order[v] for v in labels[known]])
    probe = stats.class_probe(Z[known], k, 3, np.array([0.6, 0.2, 0.2]), seed=0)
    assert probe["accuracy"] > 0.99 and min(probe["auc"]) > 0.99
    assert probe["coef"].shape == (3, D) and probe["intercept"].shape == (3,)
    with pytest.raises(ConceptError, match="only one class"):
        ClassCentroids().fit(Z, np.full(900, "a"))
    two = stats.class_probe(Z[known], (k > 0).astype(int), 2, np.array([0.5, 0.5]))
    assert two["coef"].shape == (2, D)


def test_principal_directions_match_scikit_learn_pca():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(4)
    Z = rng.standard_normal((2000, D)) @ rng.standard_normal((D, D)) + 3.0
    ref = PCA(3).fit(Z)
    streamed = PrincipalDirections(3)
    for s in range(0, len(Z), 300):
        streamed.partial_fit(Z[s : s + 300])
    streamed.finalize().calibrate(Z)
    for k in range(3):
        assert cos(streamed.components_[k], ref.components_[k]) > 0.9999
    np.testing.assert_allclose(streamed.explained_variance_, ref.explained_variance_, rtol=1e-6)
    whole = PrincipalDirections(3).fit(Z)
    np.testing.assert_allclose(whole.vectors_, streamed.vectors_, rtol=1e-5)
    # a Gaussian's half-means gap is 2 sqrt(2/pi) sigma
    gauss = PrincipalDirections(1).fit(rng.standard_normal((20000, 2)) * [3.0, 1.0])
    assert gauss.scales_[0] == pytest.approx(2 * np.sqrt(2 / np.pi) * 3.0, rel=0.03)
    with pytest.raises(ConceptError, match="pca"):
        PrincipalDirections(D + 1).fit(Z)


def test_morpho_measures_thickness_and_slant():
    img = np.zeros((3, 28, 28), np.uint8)
    img[0, 4:24, 12:14] = 255  # thin upright bar
    img[1, 4:24, 10:16] = 255  # thick upright bar
    for r in range(4, 24):  # top leaning right
        img[2, r, 20 - r // 2 : 23 - r // 2] = 255
    skel = thin(img >= 128)
    assert skel[1].sum() < (img[1] >= 128).sum() / 4 and skel[1].any()
    thick, slant = measure(img)
    assert thick[1] > 2 * thick[0] and 1.5 <= thick[0] <= 2.5
    assert abs(slant[0]) < 1e-6 and slant[2] == pytest.approx(0.5, abs=0.05)
    blank_t, blank_s = measure(np.zeros((1, 8, 8), np.uint8))
    assert np.isnan(blank_t[0]) and np.isnan(blank_s[0])
    labels = tercile_labels(np.array([1.0, 2, 3, 4, 5, 6, np.nan, 7, 8, 9]))
    assert list(labels) == [0, 0, 0, -1, -1, -1, -1, 1, 1, 1]
