"""The README runs: its command blocks, in order, on tiny data (as doctest runs docstrings).

Every ```bash and ```python block of README.md is run in one scratch folder, the
way a user would follow the README from top to bottom: later commands use the
models earlier ones trained. Only the data are small (16-pixel "faces", 28-pixel
digits drawn with a font, a 100-image ``mnist`` in the keras cache), and these
rewrites keep it quick, all listed here:

* ``--epochs N`` / ``epochs=N`` become 1, and a ``train`` line without
  ``--epochs`` gets ``--epochs 1``;
* a trailing ``...`` (the README's "and your own options") and optional
  ``[--flag ...]`` groups are dropped;
* the lines in SKIPPED are not run (each says why).

The photographs (``photo.jpg``, ``group.jpg``, ``photos/``, ...) are the example
faces set into colour scenes (tests/facephotos.py), so the face finder has
faces to find.

A ``# -> NAME`` comment after a command names a file it must write. Every file
the README's commands write must be ignored by .gitignore when written at the
repository root.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import synthetic_images, write_labelled_folder
from facephotos import FACES, TWO_FACES, Placement, scene
from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"

SKIPPED = {
    "pip install": "installs the package (CI does it in fresh venvs)",
    "pytest": "runs this test suite",
    "python benchmarks/": "evaluates on the full data in ../shared (a benchmark)",
    "conceptvae studio": "serves a page until Ctrl-C (tests/test_studio.py drives it)",
    "export TF_CONFIG": "a recipe for two machines (tests/test_distribute.py runs two workers)",
    "conceptvae train /data/faces": "the same recipe, run on each machine",
}


def blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced bash/python block."""
    return re.findall(r"^```(bash|python)\n(.*?)^```", text, flags=re.M | re.S)


def commands(body: str) -> list[tuple[str, str]]:
    """(command line, its comment) of a bash block, continuation lines joined."""
    out = []
    for line in body.replace("\\\n", " ").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        code, _, comment = line.partition("  #")
        out.append((code.strip(), comment.strip()))
    return out


def quick(line: str) -> str:
    line = re.sub(r"(--epochs[ =]|epochs=)\d+", r"\g<1>1", line)
    line = re.sub(r"\s+\.\.\.$", "", line)
    line = re.sub(r"\s*\[--[^\]]*\]", "", line)
    if line.startswith("conceptvae train ") and "--epochs" not in line:
        line += " --epochs 1"
    return line


def test_readme_blocks_parse():
    found = blocks(README.read_text())
    assert sum(lang == "bash" for lang, _ in found) >= 6
    assert sum(lang == "python" for lang, _ in found) >= 2
    lines = [c for lang, body in found if lang == "bash" for c, _ in commands(body)]
    assert all(c.startswith(("conceptvae ", *SKIPPED)) for c in lines), lines
    assert quick("x --epochs 20 y") == "x --epochs 1 y" and quick("epochs=5)") == "epochs=1)"
    assert quick("conceptvae train d --out r ...") == "conceptvae train d --out r --epochs 1"
    assert quick("conceptvae train d [--devices G:0,G:1] [--x] --epochs 2") == (
        "conceptvae train d --epochs 1"
    )


# -- the scratch folder ----------------------------------------------------------------------


