"""The learned mixture prior (--prior-components) and starting a run from a model (--init)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import invoke, one_line_error, synthetic_images

from conceptvae.model.likelihood import (
    LOG_2PI,
    gaussian_log_density,
    importance_weighted_bound,
)
from conceptvae.model.prior import GaussianMixture, standard_normal_log_prob


def _mixture(c: int = 4, d: int = 3, seed: int = 0) -> GaussianMixture:
    rng = np.random.default_rng(seed)
    return GaussianMixture(
        rng.normal(size=(c, d)) * 2, rng.normal(size=(c, d)) * 0.5, rng.normal(size=c)
    )


def test_mixture_density_is_the_weighted_sum_of_its_gaussians() -> None:
    prior = _mixture()
    z = np.random.default_rng(1).normal(size=(2, 5, 3)) * 3
    w = np.exp(prior.log_weights)
    assert w.sum() == pytest.approx(1.0)
    direct = sum(
        w[c] * np.exp(gaussian_log_density(z, prior.means[c], prior.log_vars[c]))
        for c in range(prior.components)
    )
    np.testing.assert_allclose(prior.log_prob(z, chunk=3), np.log(direct), rtol=1e-10)
    one = GaussianMixture(np.zeros((1, 3)), np.zeros((1, 3)), np.zeros(1))
    np.testing.assert_allclose(one.log_prob(z), standard_normal_log_prob(z), rtol=1e-12)
    with pytest.raises(ValueError):
        GaussianMixture(np.zeros((2, 3)), np.zeros((2, 4)), np.zeros(2))


def test_mixture_samples_follow_its_weights_and_seed() -> None:
    prior = GaussianMixture(
        np.array([[-10.0], [10.0]]), np.full((2, 1), np.log(0.01)), np.log([0.25, 0.75])
    )
    z = prior.sample(4000, np.random.default_rng(0))
    assert z.dtype == np.float32 and z.shape == (4000, 1)
    assert np.mean(z > 0) == pytest.approx(0.75, abs=0.03)
    assert np.abs(np.abs(z) - 10).max() < 1.0
    np.testing.assert_array_equal(z, prior.sample(4000, np.random.default_rng(0)))
    flat = prior.sample(50, np.random.default_rng(1), temperature=0.0)
    assert set(np.unique(flat)) <= {-10.0, 10.0}


def test_bound_with_a_gaussian_prior_converges_to_the_closed_form() -> None:
    """A one-component "mixture" N(mu, S) as the prior of a linear-Gaussian model:
    the marginal is N(W mu + b, W S W^T + s^2 I), and the bound (with a deliberately
    wrong posterior) approaches it from below as K grows."""
    rng = np.random.default_rng(0)
    d, dx, s2 = 2, 5, 0.5
    w, b = rng.normal(size=(dx, d)), rng.normal(size=dx)
    mu, log_s = np.array([1.0, -2.0]), np.log(np.array([0.5, 2.0]))
    prior = GaussianMixture(mu[None], log_s[None], np.zeros(1))
    cov = w @ np.diag(np.exp(log_s)) @ w.T + s2 * np.eye(dx)
    z = mu + rng.normal(size=(200, d)) * np.exp(0.5 * log_s)
    x = z @ w.T + b + rng.normal(size=(200, dx)) * np.sqrt(s2)
    r = x - (w @ mu + b)
    quad = np.einsum("ni,ij,nj->n", r, np.linalg.inv(cov), r)
    truth = float(np.mean(-0.5 * (dx * LOG_2PI + np.linalg.slogdet(cov)[1] + quad)))
    post_prec = np.diag(np.exp(-log_s)) + w.T @ w / s2
    post_cov = np.linalg.inv(post_prec)

    def encode(xb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean = ((xb - b) @ w / s2 + np.exp(-log_s) * mu) @ post_cov.T
        return mean + 0.3, np.broadcast_to(np.log(2.0 * np.diag(post_cov)), mean.shape)

    def log_lik(xb: np.ndarray, zb: np.ndarray) -> np.ndarray:
        mean = zb @ w.T + b
        return gaussian_log_density(xb, mean, np.full_like(mean, np.log(s2)))

    gaps = []
    for k in (1, 10, 1000):
        est = importance_weighted_bound(x, encode, log_lik, k, seed=0, log_prior=prior.log_prob)
        gaps.append(truth - float(est.log_px.mean()))
    assert gaps[0] > 0.5 and gaps[0] > gaps[1] > gaps[2] > -0.02, gaps
    assert abs(gaps[2]) < 0.03, gaps
    # Under the standard normal instead, the same model is another (worse) density.
    plain = importance_weighted_bound(x, encode, log_lik, 1000, seed=0)
    assert truth - float(plain.log_px.mean()) > 1.0


def test_keras_layer_and_numpy_mixture_agree() -> None:
    from conceptvae.model.network import MixturePrior

    prior = _mixture(c=5, d=4)
    layer = MixturePrior(5, 4)
    layer.set_weights([prior.means, prior.log_vars, prior.logits])
    z = np.random.default_rng(2).normal(size=(3, 6, 4)).astype(np.float32) * 2
    np.testing.assert_allclose(np.asarray(layer.log_prob(z)), prior.log_prob(z), rtol=1e-4)
    again = MixturePrior.from_config(layer.get_config())
    assert (again.components, again.latent_dim) == (5, 4)


# -- training with a mixture prior -------------------------------------------------------


@pytest.fixture(scope="module")
def toy_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    x, y = synthetic_images(256, size=8)
    xt, yt = synthetic_images(32, size=8, seed=1)
    path = tmp_path_factory.mktemp("mix") / "toy.npz"
    np.savez(path, x_train=x, y_train=y, x_test=xt, y_test=yt)
    return path


def _train(data: Path, out: Path, **kw) -> Path:  # noqa: ANN003
    from conceptvae.training import train

    options = dict(arch="dense", hidden=[32], latent_dim=3, epochs=2, batch_size=32,
                   recon_loss="bernoulli", binarize=True, val_split=0.1, seed=0, verbose=0)  # fmt: skip
    train(data, out, **{**options, **kw})
    return out


@pytest.fixture(scope="module")
def mixture_model(tmp_path_factory: pytest.TempPathFactory, toy_data: Path) -> Path:
    return _train(toy_data, tmp_path_factory.mktemp("mix") / "m", prior_components=4)


def test_a_mixture_model_saves_and_uses_its_prior(mixture_model: Path, toy_data: Path) -> None:
    from conceptvae.commands.evaluate import evaluate_model
    from conceptvae.model.api import load_model

    assert json.loads((mixture_model / "config.json").read_text())["prior_components"] == 4
    shown = invoke(CliRunner(), "info", str(mixture_model)).output
    assert "prior      a learned mixture of 4 diagonal Gaussians (prior.npz)" in shown
    saved = GaussianMixture.load(mixture_model / "prior.npz", 4, 3)
    keras_model = load_model(mixture_model, backend="keras")
    layer = keras_model.backend.vae.prior.get_weights()
    for mine, theirs in zip((saved.means, saved.log_vars, saved.logits), layer):
        np.testing.assert_array_equal(mine, theirs)
    lite = load_model(mixture_model, backend="litert")
    np.testing.assert_array_equal(lite.prior.means, saved.means)
    # Samples come from the mixture: the same seed, the same pixels on both backends.
    a, b = keras_model.sample(6, seed=3), lite.sample(6, seed=3)
    np.testing.assert_allclose(a, b, atol=2e-2)
    z = saved.sample(6, np.random.default_rng(3))
    np.testing.assert_allclose(keras_model.decode(z), a, atol=1e-6)
    # The likelihood uses it: the bound rises with K, and differs from N(0, I)'s.
    nll = {
        k: evaluate_model(mixture_model, toy_data, nll=True, samples=k, binarize=0)["nll_nats"]
        for k in (1, 30)
    }
    assert nll[1] > nll[30], nll


def test_a_seed_keyframe_is_the_draw_sample_makes(mixture_model: Path) -> None:
    """seed:N under a learned prior is the mixture's draw from seed N, the latent that
    `sample --seed N -n 1` decodes; a map centred on the prior sits at its mean."""
    from conceptvae.keyframes import keyframe_latents
    from conceptvae.model.api import load_model

    model = load_model(mixture_model, backend="litert")
    z = keyframe_latents(model, ["seed:5", 9])
    want = [model.prior.sample(1, np.random.default_rng(s))[0] for s in (5, 9)]
    np.testing.assert_array_equal(z, np.stack(want))
    np.testing.assert_array_equal(model.decode(z[:1]), model.sample(1, seed=5))
    # A morph script's seed keyframe too, its temperature scaling each component's spread.
    from conceptvae.script import key_latents, parse_script, prepare_script

    script = parse_script({"model": str(mixture_model), "output": "m.gif", "keyframes": [
        {"seed": 5, "temperature": 0.5}, {"seed": 9}]})  # fmt: skip
    keys = key_latents(prepare_script(script, backend="litert"))
    np.testing.assert_array_equal(keys[1], want[1])
    np.testing.assert_array_equal(keys[0], model.prior.sample(1, np.random.default_rng(5), 0.5)[0])
    w = np.exp(model.prior.log_weights)
    np.testing.assert_allclose(model.prior.mean, w @ model.prior.means, rtol=1e-5, atol=1e-6)


def test_the_far_from_prior_warning_follows_a_learned_prior() -> None:
    """Under N(0, I) a latent whose norm is far beyond sqrt(D) is far from the prior;
    under a mixture whose components sit out there it is not, and a push to where
    the mixture has almost no density is."""
    import warnings

    from conceptvae.editing import ShellWarning, warn_if_outside_shell

    d = 8
    rng = np.random.default_rng(0)
    means = rng.normal(size=(3, d)) * 10  # norms ~ 10 sqrt(D): far outside N(0, I)'s shell
    prior = GaussianMixture(means, np.full((3, d), -1.0), np.zeros(3))
    z = means[:1] * 0.98
    near = means[:1]

    def warns(z0: np.ndarray, z1: np.ndarray, p: GaussianMixture | None) -> bool:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warn_if_outside_shell(z0, z1, p)
        return any(issubclass(w.category, ShellWarning) for w in caught)

    assert warns(z, near, None)  # the standard normal's shell: far out
    assert not warns(z, near, prior)  # the mixture's: at a component's mean
    assert warns(z, means[:1] + 3.0, prior)  # 3 in every unit, sd ~0.6: far from all
    assert not warns(means[:1] + 3.0, z, prior)  # pulled back in: not a warning
    assert prior.typical_floor == GaussianMixture(means, np.full((3, d), -1.0),
                                                  np.zeros(3)).typical_floor  # fmt: skip


def test_a_config_names_the_prior_only_when_it_has_one() -> None:
    """A standard-prior model's config is the one an earlier conceptvae reads; a
    newer format is refused as newer, not for the keys it adds."""
    from conceptvae.config import FORMAT_VERSION, VAEConfig
    from conceptvae.errors import ConceptVAEError

    assert "prior_components" not in VAEConfig(arch="dense").to_dict()
    mixed = VAEConfig(arch="dense", prior_components=3).to_dict()
    assert mixed["prior_components"] == 3
    assert VAEConfig.from_dict(mixed) == VAEConfig(arch="dense", prior_components=3)
    newer = {**mixed, "format_version": FORMAT_VERSION + 1, "hierarchy": [2, 2]}
    with pytest.raises(ConceptVAEError, match="newer than this conceptvae"):
        VAEConfig.from_dict(newer)


def test_the_mixture_is_fitted_to_the_posteriors(toy_data: Path, tmp_path: Path) -> None:
    """fit_prior lowers the cross-entropy of the posterior draws under the prior below
    the standard normal's (the aggregate posterior of a trained encoder is not N(0, I))."""
    from conceptvae.config import VAEConfig
    from conceptvae.data import open_dataset
    from conceptvae.model.api import load_model
    from conceptvae.model.network import build_vae
    from conceptvae.training import BatchSource
    from conceptvae.training.prior import fit_prior

    # A small KL weight: posteriors far from N(0, I), as a trained VAE's aggregate one is.
    trained = load_model(_train(toy_data, tmp_path / "plain", beta=0.01, epochs=4),
                         backend="keras")  # fmt: skip
    vae = build_vae(VAEConfig(**{**trained.config.to_dict(), "prior_components": 6}))
    for mine, theirs in zip((vae.encoder, vae.decoder), (trained.backend.vae.encoder,
                                                         trained.backend.vae.decoder)):  # fmt: skip
        mine.set_weights(theirs.get_weights())
    src = BatchSource(open_dataset(toy_data), np.arange(128), 32, 3, seed=0)
    mean, log_var = vae.encoder(src.batch(0, 0)[0])
    z = np.asarray(mean) + np.exp(0.5 * np.asarray(log_var)) * np.random.default_rng(0).normal(
        size=np.shape(mean)
    )
    before = -standard_normal_log_prob(z).mean()

    def cross_entropy() -> float:
        return -float(np.mean(np.asarray(vae.prior.log_prob(z.astype(np.float32)))))

    fit_prior(vae, src, seed=0, steps=0)  # the starting mixture: unit Gaussians at codes
    start = cross_entropy()
    fit_prior(vae, src, seed=0, steps=300)
    after = cross_entropy()
    # Here 5.30 nats under N(0, I), 5.10 under the start, 4.99 fitted.
    assert after < start - 0.05 and after < before - 0.2, (before, start, after)


