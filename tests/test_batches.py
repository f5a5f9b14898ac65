"""Commands over several inputs: one bad input does not cost the others (issue 25)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "conceptvae", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def _folder(tmp_path: Path) -> Path:
    for name in ("face-1.png", "face-2.png"):
        shutil.copy(REPO / "examples" / name, tmp_path / name)
    noise = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "noise.png")
    return tmp_path


def test_a_faceless_photo_in_a_batch_is_named_and_the_others_are_written(tmp_path):
    d = _folder(tmp_path)
    p = _run(d, "edit", "face-1.png", "noise.png", "face-2.png", "-c", "smile", "-a", "1.5",
             "-o", "out/")  # fmt: skip
    assert p.returncode == 1, p.stderr
    assert sorted(f.name for f in (d / "out").iterdir()) == ["face-1.png", "face-2.png"]
    lines = p.stderr.strip().splitlines()
    assert lines[0].startswith("Error: noise.png: no face found")
    assert lines[-1] == "edited 2, skipped 1"
    assert p.stdout.split() == ["out/face-1.png", "out/face-2.png"]
    # The same pictures as editing each alone.
    alone = _run(d, "edit", "face-1.png", "-c", "smile", "-a", "1.5", "-o", "alone.png")
    assert alone.returncode == 0, alone.stderr
    assert (d / "alone.png").read_bytes() == (d / "out" / "face-1.png").read_bytes()


def test_a_batch_where_nothing_can_be_edited_exits_2_and_writes_nothing(tmp_path):
    d = _folder(tmp_path)
    shutil.copy(d / "noise.png", d / "noise2.png")
    p = _run(d, "edit", "noise.png", "noise2.png", "-c", "smile", "-o", "out/")
    assert p.returncode == 2
    assert [ln.split(":")[0:2] for ln in p.stderr.strip().splitlines()[:2]] == [
        ["Error", " noise.png"], ["Error", " noise2.png"]]  # fmt: skip
    assert not (d / "out").exists() or not any((d / "out").iterdir())


def test_a_single_bad_input_is_still_one_line_and_exit_2(tmp_path):
    d = _folder(tmp_path)
    p = _run(d, "edit", "noise.png", "-c", "smile")
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [
        "Error: noise.png: no face found (use --no-align to take the whole image as an aligned "
        "face crop)"
    ]
