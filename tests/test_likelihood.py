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


def test_slices_of_a_set_draw_what_the_whole_set_draws() -> None:
    imgs = np.random.default_rng(6).random((9, 4, 4, 1)).astype(np.float32)
    whole = binarize(imgs, 3)
    for a, b in ((0, 4), (4, 9), (2, 3), (8, 9)):
        np.testing.assert_array_equal(binarize(imgs[a:b], 3, first=a), whole[a:b])
    assert not np.array_equal(binarize(imgs[4:9], 3), whole[4:9])  # without first: other pixels
    model = LinearGaussian()
    x = np.random.default_rng(7).normal(size=(9, 5))
    est = importance_weighted_bound(x, model.encode, model.log_likelihood, 20, seed=1)
    parts = [
        importance_weighted_bound(x[a:b], model.encode, model.log_likelihood, 20, seed=1, first=a)
        for a, b in ((0, 2), (2, 7), (7, 9))
    ]
    for name in ("log_px", "elbo", "kl", "log_px_given_z"):
        got = np.concatenate([getattr(part, name) for part in parts])
        np.testing.assert_allclose(got, getattr(est, name), rtol=1e-12)
    moved = importance_weighted_bound(x[2:7], model.encode, model.log_likelihood, 20, seed=1)
    assert np.abs(moved.log_px - est.log_px[2:7]).max() > 1e-3  # first=0 draws other samples


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


def test_slices_of_the_test_split_give_the_whole_runs_figures(
    toy_model: Path, toy_data: Path
) -> None:
    from conceptvae.commands.evaluate import HeldOutLikelihood, evaluate_model
    from conceptvae.errors import ConceptVAEError

    # batch = samples: every image is encoded and decoded on its own, so the
    # figures are bit for bit those of the whole run whatever the slices.
    exact = HeldOutLikelihood(toy_model, toy_data, binarize=0, seed=2, batch=10)
    whole = exact.estimate(samples=10)
    assert len(whole.log_px) == exact.images == 32
    parts = [exact.estimate(a, b - a, samples=10) for a, b in ((0, 5), (5, 12), (12, 32))]
    for name in ("log_px", "elbo", "kl", "log_px_given_z"):
        got = np.concatenate([getattr(part, name) for part in parts])
        np.testing.assert_array_equal(got, getattr(whole, name))
    # Larger batches encode several images at once: float32 rounding apart, the same.
    batched = HeldOutLikelihood(toy_model, toy_data, binarize=0, seed=2)
    tail = batched.estimate(12, samples=10)
    np.testing.assert_allclose(tail.log_px, whole.log_px[12:], atol=1e-4)
    other = HeldOutLikelihood(toy_model, toy_data, binarize=0, seed=3, batch=10)
    assert np.abs(other.estimate(12, samples=10).log_px - whole.log_px[12:]).max() > 0.01
    assert len(exact.estimate(30, 10, samples=2).log_px) == 2  # cut at the split's end
    with pytest.raises(ConceptVAEError, match="start 32 is past"):
        exact.span(32)
    for bad in (-1, 1.5, True):
        with pytest.raises(ConceptVAEError, match="start must be"):
            evaluate_model(toy_model, toy_data, start=bad)
    out = evaluate_model(toy_model, toy_data, nll=True, samples=10, start=5, limit=7, binarize=0,
                         seed=2, batch=10)  # fmt: skip
    assert out["start"] == 5 and out["images"] == 7
    assert out["nll_nats"] == pytest.approx(-whole.log_px[5:12].mean(), abs=1e-3)


