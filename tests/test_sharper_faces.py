"""The sharper-faces training options (resize decoder, flips, patch discriminator)
and blend-mode edits."""

import json

import numpy as np
import pytest
from PIL import Image

from conceptvae import load_model
from conceptvae.config import VAEConfig
from conceptvae.errors import ConceptVAEError
from conceptvae.model import files
from conceptvae.training import train

TINY = dict(latent_dim=4, filters=[8, 16], batch_size=32, seed=5, verbose=0)


def test_configs_without_upsample_build_todays_transposed_decoder():
    from conceptvae.model.network import build_decoder

    old = {"image_size": 16, "channels": 1, "latent_dim": 3, "filters": [8, 16]}
    cfg = VAEConfig.from_dict(old)
    assert cfg.upsample == "transpose"
    dec = build_decoder(cfg)
    kinds = [type(layer).__name__ for layer in dec.layers]
    assert kinds.count("Conv2DTranspose") == 2 and "UpSampling2D" not in kinds
    resized = build_decoder(VAEConfig.from_dict({**old, "upsample": "resize"}))
    kinds = [type(layer).__name__ for layer in resized.layers]
    assert kinds.count("UpSampling2D") == 2 and "Conv2DTranspose" not in kinds
    assert resized.output_shape == dec.output_shape == (None, 16, 16, 1)
    with pytest.raises(ConceptVAEError, match="upsample must be one of"):
        VAEConfig.from_dict({**old, "upsample": "pixelshuffle"})


def test_flip_mirrors_a_seeded_half_of_each_batch(npz_data):
    from conceptvae.data import open_dataset
    from conceptvae.training import BatchSource

    ds = open_dataset(npz_data)
    idx = np.arange(len(ds))
    plain = BatchSource(ds, idx, 32, 4, seed=3, cache=ds.load(idx))
    flipped = BatchSource(ds, idx, 32, 4, seed=3, cache=ds.load(idx), flip=True)
    a, b, b2 = plain.batch(0, 1)[0], flipped.batch(0, 1)[0], flipped.batch(0, 1)[0]
    np.testing.assert_array_equal(b, b2)  # a pure function of (seed, epoch, batch)
    same = np.all(a == b, axis=(1, 2, 3))
    mirrored = np.all(a[:, :, ::-1] == b, axis=(1, 2, 3))
    assert np.all(same | mirrored)
    assert 4 <= (mirrored & ~same).sum() <= 28


def test_adversarial_training_saves_a_plain_model_and_resumes_exactly(npz_data, tmp_path):
    opts = dict(TINY, upsample="resize", flip=True, adversarial=0.5)
    full = train(npz_data, tmp_path / "full", epochs=2, **opts)
    assert {"adversarial_loss", "feature_loss", "discriminator_loss"} <= set(full.history)
    train(npz_data, tmp_path / "part", epochs=1, **opts)
    train(npz_data, tmp_path / "part", epochs=2, resume=True, verbose=0)
    a = load_model(tmp_path / "full", backend="keras")
    b = load_model(tmp_path / "part", backend="keras")
    for wa, wb in zip(a.backend.vae.get_weights(), b.backend.vae.get_weights()):
        np.testing.assert_allclose(wa, wb, atol=1e-5)
    # The model folder holds the VAE alone: the discriminator lives in the checkpoint.
    meta = json.loads((tmp_path / "full" / files.META).read_text())
    plain = a.backend.vae
    assert meta["parameters"] == plain.count_params()
    assert meta["fingerprint"] == files.weights_fingerprint(plain.get_weights())
    assert meta["training"]["adversarial"] == 0.5 and meta["training"]["flip"] is True
    assert json.loads((tmp_path / "full" / files.CONFIG).read_text())["upsample"] == "resize"
    with np.load(tmp_path / "full" / files.CHECKPOINT) as ckpt:
        assert len([k for k in ckpt.files if k.startswith("w")]) > len(plain.get_weights())
        assert any(k.startswith("p") for k in ckpt.files)
    # The LiteRT graphs (what inference runs) agree with Keras.
    x = np.random.default_rng(0).random((3, 16, 16, 1), np.float32)
    lite = load_model(tmp_path / "full", backend="litert")
    np.testing.assert_allclose(lite.reconstruct(x), a.reconstruct(x), atol=1e-4)
    with pytest.raises(ConceptVAEError, match="adversarial must be"):
        train(npz_data, tmp_path / "bad", epochs=1, adversarial=-1.0, **TINY)


def test_plain_and_adversarial_vaes_list_their_network_weights_alike():
    from conceptvae.model.adversarial import build_adversarial_vae
    from conceptvae.model.network import build_vae

    cfg = VAEConfig(image_size=16, latent_dim=3, filters=[8, 16],
                    supervise=[{"column": "s", "kind": "attribute"}])  # fmt: skip
    plain, adv = build_vae(cfg), build_adversarial_vae(cfg, 0.1)
    assert [w.shape for w in plain.get_weights()] == [w.shape for w in adv.network_weights()]
    assert [v.path for v in plain.trainable_variables] == [
        v.path for v in plain.generator_variables
    ]
    assert len(adv.get_weights()) > len(plain.get_weights())


