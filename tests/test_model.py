import numpy as np
import pytest

from conceptvae import load_model
from conceptvae.config import VAEConfig
from conceptvae.errors import ModelError
from conceptvae.model import files


def test_loss_terms_match_the_formulas():
    from conceptvae.model.network import build_vae

    cfg = VAEConfig(image_size=8, latent_dim=3, filters=[4], beta=0.5)
    vae = build_vae(cfg)
    rng = np.random.default_rng(0)
    x = rng.random((5, 8, 8, 1)).astype(np.float32)
    eps = rng.standard_normal((5, 3)).astype(np.float32)
    terms = {k: float(v) for k, v in vae.losses_for(x, x, eps).items()}
    mean, log_var = (np.asarray(a) for a in vae.encoder(x))
    z = mean + np.exp(0.5 * log_var) * eps  # the std is exp(0.5 * log_var), not exp(log_var)
    logits = np.asarray(vae.decoder(z)).astype(np.float64)
    p = 1 / (1 + np.exp(-logits))
    bce = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=(1, 2, 3)).mean()
    kl = (0.5 * (mean**2 + np.exp(log_var) - 1 - log_var).sum(axis=1)).mean()
    assert terms["reconstruction_loss"] == pytest.approx(bce, rel=1e-4)
    assert terms["kl_loss"] == pytest.approx(kl, rel=1e-4, abs=1e-5)
    assert terms["loss"] == pytest.approx(bce + 0.5 * kl, rel=1e-4)


def test_beta_zero_is_a_plain_autoencoder():
    from conceptvae.model.network import build_vae

    vae = build_vae(VAEConfig(image_size=8, latent_dim=2, filters=[4], beta=0.0))
    x = np.random.default_rng(0).random((3, 8, 8, 1)).astype(np.float32)
    t = vae.losses_for(x, x, np.zeros((3, 2), np.float32))
    assert float(t["loss"]) == pytest.approx(float(t["reconstruction_loss"]))


def test_dense_and_rgb_mse_models_build():
    from conceptvae.model.network import build_vae

    vae = build_vae(
        VAEConfig(
            image_size=12, channels=3, latent_dim=5, arch="dense", hidden=[32], recon_loss="mse"
        )
    )
    x = np.random.default_rng(0).random((2, 12, 12, 3)).astype(np.float32)
    assert np.asarray(vae(x)).shape == (2, 12, 12, 3)


def test_save_load_encode_is_identical(tiny_model, npz_data):
    from conceptvae.data import open_dataset

    x = open_dataset(npz_data).test.load_float(np.arange(8))
    a, b = load_model(tiny_model, backend="keras"), load_model(tiny_model, backend="keras")
    za, zb = a.encode(x), b.encode(x)
    assert np.array_equal(za, zb) and za.shape == (8, 4)
    assert np.array_equal(a.encode(x), za)  # posterior mean: deterministic
    zs1, zs2 = a.encode(x, sample=True, seed=1), a.encode(x, sample=True, seed=1)
    assert np.array_equal(zs1, zs2) and not np.allclose(zs1, za)
    assert a.fingerprint == b.fingerprint == a.backend.fingerprint()


def test_decode_reconstruct_sample(tiny_model):
    m = load_model(tiny_model, backend="keras")
    imgs = m.sample(6, seed=3)
    assert imgs.shape == (6, 16, 16, 1) and 0 <= imgs.min() and imgs.max() <= 1
    assert np.array_equal(imgs, m.sample(6, seed=3))
    assert not np.array_equal(imgs, m.sample(6, seed=4))
    flat = m.sample(2, temperature=0.0, seed=1)
    assert np.allclose(flat[0], flat[1])  # temperature 0 decodes the prior mean
    assert m.reconstruct(imgs).shape == imgs.shape
    with pytest.raises(Exception, match="latents must have shape"):
        m.decode(np.zeros((2, 3)))


def test_missing_weights_are_named(tiny_model, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / files.WEIGHTS).unlink()
    with pytest.raises(ModelError, match="missing model.weights.h5"):
        load_model(broken, backend="keras")
    (broken / files.CONFIG).unlink()
    with pytest.raises(ModelError, match="missing config.json"):
        load_model(broken)


def test_keras_file_with_lambda_layer_is_refused(tmp_path):
    import keras

    inp = keras.Input((2,))
    out = keras.layers.Lambda(lambda t: t * 2)(inp)
    path = tmp_path / "evil.keras"
    keras.Model(inp, out).save(path)
    with pytest.raises(ModelError, match="refused: the file holds a Lambda layer"):
        load_model(path)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(image_size=28, filters=[32, 64]),
        dict(image_size=28, filters=[8, 16], blocks=1, hidden=[32]),
        dict(image_size=16, channels=3, filters=[8, 8, 8], blocks=2, latent_dim=6),
        dict(image_size=12, arch="dense", hidden=[64, 32], latent_dim=3),
        dict(
            image_size=16,
            filters=[8],
            latent_dim=4,
            supervise=[
                {"column": "y", "kind": "class", "classes": ["a", "b", "c"]},
                {"column": "s", "kind": "attribute"},
            ],
        ),  # fmt: skip
    ],
)
def test_parameter_count_without_tensorflow_matches_keras(kwargs):
    from conceptvae.model.info import count_parameters
    from conceptvae.model.network import build_vae

    cfg = VAEConfig(**kwargs)
    vae = build_vae(cfg)
    assert count_parameters(cfg) == vae.count_params()
    x = np.zeros((1, *cfg.input_shape), np.float32)
    assert np.asarray(vae(x)).shape == (1, *cfg.input_shape)
