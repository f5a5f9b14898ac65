"""Commands over several inputs: one bad input does not cost the others (issue 25)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from conftest import run_conceptvae
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


_run = run_conceptvae


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


def test_reconstruct_writes_the_others_and_names_the_faceless_photo(tmp_path):
    d = _folder(tmp_path)
    p = _run(d, "reconstruct", "face-1.png", "noise.png", "face-2.png", "-o", "out/")
    assert p.returncode == 1, p.stderr
    assert sorted(f.name for f in (d / "out").iterdir()) == ["face-1.png", "face-2.png"]
    lines = p.stderr.strip().splitlines()
    assert lines[0].startswith("Error: noise.png: no face found")
    assert lines[-1] == "reconstructed 2, skipped 1"
    # The same pictures as reconstructing the good ones alone.
    alone = _run(d, "reconstruct", "face-1.png", "face-2.png", "-o", "alone/")
    assert alone.returncode == 0, alone.stderr
    for name in ("face-1.png", "face-2.png"):
        assert (d / "alone" / name).read_bytes() == (d / "out" / name).read_bytes()
    none = _run(d, "reconstruct", "noise.png", "noise.png", "-o", "none/")
    assert none.returncode == 2 and not (d / "none").exists()


def test_encode_leaves_out_the_faceless_photo_and_lists_the_files_encoded(tmp_path):
    d = _folder(tmp_path)
    p = _run(d, "encode", "face-1.png", "noise.png", "face-2.png", "-o", "z.npz")
    assert p.returncode == 1, p.stderr
    assert p.stderr.strip().splitlines()[-1] == "encoded 2, skipped 1"
    with np.load(d / "z.npz") as z:
        assert list(z["files"]) == ["face-1.png", "face-2.png"]
        both = z["z"]
    alone = _run(d, "encode", "face-1.png", "face-2.png", "-o", "alone.npy")
    assert alone.returncode == 0, alone.stderr
    np.testing.assert_array_equal(np.load(d / "alone.npy"), both)
    none = _run(d, "encode", "noise.png", "noise.png", "-o", "none.npy")
    assert none.returncode == 2 and not (d / "none.npy").exists()


def test_traverse_and_sweep_strips_leave_out_the_faceless_photo(tmp_path):
    d = _folder(tmp_path)
    p = _run(d, "traverse", "face-1.png", "noise.png", "face-2.png", "-c", "smile",
             "--range=-1:1", "--steps", "3", "-o", "t.png")  # fmt: skip
    assert p.returncode == 1, p.stderr
    assert p.stderr.strip().splitlines()[-1] == "traversed 2, skipped 1"
    good = _run(d, "traverse", "face-1.png", "face-2.png", "-c", "smile", "--range=-1:1",
                "--steps", "3", "-o", "good.png")  # fmt: skip
    assert good.returncode == 0, good.stderr
    assert (d / "t.png").read_bytes() == (d / "good.png").read_bytes()
    s = _run(d, "edit", "noise.png", "face-2.png", "-c", "smile", "--sweep=-1:1:3", "-o", "s.png")
    assert s.returncode == 1 and (d / "s.png").exists(), s.stderr
    assert s.stderr.strip().splitlines()[-1] == "edited 1, skipped 1"
    none = _run(d, "traverse", "noise.png", "noise.png", "-c", "smile", "-o", "none.png")
    assert none.returncode == 2 and not (d / "none.png").exists()


def test_faces_lists_the_others_and_names_the_unreadable_photo(tmp_path):
    d = _folder(tmp_path)
    (d / "bad.png").write_bytes(b"not an image")
    p = _run(d, "faces", "face-1.png", "bad.png", "-o", "ov/")
    assert p.returncode == 1, p.stderr
    assert p.stdout.splitlines()[0].startswith("face-1.png: 1 face")
    assert [f.name for f in (d / "ov").iterdir()] == ["face-1.png"]
    assert p.stderr.strip().splitlines() == [
        "Error: bad.png: not a readable image (unknown or corrupt format)", "searched 1, skipped 1"]
