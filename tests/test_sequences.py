"""interpolate and morph: latent paths, exact frame counts in every format, same bytes twice."""

import hashlib

import numpy as np
import pytest
from conftest import invoke, run_cli_reporting_imports
from PIL import Image

from conceptvae import animate
from conceptvae.commands.sequences import morph_file
from conceptvae.errors import ConceptVAEError
from conceptvae.keyframes import keyframe_latents, seed_latent
from conceptvae.model.api import load_model
from conceptvae.sequences import (
    interpolate,
    interpolate_latents,
    morph,
)


@pytest.fixture
def keys(tmp_path):
    """Two different 16x16 key images and a third."""
    paths = []
    for i in range(3):
        arr = np.zeros((16, 16), np.uint8)
        arr[2 + 3 * i : 8 + 3 * i, 2 + 2 * i : 9 + 2 * i] = 255
        p = tmp_path / f"key{i}.png"
        Image.fromarray(arr).save(p)
        paths.append(p)
    return paths


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def gif_frames(path):
    with Image.open(path) as im:
        out = []
        for i in range(im.n_frames):
            im.seek(i)
            out.append((np.asarray(im.convert("L")), im.info.get("duration")))
        return out


# -- latent maths ---------------------------------------------------------------------


def test_interpolation_endpoints_norms_and_degenerate_ends():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(6), rng.standard_normal(6)
    b *= np.linalg.norm(a) / np.linalg.norm(b)
    z = interpolate_latents(a, b, 9)
    assert z.shape == (9, 6) and z.dtype == np.float32
    np.testing.assert_allclose(z[0], a, atol=1e-5)
    np.testing.assert_allclose(z[-1], b, atol=1e-5)
    # slerp keeps the norm on the great circle; lerp sags through the interior
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), np.linalg.norm(a), rtol=1e-5)
    flat = interpolate_latents(a, b, 9, spherical=False)
    assert np.linalg.norm(flat[4]) < np.linalg.norm(a) - 0.1
    same = interpolate_latents(a, a, 5)
    np.testing.assert_allclose(same, np.tile(a, (5, 1)), atol=1e-5)
    opposite = interpolate_latents(a, -a, 7)
    assert np.isfinite(opposite).all()
    np.testing.assert_allclose(opposite[-1], -a, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(opposite, axis=1), np.linalg.norm(a), rtol=1e-5)


@pytest.mark.parametrize("steps", [0, 1, -3, 10001, 2.5, True])
def test_steps_out_of_range_are_refused(steps):
    with pytest.raises(ConceptVAEError, match="steps must be a whole number from 2"):
        interpolate_latents(np.ones(3), np.ones(3), steps)


def test_delays_keep_the_total_duration_exact():
    d = animate.delays(7, 12.0, 1000)
    assert sum(d) == round(7 * 1000 / 12) and max(d) - min(d) <= 1
    assert animate.delays(3, 30.0, 100) == [3, 4, 3]


# -- the Python API --------------------------------------------------------------------


def test_api_interpolate_and_morph_return_frames(tiny_model, keys):
    model = load_model(tiny_model)
    frames = interpolate(model, keys[0], keys[1], steps=5)
    assert frames.shape == (5, 16, 16, 1) and frames.dtype == np.float32
    za, zb = model.encode([keys[0], keys[1]])
    np.testing.assert_allclose(frames[0], model.decode(za)[0], atol=1e-6)
    np.testing.assert_allclose(frames[-1], model.decode(zb)[0], atol=1e-6)
    m = morph(tiny_model, [keys[0], "seed:3", 5], frames=11, loop=True, easing="cosine")
    assert m.shape == (11, 16, 16, 1)
    z = keyframe_latents(model, ["seed:3", 3, keys[2]])
    np.testing.assert_array_equal(z[0], np.random.default_rng(3).standard_normal(4).astype("f4"))
    np.testing.assert_array_equal(z[0], z[1])
    np.testing.assert_array_equal(seed_latent(3, 4), z[0])
    with pytest.raises(ConceptVAEError, match="at least 2 keyframes"):
        morph(model, [keys[0]], frames=4)
    with pytest.raises(ConceptVAEError, match="seed:N"):
        keyframe_latents(model, ["seed:x"])


