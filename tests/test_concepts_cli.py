"""`conceptvae concepts ...` end to end on the tiny model, plus the streaming data reader."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import invoke, one_line_error, synthetic_images, write_labelled_folder

from conceptvae.concepts.library import open_library
from conceptvae.data import StoredArray, open_dataset

assert_one_line_error = one_line_error


@pytest.fixture
def model(tiny_model, tmp_path):
    """A private copy: building writes concepts.h5 into the model directory."""
    return shutil.copytree(tiny_model, tmp_path / "model")


@pytest.fixture(scope="module")
def labeled(tmp_path_factory):
    """64 squares; `left` is real, `noise` is random, `side` is a class column."""
    x, y = synthetic_images(64, size=16, seed=3)
    noise = np.random.default_rng(11).integers(0, 2, len(y))
    columns = {"left": y, "noise": noise, "side": ["L" if v else "R" for v in y],
               "few": [int(i < 3) for i in range(len(y))]}  # fmt: skip
    return write_labelled_folder(tmp_path_factory.mktemp("labeled"), x, columns)


def test_build_list_show_and_flag_insignificant(runner, model, labeled):
    r = invoke(runner, "concepts", "build", model, labeled, "--all")
    assert r.exit_code == 0, r.output
    assert "added 2 concept(s)" in r.stdout
    assert "'few' has 3 examples" in r.stderr and "skipped" in r.stderr
    table = {ln.split()[0]: ln for ln in r.stdout.splitlines()[1:3]}
    assert table["left"].endswith("ok") and table["noise"].endswith("NOT SIGNIFICANT")
    r = invoke(runner, "concepts", "list", model)
    assert r.exit_code == 0 and "NOT SIGNIFICANT" in r.output and "left" in r.output
    r = invoke(runner, "concepts", "show", model, "noise")
    assert r.exit_code == 0, r.output
    assert "NOT SIGNIFICANT" in r.output and "label permutations" in r.output
    data = json.loads(invoke(runner, "concepts", "show", model, "left", "--json").output)
    assert data["significant"] is True and len(data["vector"]) == 4
    assert data["info"]["n_pos"] + data["info"]["n_neg"] == 64
    assert {"probe_accuracy", "probe_auc", "p_value", "stability"} <= set(data["info"]["metrics"])
    assert len(data["probe"]["coef"]) == 4
    lib = open_library(model)
    assert lib.concepts["left"].vector.dtype == np.float32
    assert lib.concepts["left"].info["data"]["images"] == 64


def test_methods_classes_pca_and_orthogonal(runner, model, labeled):
    assert invoke(runner, "concepts", "build", model, labeled, "-a", "left").exit_code == 0
    r = invoke(runner, "concepts", "build", model, labeled, "-a", "noise", "--name", "ortho",
               "--method", "logistic", "--orthogonal-to", "left", "--seed", "1")  # fmt: skip
    assert r.exit_code == 0, r.output
    r = invoke(runner, "concepts", "build", model, labeled, "--classes", "side", "--pca", "2")
    assert r.exit_code == 0, r.output
    lib = open_library(model)
    assert sorted(lib.names()) == ["L", "R", "left", "ortho", "pc1", "pc2"]
    left, ortho = lib.concepts["left"], lib.concepts["ortho"]
    assert ortho.method == "logistic" and ortho.info["orthogonal_to"] == ["left"]
    assert abs(np.dot(ortho.direction, left.direction)) < 1e-5
    np.testing.assert_allclose(lib.direction("R->L"), -lib.direction("L->R"))
    # class centroids differ the way the attribute does
    assert np.dot(unit(lib.direction("R->L")), left.direction) > 0.9
    assert lib.probe("L").classes == ["L", "R"]
    r = invoke(runner, "concepts", "build", model, labeled, "-a", "left", "--method", "balanced")
    assert_one_line_error(r, "already has 'left'", "--replace")
    r = invoke(runner, "concepts", "build", model, labeled, "-a", "left", "--method", "svm",
               "--replace")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert open_library(model).concepts["left"].method == "svm"


def unit(v):
    return v / np.linalg.norm(v)


def test_manage_commands(runner, model, labeled, tmp_path):
    invoke(runner, "concepts", "build", model, labeled, "--all", "--classes", "side")
    assert invoke(runner, "concepts", "rename", model, "noise", "random").exit_code == 0
    r = invoke(runner, "concepts", "rm", model, "side", "random")
    assert r.exit_code == 0 and "removed side, L, R, random" in r.output
    r = invoke(runner, "concepts", "export", model, "--format", "npz", "-o", tmp_path / "c.npz")
    assert r.exit_code == 0 and "1 concept(s)" in r.output
    twin = shutil.copytree(model, tmp_path / "twin")
    (twin / "concepts.h5").unlink()
    r = invoke(runner, "concepts", "import", twin, tmp_path / "c.npz")
    assert r.exit_code == 0 and "imported 1 concept(s): left" in r.output
    np.testing.assert_array_equal(
        open_library(twin).concepts["left"].vector, open_library(model).concepts["left"].vector
    )
    r = invoke(runner, "concepts", "export", model, "left", "-o", tmp_path / "c.json")
    assert json.loads((tmp_path / "c.json").read_text())["concepts"]["left"]["method"] == "mean"
    assert "left" in invoke(runner, "concepts", "list", model, "--json").output


def test_user_mistakes_are_one_line_errors(runner, model, labeled, tmp_path):
    csv = str(labeled / "labels.csv")
    r = invoke(runner, "concepts", "build", model, labeled, "-a", "nope")
    assert_one_line_error(r, "no label column 'nope'", csv)
    r = invoke(runner, "concepts", "build", model, labeled, "-a", "side")
    assert_one_line_error(r, "'side' is not a 0/1 attribute", "--classes side", csv)
    r = invoke(runner, "concepts", "build", model, labeled, "-a", "few")
    assert_one_line_error(r, "'few' has 3 examples with", csv)
    r = invoke(runner, "concepts", "build", model, labeled, "--classes", "few")
    assert_one_line_error(r, "class '1' (3) has fewer than 5", csv)
    r = invoke(runner, "concepts", "build", model, labeled)
    assert_one_line_error(r, "nothing to build")
    r = invoke(runner, "concepts", "build", model, labeled, "--all", "--name", "x")
    assert_one_line_error(r, "--name")
    r = invoke(runner, "concepts", "build", model, labeled, "-a", "left", "--orthogonal-to", "smil")
    assert_one_line_error(r, "unknown concept 'smil'")
    r = invoke(runner, "concepts", "show", model, "left")
    assert_one_line_error(r, "no concept library yet")
    assert invoke(runner, "concepts", "build", model, labeled, "-a", "left").exit_code == 0
    r = invoke(runner, "concepts", "show", model, "lft")
    assert_one_line_error(r, "closest: left")
    meta = json.loads((model / "meta.json").read_text())
    meta["fingerprint"] = "sha256:ffffffffffffffff"
    (model / "meta.json").write_text(json.dumps(meta))
    r = invoke(runner, "concepts", "list", model)
    assert_one_line_error(r, "--ignore-fingerprint", "sha256:ffffffffffffffff")
    assert invoke(runner, "concepts", "list", model, "--ignore-fingerprint").exit_code == 0
    (model / "concepts.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    r = invoke(runner, "concepts", "list", model)
    assert_one_line_error(r, "concepts.h5")


def test_morpho_labels_digits_without_hand_labels(runner, model, tmp_path):
    rng = np.random.default_rng(0)
    x = np.zeros((90, 16, 16), np.uint8)
    for i in range(90):
        width, shear = 1 + i % 3, (i // 3 % 3 - 1) * 0.4
        for r in range(3, 13):
            c = int(round(7 + shear * (8 - r)))
            x[i, r, c : c + width] = 255
        x[i] = np.roll(x[i], rng.integers(-2, 3), axis=1)
    np.savez(tmp_path / "strokes.npz", x=x)
    r = invoke(runner, "concepts", "build", model, tmp_path / "strokes.npz", "--morpho")
    assert r.exit_code == 0, r.output
    lib = open_library(model)
    assert sorted(lib.names()) == ["slant", "thick"]
    thick = lib.concepts["thick"]
    assert thick.info["labels"] == "morpho" and min(thick.info["n_pos"], thick.info["n_neg"]) >= 20
    from conceptvae.concepts.morpho import morpho_labels

    labels = morpho_labels(open_dataset(tmp_path / "strokes.npz"))
    width = 1 + np.arange(90) % 3
    assert (labels["thick"][width == 3] == 1).all() and (labels["thick"][width == 1] == 0).all()
    shear = np.arange(90) // 3 % 3 - 1
    assert (labels["slant"][shear == 1] == 1).all() and (labels["slant"][shear == -1] == 0).all()
    assert "measured from pixels" in invoke(runner, "concepts", "show", model, "slant").output


def test_concepts_help_imports_nothing_heavy():
    code = (
        "import sys\nfrom conceptvae.cli.main import cli\n"
        "for args in (['concepts', '--help'], ['concepts', 'build', '--help']):\n"
        "    try:\n        cli.main(args)\n    except SystemExit:\n        pass\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'sklearn', 'h5py') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "--orthogonal-to" in out.stdout and "rename" in out.stdout


def test_uncompressed_npz_is_read_lazily_with_the_same_content(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (50, 12, 12), dtype=np.uint8)
    np.savez(tmp_path / "plain.npz", x=x, y=np.arange(50))
    np.savez_compressed(tmp_path / "packed.npz", x=x, y=np.arange(50))
    lazy, eager = open_dataset(tmp_path / "plain.npz"), open_dataset(tmp_path / "packed.npz")
    assert isinstance(lazy.images, StoredArray) and isinstance(eager.images, np.ndarray)
    idx = np.array([7, 3, 3, 49, 0, 8, 9])
    np.testing.assert_array_equal(lazy.load(idx), eager.load(idx))
    np.testing.assert_array_equal(lazy.images[2:9], x[2:9])
    np.testing.assert_array_equal(np.asarray(lazy.images), x)
    assert lazy.fingerprint() == eager.fingerprint()
    assert [len(i) for i, _ in lazy.iter_batches(16)] == [16, 16, 16, 2]
    with pytest.raises(IndexError):
        lazy.images[np.array([50])]


def test_same_seed_same_concept(runner, model, labeled, tmp_path):
    twin = shutil.copytree(model, tmp_path / "twin")
    for m in (model, twin):
        r = invoke(runner, "concepts", "build", m, labeled, "-a", "left", "--method", "svm",
                   "--classes", "side", "--seed", "3")  # fmt: skip
        assert r.exit_code == 0, r.output
    a, b = open_library(model), open_library(twin)
    assert a.concepts["left"].vector.tobytes() == b.concepts["left"].vector.tobytes()
    assert a.concepts["left"].metrics == b.concepts["left"].metrics
    assert a.concepts["left"].probe_coef.tobytes() == b.concepts["left"].probe_coef.tobytes()
    assert a.class_sets["side"].probe_coef.tobytes() == b.class_sets["side"].probe_coef.tobytes()


def test_a_class_set_can_be_rebuilt_with_replace_and_renamed(runner, model, labeled):
    # issue 25: --classes with --replace refused, and --name was for one attribute only.
    r = invoke(runner, "concepts", "build", model, labeled, "--classes", "side")
    assert r.exit_code == 0, r.output
    r = invoke(runner, "concepts", "build", model, labeled, "--classes", "side", "--replace",
               "--seed", "4")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert open_library(model).class_sets["side"].classes == ["L", "R"]
    r = invoke(runner, "concepts", "build", model, labeled, "--classes", "side", "--name", "hand")
    assert r.exit_code == 2, r.output  # L and R already belong to the class set 'side'
    r = invoke(runner, "concepts", "build", model, labeled, "--classes", "side", "--name", "hand",
               "--replace")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert set(open_library(model).class_sets) == {"hand"}
