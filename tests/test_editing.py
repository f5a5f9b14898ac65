"""edit / traverse / analogy: the API and the CLI on the tiny model (16x16, latent 4)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    invoke,
    loaded,
    run_cli_reporting_imports,
    synthetic_images,
    write_labelled_folder,
)
from PIL import Image

from conceptvae.concepts.library import ClassSet, Concept, ConceptLibrary, open_library
from conceptvae.config import VAEConfig
from conceptvae.editing import (
    ShellWarning,
    amounts_between,
    analogy,
    detail,
    edit,
    traverse,
)
from conceptvae.errors import ConceptError, ConceptVAEError
from conceptvae.model import files
from conceptvae.model.api import load_model
from conceptvae.model.loaded import VAEModel

SMILE = np.array([0.8, 0.3, 0.0, 0.0], np.float32)
THICK = np.array([0.0, 0.0, 0.7, 0.0], np.float32)
CENTROIDS = np.array([[-1.0, 0.0, 0.0, 0.0], [1.0, 0.5, 0.0, 0.0]], np.float32)


def make_library(latent_dim: int, fingerprint: str) -> ConceptLibrary:
    """Known vectors and probes, so every expected latent can be written down."""
    lib = ConceptLibrary(latent_dim, fingerprint)
    pad = np.zeros(latent_dim - 4, np.float32)

    def vec(v: np.ndarray) -> np.ndarray:
        return np.concatenate([v, pad]).astype(np.float32)

    lib.add_concept(Concept("smile", "attribute", "mean", vec(SMILE),
                            vec(np.array([1.5, 0.5, 0.2, 0.0])), -0.2, {}))  # fmt: skip
    lib.add_concept(Concept("thick", "attribute", "mean", vec(THICK),
                            vec(np.array([0.0, 0.0, 1.0, 0.0])), 0.0, {}))  # fmt: skip
    lib.add_concept(Concept("pc1", "pc", "pca", vec(np.array([0.0, 0.0, 0.0, 1.0]))))
    lib.add_class_set(ClassSet(
        "digit", ["3", "8"], np.stack([vec(c) for c in CENTROIDS]), np.array([5, 6]),
        np.stack([vec(np.array([-1.0, -0.2, 0, 0])), vec(np.array([1.0, 0.2, 0, 0]))]),
        np.zeros(2), {},
    ))  # fmt: skip
    return lib


def write_library(model_dir: Path) -> Path:
    meta = files.read_meta(model_dir)
    cfg = VAEConfig.load(model_dir / files.CONFIG)
    path = model_dir / files.CONCEPTS
    make_library(cfg.latent_dim, meta["fingerprint"]).write(path)
    return path


@pytest.fixture(scope="module")
def model_dir(tiny_model, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("edit") / "model"
    shutil.copytree(tiny_model, d)
    write_library(d)
    return d


@pytest.fixture(scope="module")
def model(model_dir) -> VAEModel:
    return load_model(model_dir)


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("pics")
    x, _ = synthetic_images(4, size=16, seed=5)
    out = []
    for i, im in enumerate(x):
        out.append(root / f"sq{i}.png")
        Image.fromarray(im).save(out[-1])
    return out


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    """A non-square RGB picture, larger than the model."""
    rng = np.random.default_rng(7)
    path = tmp_path_factory.mktemp("photo") / "photo.png"
    Image.fromarray(rng.integers(0, 256, (40, 52, 3), np.uint8)).save(path)
    return path


def read(path: Path) -> np.ndarray:
    return np.asarray(loaded(path))


# -- API ------------------------------------------------------------------------------


def test_edit_moves_latents_by_the_calibrated_vector(model, pictures):
    r = edit(model, pictures, "smile", 1.5)
    assert (
        r.mode == "decode" and r.concepts == ["smile"] and r.names == ["sq0", "sq1", "sq2", "sq3"]
    )
    np.testing.assert_allclose(r.latents, r.original_latents + 1.5 * SMILE, atol=1e-6)
    np.testing.assert_array_equal(r.amounts, np.full((4, 1), 1.5))
    assert r.array().shape == (4, 16, 16, 1) and r.array().dtype == np.float32
    np.testing.assert_array_equal(r.array(), model.decode(r.latents))
    assert [im.size for im in r.pil(size=40)] == [(40, 40)] * 4
    # amount 0 is the reconstruction
    np.testing.assert_array_equal(edit(model, pictures, "smile", 0.0).array(),
                                  model.reconstruct(pictures))  # fmt: skip
    # arrays and PIL images are accepted as well as paths, with the same result
    x = model.as_images(pictures)
    np.testing.assert_array_equal(edit(model, x, "smile", 1.5).array(), r.array())
    pil = [loaded(p) for p in pictures]
    np.testing.assert_array_equal(edit(model, pil, "smile", 1.5).array(), r.array())
    np.testing.assert_array_equal(edit(model, x[..., 0], "smile", 1.5).array(), r.array())
    # float arrays in the model's format are used as given, not rounded to 8 bits
    soft = np.clip(x + 0.001, 0, 1)
    z = model.encode(soft)
    np.testing.assert_allclose(edit(model, soft, "smile", 1.5).latents, z + 1.5 * SMILE, atol=1e-6)


def test_expressions_and_several_concepts(model, pictures):
    z = edit(model, pictures, "smile", 0.0).original_latents
    r = edit(model, pictures, "smile+0.5*thick", 2.0)
    np.testing.assert_allclose(r.latents, z + 2.0 * (SMILE + 0.5 * THICK), atol=1e-6)
    r = edit(model, pictures, "-smile")
    np.testing.assert_allclose(r.latents, z - SMILE, atol=1e-6)
    r = edit(model, pictures, ["smile=1.5", "thick=-0.5", "pc1"], 2.0)
    assert r.concepts == ["smile", "thick", "pc1"]
    np.testing.assert_array_equal(r.amounts[0], [1.5, -0.5, 2.0])
    np.testing.assert_allclose(r.latents, z + 1.5 * SMILE - 0.5 * THICK + [0, 0, 0, 2], atol=1e-6)
    r2 = edit(model, pictures, {"smile": 1.5, "thick": -0.5, "pc1": 2.0})
    np.testing.assert_array_equal(r2.array(), r.array())


def test_class_edits(model, pictures):
    z = edit(model, pictures, "smile", 0.0).original_latents.astype(np.float64)
    r = edit(model, pictures, "3->8", 1.0)
    # two classes: the class coordinate is the one along 8 - 3, set to 8's, the rest kept
    u = (CENTROIDS[1] - CENTROIDS[0]) / np.linalg.norm(CENTROIDS[1] - CENTROIDS[0])
    want = z + np.outer((CENTROIDS[1] - z) @ u, u)
    np.testing.assert_allclose(r.latents, want, atol=1e-6)
    assert not np.allclose(want, z + CENTROIDS[1] - CENTROIDS[0], atol=1e-3)
    # "towards 8": from the class the probe sees now; an image already in 8 stays
    current = (z[:, 0] * 2 + z[:, 1] * 0.4 > 0).astype(int)  # logit(8) - logit(3)
    want = z + (CENTROIDS[1] - CENTROIDS[current])
    np.testing.assert_allclose(edit(model, pictures, "8").latents, want, atol=1e-6)


def test_until_lands_on_the_probability_in_closed_form(model, pictures):
    lib = open_library(model)
    probe = lib.probe("smile")
    for p in (0.9, 0.2):
        r = edit(model, pictures, "smile", until=p, max_amount=50)
        assert r.solved == 0 and not r.capped.any()
        np.testing.assert_allclose(probe.predict_proba(r.latents), p, atol=1e-4)
        np.testing.assert_allclose(r.probability, p, atol=1e-4)
    # negated concepts: the amount moves along -smile, the probe is still P(smile)
    r = edit(model, pictures, "-smile", until=0.1, max_amount=50)
    np.testing.assert_allclose(probe.predict_proba(r.latents), 0.1, atol=1e-4)
    # capped: the amount stops at --max-amount and says so
    r = edit(model, pictures, "smile", until=0.999999, max_amount=0.25)
    assert r.capped.all() and np.allclose(r.amounts[:, 0], 0.25)
    assert (probe.predict_proba(r.latents) < 0.999999).all()
    # other concepts apply first, at their own amounts
    r = edit(model, pictures, ["smile", "thick=2"], until=0.8, max_amount=50)
    np.testing.assert_array_equal(r.amounts[:, 1], 2.0)
    np.testing.assert_allclose(probe.predict_proba(r.latents), 0.8, atol=1e-4)


def test_until_searches_class_targets(model, pictures):
    probe = open_library(model).class_sets["digit"].probe
    r = edit(model, pictures, "3->8", until=0.95, max_amount=20)
    p8 = probe.predict_proba(r.latents)[:, 1]
    assert not r.capped.any()
    for a, p in zip(r.amounts[:, 0], p8):
        # either already there (amount 0) or the smallest amount that gets there
        assert (a == 0 and p >= 0.95) or abs(p - 0.95) < 1e-4
    z = r.original_latents
    step = open_library(model).direction("3->8", z)  # per image
    lower = probe.predict_proba(z + (r.amounts - 1e-3) * step)[:, 1]
    assert (lower[r.amounts[:, 0] > 0] < 0.95).all()


def test_until_needs_one_single_concept(model, pictures):
    with pytest.raises(ConceptError, match="exactly one concepts? without =AMOUNT"):
        edit(model, pictures, ["smile", "thick"], until=0.9)
    with pytest.raises(ConceptError, match="single concept"):
        edit(model, pictures, "smile+thick", until=0.9)
    with pytest.raises(ConceptError, match="no probe"):
        edit(model, pictures, "pc1", until=0.9)


def test_detail_mode_keeps_the_input_where_nothing_changes(model, photo):
    r = edit(model, [photo], "smile", 0.0, mode="detail")
    im = loaded(photo).convert("RGB")
    crop = np.asarray(im.crop((6, 0, 46, 40)))  # the center square of 52x40
    assert r.images[0].shape == (40, 40, 3)  # the input's own size, colour kept
    np.testing.assert_array_equal(r.pil()[0], crop)
    moved = np.asarray(edit(model, [photo], "smile", 2.0, mode="detail").pil()[0])
    assert moved.shape == crop.shape and not np.array_equal(moved, crop)
    # the change added to every channel is the (upsampled) decoded change
    diff = moved.astype(int) - crop
    inside = (crop > 10) & (crop < 245)
    assert np.allclose(diff[..., 0][inside.all(-1)], diff[..., 1][inside.all(-1)], atol=1)


def test_detail_upsamples_only_the_change():
    rng = np.random.default_rng(0)
    crop = Image.fromarray(rng.integers(0, 256, (64, 64), np.uint8))
    change = np.zeros((16, 16, 1), np.float32)
    change[:4, :4] = 0.3
    out = (detail(crop, change) * 255 + 0.5).astype(np.uint8)[..., 0]
    base = np.asarray(crop)
    np.testing.assert_array_equal(out[24:, :], base[24:, :])
    np.testing.assert_array_equal(out[:, 24:], base[:, 24:])
    assert (out[:12, :12].astype(int) >= base[:12, :12]).all() and (
        out[:12, :12] > base[:12, :12]
    ).any()


class _LocalBackend:
    """A decoder whose image changes only in its top-left quadrant."""

    name = "fake"

    def encode(self, x):
        n = len(x)
        return np.tile([0.1, 0.2, 0.0, 0.0], (n, 1)).astype(np.float32), np.zeros(
            (n, 4), np.float32
        )

    def decode(self, z):
        out = np.full((len(z), 16, 16, 1), 0.5, np.float32)
        out[:, :6, :6, 0] += z[:, :1] * 0.2
        return out


def test_detail_end_to_end_changes_only_what_the_decoder_changes(tmp_path):
    fake = VAEModel(VAEConfig(image_size=16, latent_dim=4, filters=[8, 16]), _LocalBackend(),
                    tmp_path, {"fingerprint": "sha256:fake"})  # fmt: skip
    lib = make_library(4, "sha256:fake")
    rng = np.random.default_rng(1)
    arr = rng.integers(20, 200, (64, 64), np.uint8)
    r = edit(fake, [arr], "smile", 1.0, mode="detail", library=lib)
    out = np.asarray(r.pil()[0])
    assert out.shape == (64, 64)
    np.testing.assert_array_equal(out[30:, :], arr[30:, :])
    np.testing.assert_array_equal(out[:, 30:], arr[:, 30:])
    # 0.8 * 0.2 of brightness added in the quadrant's interior
    np.testing.assert_allclose(out[:16, :16].astype(int) - arr[:16, :16], 41, atol=1)


def test_model_default_mode_comes_from_meta(model_dir, tmp_path, photo):
    d = shutil.copytree(model_dir, tmp_path / "m")
    meta = files.read_meta(d)
    files.write_meta(d, {**meta, "edit_defaults": {"mode": "detail"}})
    assert edit(load_model(d), [photo], "smile").mode == "detail"
    assert edit(load_model(d), [photo], "smile", mode="decode").images[0].shape == (16, 16, 1)


def test_shell_warning(model, pictures):
    with pytest.warns(ShellWarning, match="far outside the prior's typical shell"):
        edit(model, pictures[:1], "smile", 40.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        edit(model, pictures[:1], "smile", 0.5)
        edit(model, pictures[:1], "smile", -0.5)


def test_traverse_api(model, pictures):
    r = traverse(model, pictures[:2], "smile", steps=5, start=-2, stop=2)
    np.testing.assert_allclose(r.amounts, [-2, -1, 0, 1, 2])
    assert len(r.cells) == 2 and len(r.cells[0]) == 5
    recon = model.reconstruct(pictures[:2])
    np.testing.assert_array_equal(r.cells[1][2], recon[1])
    np.testing.assert_array_equal(r.cells[0][4], edit(model, pictures[:1], "smile", 2.0).images[0])
    # a labelled strip: one "input" column plus one per amount, cells of at least 64 px
    w, h = r.picture.size
    assert w > 6 * 64 and 2 * 64 < h < 3 * 64 + 60
    r2 = traverse(model, pictures[:2], "smile", [-2, -1, 0, 1, 2])
    assert r2.picture.tobytes() == r.picture.tobytes()


def test_analogy_api(model, pictures):
    a, b, c = pictures[:3]
    r = analogy(model, a, b, c, steps=3)
    z = model.encode([a, b, c])
    np.testing.assert_allclose(r.latents["D"], z[2] + z[1] - z[0], atol=1e-6)
    np.testing.assert_allclose(r.d, model.decode(r.latents["D"])[0], atol=1e-6)
    assert r.grid.shape == (3, 3, 16, 16, 1)
    np.testing.assert_allclose(r.grid[0, 0], model.decode(z[:1])[0], atol=1e-6)
    np.testing.assert_allclose(r.grid[0, -1], model.decode(z[1:2])[0], atol=1e-6)
    np.testing.assert_allclose(r.grid[-1, 0], model.decode(z[2:3])[0], atol=1e-6)
    assert r.picture.size[1] > 4 * 64  # the input row and three rows of the diagram


def test_range_and_sweep_syntax():
    """START:STOP and START:STOP:COUNT are parsed at the CLI edge, by Click types."""
    import click
    from conceptvae.cli.params import AmountRange, AmountSweep

    def parse_range(text):
        return AmountRange().convert(text, None, None)

    def parse_sweep(text):
        return AmountSweep().convert(text, None, None)

    assert parse_range("-3:3") == (-3.0, 3.0) and parse_range(" 1.5 : -2e0 ") == (1.5, -2.0)
    np.testing.assert_allclose(parse_sweep("-2:2:9"), np.linspace(-2, 2, 9))
    for bad in ("3", "a:b", "1:2:3", ":3", "nan:3", "1:inf"):
        with pytest.raises(click.BadParameter):
            parse_range(bad)
    for bad in ("1:2", "-2:2:0", "-2:2:-1", "-2:2:1.5", "0:1e30:3", "x"):
        with pytest.raises(click.BadParameter):
            parse_sweep(bad)
    with pytest.raises(ConceptVAEError, match="steps"):
        amounts_between(0, 1, 0)


# -- CLI ------------------------------------------------------------------------------


def test_cli_edit_naming_sizes_and_determinism(runner, model_dir, pictures, tmp_path):
    m = str(model_dir)
    r = invoke(runner, "edit", pictures[0], "--concept", "smile", "--amount", "1.5", "--model", m)
    assert r.exit_code == 0, r.output
    assert Path("sq0_smile1.5.png").is_file() and r.stdout.strip() == "sq0_smile1.5.png"
    assert loaded("sq0_smile1.5.png").size == (16, 16)
    first = Path("sq0_smile1.5.png").read_bytes()
    assert invoke(runner, "edit", pictures[0], "-c", "smile", "-a", "1.5", "-m", m).exit_code == 0
    assert Path("sq0_smile1.5.png").read_bytes() == first  # same input, same bytes
    # the API result saved as PNG is the same image
    want = edit(load_model(model_dir), pictures[:1], "smile", 1.5).pil()[0]
    assert np.array_equal(read(Path("sq0_smile1.5.png")), np.asarray(want))
    # several concepts and expressions in the default name
    r = invoke(runner, "edit", pictures[0], "-c", "smile=2", "-c", "3->8", "-c", "-thick", "-m", m)
    assert r.stdout.strip() == "sq0_smile2_3to8=1_-thick1.png", r.output
    # one input, -o FILE, --size
    out = tmp_path / "one.png"
    assert invoke(runner, "edit", pictures[0], "-c", "smile", "-m", m, "-o", out,
                  "--size", "48").exit_code == 0  # fmt: skip
    assert loaded(out).size == (48, 48)
    # several inputs, -o DIR/ (created at the first write)
    r = invoke(runner, "edit", *pictures[:3], "-c", "smile", "-m", m, "-o", f"{tmp_path}/many/")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "many").iterdir()) == [
        "sq0.png",
        "sq1.png",
        "sq2.png",
    ]


def test_cli_until_prints_the_amount_per_image(runner, model_dir, pictures):
    r = invoke(runner, "edit", *pictures[:2], "-c", "smile", "--until", "0.9", "-m", model_dir,
               "--max-amount", "50")  # fmt: skip
    assert r.exit_code == 0, r.output
    lines = r.stdout.strip().splitlines()
    assert [ln.split(":")[0] for ln in lines] == ["sq0_smile_p0.9.png", "sq1_smile_p0.9.png"]
    probe = open_library(model_dir).probe("smile")
    z = load_model(model_dir).encode(pictures[:2])
    for line, zi in zip(lines, z):
        amount = float(line.split("amount smile ")[1].split(";")[0])
        assert abs(probe.predict_proba(zi + amount * SMILE) - 0.9) < 1e-3
        assert "probability 0.9000" in line
    r = invoke(runner, "edit", pictures[0], "-c", "smile", "--until", "0.999999", "-m", model_dir,
               "--max-amount", "0.1", "-o", "capped.png")  # fmt: skip
    assert "amount smile 0.1;" in r.stdout and "(capped at --max-amount)" in r.stdout


def test_cli_detail_mode_keeps_input_size(runner, model_dir, photo):
    r = invoke(runner, "edit", photo, "-c", "smile", "-a", "0", "--mode", "detail", "-m", model_dir)
    assert r.exit_code == 0, r.output
    out = read(Path("photo_smile0.png"))
    assert out.shape == (40, 40, 3)
    np.testing.assert_array_equal(out, np.asarray(loaded(photo).convert("RGB"))[:, 6:46])


def test_cli_shell_warning(runner, model_dir, pictures):
    r = invoke(runner, "edit", pictures[0], "-c", "smile", "-a", "40", "-m", model_dir)
    assert r.exit_code == 0
    assert r.stderr.startswith("warning: the edit moves 1 of 1 latent(s) far outside"), r.stderr
    r = invoke(runner, "edit", pictures[0], "-c", "smile", "-a", "0.5", "-m", model_dir)
    assert r.stderr == ""


def test_cli_sweep_traverse_analogy(runner, model_dir, pictures):
    m = model_dir
    r = invoke(runner, "edit", *pictures[:2], "-c", "smile", "--sweep=-2:2:5", "-m", m)
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == "sq0_sweep_smile.png"
    sweep = loaded("sq0_sweep_smile.png")
    r = invoke(runner, "traverse", *pictures[:2], "-c", "smile", "--range=-2:2", "--steps", "5",
               "-m", m)  # fmt: skip
    assert r.stdout.strip() == "sq0_traverse_smile.png"
    trav = loaded("sq0_traverse_smile.png")
    assert sweep.size == trav.size and sweep.tobytes() == trav.tobytes()
    # more steps, wider strip; one input, one row
    invoke(runner, "traverse", pictures[0], "-c", "3->8", "--range", "-3:3", "--steps", "9",
           "-m", m, "-o", "t9.png")  # fmt: skip
    t9 = loaded("t9.png")
    assert t9.size[0] > sweep.size[0] and t9.size[1] < sweep.size[1]
    first = Path("t9.png").read_bytes()
    invoke(runner, "traverse", pictures[0], "-c", "3->8", "--steps", "9", "-m", m, "-o", "t9.png")
    assert Path("t9.png").read_bytes() == first
    r = invoke(runner, "analogy", *pictures[:3], "-m", m, "--steps", "2")
    assert r.exit_code == 0, r.output
    name = "analogy_sq0_sq1_sq2.png"
    assert r.stdout.strip() == name
    first = Path(name).read_bytes()
    invoke(runner, "analogy", *pictures[:3], "-m", m, "--steps", "2")
    assert Path(name).read_bytes() == first
    r = invoke(runner, "traverse", pictures[0], "-c", "smile", "-m", m, "--mode", "detail",
               "--size", "32", "-o", "td.png")  # fmt: skip
    assert r.exit_code == 0 and loaded("td.png").size[1] < 32 + 60


def test_real_library_built_by_concepts_build(runner, tiny_model, tmp_path):
    """The whole path: `concepts build` with an attribute and a class column, then edit."""
    model = shutil.copytree(tiny_model, tmp_path / "model")
    x, y = synthetic_images(48, size=16, seed=3)
    digit = [8 if v else 3 for v in y]
    data = write_labelled_folder(tmp_path / "labeled", x, {"left": y, "digit": digit})
    r = invoke(runner, "concepts", "build", model, data, "-a", "left", "--classes", "digit")
    assert r.exit_code == 0, r.output
    img = data / "00.png"
    r = invoke(runner, "edit", img, "-c", "3->8", "-c", "left=0.5", "-m", model)
    assert r.exit_code == 0 and Path("00_3to8=1_left0.5.png").is_file(), r.output
    # the tiny model's probes are weak: either the probability is reached or the cap says so
    r = invoke(runner, "edit", img, "-c", "left", "--until", "0.7", "-m", model, "-o", "u.png")
    assert r.exit_code == 0 and r.stdout.startswith("u.png: amount left "), r.output
    assert "probability 0.7000" in r.stdout or "(capped at --max-amount)" in r.stdout
    r = invoke(runner, "edit", img, "-c", "8", "--until", "0.9", "-m", model, "-o", "c.png")
    assert r.exit_code == 0 and r.stdout.startswith("c.png: amount 8 "), r.output
    assert loaded("u.png").size == loaded("c.png").size == (16, 16)


def test_edit_never_imports_tensorflow_keras_or_sklearn(model_dir, pictures, tmp_path):
    m = str(model_dir)
    commands = [
        ["edit", str(pictures[0]), "--concept", "smile", "--amount", "1.5", "--model", m,
         "-o", str(tmp_path / "e.png")],
        ["edit", str(pictures[0]), "-c", "smile", "--until", "0.9", "--mode", "detail", "-m", m,
         "-o", str(tmp_path / "u.png")],
        ["traverse", str(pictures[0]), "-c", "3->8", "-m", m, "-o", str(tmp_path / "t.png")],
        ["analogy", *map(str, pictures[:3]), "-m", m, "-o", str(tmp_path / "a.png")],
    ]  # fmt: skip
    proc, codes, heavy = run_cli_reporting_imports(
        commands, ("tensorflow", "keras", "sklearn", "scipy")
    )
    assert codes == [0, 0, 0, 0], proc.stderr
    assert heavy == [], "edit imported " + ", ".join(heavy[:5])
    for name in ("e.png", "u.png", "t.png", "a.png"):
        assert (tmp_path / name).is_file(), name
