"""Failures the machine causes, not the user (issue 14): a full disk, exhausted memory,
runaway recursion, a second training on the same run directory. Each ends in one
``Error:`` line and exit 2, with every existing file intact and no temp file, lock
file or empty directory left behind; no message names a hidden temp file.

The full disk is real when the tests run as root (a 256 KiB tmpfs is mounted);
otherwise the same failure is injected where h5py and numpy raise it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import subprocess
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke
from test_bad_inputs import error_lines, snapshot


def _one_error(result) -> str:  # noqa: ANN001
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def _library_model(root: Path, tiny_model: Path) -> Path:
    """A model (config + meta, enough for concept commands) with a 6-concept library."""
    from conceptvae.concepts.library import Concept, ConceptLibrary
    from conceptvae.model.identity import model_ref

    model = root / "model"
    model.mkdir(parents=True)
    for name in ("config.json", "meta.json"):
        shutil.copy(tiny_model / name, model / name)
    ref = model_ref(model)
    lib = ConceptLibrary(ref.latent_dim, ref.fingerprint)
    rng = np.random.default_rng(0)
    for i in range(6):
        info = {"column": f"c{i}", "note": "x" * 2000}
        lib.add_concept(Concept(f"c{i}", "pc", "pca", rng.standard_normal(4), info=info))
    lib.write(ref.library_path)
    return model


@contextlib.contextmanager
def _small_disk(root: Path) -> Iterator[bool]:
    """A tiny tmpfs at ``root`` when running as root (True), else a plain folder (False)."""
    root.mkdir()
    mounted = False
    if os.geteuid() == 0:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(root)],
                                 capture_output=True).returncode == 0  # fmt: skip
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(root)], capture_output=True)


def _fill(root: Path, leave: int) -> None:
    """Fill the disk holding ``root`` until ``leave`` bytes are free."""
    st = os.statvfs(root)
    free = st.f_bavail * st.f_frsize
    with open(root / "filler", "wb") as fh:
        fh.write(b"\0" * max(0, free - leave))


def _h5py_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make h5py fail while writing, as it does on a full disk (RuntimeError raised
    from h5py's own code, not OSError)."""
    import h5py._hl.group as group

    real = group.Group.create_dataset

    def failing(self, name, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if name == "vector":
            raise RuntimeError("Can't write data (file write failed: No space left on device)")
        return real(self, name, *args, **kwargs)

    # Defined with h5py's globals so the failure comes from inside h5py, as a real one does.
    monkeypatch.setattr(
        group.Group, "create_dataset",
        types.FunctionType(failing.__code__, group.__dict__, "create_dataset", None,
                           failing.__closure__),
    )  # fmt: skip


@pytest.mark.parametrize("command", [("rename", "c0", "c9"), ("rm", "c1")])
def test_disk_full_while_rewriting_the_library(command, runner, tiny_model, tmp_path, monkeypatch):
    with _small_disk(tmp_path / "disk") as real_disk:
        model = _library_model(tmp_path / "disk", tiny_model)
        if real_disk:
            _fill(tmp_path / "disk", leave=4096)
        else:
            _h5py_failure(monkeypatch)
        before = snapshot(tmp_path / "disk")
        line = _one_error(invoke(runner, "concepts", command[0], model, *command[1:]))
        assert line.startswith(f"Error: {model / 'concepts.h5'}: "), line
        assert "/." not in line  # never names the hidden temp file
        assert snapshot(tmp_path / "disk") == before  # library intact, no temp or lock file
        if real_disk:  # the library is still whole and readable after the failed rewrite
            from conceptvae.concepts.library import ConceptLibrary

            assert len(ConceptLibrary.read(model / "concepts.h5")) == 6


def test_disk_full_while_writing_pictures_and_exports(runner, tiny_model, tmp_path, monkeypatch):
    with _small_disk(tmp_path / "disk") as real_disk:
        model = _library_model(tmp_path / "disk", tiny_model)
        good = tmp_path / "good.png"
        from PIL import Image

        Image.new("L", (20, 20), 90).save(good)
        if real_disk:
            _fill(tmp_path / "disk", leave=1024)
        else:
            def full(*a, **k):  # noqa: ANN002, ANN003, ANN202
                raise OSError(errno.ENOSPC, "No space left on device", "/x/.out.png.a1b2c3d4.png")

            monkeypatch.setattr("conceptvae.io._fsync", full)
        before = snapshot(tmp_path / "disk")
        out = tmp_path / "disk" / "out.png"
        line = _one_error(invoke(runner, "reconstruct", good, "-m", tiny_model, "-o", out))
        assert "No space left" in line and "/." not in line, line
        line = _one_error(invoke(runner, "concepts", "export", model, "-o",
                                 tmp_path / "disk" / "e.json"))  # fmt: skip
        assert "No space left" in line and "/." not in line, line
        assert snapshot(tmp_path / "disk") == before  # no partial file, no temp file


@pytest.mark.parametrize("exc, says", [
    (MemoryError(), "out of memory"),
    (RecursionError("maximum recursion depth exceeded"), "nested too deeply"),
    (ValueError("Exceeds the limit (4300 digits) for integer string conversion"), "too many digits"),
    (__import__("zlib").error("Error -3 while decompressing data"), "corrupt compressed data"),
])  # fmt: skip
def test_resource_errors_map_to_one_line(exc, says, runner, tiny_model, monkeypatch):
    def boom(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise exc

    monkeypatch.setattr("conceptvae.model.info.model_info", boom)
    line = _one_error(invoke(runner, "info", tiny_model))
    assert says in line


def test_a_real_bug_still_shows_its_traceback(runner, tiny_model, monkeypatch):
    def bug(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise KeyError("not a user error")

    monkeypatch.setattr("conceptvae.model.info.model_info", bug)
    from conceptvae.cli.main import cli

    result = runner.invoke(cli, ["info", str(tiny_model)])
    assert isinstance(result.exception, KeyError)


@pytest.mark.parametrize("value", ["100000", "0", "-1", "many", "1e3"])
def test_threads_env_out_of_range(value, runner, tiny_model, tmp_path, monkeypatch):
    from PIL import Image

    Image.new("L", (20, 20), 90).save(tmp_path / "good.png")
    monkeypatch.setenv("CONCEPTVAE_THREADS", value)
    before = snapshot(tmp_path)
    line = _one_error(invoke(runner, "reconstruct", tmp_path / "good.png", "-m", tiny_model,
                             "-o", tmp_path / "r.png"))  # fmt: skip
    assert "CONCEPTVAE_THREADS must be a whole number from 1 to 64" in line
    assert snapshot(tmp_path) == before


def test_a_run_directory_is_locked_while_training(runner, tiny_model, npz_data, tmp_path):
    """What a second `train --resume` on the same directory sees while the first runs."""
    run = tmp_path / "run"
    shutil.copytree(tiny_model, run)
    state_before = snapshot(run)
    fd = os.open(run, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as the first training holds it
        line = _one_error(invoke(runner, "train", npz_data, "-o", run, "--resume", "--epochs", "4"))
    finally:
        os.close(fd)
    assert "another `conceptvae train` is using this run directory" in line
    assert snapshot(run) == state_before


def test_write_errors_name_the_target_never_the_temp_file(tmp_path):
    """h5py's messages name the file it was writing: the hidden temp file, gone by the
    time the user reads the error. The line names the target instead."""
    from conceptvae.errors import ConceptVAEError
    from conceptvae.io import atomic_path

    target = tmp_path / "concepts.h5"
    with pytest.raises(ConceptVAEError) as err:
        with atomic_path(target, suffix=".h5") as tmp:
            raise OSError(errno.ENOSPC, f"file write failed: filename = '{tmp}', No space left")
    assert err.value.path == str(target)
    assert "/." not in str(err.value) and str(target) in str(err.value)
    assert list(tmp_path.iterdir()) == []  # the temp file is gone


def test_error_lines_quoting_a_hostile_value_stay_readable(runner, tiny_model):
    big = "9" * 5000
    line = _one_error(invoke(runner, "sample", "-m", tiny_model, "--seed", big, "-o", "s.png"))
    assert len(line) < 400 and "characters)" in line


def test_checkpoints_of_older_runs_still_resume(tmp_path):
    """A metric added by a newer conceptvae starts mid-run: its history is shorter."""
    from conceptvae.training import TRAIN_DEFAULTS, read_checkpoint_state

    state = {"epoch": 2, "options": {**TRAIN_DEFAULTS, "data": "d.npz"},
             "history": {"loss": [2.0, 1.0], "cpu_seconds": [0.5]}}  # fmt: skip
    path = tmp_path / "checkpoint.npz"
    np.savez(path, state=np.array(json.dumps(state)))
    assert read_checkpoint_state(path)["epoch"] == 2