def digit_images(n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """28x28 digits drawn with Pillow's font at varied places, sizes and strokes."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for digit in range(10):
        for _ in range(n_per_class):
            im = Image.new("L", (28, 28))
            font = ImageFont.load_default(size=int(rng.integers(16, 24)))
            ImageDraw.Draw(im).text(
                (int(rng.integers(4, 10)), int(rng.integers(0, 5))), str(digit), fill=255,
                font=font, stroke_width=int(rng.integers(0, 2)), stroke_fill=255,
            )  # fmt: skip
            xs.append(np.asarray(im))
            ys.append(digit)
    return np.stack(xs), np.array(ys, np.uint8)


def make_scratch(root: Path, keras_home: Path) -> None:
    shutil.copytree(REPO / "examples", root / "examples")
    x, y = digit_images(8, 0)
    xt, yt = digit_images(2, 1)
    (keras_home / "datasets").mkdir(parents=True)
    for path in (keras_home / "datasets" / "mnist.npz", root / "mnist.npz"):
        np.savez(path, x_train=x, y_train=y, x_test=xt, y_test=yt)
    # "smile": a square on the left; enough faces for one distributed batch of 256
    faces, smile = synthetic_images(300, size=16, seed=5)
    bright = [int(img.mean() > faces.mean()) for img in faces]
    write_labelled_folder(root / "faces", faces, {"smile": smile, "bright": bright})
    for name in ("a.png", "b.png", "c.png", "A.png", "B.png", "C.png", "face.png", "three.png"):
        shutil.copy(root / "faces" / f"{len(name) * 3 + ord(name[0]) % 7:02d}.png", root / name)
    for name in ("a.jpg", "b.jpg"):
        Image.open(REPO / "examples" / "face-2.png").convert("RGB").save(root / name)
    # Colour photographs: the example faces set into scenes, one or two faces each.
    two = TWO_FACES
    for name in ("photo.jpg", "group.jpg", "party.jpg"):
        Image.fromarray(scene(480, 320, two, seed=7)).save(root / name, quality=95)
    for i, name in enumerate(("portrait.jpg", "alice.jpg", "bob.jpg")):
        one = [Placement(FACES[i % 2], (160, 150), 2.4, 4 - 4 * i)]
        Image.fromarray(scene(320, 300, one, seed=i)).save(root / name, quality=95)
    shutil.copy(REPO / "examples" / "face-2.png", root / "crop.png")
    (root / "photos").mkdir()
    (root / "digits").mkdir()
    rows = ["file,smile"]
    for i in range(12):  # enough of each label for a concept
        one = [Placement(FACES[i % 2], (150 + 4 * i, 140), 2.0 + 0.05 * i, 6 - i)]
        Image.fromarray(scene(300, 280, one, seed=10 + i)).save(root / "photos" / f"p{i}.jpg")
        rows.append(f"p{i}.jpg,{i % 2}")
    (root / "photos" / "labels.csv").write_text("\n".join(rows) + "\n")
    for i in range(3):
        Image.fromarray(x[8 * (3 + 5 * (i % 2)) + i]).save(root / "digits" / f"{i}.png")


def ignored(rel: str, patterns: list[str]) -> bool:
    """Whether .gitignore ``patterns`` ignore ``rel`` (a path relative to the root)."""
    parts = rel.split("/")
    for pat in patterns:
        anchored = pat.startswith("/")
        pat = pat.strip("/")
        for i in range(len(parts)):
            prefix = "/".join(parts[: i + 1])
            if anchored and fnmatch.fnmatch(prefix, pat):
                return True
            if not anchored and "/" not in pat and fnmatch.fnmatch(parts[i], pat):
                return True
    return False


# -- the run ---------------------------------------------------------------------------------


def test_the_readme_runs(tmp_path, monkeypatch, _home):
    from conceptvae.cli.main import cli

    root = tmp_path / "user"
    root.mkdir()
    make_scratch(root, _home / "keras")
    monkeypatch.chdir(root)
    before = {p for p in root.rglob("*")}
    runner = CliRunner()
    failures, ran, skipped = [], 0, []
    for lang, body in blocks(README.read_text()):
        if lang == "python":
            try:
                with warnings.catch_warnings():
                    # The scratch folder has a faces/ data folder, so "faces" says which
                    # model it means (tested in test_newcomer.py).
                    warnings.simplefilter("ignore", UserWarning)
                    exec(compile(quick(body), "README.md", "exec"), {"__name__": "readme"})
                ran += 1
            except Exception as exc:  # noqa: BLE001 - reported with the block
                failures.append(f"python block:\n{body}\n-> {type(exc).__name__}: {exc}")
            continue
        for line, comment in commands(body):
            if line.startswith(tuple(SKIPPED)):
                skipped.append(line)
                continue
            args = shlex.split(quick(line))[1:]
            r = runner.invoke(cli, args)
            ran += 1
            if r.exit_code != 0:
                failures.append(f"{line}\n-> exit {r.exit_code}: {r.output.strip()[-600:]}")
                continue
            m = re.search(r"-> (\S+\.\w+)", comment)
            if m and not (root / m.group(1)).is_file():
                failures.append(f"{line}\n-> did not write {m.group(1)}")
    assert not failures, "\n\n".join(failures)
    assert ran >= 40 and len(skipped) <= 8, (ran, skipped)

    # What the README's commands write, written at the repository root, is not committed.
    made = sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p not in before and p.is_file()
    )
    patterns = [
        ln.strip()
        for ln in (REPO / ".gitignore").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert len(made) > 20
    unignored = [m for m in made if not ignored(m, patterns)]
    assert not unignored, "\n".join(unignored)


def test_readme_quotes_what_a_user_sees(runner, tmp_path):
    """The unknown-concept message the README quotes is the one a morph script gets."""
    from conftest import invoke

    quoted = re.search(r"\(`(morph\.json: keyframes\[1\]\.concepts: [^`]*)`\)", README.read_text())
    assert quoted, "README quotes a morph script error"
    script = tmp_path / "morph.json"
    script.write_text(
        '{"model": "faces", "output": "m.gif", "keyframes": '
        f'[{{"image": "{REPO / "examples" / "face-1.png"}"}}, '
        f'{{"image": "{REPO / "examples" / "face-2.png"}", "concepts": "smiel"}}]}}'
    )
    r = invoke(runner, "run", script, "--check")
    assert r.exit_code == 2
    text = " ".join(quoted.group(1).split())  # the README wraps it
    assert text in r.stderr.replace(str(tmp_path) + "/", ""), r.stderr


@pytest.mark.parametrize("command", ["run", "concepts build", "edit"])
def test_help_examples_name_files_that_exist(runner, command):
    from conftest import invoke

    r = invoke(runner, *command.split(), "--help")
    for path in re.findall(r"examples/[\w./-]+\.\w+", r.output):
        assert (REPO / path).is_file(), path
