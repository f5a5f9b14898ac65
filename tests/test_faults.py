"""Training survives a hard kill: SIGKILL at a random moment, then --resume finishes.

The checkpoint is replaced atomically at the end of every epoch, so whatever the
moment of the kill, the file on disk is a whole checkpoint of some finished epoch.
The only possible leftover is a hidden temp file of a write the kill cut short
(``.NAME.XXXXXXXX.suffix``), which nothing ever reads.
"""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import synthetic_images

from conceptvae import load_model
from conceptvae.model import files

EPOCHS = 30
MODEL_FILES = {files.CONFIG, files.WEIGHTS, files.META, files.HISTORY, files.PREVIEW,
               files.CHECKPOINT}  # fmt: skip
OPTIONAL_FILES = {files.ENCODER_TFLITE, files.DECODER_TFLITE, files.CONCEPTS}
# conceptvae.io.atomic_path's temp names: "." + target name + "." + 8 random chars + suffix.
TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.[A-Za-z0-9_]{8}(\.npz|\.weights\.h5|\.png|\.tmp)$")


def _train(data: Path, out: Path, log: Path, *extra: str) -> subprocess.Popen:
    args = [sys.executable, "-m", "conceptvae", "train", str(data), "--out", str(out),
            "--latent-dim", "2", "--filters", "8", "--batch-size", "32", "--seed", "3",
            "--epochs", str(EPOCHS), *extra]  # fmt: skip
    with open(log, "ab") as fh:
        return subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT)


def _wait_for(proc: subprocess.Popen, log: Path, ready, timeout: float = 60.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, log.read_text()[-2000:]
        assert time.monotonic() < deadline, f"training made no progress in {timeout:.0f} s"
        time.sleep(0.01)


def _identity(path: Path) -> tuple[int, int]:
    st = path.stat()  # each atomic replacement is a new inode
    return st.st_ino, st.st_mtime_ns


def _epoch(checkpoint: Path) -> int:
    """The last finished epoch the checkpoint holds (0 before the first)."""
    if not checkpoint.exists():
        return 0
    with np.load(checkpoint, allow_pickle=False) as ckpt:  # replaced whole, never half-written
        return int(json.loads(str(ckpt["state"]))["epoch"])


def _stray_files(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith("."))


def test_sigkill_at_a_random_moment_then_resume_finishes(tmp_path):
    x, _ = synthetic_images(256)
    data = tmp_path / "squares.npz"
    np.savez(data, x=x)
    out, log = tmp_path / "run", tmp_path / "train.log"

    proc = _train(data, out, log)
    checkpoint = out / files.CHECKPOINT
    delay = 0.0
    try:
        # Kill at a random moment a little after a random epoch of the first half,
        # so the run cannot end by itself first, however its epochs' speed varies
        # (timing one epoch and extrapolating failed when later epochs ran faster).
        target = random.randint(1, EPOCHS // 2)
        _wait_for(proc, log, lambda: _epoch(checkpoint) >= 1)
        started = time.monotonic()
        _wait_for(proc, log, lambda: _epoch(checkpoint) >= target, timeout=180.0)
        epoch_seconds = (time.monotonic() - started) / max(1, target - 1) if target > 1 else 0.2
        delay = random.uniform(0.0, epoch_seconds)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"run ended by itself (delay {delay:.2f} s)"

    # What the kill left: a whole checkpoint of a finished epoch, and at most the
    # hidden temp file of one interrupted write.
    with np.load(checkpoint, allow_pickle=False) as ckpt:
        state = json.loads(str(ckpt["state"]))
        assert {"w0", "o0"} <= set(ckpt.files)
    done = state["epoch"]
    assert target <= done < EPOCHS, f"epoch {target}, then {delay:.2f} s"
    assert all(len(v) == done for v in state["history"].values())
    strays = _stray_files(out)
    assert len(strays) <= 1 and all(TEMP_NAME.match(s) for s in strays), strays

    resumed = _train(data, out, log, "--resume")
    assert resumed.wait(timeout=120) == 0, log.read_text()[-2000:]

    history = json.loads((out / files.HISTORY).read_text())
    assert len(history["loss"]) == EPOCHS and len(history["val_loss"]) == EPOCHS
    assert np.isfinite(history["loss"]).all()
    meta = json.loads((out / files.META).read_text())
    assert meta["metrics"]["epochs"] == EPOCHS
    model = load_model(out, backend="keras")
    assert model.fingerprint == meta["fingerprint"] == model.backend.fingerprint()
    z = model.encode(x[:4, :, :, None].astype(np.float32) / 255.0)
    assert z.shape == (4, 2) and np.isfinite(z).all()
    visible = {p.name for p in out.iterdir() if not p.name.startswith(".")}
    assert MODEL_FILES <= visible <= MODEL_FILES | OPTIONAL_FILES
    assert _stray_files(out) == strays  # the resumed run itself leaves nothing behind


def test_a_failed_write_leaves_the_old_file_and_no_new_directory(tmp_path):
    from conceptvae.io import atomic_path

    target = tmp_path / "new" / "deeper" / "out.bin"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []

    kept = tmp_path / "kept.txt"
    kept.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(kept) as tmp:
        tmp.write_text("new, but only half")
        raise RuntimeError("killed")
    assert kept.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["kept.txt"]

    with atomic_path(target) as tmp:  # success creates the missing directories
        tmp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole" and _stray_files(target.parent) == []
