"""What a new user meets first: the light install, the checkout, names and help."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke

REPO = Path(__file__).resolve().parent.parent

# Runs a command as if TensorFlow, Keras and imageio-ffmpeg were not installed
# (the plain install): a None in sys.modules makes their import fail.
_WITHOUT_EXTRAS = """
import sys
for name in ("tensorflow", "keras", "imageio_ffmpeg"):
    sys.modules[name] = None
from conceptvae.cli.main import main
sys.argv = ["conceptvae", *sys.argv[1:]]
main()
"""


def run_plain(*args, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_EXTRAS, *map(str, args)],
        capture_output=True, text=True, cwd=cwd, timeout=120,
    )  # fmt: skip


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("Error: ") and "Traceback" not in proc.stderr
    return lines[0]


# -- 1. the plain install ------------------------------------------------------------------


def test_commands_that_need_tensorflow_name_the_extra(tmp_path, npz_data, tiny_model):
    line = one_error_line(run_plain("train", npz_data, "--out", tmp_path / "m", cwd=tmp_path))
    assert 'pip install "conceptvae[train]"' in line
    # export of a model that lacks its flatbuffers, and --backend keras
    bare = tmp_path / "bare"
    shutil.copytree(tiny_model, bare)
    for name in ("encoder.tflite", "decoder.tflite"):
        (bare / name).unlink()
    line = one_error_line(run_plain("export", bare, cwd=tmp_path))
    assert 'pip install "conceptvae[train]"' in line
    line = one_error_line(run_plain("sample", "-m", tiny_model, "-o", tmp_path / "s.png",
                                    "--backend", "keras", cwd=tmp_path))  # fmt: skip
    assert 'pip install "conceptvae[train]"' in line and not (tmp_path / "s.png").exists()
    line = one_error_line(run_plain("morph", "seed:1", "seed:2", "-m", tiny_model, "--size", "16",
                                    "-n", "2", "-o", tmp_path / "m.mp4", cwd=tmp_path))  # fmt: skip
    assert 'pip install "conceptvae[mp4]"' in line and not (tmp_path / "m.mp4").exists()


def test_inference_runs_without_the_extras(tmp_path):
    out = tmp_path / "smile.png"
    proc = run_plain("edit", REPO / "examples" / "face-1.png", "--concept", "smile",
                     "--amount", "1.5", "-o", out, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert out.is_file()


def test_offline_mnist_error_has_no_exception_name(tmp_path, monkeypatch):
    from conceptvae.data import open_dataset
    from conceptvae.errors import DataError

    with pytest.raises(DataError) as err:
        open_dataset("mnist")
    assert "(Exception)" not in str(err.value) and "place the file at" in str(err.value)


# -- 2. the checkout does not hide the installed package -------------------------------------


def test_the_checkout_root_finds_cli_and_pretrained():
    proc = subprocess.run([sys.executable, "-m", "conceptvae", "--help"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Usage: " in proc.stdout and "edit" in proc.stdout
    code = "import conceptvae; m = conceptvae.load_model('faces'); print(conceptvae.__file__, m)"
    proc = subprocess.run([sys.executable, "-c", code],
                          capture_output=True, text=True, cwd=REPO, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    # From the root the source folder is what Python imports; it finds its siblings.
    assert str(REPO / "conceptvae") in proc.stdout and "latent=" in proc.stdout


# -- 3. names ------------------------------------------------------------------------------


def test_a_folder_that_is_not_a_model_does_not_hide_a_pretrained_name(runner):
    Path("digits").mkdir()  # the README's own data folder name, in the current folder
    Path("digits", "labels.csv").write_text("file,label\n")
    r = invoke(runner, "info", "digits")
    assert r.exit_code == 0, r.output
    assert "./digits is not a model; using the pretrained model 'digits'" in r.stderr
    assert "28" in r.stdout


def test_a_model_folder_wins_over_a_pretrained_name_and_says_so(runner, tiny_model):
    shutil.copytree(tiny_model, "faces")
    r = invoke(runner, "info", "faces")
    assert r.exit_code == 0, r.output
    assert "using the model in ./faces, not the pretrained model 'faces'" in r.stderr
    from conceptvae.model.registry import resolve_model_path

    assert resolve_model_path("faces") == Path("faces")
    assert resolve_model_path("digits").parent.name == "pretrained"


# -- 4. help -------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [[], ["concepts"]])
def test_bare_groups_print_help(args):
    proc = subprocess.run([sys.executable, "-m", "conceptvae", *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Usage: ") and "\\n" not in proc.stdout
    assert "Commands:" in proc.stdout and proc.stderr == ""


def test_debug_after_the_subcommand(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "conceptvae", "info", "nosuch", "--debug"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "ModelError" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "conceptvae", "info", "nosuch"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


# -- 9. a trust verdict that agrees with its row ---------------------------------------------


def test_trust_verdict_follows_the_row():
    from conceptvae.concepts.stats import trust_verdict

    # The contradiction the issue reported: significant p, probe at chance.
    assert trust_verdict(0.01, 0.44, 400, 400, 0.495) == "AT CHANCE"
    assert trust_verdict(0.01, 0.53, 400, 400, 0.52) == "AT CHANCE"  # within chance for 400/400
    assert trust_verdict(0.01, 0.9, 400, 400, 0.8) == "ok"
    assert trust_verdict(0.2, 0.9, 400, 400, 0.8) == "NOT SIGNIFICANT"
    assert trust_verdict(None, None, None, None) is None


def test_random_labels_are_rarely_trusted_and_never_against_their_row():
    from conceptvae.concepts import stats

    rng = np.random.default_rng(0)
    Z = rng.standard_normal((300, 64))  # a wide latent: probes overfit, the test does not
    verdicts, significant_at_chance = [], 0
    for seed in range(60):
        y = np.random.default_rng(seed).integers(0, 2, len(Z))
        p, _ = stats.permutation_test(Z, y, 100, seed=seed)
        scores = stats.probe_scores(Z, y, seed)
        n_pos = int(y.sum())
        v = stats.trust_verdict(p, scores["probe_auc"], n_pos, len(y) - n_pos,
                                scores["probe_accuracy"])  # fmt: skip
        verdicts.append(v)
        if v == "ok":
            assert scores["probe_auc"] > stats.chance_auc(n_pos, len(y) - n_pos)
            assert scores["probe_accuracy"] > 0.5
        if p < stats.ALPHA and v == "AT CHANCE":
            significant_at_chance += 1
    assert verdicts.count("ok") <= 3  # 5% of 60 at most, by design
    assert significant_at_chance >= 1  # the permutation test alone would have said "ok"


# -- 7. shipped models are read-only ---------------------------------------------------------


def _tree_digest(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_changing_a_shipped_model_changes_a_copy(runner, tmp_path, tiny_model, image_folder,
                                                  monkeypatch, _home):  # fmt: skip
    from conceptvae.model import registry

    root = tmp_path / "site" / "pretrained"
    shutil.copytree(tiny_model, root / "tiny")
    monkeypatch.setattr(registry, "pretrained_dir", lambda: root)
    before = _tree_digest(root)
    copy = _home / "models" / "tiny"

    r = invoke(runner, "concepts", "build", "tiny", image_folder, "-a", "left")
    assert r.exit_code == 0, r.output
    assert f"copied it to {copy}" in r.stderr and str(copy) in r.stdout
    assert (copy / "concepts.h5").is_file() and _tree_digest(root) == before
    r = invoke(runner, "concepts", "list", "tiny")  # the name now means the copy
    assert r.exit_code == 0 and "left" in r.stdout
    r = invoke(runner, "concepts", "rename", root / "tiny", "left", "west")
    assert r.exit_code == 0, r.output
    assert f"changing your copy at {copy}" in r.stderr
    exported = tmp_path / "c.json"
    assert invoke(runner, "concepts", "export", "tiny", "-o", exported).exit_code == 0
    assert invoke(runner, "concepts", "rm", "tiny", "west").exit_code == 0
    assert invoke(runner, "concepts", "import", "tiny", exported).exit_code == 0
    assert "west" in invoke(runner, "concepts", "list", "tiny").stdout
    assert _tree_digest(root) == before


# -- 10. progress on a terminal, never when piped or quiet -----------------------------------


def run_on_terminal(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal (stdout piped): (code, stdout, stderr)."""
    import os
    import pty
    import select

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "conceptvae", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=slave, text=True)  # fmt: skip
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # the terminal's other end closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    out = proc.stdout.read()
    proc.stdout.close()
    return proc.wait(timeout=120), out, b"".join(chunks).decode(errors="replace")