def _nll_full():  # noqa: ANN202
    """benchmarks/nll_full.py, imported from its file (benchmarks/ is no package)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "nll_full.py"
    spec = importlib.util.spec_from_file_location("nll_full", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_full_set_benchmark_resumes_and_pools_per_image_values(
    toy_model: Path, toy_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from conceptvae.commands.evaluate import HeldOutLikelihood

    script = _nll_full()
    common = [str(toy_model), str(toy_data), "--samples", "10", "--binarize", "0", "--seed", "2",
              "--batch", "10"]  # fmt: skip

    def per_image(out: Path) -> dict[int, float]:
        values = {}
        for c in script.read_chunks(out):
            values.update({c["start"] + i: v for i, v in enumerate(c["log_px"])})
        return values

    a, b = tmp_path / "a", tmp_path / "b"
    # a: chunks of 5, stopped after the first 12 images, then finished.
    assert script.main([*common, "--chunk", "5", "--limit", "12", "--out", str(a)]) == 0
    assert "PARTIAL: 12 of 32" in capsys.readouterr().out
    assert sorted(p.name for p in a.glob("images-*")) == [
        "images-000000-000005.json", "images-000005-000010.json", "images-000010-000012.json"]  # fmt: skip
    (a / "images-000005-000010.json").unlink()  # as if killed before writing it
    assert script.main([*common, "--chunk", "5", "--out", str(a)]) == 0
    assert "7 of 32 images done" in capsys.readouterr().out  # 0-4 and 10-11 skipped
    assert len(list(a.glob("images-*"))) == 2 + 1 + 4  # 5-10 again, then 12-32 in fives
    # b: one run, chunks of 7.
    assert script.main([*common, "--chunk", "7", "--out", str(b)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    pooled = json.loads(lines[-1])
    whole = HeldOutLikelihood(toy_model, toy_data, binarize=0, seed=2, batch=10).estimate(
        samples=10
    )
    va, vb = per_image(a), per_image(b)
    assert sorted(va) == sorted(vb) == list(range(32))
    assert [va[i] for i in range(32)] == [vb[i] for i in range(32)] == whole.log_px.tolist()
    assert pooled["images"] == 32 and pooled["samples"] == 10
    assert pooled["nll_nats"] == pytest.approx(whole.nll, abs=1e-3)
    assert pooled["stderr"] == pytest.approx(whole.stderr, abs=1e-3)
    assert pooled["elbo_nats"] == pytest.approx(whole.elbo.mean(), abs=1e-3)
    assert pooled["kl_nats"] == pytest.approx(whole.kl.mean(), abs=1e-3)
    assert "the whole test split" in lines[-2]
    assert json.loads((b / "summary.json").read_text())["nll_nats"] == pooled["nll_nats"]
    # --merge pools the files alone; the same figure.
    assert script.main([*common, "--out", str(a), "--merge"]) == 0
    merged = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    timing = ("seconds", "cpu_seconds", "images_per_hour")  # a's chunks ran in other times
    assert {k: v for k, v in merged.items() if k not in timing} == {
        k: v for k, v in pooled.items() if k not in timing
    }
    # Chunks measured otherwise are refused, never mixed in.
    assert script.main([*common[:3], "20", *common[4:], "--out", str(a)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and "samples 10 (not 20)" in err and len(err.splitlines()) == 1
    (a / "images-000000-000005.json").write_text("{}")
    assert script.main([*common, "--out", str(a), "--merge"]) == 2
    assert "not a chunk file" in capsys.readouterr().err


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
    res = invoke(runner, "evaluate", toy_model, toy_data, "--nll", "--samples", "20",
                 "--start", "4", "--limit", "6", "--binarize", "0", "--json")  # fmt: skip
    part = json.loads(res.output)
    assert part["start"] == 4 and part["images"] == 6 and out["start"] == 0
    text = invoke(runner, "evaluate", toy_model, toy_data, "--nll", "--samples", "20",
                  "--start", "4", "--limit", "6", "--binarize", "0")  # fmt: skip
    assert f"NLL {part['nll_nats']:.2f}" in text.output and "test images 4 to 9 of" in text.output


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
    _one_line_error(invoke(runner, "evaluate", toy_model, toy_data, "--start", "-1"), "--start")
    _one_line_error(invoke(runner, "evaluate", toy_model, toy_data, "--nll", "--start", "32"),
                    "--start 32 is past", "32 images", "toy.npz")  # fmt: skip
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
    # Before the model or the data is read: a plain install fails at once.
    import conceptvae.data
    import conceptvae.model.api

    def unread(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("read before the extra was checked")

    monkeypatch.setattr(conceptvae.data, "open_dataset", unread)
    monkeypatch.setattr(conceptvae.model.api, "load_model", unread)
    res = invoke(runner, "evaluate", toy_model, toy_data, "--nll", "--limit", "5")
    _one_line_error(res, "conceptvae[train]")


def test_iwae_options_are_checked() -> None:
    from conceptvae.config import TrainOptions
    from conceptvae.errors import ConceptVAEError

    with pytest.raises(ConceptVAEError, match="iwae"):
        TrainOptions(iwae=3, recon_loss="mse").validate()
    with pytest.raises(ConceptVAEError, match="iwae"):
        TrainOptions(iwae=0).validate()
    assert TrainOptions(iwae=5, binarize=True, recon_loss="bernoulli").validate()