def test_init_starts_from_a_models_network(
    mixture_model: Path, toy_data: Path, tmp_path: Path
) -> None:
    from conceptvae.model.api import load_model

    out = _train(toy_data, tmp_path / "again", prior_components=4, init=mixture_model,
                 epochs=1, lr=1e-9)  # fmt: skip
    before = load_model(mixture_model, backend="keras").backend.vae.get_weights()
    after = load_model(out, backend="keras").backend.vae.get_weights()
    assert len(before) == len(after)
    for a, b in zip(before, after):
        np.testing.assert_allclose(a, b, atol=1e-5)  # its prior came with it, too
    assert json.loads((out / "meta.json").read_text())["training"]["init"] == str(mixture_model)


def test_init_refuses_another_architecture(
    runner, mixture_model: Path, toy_data: Path, tmp_path: Path
) -> None:  # noqa: ANN001
    res = invoke(runner, "train", toy_data, "-o", tmp_path / "x", "--arch", "dense",
                 "--hidden", "16", "--latent-dim", "3", "--epochs", "1",
                 "--init", mixture_model)  # fmt: skip
    one_line_error(res, "--init", "hidden")
    assert not (tmp_path / "x" / "model.weights.h5").exists()


def test_a_damaged_prior_file_is_one_error(mixture_model: Path, tmp_path: Path) -> None:
    import shutil

    from conceptvae.errors import ModelError
    from conceptvae.model.api import load_model

    bad = tmp_path / "bad"
    shutil.copytree(mixture_model, bad)
    np.savez(bad / "prior.npz", means=np.zeros((4, 3)), log_vars=np.zeros((4, 2)),
             logits=np.zeros(4))  # fmt: skip
    with pytest.raises(ModelError, match="shapes"):
        load_model(bad)
    np.savez(bad / "prior.npz", means=np.full((4, 3), np.nan), log_vars=np.zeros((4, 3)),
             logits=np.zeros(4))  # fmt: skip
    with pytest.raises(ModelError, match="NaN"):
        load_model(bad)
    (bad / "prior.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="npz"):
        load_model(bad)
    (bad / "prior.npz").unlink()
    with pytest.raises(ModelError, match="prior.npz"):
        load_model(bad)


def test_prior_options_are_checked() -> None:
    from conceptvae.config import TrainOptions, VAEConfig, count_parameters
    from conceptvae.errors import ConceptVAEError

    with pytest.raises(ConceptVAEError, match="prior_components"):
        TrainOptions(prior_components=3, recon_loss="mse").validate()
    with pytest.raises(ConceptVAEError, match="prior_components"):
        TrainOptions(prior_components=-1).validate()
    with pytest.raises(ConceptVAEError, match="prior_components"):
        VAEConfig(prior_components=True)
    cfg = VAEConfig(latent_dim=8, prior_components=10)
    assert count_parameters(cfg) == count_parameters(VAEConfig(latent_dim=8)) + 10 * 17
