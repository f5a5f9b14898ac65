import subprocess
import sys

import numpy as np
from conftest import invoke, loaded, one_line_error
from PIL import Image


def make_pngs(tmp_path, n=2, size=20):
    paths = []
    for i in range(n):
        p = tmp_path / f"in{i}.png"
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (size, size), np.uint8)).save(p)
        paths.append(p)
    return paths


assert_one_line_error = one_line_error


def test_help_does_not_import_tensorflow(tmp_path):
    code = (
        "import sys\nfrom conceptvae.cli.main import cli\n"
        "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'heavy import'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "train" in out.stdout and "reconstruct" in out.stdout


def test_cli_is_installed_under_the_package_namespace(tmp_path):
    code = (
        "import importlib.util as u\n"
        "assert u.find_spec('cli') is None, 'a bare cli module is installed'\n"
        "assert u.find_spec('conceptvae.cli.main') is not None\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr


def test_train_command(runner, npz_data, tmp_path):
    r = invoke(runner, "train", npz_data, "--out", tmp_path / "m", "--latent-dim", "3",
               "--filters", "8", "--epochs", "1", "--batch-size", "32")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "saved" in r.output and (tmp_path / "m" / "preview.png").is_file()
    r = invoke(runner, "train", npz_data, "--out", tmp_path / "m", "--epochs", "1")
    assert_one_line_error(r, "--resume")


def test_reconstruct_naming_rules(runner, tiny_model, tmp_path, monkeypatch):
    a, b = make_pngs(tmp_path)
    r = invoke(runner, "reconstruct", a, "-m", tiny_model, "-o", tmp_path / "one.png")
    assert r.exit_code == 0, r.output
    assert loaded(tmp_path / "one.png").size == (16, 16)
    r = invoke(
        runner, "reconstruct", a, b, "-m", tiny_model, "-o", f"{tmp_path / 'out'}/", "--size", "32"
    )
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["in0.png", "in1.png"]
    assert loaded(tmp_path / "out" / "in0.png").size == (32, 32)
    monkeypatch.chdir(tmp_path)
    assert invoke(runner, "reconstruct", a, "-m", tiny_model).exit_code == 0
    assert (tmp_path / "in0_recon.png").is_file()
    r = invoke(runner, "reconstruct", a, b, "-m", tiny_model, "-o", tmp_path / "x.png")
    assert_one_line_error(r, "directory output")
    r = invoke(runner, "reconstruct", a, "-m", tiny_model, "-o", a)
    assert_one_line_error(r, "also an input", "--overwrite")


def test_reconstruct_is_deterministic(runner, tiny_model, tmp_path):
    (a,) = make_pngs(tmp_path, 1)
    invoke(runner, "reconstruct", a, "-m", tiny_model, "-o", tmp_path / "r1.png")
    invoke(runner, "reconstruct", a, "-m", tiny_model, "-o", tmp_path / "r2.png")
    assert (tmp_path / "r1.png").read_bytes() == (tmp_path / "r2.png").read_bytes()


def test_reconstruct_of_a_model_without_faces_is_its_decode(runner, tiny_model, tmp_path):
    # Face finding is for face models: any other model's reconstruct is the decode
    # of the whole image, as VAEModel.reconstruct gives it.
    from conceptvae import load_model
    from conceptvae.images import save_image

    (a,) = make_pngs(tmp_path, 1)
    assert invoke(runner, "reconstruct", a, "-m", tiny_model, "-o", tmp_path / "r.png").exit_code == 0
    save_image(load_model(tiny_model).reconstruct([a])[0], tmp_path / "api.png")
    assert (tmp_path / "r.png").read_bytes() == (tmp_path / "api.png").read_bytes()


def test_encode_decode_round_trip(runner, tiny_model, tmp_path):
    a, b = make_pngs(tmp_path)
    r = invoke(runner, "encode", a, b, "-m", tiny_model, "-o", tmp_path / "z.npy")
    assert r.exit_code == 0, r.output
    z = np.load(tmp_path / "z.npy")
    assert z.shape == (2, 4) and z.dtype == np.float32
    r = invoke(runner, "decode", tmp_path / "z.npy", "-m", tiny_model, "-o", f"{tmp_path / 'dec'}/")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "dec").iterdir()) == ["0000.png", "0001.png"]
    invoke(runner, "encode", a, b, "-m", tiny_model, "-o", tmp_path / "z.npz")
    invoke(runner, "decode", tmp_path / "z.npz", "-m", tiny_model, "-o", f"{tmp_path / 'dec2'}/")
    assert sorted(p.name for p in (tmp_path / "dec2").iterdir()) == ["in0.png", "in1.png"]
    np.save(tmp_path / "bad.npy", np.zeros((2, 7), np.float32))
    r = invoke(runner, "decode", tmp_path / "bad.npy", "-m", tiny_model, "-o", f"{tmp_path}/")
    assert_one_line_error(r, "bad.npy", "(N, 4)")


