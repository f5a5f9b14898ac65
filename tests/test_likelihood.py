"""The importance-weighted likelihood bound, the IWAE objective and `evaluate`."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke, one_line_error, synthetic_images

from conceptvae.model.likelihood import (
    bernoulli_log_likelihood,
    binarize,
    gaussian_log_density,
    importance_weighted_bound,
    logmeanexp,
)

# -- a linear-Gaussian VAE: log p(x) in closed form -------------------------------------


class LinearGaussian:
    """p(z) = N(0, I), p(x | z) = N(W z + b, s^2 I): the marginal is N(b, W W^T + s^2 I)
    and the posterior is Gaussian too. The encoder below is the exact posterior
    made deliberately wrong (mean shifted, variance doubled), so the bound is
    loose at K = 1 and only importance sampling closes the gap."""

    def __init__(self, d: int = 2, dx: int = 5, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.w = rng.normal(size=(dx, d))
        self.b = rng.normal(size=dx)
        self.s2 = 0.5
        cov = self.w @ self.w.T + self.s2 * np.eye(dx)
        self.cov_inv = np.linalg.inv(cov)
        self.logdet = np.linalg.slogdet(cov)[1]
        # Exact posterior: precision I + W^T W / s^2.
        self.post_cov = np.linalg.inv(np.eye(d) + self.w.T @ self.w / self.s2)

    def log_px(self, x: np.ndarray) -> np.ndarray:
        r = x - self.b
        quad = np.einsum("ni,ij,nj->n", r, self.cov_inv, r)
        return -0.5 * (len(self.b) * np.log(2 * np.pi) + self.logdet + quad)

    def encode(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean = (x - self.b) @ self.w @ self.post_cov.T / self.s2
        var = np.diag(self.post_cov)  # a factorised q ignores the posterior's correlation
        return mean + 0.3, np.broadcast_to(np.log(2.0 * var), mean.shape)

    def log_likelihood(self, x: np.ndarray, z: np.ndarray) -> np.ndarray:
        mean = z @ self.w.T + self.b
        return gaussian_log_density(x, mean, np.full_like(mean, np.log(self.s2)))


def test_bound_converges_to_the_closed_form_and_stays_below_it() -> None:
    model = LinearGaussian()
    rng = np.random.default_rng(1)
    z = rng.normal(size=(200, 2))
    x = z @ model.w.T + model.b + rng.normal(size=(200, 5)) * np.sqrt(model.s2)
    truth = float(model.log_px(x).mean())
    bounds = {}
    ks = (1, 3, 10, 1000)
    for k in ks:
        est = importance_weighted_bound(x, model.encode, model.log_likelihood, k, seed=0)
        bounds[k] = float(est.log_px.mean())
    gaps = [truth - bounds[k] for k in ks]
    assert gaps[0] > 1.0  # the wrong posterior costs the ELBO (1.95 nats here)
    # The gap shrinks with K (0.25 at K=3, 0.05 at K=10) to Monte Carlo noise:
    # never above the truth by more than that noise (a few thousandths here).
    assert gaps[0] > gaps[1] > gaps[2], gaps
    assert all(g > -0.02 for g in gaps), gaps
    assert abs(gaps[3]) < 0.02, gaps


def test_exact_posterior_gives_exact_log_likelihood_for_any_k() -> None:
    """With q the true posterior (a full-covariance one is not factorised, so use d=1)
    every importance weight equals p(x): L_K = log p(x) exactly."""
    model = LinearGaussian(d=1, dx=3)
    x = np.random.default_rng(2).normal(size=(10, 3))

    def exact(xb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean = (xb - model.b) @ model.w @ model.post_cov.T / model.s2
        return mean, np.full_like(mean, np.log(model.post_cov[0, 0]))

    for k in (1, 7):
        est = importance_weighted_bound(x, exact, model.log_likelihood, k, seed=3)
        np.testing.assert_allclose(est.log_px, model.log_px(x), atol=1e-9)


def test_batching_and_summary() -> None:
    model = LinearGaussian()
    x = np.random.default_rng(4).normal(size=(7, 5))
    a = importance_weighted_bound(x, model.encode, model.log_likelihood, 30, seed=5)
    b = importance_weighted_bound(x, model.encode, model.log_likelihood, 30, seed=5, batch=7)
    np.testing.assert_allclose(a.log_px, b.log_px, rtol=1e-12)
    s = a.summary()
    assert s["samples"] == 30 and s["images"] == 7
    assert s["nll_nats"] == pytest.approx(-a.log_px.mean(), abs=1e-3)
    assert s["stderr"] == pytest.approx(a.log_px.std(ddof=1) / np.sqrt(7), abs=1e-3)
    assert s["nll_nats"] <= -s["elbo_nats"]  # the K-sample bound is above the ELBO here


def test_stable_maths() -> None:
    a = np.array([[-1e4, -1e4 + np.log(3.0)], [1e4, 1e4]])
    np.testing.assert_allclose(logmeanexp(a, axis=1), [-1e4 + np.log(2.0), 1e4])
    x = np.array([[1.0, 0.0]])
    np.testing.assert_allclose(bernoulli_log_likelihood(x, np.array([[800.0, -800.0]])), [0.0])
    assert np.isfinite(bernoulli_log_likelihood(x, np.array([[-800.0, 800.0]]))).all()
    imgs = np.full((3, 4, 4, 1), 0.25, np.float32)
    bits = binarize(imgs, 0)
    assert set(np.unique(bits)) <= {0.0, 1.0}
    np.testing.assert_array_equal(binarize(imgs[:2], 0), bits[:2])  # a prefix of the draw


# -- a trained toy model ---------------------------------------------------------------


@pytest.fixture(scope="module")
def toy_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Grey squares (intensity 0.6): binarisation draws differ from epoch to epoch.
    x, y = synthetic_images(256, size=8)
    xt, yt = synthetic_images(32, size=8, seed=1)
    x, xt = (x * 0.6).astype(np.uint8), (xt * 0.6).astype(np.uint8)
    path = tmp_path_factory.mktemp("nll") / "toy.npz"
    np.savez(path, x_train=x, y_train=y, x_test=xt, y_test=yt)
    return path


@pytest.fixture(scope="module")
def toy_model(tmp_path_factory: pytest.TempPathFactory, toy_data: Path) -> Path:
    from conceptvae.training import train

    out = tmp_path_factory.mktemp("nll") / "toy"
    train(toy_data, out, arch="dense", hidden=[32], latent_dim=3, epochs=6, batch_size=32,
          recon_loss="bernoulli", binarize=True, iwae=3, val_split=0.1, seed=0, verbose=0)  # fmt: skip
    return out


def test_bound_rises_with_k_on_a_trained_model(toy_model: Path, toy_data: Path) -> None:
    from conceptvae.commands.evaluate import evaluate_model

    nll = {
        k: evaluate_model(toy_model, toy_data, nll=True, samples=k, binarize=0)["nll_nats"]
        for k in (1, 10, 100)
    }
    assert nll[1] > nll[10] > nll[100], nll
    one = evaluate_model(toy_model, toy_data, nll=True, samples=1, binarize=0)
    assert one["nll_nats"] == pytest.approx(-one["elbo_nats"], abs=2e-3)  # L_1 is the ELBO


def test_iwae_training_saves_a_plain_model(toy_model: Path) -> None:
    from conceptvae.model.api import load_model

    meta = json.loads((toy_model / "meta.json").read_text())
    assert meta["training"]["iwae"] == 3 and meta["training"]["binarize"] is True
    assert json.loads((toy_model / "config.json").read_text())["recon_loss"] == "bernoulli"
    z = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32) * 3
    for backend in ("keras", "litert"):
        pixels = load_model(toy_model, backend=backend).decode(z)
        assert pixels.min() >= 0.0 and pixels.max() <= 1.0


def test_binarized_batches_are_binary_and_seeded(toy_data: Path) -> None:
    from conceptvae.data import open_dataset
    from conceptvae.training import BatchSource

    ds = open_dataset(toy_data)
    src = BatchSource(ds, np.arange(64), 16, 3, seed=0)
    src.binarize = True
    x_in, x, _, _ = src.batch(0, 1)
    assert set(np.unique(x)) == {0.0, 1.0} and np.array_equal(x_in, x)
    np.testing.assert_array_equal(src.batch(0, 1)[1], x)
    assert not np.array_equal(src.batch(1, 1)[1], x)  # another epoch, another draw
    src.binarize = False
    assert set(np.unique(src.batch(0, 1)[1])) == {0.0, np.float32(153 / 255)}


# -- the CLI ------------------------------------------------------------------------------


def test_cli_json(runner, toy_model: Path, toy_data: Path) -> None:  # noqa: ANN001
    res = invoke(runner, "evaluate", toy_model, toy_data, "--nll", "--samples", "20",
                 "--limit", "10", "--binarize", "0", "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["samples"] == 20 and out["images"] == 10 and out["binarize"] == 0
    assert out["nll_nats"] > 0 and out["stderr"] > 0 and out["kl_nats"] >= 0
    assert out["nll_nats"] <= -out["elbo_nats"] + 1.0
    text = invoke(runner, "evaluate", toy_model, toy_data, "--nll", "--samples", "20",
                  "--limit", "10", "--binarize", "0")  # fmt: skip
    assert text.exit_code == 0 and f"NLL {out['nll_nats']:.2f}" in text.output


# The whole output is the one line: nothing else on stdout either.
_one_line_error = functools.partial(one_line_error, whole_output=True)


def test_cli_errors(
    runner, toy_model: Path, toy_data: Path, tmp_path: Path
) -> None:  # noqa: ANN001
    _one_line_error(invoke(runner, "evaluate", tmp_path / "nope", toy_data, "--nll"), "nope")
    _one_line_error(invoke(runner, "evaluate", toy_model, toy_data, "--nll", "--samples", "0"),
                    "--samples")  # fmt: skip
    _one_line_error(invoke(runner, "evaluate", toy_model, toy_data, "--samples", "5"),
                    "--samples", "--nll")  # fmt: skip
    _one_line_error(invoke(runner, "evaluate", toy_model, toy_data, "--nll", "--limit", "0"),
                    "--limit")  # fmt: skip
    _one_line_error(invoke(runner, "evaluate", toy_model, toy_data, "--binarize", "-1"),
                    "--binarize")  # fmt: skip
    train_only = tmp_path / "train_only.npz"
    np.savez(train_only, x=synthetic_images(8, size=8)[0])
    _one_line_error(invoke(runner, "evaluate", toy_model, train_only, "--nll"), "test split")
    _one_line_error(invoke(runner, "evaluate", toy_model, tmp_path / "missing.npz", "--nll"),
                    "missing.npz")  # fmt: skip
    assert not list(tmp_path.glob("*.json"))  # evaluate writes nothing


def test_cli_refuses_an_mse_model(runner, tmp_path: Path, toy_data: Path) -> None:  # noqa: ANN001
    from conceptvae.training import train

    out = tmp_path / "mse"
    train(toy_data, out, arch="dense", hidden=[8], latent_dim=2, epochs=1, recon_loss="mse",
          seed=0, verbose=0, export=False)  # fmt: skip
    _one_line_error(invoke(runner, "evaluate", out, toy_data, "--nll"), "mse")


def test_cli_without_tensorflow_names_the_extra(runner, toy_model: Path, toy_data: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001  # fmt: skip
    import conceptvae.extras as extras

    monkeypatch.setattr(extras, "_importable", lambda name: name not in ("tensorflow", "keras"))
    res = invoke(runner, "evaluate", toy_model, toy_data, "--nll")
    _one_line_error(res, "conceptvae[train]")


def test_iwae_options_are_checked() -> None:
    from conceptvae.config import TrainOptions
    from conceptvae.errors import ConceptVAEError

    with pytest.raises(ConceptVAEError, match="iwae"):
        TrainOptions(iwae=3, recon_loss="mse").validate()
    with pytest.raises(ConceptVAEError, match="iwae"):
        TrainOptions(iwae=0).validate()
    assert TrainOptions(iwae=5, binarize=True, recon_loss="bernoulli").validate()
