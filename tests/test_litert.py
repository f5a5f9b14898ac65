"""The LiteRT path: exported graphs match Keras, inference skips TensorFlow, bad files fail cleanly."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import invoke, loaded, run_cli_reporting_imports
from PIL import Image

from conceptvae.config import VAEConfig
from conceptvae.errors import ModelError
from conceptvae.model import files
from conceptvae.model.api import load_model
from conceptvae.model.litert import LiteRTBackend, default_threads, encoder_graph

ATOL = 1e-4


def _keras(model_dir: Path):  # noqa: ANN202
    from conceptvae.model.backends import KerasBackend

    return KerasBackend.from_dir(model_dir, VAEConfig.load(model_dir / files.CONFIG))


def _copy(model_dir: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "model"
    shutil.copytree(model_dir, dst)
    return dst


def test_training_ships_flatbuffers(tiny_model: Path) -> None:
    for name in (files.ENCODER_TFLITE, files.DECODER_TFLITE):
        data = (tiny_model / name).read_bytes()
        assert data[4:8] == b"TFL3", name  # the flatbuffer file identifier


@pytest.mark.parametrize("n", [1, 8, 9, 37])
def test_exported_graphs_match_keras(tiny_model: Path, n: int) -> None:
    cfg = VAEConfig.load(tiny_model / files.CONFIG)
    keras_be = _keras(tiny_model)
    lite = LiteRTBackend.from_dir(tiny_model, cfg)
    rng = np.random.default_rng(n)
    x = rng.random((n, *cfg.input_shape), dtype=np.float32)
    z = 2.0 * rng.standard_normal((n, cfg.latent_dim), dtype=np.float32)

    got_mean, got_log_var = lite.encode(x)
    want_mean, want_log_var = keras_be.encode(x)
    assert got_mean.shape == want_mean.shape == (n, cfg.latent_dim)
    assert np.abs(got_mean - want_mean).max() <= ATOL
    assert np.abs(got_log_var - want_log_var).max() <= ATOL

    got = lite.decode(z)
    want = keras_be.decode(z)
    assert got.shape == want.shape == (n, *cfg.input_shape)
    assert got.dtype == np.float32
    assert np.abs(got - want).max() <= ATOL
    assert got.min() >= 0.0 and got.max() <= 1.0  # the sigmoid is inside the graph


def test_litert_and_keras_models_agree(tiny_model: Path) -> None:
    lite = load_model(tiny_model, backend="litert")
    ker = load_model(tiny_model, backend="keras")
    x = np.random.default_rng(0).random((12, *lite.image_shape), dtype=np.float32)
    assert np.abs(lite.encode(x) - ker.encode(x)).max() <= ATOL
    z = lite.encode(x)
    assert np.abs(lite.decode(z) - ker.decode(z)).max() <= ATOL
    # Sampled encodings use the same seeded noise whatever the backend.
    a = lite.encode(x, sample=True, seed=3)
    b = ker.encode(x, sample=True, seed=3)
    assert np.abs(a - b).max() <= 1e-3
    assert lite.backend.name == "litert" and ker.backend.name == "keras"


def test_auto_backend_picks_litert(tiny_model: Path, tmp_path: Path) -> None:
    model = load_model(tiny_model)
    assert model.backend_name == "litert"
    assert model.backend.name == "litert"
    assert model.sample(3, seed=0).shape == (3, *model.image_shape)
    # Without the flatbuffers, auto falls back to Keras.
    bare = _copy(tiny_model, tmp_path)
    (bare / files.ENCODER_TFLITE).unlink()
    assert load_model(bare).backend_name == "keras"
    with pytest.raises(ModelError, match="missing encoder.tflite"):
        load_model(bare, backend="litert")


def test_same_bytes_for_same_weights(tiny_model: Path) -> None:
    from conceptvae.model.export import convert_decoder, convert_encoder

    vae = _keras(tiny_model).vae
    assert convert_encoder(vae) == (tiny_model / files.ENCODER_TFLITE).read_bytes()
    assert convert_decoder(vae) == (tiny_model / files.DECODER_TFLITE).read_bytes()


def test_inference_cli_never_imports_tensorflow(tiny_model: Path, tmp_path: Path) -> None:
    img = tmp_path / "in.png"
    Image.fromarray((np.arange(256).reshape(16, 16)).astype(np.uint8)).save(img)
    m = str(tiny_model)
    commands = [
        ["reconstruct", str(img), "--model", m, "-o", str(tmp_path / "recon.png")],
        ["encode", str(img), "--model", m, "-o", str(tmp_path / "z.npy")],
        ["decode", str(tmp_path / "z.npy"), "--model", m, "-o", str(tmp_path / "dec.png")],
        ["sample", "--model", m, "-n", "4", "-o", str(tmp_path / "grid.png")],
    ]
    proc, codes, heavy = run_cli_reporting_imports(commands, ("tensorflow", "keras", "h5py"))
    assert codes == [0, 0, 0, 0], proc.stderr
    assert heavy == [], "inference imported " + ", ".join(heavy[:5])
    assert proc.stderr == ""  # not even the runtime's INFO line
    for name in ("recon.png", "z.npy", "dec.png", "grid.png"):
        assert (tmp_path / name).is_file(), name
    # The LiteRT result is the Keras result.
    recon = np.asarray(loaded(tmp_path / "recon.png"), np.float32) / 255
    want = load_model(tiny_model, backend="keras").reconstruct([img])[0, ..., 0]
    assert np.abs(recon - want).max() <= 1 / 255 + ATOL


def test_export_recreates_missing_flatbuffers(
    tiny_model: Path, tmp_path: Path, runner: CliRunner
) -> None:
    model = _copy(tiny_model, tmp_path)
    for name in (files.ENCODER_TFLITE, files.DECODER_TFLITE):
        (model / name).unlink()
    result = invoke(runner, "export", model)
    assert result.exit_code == 0, result.output
    assert "verified against Keras" in result.output
    assert (model / files.ENCODER_TFLITE).is_file() and (model / files.DECODER_TFLITE).is_file()
    assert not [p for p in model.iterdir() if p.name.startswith(".")]  # no temp files left
    lite, ker = load_model(model, backend="litert"), load_model(model, backend="keras")
    x = np.random.default_rng(1).random((5, *lite.image_shape), dtype=np.float32)
    assert np.abs(lite.encode(x) - ker.encode(x)).max() <= ATOL

    again = invoke(runner, "export", model)
    assert again.exit_code == 0 and "already has" in again.output


def test_export_refuses_files_and_incomplete_dirs(
    tiny_model: Path, tmp_path: Path, runner: CliRunner
) -> None:
    keras_file = tmp_path / "m.keras"
    keras_file.write_bytes(b"PK")
    result = invoke(runner, "export", keras_file)
    assert result.exit_code == 2 and "needs a model directory" in result.output
    model = _copy(tiny_model, tmp_path)
    (model / files.WEIGHTS).unlink()
    result = invoke(runner, "export", model, "--force")
    assert result.exit_code == 2 and "missing model.weights.h5" in result.output


def test_export_refuses_a_graph_that_differs(tiny_model: Path, tmp_path: Path) -> None:
    from conceptvae.model.export import convert_decoder, convert_encoder, verify
    from conceptvae.model.network import build_vae

    vae = _keras(tiny_model).vae
    untrained = build_vae(vae.vae_config)  # same shapes, other weights
    with pytest.raises(ModelError, match=r"decoder\.tflite: exported graph differs"):
        verify(vae, convert_encoder(vae), convert_decoder(untrained), out_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "cfg",
    [
        VAEConfig(12, 3, latent_dim=3, arch="dense", hidden=[24, 16], activation="gelu"),
        VAEConfig(16, 1, latent_dim=5, filters=[4, 8], hidden=[16], activation="leaky_relu"),
        VAEConfig(image_size=8, channels=3, latent_dim=2, filters=[4], activation="swish"),
        VAEConfig(image_size=16, channels=1, latent_dim=4, filters=[4, 8], blocks=1),
    ],
    ids=["dense-gelu-rgb", "conv-leaky-hidden", "conv-swish-rgb", "conv-blocks"],
)
def test_every_architecture_exports(cfg: VAEConfig, tmp_path: Path) -> None:
    from conceptvae.model.backends import KerasBackend
    from conceptvae.model.export import export_vae
    from conceptvae.model.network import build_vae

    vae = build_vae(cfg)
    result = export_vae(vae, tmp_path)  # verifies within 1e-4 or raises
    assert max(result.max_abs_diff.values()) <= ATOL
    lite = LiteRTBackend.from_dir(tmp_path, cfg)
    x = np.random.default_rng(2).random((11, *cfg.input_shape), dtype=np.float32)
    z = np.random.default_rng(3).standard_normal((11, cfg.latent_dim), dtype=np.float32)
    ker = KerasBackend(vae)
    assert np.abs(lite.encode(x)[1] - ker.encode(x)[1]).max() <= ATOL
    assert np.abs(lite.decode(z) - ker.decode(z)).max() <= ATOL


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\x00" * 64 + b"not a flatbuffer", "not a usable LiteRT flatbuffer"),
        (b"", "empty file"),
        (None, "does not match this model"),  # the decoder where the encoder belongs
    ],
    ids=["garbage", "empty", "wrong-graph"],
)
def test_bad_flatbuffer_is_one_line_model_error(
    tiny_model: Path, tmp_path: Path, runner: CliRunner, content: bytes | None, message: str
) -> None:
    model = _copy(tiny_model, tmp_path)
    bad = model / files.ENCODER_TFLITE
    bad.write_bytes((model / files.DECODER_TFLITE).read_bytes() if content is None else content)
    cfg = VAEConfig.load(model / files.CONFIG)
    with pytest.raises(ModelError, match=message) as info:
        encoder_graph(bad, cfg)
    assert info.value.path == str(bad)

    img = tmp_path / "in.png"
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(img)
    result = invoke(runner, "reconstruct", img, "--model", model, "-o", tmp_path / "out.png")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {bad}: "), result.output
    assert message in lines[0]
    assert "conceptvae export" in lines[0]
    assert not (tmp_path / "out.png").exists()


def test_thread_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONCEPTVAE_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.delenv("CONCEPTVAE_THREADS")
    assert 1 <= default_threads() <= 4


@pytest.mark.parametrize("rows", [(1, 1), (3, 2), (7, 5), (9, 8)])
def test_decode_each_shares_the_fixed_batch_bit_exactly(
    monkeypatch: pytest.MonkeyPatch, rows: tuple[int, int]
) -> None:
    # The shipped decoder runs 8 rows a pass: an edit's decodes of z' and z share
    # passes, and every row keeps the bits it has when decoded on its own.
    model = load_model("faces")
    assert model.backend.pads_decoder_batch
    rng = np.random.default_rng(sum(rows))
    zs = [rng.normal(0, 1.5, (n, model.latent_dim)).astype(np.float32) for n in rows]
    alone = [model.decode(z) for z in zs]
    graph = model.backend.decoder
    passes = []
    run = graph._run
    monkeypatch.setattr(graph, "_run", lambda x: passes.append(len(x)) or run(x))
    together = model.decode_each(*zs)
    assert passes == [8] * -(-sum(rows) // 8)  # (1, 1): one pass where decode() makes two
    assert [t.shape for t in together] == [a.shape for a in alone]
    for t, a in zip(together, alone):
        assert np.array_equal(t, a)


def test_decode_each_decodes_apart_on_other_backends(tiny_model: Path) -> None:
    # Keras may give a row other bits in another batch: each array is decoded alone.
    model = load_model(tiny_model, backend="keras")
    seen = []
    decode = model.backend.decode
    model.backend.decode = lambda z: seen.append(len(z)) or decode(z)
    z = np.random.default_rng(0).standard_normal((3, model.latent_dim)).astype(np.float32)
    a, b = model.decode_each(z, z[:2])
    assert seen == [3, 2]
    assert np.array_equal(b, model.decode(z[:2]))