def test_sample_grid_and_files(runner, tiny_model, tmp_path):
    r = invoke(
        runner, "sample", "-m", tiny_model, "-n", "6", "-o", tmp_path / "g.png", "--seed", "2"
    )
    assert r.exit_code == 0, r.output
    first = (tmp_path / "g.png").read_bytes()
    invoke(runner, "sample", "-m", tiny_model, "-n", "6", "-o", tmp_path / "g.png", "--seed", "2")
    assert (tmp_path / "g.png").read_bytes() == first
    invoke(runner, "sample", "-m", tiny_model, "-n", "3", "-o", f"{tmp_path / 's'}/")
    assert len(list((tmp_path / "s").iterdir())) == 3


def test_info_and_models(runner, tiny_model, tmp_path, monkeypatch):
    r = invoke(runner, "info", tiny_model)
    assert r.exit_code == 0 and "latent 4" in r.output and "test_mse" in r.output
    assert "prior      the standard normal N(0, I)" in r.output
    user = tmp_path / "home" / "models"
    user.mkdir(parents=True)
    import shutil

    shutil.copytree(tiny_model, user / "mine")
    monkeypatch.setenv("CONCEPTVAE_HOME", str(tmp_path / "home"))
    r = invoke(runner, "models")
    assert r.exit_code == 0 and "mine" in r.output and "user" in r.output
    assert invoke(runner, "info", "mine").exit_code == 0


def test_bad_inputs_exit_2_with_one_line(runner, tiny_model, tmp_path, image_folder):
    (tmp_path / "text.png").write_text("not an image")
    (tmp_path / "empty.png").write_bytes(b"")
    assert_one_line_error(
        invoke(runner, "reconstruct", tmp_path / "nope.png", "-m", tiny_model),
        "nope.png",
        "not found",
    )
    assert_one_line_error(
        invoke(runner, "reconstruct", tmp_path / "text.png", "-m", tiny_model), "text.png"
    )
    assert_one_line_error(
        invoke(
            runner, "encode", tmp_path / "empty.png", "-m", tiny_model, "-o", tmp_path / "z.npy"
        ),
        "empty",
    )
    assert not (tmp_path / "z.npy").exists()
    assert_one_line_error(invoke(runner, "info", tmp_path / "nomodel"), "nomodel")
    csv = tmp_path / "labels.csv"
    csv.write_text("file,smile\nghost.png,1\n")
    r = invoke(runner, "train", image_folder, "--labels", csv, "--out", tmp_path / "m")
    assert_one_line_error(r, "labels.csv", "ghost.png")
    csv.write_text("picture,smile\nx.png,1\n")
    assert_one_line_error(
        invoke(runner, "train", image_folder, "--labels", csv, "--out", tmp_path / "m"),
        "no file column",
    )
    assert_one_line_error(
        invoke(runner, "sample", "-m", tiny_model, "-n", "0", "-o", tmp_path / "s.png")
    )
    assert_one_line_error(
        invoke(runner, "train", image_folder, "--out", tmp_path / "m", "--bogus"), "--bogus"
    )
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir())