# -- interpolate: formats, counts, bytes -------------------------------------------


def test_interpolate_strip_png(runner, tiny_model, keys, tmp_path):
    out = tmp_path / "strip.png"
    r = invoke(runner, "interpolate", keys[0], keys[1], "-m", tiny_model, "--steps", 6, "-o", out)
    assert r.exit_code == 0, r.output
    assert "6 frames" in r.output
    with Image.open(out) as im:
        # one row of 6 cells of 16 px with 2 px padding
        assert im.size == (6 * 18 + 2, 16 + 4)
    first = digest(out)
    invoke(runner, "interpolate", keys[0], keys[1], "-m", tiny_model, "--steps", 6, "-o", out)
    assert digest(out) == first
    r = invoke(runner, "interpolate", keys[0], keys[1], "-m", tiny_model, "--steps", 4,
               "--size", 32, "-o", out)  # fmt: skip
    with Image.open(out) as im:
        assert im.size == (4 * 34 + 2, 32 + 4)


@pytest.mark.parametrize("suffix", [".gif", ".webp"])
def test_interpolate_animation_has_exactly_n_frames(runner, tiny_model, keys, tmp_path, suffix):
    out = tmp_path / f"a{suffix}"
    r = invoke(runner, "interpolate", keys[0], keys[1], "-m", tiny_model, "-n", 7, "-o", out,
               "--fps", 10)  # fmt: skip
    assert r.exit_code == 0, r.output
    assert animate.count_frames(out) == 7
    with Image.open(out) as im:
        assert im.size == (16, 16)
    first = digest(out)
    invoke(runner, "interpolate", keys[0], keys[1], "-m", tiny_model, "-n", 7, "-o", out,
           "--fps", 10)  # fmt: skip
    assert digest(out) == first
    # identical endpoints give identical frames: still exactly N of them, none merged
    same = tmp_path / f"same{suffix}"
    r = invoke(runner, "interpolate", keys[0], keys[0], "-m", tiny_model, "-n", 5, "-o", same)
    assert r.exit_code == 0, r.output
    assert animate.count_frames(same) == 5


def test_gif_frames_are_the_decoded_frames_with_exact_timing(tiny_model, keys, tmp_path):
    out = tmp_path / "m.gif"
    morph_file(tiny_model, keys, out, frames=9, fps=12)
    frames = gif_frames(out)
    want = morph(tiny_model, keys, frames=9)
    got = np.stack([f for f, _ in frames])
    assert np.abs(got.astype(int) - np.round(want[..., 0] * 255)).max() <= 1
    assert sum(d for _, d in frames) == round(9 * 1000 / 12) // 10 * 10


# -- morph: formats, counts, bytes ------------------------------------------------------


@pytest.mark.parametrize("frames", [1, 2, 13])
@pytest.mark.parametrize("loop", [False, True])
def test_morph_gif_frame_counts(runner, tiny_model, keys, tmp_path, frames, loop):
    out = tmp_path / "m.gif"
    args = ["morph", *keys, "seed:4", "-m", tiny_model, "--frames", frames, "-o", out]
    r = invoke(runner, *args, *(["--loop"] if loop else []), "--ease", "cosine")
    assert r.exit_code == 0, r.output
    assert animate.count_frames(out) == frames