def test_progress_bars_on_a_terminal_only(tmp_path, tiny_model, image_folder, npz_data):
    folder = tmp_path / "many"
    folder.mkdir()
    from PIL import Image

    for i in range(300):  # more than one chunk of encode
        Image.fromarray(np.full((16, 16), i % 256, np.uint8)).save(folder / f"{i:03d}.png")
    model = tmp_path / "m"
    shutil.copytree(tiny_model, model)
    runs = {
        "encode": ["encode", folder, "-m", model, "-o", tmp_path / "z.npy"],
        "build": ["concepts", "build", model, image_folder, "-a", "left", "--batch-size", "8",
                  "--replace"],
        "tsne": ["scatter", npz_data, "-m", model, "--method", "tsne", "--max-points", "60",
                 "-o", tmp_path / "s.png"],
    }  # fmt: skip
    for what, args in runs.items():
        args = [str(a) for a in args]
        code, out, err = run_on_terminal(args, tmp_path)
        assert code == 0, (what, err)
        assert "encoding" in err and "100%" in err, (what, err)
        if what == "tsne":
            assert "t-SNE" in err
            continue
        code, out, err = run_on_terminal([*args, "--quiet"], tmp_path)
        assert code == 0 and "encoding" not in err and "%" not in err, (what, err)
        if what == "encode":  # piped: the same switch as --quiet
            piped = subprocess.run([sys.executable, "-m", "conceptvae", *args],
                                   capture_output=True, text=True, cwd=tmp_path, timeout=120)  # fmt: skip
            assert piped.returncode == 0 and piped.stderr == "", piped.stderr


