import json

import numpy as np
import pytest

from conceptvae import load_model
from conceptvae.errors import ConceptVAEError
from conceptvae.model import files
from conceptvae.training import train

# export=False: these runs never need the LiteRT flatbuffers (the slowest part of saving).
TINY = dict(latent_dim=4, filters=[8, 16], batch_size=32, seed=5, verbose=0, export=False)


def test_training_lowers_the_loss_and_writes_the_model(tiny_model):
    history = json.loads((tiny_model / files.HISTORY).read_text())
    assert history["loss"][-1] < history["loss"][0]
    assert {"loss", "reconstruction_loss", "kl_loss", "val_loss"} <= set(history)
    for name in (files.CONFIG, files.WEIGHTS, files.META, files.PREVIEW, files.CHECKPOINT):
        assert (tiny_model / name).is_file()
    meta = json.loads((tiny_model / files.META).read_text())
    assert meta["metrics"]["test_images"] == 32 and meta["data"]["fingerprint"].startswith(
        "sha256:"
    )


def test_resume_matches_an_uninterrupted_run(npz_data, tmp_path):
    train(npz_data, tmp_path / "full", epochs=3, **TINY)
    train(npz_data, tmp_path / "part", epochs=1, **TINY)
    train(npz_data, tmp_path / "part", epochs=3, resume=True, verbose=0)
    a = load_model(tmp_path / "full", backend="keras").backend.vae.get_weights()
    b = load_model(tmp_path / "part", backend="keras").backend.vae.get_weights()
    for wa, wb in zip(a, b):
        np.testing.assert_allclose(wa, wb, atol=1e-5)
    h = json.loads((tmp_path / "part" / files.HISTORY).read_text())
    assert len(h["loss"]) == 3


def test_existing_run_is_not_overwritten_and_resume_checks_options(npz_data, tmp_path):
    train(npz_data, tmp_path / "r", epochs=1, **TINY)
    with pytest.raises(ConceptVAEError, match="resume"):
        train(npz_data, tmp_path / "r", epochs=1, **TINY)
    with pytest.raises(ConceptVAEError, match="latent_dim 8 differs"):
        train(npz_data, tmp_path / "r", epochs=2, latent_dim=8, resume=True)
    with pytest.raises(ConceptVAEError, match="nothing to resume"):
        train(npz_data, tmp_path / "fresh", resume=True)


def test_denoise_and_dense_arch_from_a_folder(image_folder, tmp_path):
    result = train(image_folder, tmp_path / "d", image_size=16, arch="dense", hidden=[32],
                   latent_dim=3, epochs=1, denoise=0.3, batch_size=8, verbose=0,
                   export=False)  # fmt: skip
    assert result.config.arch == "dense" and result.config.image_size == 16
    assert not (tmp_path / "d" / files.ENCODER_TFLITE).exists()
    m = load_model(tmp_path / "d", backend="keras")
    assert m.encode(np.zeros((1, 16, 16, 1), np.float32)).shape == (1, 3)


def test_supervised_head_makes_a_label_linearly_readable(npz_data, tmp_path):
    """With --supervise, a linear read-out of z predicts the label on held-out images."""
    from conceptvae.data import open_dataset

    result = train(npz_data, tmp_path / "s", epochs=4, supervise=["label"], supervise_weight=10.0,
                   **TINY)  # fmt: skip
    assert result.config.supervise == [{"column": "label", "kind": "class", "classes": ["0", "1"]}]
    assert "supervised_loss" in result.history
    assert result.history["supervised_loss"][-1] < result.history["supervised_loss"][0]
    test = open_dataset(npz_data).test
    m = load_model(tmp_path / "s", backend="keras")
    z = m.encode(test.load_float())
    head = m.backend.vae.heads[0]
    pred = np.asarray(head(z)).argmax(axis=1).astype(str)
    assert (pred == test.labels["label"]).mean() >= 0.9
    with pytest.raises(ConceptVAEError, match="no label column 'smile'"):
        train(npz_data, tmp_path / "t", epochs=1, supervise=["smile"], **TINY)


def test_train_options_defaults_validation_and_resume_check():
    from conceptvae.config import TrainOptions

    opts = TrainOptions()
    assert opts.latent_dim == 16 and opts.epochs == 10 and opts.validate() is opts
    with pytest.raises(ConceptVAEError, match=r"lr must be in \(0, 10\]"):
        TrainOptions(lr=0).validate()
    # What a caller set: non-default fields of an options object, then non-None overrides.
    given = TrainOptions.given(TrainOptions(latent_dim=8), {"epochs": 3, "beta": None})
    assert given == {"latent_dim": 8, "epochs": 3}
    with pytest.raises(TypeError, match="latent_size"):
        TrainOptions.given(None, {"latent_size": 8})
    TrainOptions.check_resume({"latent_dim": 8, "epochs": 2}, {"latent_dim": 8, "epochs": 9})
    with pytest.raises(ConceptVAEError, match="latent_dim 4 differs"):
        TrainOptions.check_resume({"latent_dim": 8}, {"latent_dim": 4})


def test_streamed_batches_are_the_cached_batches(image_folder):
    """A split too large to cache is read from disk batch by batch: each row must be
    the image its label and noise belong to, as in the cached batch."""
    from conceptvae.data import open_dataset
    from conceptvae.training import BatchSource, label_codes, supervision_spec
    from conceptvae.training.batches import cache_split

    ds = open_dataset(image_folder, labels=image_folder / "labels.csv")
    idx = np.arange(len(ds))
    codes = label_codes(ds, supervision_spec(ds, ["left"]))
    cached = BatchSource(ds, idx, 8, 4, 0, 0.0, cache=cache_split(ds, idx), labels=codes)
    streamed = BatchSource(ds, idx, 8, 4, 0, 0.0, cache=None, labels=codes)
    for b in range(len(cached)):
        for a, s in zip(cached.batch(1, b), streamed.batch(1, b)):
            np.testing.assert_array_equal(a, s)


def test_the_preview_of_a_folder_without_a_test_split_has_ten_columns(image_folder):
    from conceptvae.data import open_dataset
    from conceptvae.training.results import Subset, test_images

    ds = open_dataset(image_folder)
    sub = Subset(ds, np.arange(len(ds)))
    assert len(test_images(sub, 10)) == 10 and len(test_images(sub)) == len(ds)
