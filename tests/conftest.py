"""Shared fixtures: tiny synthetic data and a tiny trained model (16x16, latent 4)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import settings
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["CONCEPTVAE_OFFLINE"] = "1"

# On CI the property searches draw the same examples every run, so a submission
# is never turned red by an example no earlier run drew; locally every run
# explores new ones (and prints the blob that reproduces a failure).
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def synthetic_images(n: int = 64, size: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Bright squares on dark ground; label 1 = square in the left half."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, size, size), np.uint8)
    y = rng.integers(0, 2, n)
    for i in range(n):
        w = int(rng.integers(3, size // 2))
        top = int(rng.integers(0, size - w))
        left = (
            int(rng.integers(0, size // 2 - w + 1))
            if y[i]
            else int(rng.integers(size // 2, size - w + 1))
        )
        x[i, top : top + w, left : left + w] = 255
    return x, y


def write_labelled_folder(root: Path, images: np.ndarray, columns: dict[str, list]) -> Path:
    """A user's labelled folder: ``00.png``, ``01.png``, ... and a labels.csv giving
    each image its value of every column."""
    root.mkdir(parents=True, exist_ok=True)
    lines = [",".join(["file", *columns])]
    for i, img in enumerate(images):
        Image.fromarray(img).save(root / f"{i:02d}.png")
        lines.append(",".join([f"{i:02d}.png", *(str(v[i]) for v in columns.values())]))
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(autouse=True)
def _home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("CONCEPTVAE_HOME", str(home))
    monkeypatch.setenv("KERAS_HOME", str(home / "keras"))
    # Run every test (and every subprocess it starts) outside the repository, so
    # `python -c` imports the installed package, not the source tree, and no test
    # can write into the checkout.
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    return home


@pytest.fixture(scope="session")
def npz_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    x, y = synthetic_images(96)
    xt, yt = synthetic_images(32, seed=1)
    path = tmp_path_factory.mktemp("data") / "squares.npz"
    np.savez(path, x_train=x, y_train=y, x_test=xt, y_test=yt)
    return path


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A labeled folder: PNGs in two subfolders, plus labels.csv."""
    root = tmp_path_factory.mktemp("folder")
    x, y = synthetic_images(24, size=20)
    lines = ["file,left,shape"]
    for i, (img, label) in enumerate(zip(x, y)):
        sub = root / ("a" if i % 2 else "b")
        sub.mkdir(exist_ok=True)
        Image.fromarray(img).save(sub / f"img{i:02d}.png")
        lines.append(f"{sub.name}/img{i:02d}.png,{label},{'sq' if i % 3 else 'big'}")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, npz_data: Path) -> Path:
    from conceptvae.training import train

    out = tmp_path_factory.mktemp("models") / "tiny"
    train(npz_data, out, latent_dim=4, filters=[8, 16], epochs=2, batch_size=32, seed=0, verbose=0)
    return out


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str):  # noqa: ANN201
    from conceptvae.cli.main import cli

    return runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)


_IMPORT_DRIVER = """
import json, sys
from conceptvae.cli.main import cli

heavy_roots = tuple(json.loads(sys.argv[2]))
codes = []
for args in json.loads(sys.argv[1]):
    try:
        cli.main(args=args)
    except SystemExit as exc:
        codes.append(exc.code)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in heavy_roots)
print(json.dumps({"codes": codes, "heavy": heavy}))
"""


def run_cli_reporting_imports(commands: list[list[str]], heavy: tuple[str, ...]):  # noqa: ANN201
    """Run CLI commands in one fresh interpreter; return (process, exit codes, heavy modules
    imported), where ``heavy`` names the top-level packages that must stay unimported."""
    import json
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_DRIVER, json.dumps(commands), json.dumps(list(heavy))],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return proc, result["codes"], result["heavy"]


def loaded(path) -> Image.Image:
    """The image's pixels, with its file closed (no handle left to the garbage collector)."""
    with Image.open(path) as im:
        im.load()
        return im


def run_conceptvae(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m conceptvae ARGS`` in ``cwd``, as a user types it: text out, 5 minutes at most."""
    return subprocess.run([sys.executable, "-m", "conceptvae", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def one_line_error(result, *words: str, whole_output: bool = False) -> str:  # noqa: ANN001
    """Exit status 2 and exactly one ``Error:`` line on stderr (``whole_output``: the
    only line printed at all), naming every one of ``words``; returns the line."""
    assert result.exit_code == 2, result.output
    text = result.output if whole_output else result.stderr
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), text
    assert "Traceback" not in result.output
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]