# -- blend mode -----------------------------------------------------------------------


def _face(side: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.random((side, side, 1))


def test_blend_without_a_change_returns_the_photograph():
    from conceptvae.blending import blend_edit

    photo = _face(100)
    start = np.full((16, 16, 1), 0.5)
    out = blend_edit(photo, start, start.copy())
    np.testing.assert_allclose(out, photo, atol=1e-6)


def test_blend_replaces_the_changed_region_and_keeps_the_rest():
    from conceptvae.blending import blend_edit

    photo = _face(64)
    start = np.full((16, 16, 1), 0.5)
    edited = start.copy()
    edited[10:13, 5:11] = 0.9  # a "mouth" the edit redraws
    out = blend_edit(photo, start, edited)
    assert out.shape == photo.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    # Far from the change: the photograph, exactly (detail mode's photo + 0).
    np.testing.assert_allclose(out[:16], photo[:16], atol=1e-3)
    # Inside: the photograph's fine texture is replaced by the (flat) edited decode.
    inside = out[44:50, 24:40, 0]
    assert inside.std() < 0.5 * photo[44:50, 24:40, 0].std()
    assert inside.mean() > photo[44:50, 24:40, 0].mean() + 0.2


def test_blend_mode_through_edit_keeps_a_colour_photograph_size(tiny_model, tmp_path):
    import shutil

    from test_editing import write_library

    from conceptvae.editing import edit

    model_dir = tmp_path / "m"
    shutil.copytree(tiny_model, model_dir)
    write_library(model_dir)
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (40, 52, 3), np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(rgb).save(path)
    model = load_model(model_dir)
    crop = rgb[:, 6:46]
    still = edit(model, [path], "smile", 0.0, mode="blend")
    np.testing.assert_array_equal(still.pil()[0], crop)  # no change: the photograph
    moved = edit(model, [path], "smile", 3.0, mode="blend")
    assert moved.mode == "blend" and moved.images[0].shape == (40, 40, 3)
    detail = edit(model, [path], "smile", 3.0, mode="detail")
    change = np.abs(detail.images[0] - crop / 255.0).max()
    assert change > 0 and not np.array_equal(np.asarray(moved.pil()[0]), crop)
    again = edit(model, [path], "smile", 3.0, mode="blend")
    np.testing.assert_array_equal(moved.images[0], again.images[0])


def test_wide_lowpass_on_a_reduced_copy_matches_the_direct_blur():
    # Blend mode's low-pass widens with the picture; past DIRECT_SIGMA it runs on
    # a shrunk copy (bounded time) and must still be the same blur, away from edges.
    from conceptvae import blending

    rng = np.random.default_rng(0)
    x = blending._blur(rng.random((256, 256)), 2.0)
    for sigma in (blending.DIRECT_SIGMA / 2, 12.0, 24.0):
        direct = blending._blur(x, sigma)
        fast = blending._lowpass(x, sigma)
        inner = slice(int(3 * sigma), -int(3 * sigma))
        spread = float(direct.max() - direct.min())
        assert np.abs(fast - direct)[inner, inner].max() < 0.05 * spread
    assert np.array_equal(blending._lowpass(x, 3.0), blending._blur(x, 3.0))


def test_blend_settings_come_from_the_model_and_bad_ones_are_refused(tiny_model, tmp_path):
    import shutil

    from test_editing import write_library

    from conceptvae.blending import BlendSettings
    from conceptvae.editing import blend_settings
    from conceptvae.errors import ModelError

    d = tmp_path / "m"
    shutil.copytree(tiny_model, d)
    write_library(d)
    meta = files.read_meta(d)
    files.write_meta(d, {**meta, "edit_defaults": {"mode": "blend", "blend": {"gain": 1.5}}})
    model = load_model(d)
    assert blend_settings(model) == BlendSettings(gain=1.5)
    from conceptvae.editing import edit

    assert edit(model, [np.zeros((16, 16, 1), np.float32)], "smile", 1.0).mode == "blend"
    files.write_meta(d, {**meta, "edit_defaults": {"mode": "blend", "blend": {"gian": 1.5}}})
    with pytest.raises(ModelError, match="edit_defaults.blend"):
        blend_settings(load_model(d))


def test_outside_sigma_adds_the_changes_shading_but_not_its_texture():
    from conceptvae.blending import BlendSettings, blend_edit

    photo = 0.25 + 0.5 * _face(64)  # mid-grey: nothing clips
    start = np.full((16, 16, 1), 0.5)
    ys = np.arange(16)[:, None, None] / 15.0
    texture = 0.04 * ((np.indices((16, 16)).sum(0) % 2)[..., None] - 0.5)
    edited = start + 0.1 * ys + texture  # a shading ramp plus pixel-scale noise
    # rel_low above 1: no redraw region anywhere, only the outside rule applies.
    plain = blend_edit(photo, start, edited, BlendSettings(rel_low=2.0, rel_high=3.0))
    smooth = blend_edit(photo, start, edited,
                        BlendSettings(rel_low=2.0, rel_high=3.0, outside_sigma=2.0))  # fmt: skip
    hf = lambda a: np.abs(np.diff(a - photo, axis=1)).mean()  # noqa: E731
    assert hf(smooth) < 0.25 * hf(plain)  # the decoder's texture is not drawn on the photo
    # ...and the shading still is: the bottom got brighter than the top.
    d = (smooth - photo)[..., 0]
    assert d[48:60, 8:56].mean() > d[4:16, 8:56].mean() + 0.05


def test_outside_from_keeps_the_top_of_the_framing_and_not_the_redraw():
    from conceptvae.blending import BlendSettings, blend_edit

    photo = 0.25 + 0.5 * _face(64)
    start = np.full((16, 16, 1), 0.5)
    edited = start + 0.06  # a small, even change: shading only, everywhere
    edited[12:14, 6:10] += 0.2  # and a strong one low in the framing (a mouth)
    st = dict(rel_low=0.5, rel_high=0.8, outside_sigma=1.0)
    whole = blend_edit(photo, start, edited, BlendSettings(**st)) - photo
    limited = blend_edit(photo, start, edited,
                         BlendSettings(**st, outside_from=0.25, outside_full=0.5)) - photo  # fmt: skip
    # Above outside_from nothing is added; below outside_full all of it, as before.
    assert np.abs(limited[:12]).max() < 0.002 < whole[:12].mean()
    np.testing.assert_allclose(limited[36:44, :16], whole[36:44, :16], atol=0.002)
    # In between it fades in, without steps.
    column = limited[12:36, 4, 0]
    assert np.all(np.diff(column) > -0.002) and column[-1] > 0.04
    # The redraw where the change is strong is not limited.
    np.testing.assert_allclose(limited[48:56, 24:40], whole[48:56, 24:40], atol=0.01)


def test_detail_mode_uses_the_models_own_knobs_when_it_has_them(tiny_model, tmp_path):
    import shutil

    from test_editing import write_library

    from conceptvae.editing import blend_settings, edit
    from conceptvae.errors import ModelError

    d = tmp_path / "m"
    shutil.copytree(tiny_model, d)
    write_library(d)
    rgb = np.random.default_rng(1).integers(0, 256, (40, 40, 3), np.uint8)
    meta = files.read_meta(d)
    files.write_meta(d, {**meta, "edit_defaults": {"mode": "detail"}})
    assert blend_settings(load_model(d), "detail") is None  # detail without knobs: photo + change
    plain = edit(load_model(d), [rgb], "smile", 3.0).images[0]
    knobs = {"rel_low": 0.2, "rel_high": 0.5, "outside_sigma": 1.0, "gain": 1.5}
    files.write_meta(d, {**meta, "edit_defaults": {"mode": "detail", "detail": knobs}})
    model = load_model(d)
    tuned = edit(model, [rgb], "smile", 3.0)
    assert tuned.mode == "detail" and tuned.images[0].shape == plain.shape
    assert not np.array_equal(tuned.images[0], plain)
    np.testing.assert_array_equal(edit(model, [rgb], "smile", 0.0).pil()[0], rgb)
    for bad in ({"outside_sigma": -1}, {"mask_blur": 1e6}, {"gian": 1},
                {"outside_from": 0.6, "outside_full": 0.4}, {"outside_full": 1.5}):
        files.write_meta(d, {**meta, "edit_defaults": {"mode": "detail", "detail": bad}})
        with pytest.raises(ModelError, match="edit_defaults.detail"):
            edit(load_model(d), [rgb], "smile", 1.0)


def test_removal_redraws_where_the_edit_takes_structure_away():
    # The start decode has fine stripes (teeth) that the edited decode no longer has;
    # the photograph has them too. The change is small next to a big change elsewhere,
    # so the change mask alone leaves the stripes; removal redraws them away.
    from conceptvae.blending import BlendSettings, blend_edit

    start = np.full((16, 16, 1), 0.5)
    start[10:13, 5:11, 0] += 0.08 * np.where(np.arange(5, 11) % 2, 1, -1)  # stripes
    edited = start.copy()
    edited[10:13, 5:11] = 0.5  # the edit flattens them...
    edited[1:4, 1:4] = 1.0  # ...and makes a far bigger change elsewhere
    photo = np.kron(start, np.ones((4, 4, 1)))  # the photograph shows the same stripes
    base = dict(rel_low=0.5, rel_high=0.8, mask_blur=0.5)
    off = blend_edit(photo, start, edited, BlendSettings(**base))
    on = blend_edit(photo, start, edited, BlendSettings(**base, removal=0.02, removal_blur=0.5))
    teeth = (slice(41, 51), slice(21, 43), 0)
    assert on[teeth].std() < 0.5 * off[teeth].std()
    # Nothing removed, nothing redrawn: an edit that changes nothing is the photograph.
    np.testing.assert_allclose(blend_edit(photo, start, start, BlendSettings(removal=0.02)),
                               photo, atol=1e-6)  # fmt: skip
    with pytest.raises(ValueError, match="removal"):
        BlendSettings.from_meta({"removal": -1}, "detail")