# -- 8. the maintainer script never destroys before it can rebuild ----------------------------


def _benchmark(name: str):  # noqa: ANN202
    import importlib.util

    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    return module


def test_make_pretrained_checks_inputs_before_touching_anything(tmp_path):
    before = _tree_digest(REPO / "pretrained")
    for args in ([], ["--only", "faces"], ["--cards-only", "--out", str(tmp_path / "none")]):
        proc = subprocess.run(
            [sys.executable, str(REPO / "benchmarks" / "make_pretrained.py"),
             "--data", str(tmp_path / "missing"), "--work", str(tmp_path / "work"), *args],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        assert "not found (nothing was changed)" in proc.stderr
    assert _tree_digest(REPO / "pretrained") == before
    assert not (tmp_path / "work").exists()


def test_make_pretrained_builds_aside_and_swaps_at_the_end(tmp_path):
    mp = _benchmark("make_pretrained")
    out, work = tmp_path / "pretrained", tmp_path / "work"
    (out / "digits").mkdir(parents=True)
    (out / "digits" / "old.txt").write_text("old")
    plan = mp.staged(mp.digits_plan(tmp_path / "data", out, work), work)
    assert plan["final"] == out / "digits" and plan["dir"] == work / "building" / "digits"
    assert out / "digits" not in plan["train"] and plan["dir"] in plan["concepts"][0]
    plan["dir"].mkdir(parents=True)
    (plan["dir"] / "new.txt").write_text("new")
    mp.swap_in(plan)
    assert sorted(p.name for p in (out / "digits").iterdir()) == ["new.txt"]
    assert not plan["dir"].exists() and not plan["replaced"].exists()


def test_benchmarks_find_the_shared_data_beside_the_repository():
    shared = REPO.parent / "shared" / "data"
    for name in ("time_to_quality", "train_throughput"):
        assert Path(_benchmark(name).DATA) == shared / "mnist.npz"
    text = "".join(p.read_text() for p in (REPO / "benchmarks").glob("*.py"))
    assert "/work/" not in text


def test_the_reexport_hint_works_as_written(runner, tmp_path, tiny_model):
    """A corrupt flatbuffer's error says `conceptvae export`; that command re-creates it."""
    from conceptvae import load_model
    from conceptvae.errors import ModelError

    model = tmp_path / "m"
    shutil.copytree(tiny_model, model)
    (model / "encoder.tflite").write_bytes(b"not a flatbuffer" * 64)
    with pytest.raises(ModelError, match="re-create it with `conceptvae export`"):
        load_model(model, backend="litert").encode(np.zeros((1, 16, 16, 1), np.float32))
    r = invoke(runner, "export", model)
    assert r.exit_code == 0 and "verified against Keras" in r.stdout, r.output
    z = load_model(model, backend="litert").encode(np.zeros((1, 16, 16, 1), np.float32))
    assert z.shape == (1, 4)
    r = invoke(runner, "export", model)  # now usable: left alone
    assert r.exit_code == 0 and "already has its flatbuffers" in r.stdout