def test_morph_webp_and_mp4(runner, tiny_model, keys, tmp_path):
    import imageio_ffmpeg

    webp = tmp_path / "m.webp"
    r = invoke(runner, "morph", *keys, "-m", tiny_model, "-n", 10, "--fps", 8, "-o", webp)
    assert r.exit_code == 0, r.output
    assert animate.count_frames(webp) == 10
    with Image.open(webp) as im:
        assert im.info["loop"] == 0
        im.seek(9)
        im.load()
        assert im.size == (16, 16) and im.info["duration"] == 125
    mp4 = tmp_path / "m.mp4"
    r = invoke(runner, "morph", *keys, "-m", tiny_model, "-n", 10, "--fps", 8,
               "--size", 64, "-o", mp4)  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "10 frames at 8 fps (1.25 s)" in r.output
    assert animate.count_frames(mp4) == 10
    assert imageio_ffmpeg.count_frames_and_secs(str(mp4))[0] == 10
    reader = imageio_ffmpeg.read_frames(str(mp4))
    meta = next(reader)
    assert tuple(meta["size"]) == (64, 64) and meta["fps"] == 8
    assert sum(1 for _ in reader) == 10
    first = digest(mp4)
    invoke(runner, "morph", *keys, "-m", tiny_model, "-n", 10, "--fps", 8, "--size", 64, "-o", mp4)
    assert digest(mp4) == first, "the same morph gave different MP4 bytes"


def test_mp4_encoder_is_the_bundled_ffmpeg():
    exe = animate.ffmpeg_exe()
    assert "imageio_ffmpeg" in exe and "binaries" in exe


def test_morph_dir_output_and_naming_rules(runner, tiny_model, keys, tmp_path, monkeypatch):
    out = tmp_path / "frames"
    r = invoke(runner, "morph", keys[0], keys[1], "-m", tiny_model, "-n", 5, "-o", f"{out}/")
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"frame_{i:04d}.png" for i in range(5)]
    with Image.open(out / "frame_0004.png") as im:
        assert im.size == (16, 16)
    # an existing directory is a directory target even without the slash
    r = invoke(runner, "morph", keys[0], keys[1], "-m", tiny_model, "-n", 3, "--size", 24,
               "-o", out)  # fmt: skip
    assert r.exit_code == 0, r.output
    with Image.open(out / "frame_0000.png") as im:
        assert im.size == (24, 24)
    # the suffix picks the format; anything else is refused before work starts
    monkeypatch.chdir(tmp_path)
    r = invoke(runner, "morph", keys[0], keys[1], "-m", tiny_model, "-o", "m.avi")
    assert r.exit_code == 2 and "m.avi: unsupported output format '.avi'" in r.stderr
    r = invoke(runner, "morph", keys[0], keys[1], "-m", tiny_model, "-o", keys[1], "--fps", 5)
    assert r.exit_code == 2 and "output path is also an input" in r.stderr
    r = invoke(runner, "morph", keys[0], keys[1], "-m", tiny_model, "-o", "m.gif", "--fps", 60)
    assert r.exit_code == 2 and "at most 50 fps" in r.stderr
    r = invoke(runner, "morph", keys[0], keys[1], "-m", tiny_model, "-o", "m.mp4", "--size", 33)
    assert r.exit_code == 2 and "even frame size" in r.stderr
    assert not (tmp_path / "m.gif").exists() and not (tmp_path / "m.mp4").exists()


def test_long_strips_wrap_into_labelled_rows(tiny_model, keys, tmp_path):
    out = tmp_path / "long.png"
    morph_file(tiny_model, keys, out, frames=40)
    with Image.open(out) as im:
        w, h = im.size
    assert h > 3 * 18 and w > 16 * 18  # 3 rows of 16, with a label column on the left


def test_morph_and_interpolate_never_import_tensorflow(tiny_model, keys, tmp_path):
    assert (tiny_model / "decoder.tflite").is_file()
    m = str(tiny_model)
    commands = [
        ["morph", str(keys[0]), str(keys[1]), "seed:1", "-m", m, "-n", "6", "-o",
         str(tmp_path / "m.gif")],
        ["interpolate", str(keys[0]), str(keys[1]), "-m", m, "-o", str(tmp_path / "s.png")],
    ]  # fmt: skip
    proc, codes, heavy = run_cli_reporting_imports(
        commands, ("tensorflow", "keras", "sklearn", "h5py")
    )
    assert codes == [0, 0], proc.stderr
    assert heavy == [], "morph imported " + ", ".join(heavy[:5])
    assert proc.stderr == ""
    assert animate.count_frames(tmp_path / "m.gif") == 6
