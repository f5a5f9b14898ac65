"""Every bad input we know of, through the real CLI: exit 2, one line, nothing written.

Each case builds its bad input in a fresh work directory (with a copy of the tiny
model as ``model/``), runs one command there, and checks: exit status 2; exactly
one stderr line that is not a ``warning:``, starting with ``Error: `` and naming
the file (or option) at fault; no traceback; and the work directory byte-for-byte
unchanged (no output, no temp file, no empty directory, inputs and model intact).

The same cases generate the table in docs/bad-inputs.md from real runs of the
installed command (one subprocess per case):

    python tests/test_bad_inputs.py > docs/bad-inputs.md
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke, loaded, synthetic_images
from PIL import Image

# -- building bad inputs ---------------------------------------------------------


def _noise(size: tuple[int, int] = (20, 20), seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0]), np.uint8))


def _truncated(fmt: str) -> Callable[[Path], None]:
    def make(work: Path) -> None:
        buf = io.BytesIO()
        _noise((64, 64)).save(buf, fmt)
        data = buf.getvalue()
        (work / f"cut.{'jpg' if fmt == 'JPEG' else 'png'}").write_bytes(data[: len(data) // 2])

    return make


def _bomb(work: Path) -> None:
    """A 100-byte PNG whose header declares a 30000 x 30000 canvas."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    (work / "bomb.png").write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )  # fmt: skip


def _write(name: str, data: bytes | str) -> Callable[[Path], None]:
    def make(work: Path) -> None:
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)

    return make


def _latents(name: str, z: np.ndarray) -> Callable[[Path], None]:
    def make(work: Path) -> None:
        np.save(work / name, z, allow_pickle=z.dtype == object)

    return make


def _model_without(*names: str) -> Callable[[Path], None]:
    def make(work: Path) -> None:
        for name in names:
            (work / "model" / name).unlink(missing_ok=True)

    return make


def _model_file(name: str, data: bytes | str) -> Callable[[Path], None]:
    return _write(f"model/{name}", data)


def _labelled_folder(csv_text: str) -> Callable[[Path], None]:
    def make(work: Path) -> None:
        folder = work / "faces"
        folder.mkdir()
        for i in range(6):
            _noise((16, 16), seed=i).save(folder / f"f{i}.png")
        (work / "labels.csv").write_text(csv_text)

    return make


def _npz(name: str, **arrays: np.ndarray) -> Callable[[Path], None]:
    def make(work: Path) -> None:
        np.savez(work / name, **arrays)

    return make


def _train_data(work: Path) -> None:
    x, _ = synthetic_images(8)
    np.savez(work / "squares.npz", x=x)


def _checkpoint_run(data: bytes) -> Callable[[Path], None]:
    """A run directory (the tiny model) whose checkpoint is replaced by ``data``."""

    def make(work: Path) -> None:
        _train_data(work)
        (work / "model" / "checkpoint.npz").write_bytes(data)

    return make


def _both(*makers: Callable[[Path], None]) -> Callable[[Path], None]:
    def make(work: Path) -> None:
        for m in makers:
            m(work)

    return make


def _odd_weights_h5(work: Path) -> None:
    """An HDF5 file of the right name holding objects Keras does not expect."""
    import h5py

    with h5py.File(work / "model" / "model.weights.h5", "w") as f:
        f["layers/x"] = np.arange(3)
        f.create_group("vars").attrs["note"] = "unexpected"
        f["dangling"] = h5py.SoftLink("/nowhere")


def _keras_with_lambda(work: Path) -> None:
    import keras

    inp = keras.Input((2,))
    out = keras.layers.Lambda(lambda t: t * 2)(inp)
    keras.Model(inp, out).save(work / "evil.keras")


@contextlib.contextmanager
def _unwritable_dir(path: Path) -> Iterator[None]:
    """A directory no one may write into. Root ignores mode bits, so there the
    directory is made immutable (chattr +i) when the kernel allows it, and is
    otherwise replaced by a regular file, which root cannot write into either."""
    path.mkdir()
    if os.geteuid() != 0:
        path.chmod(0o500)
        try:
            yield
        finally:
            path.chmod(0o700)
        return
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0:
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], capture_output=True)
        return
    path.rmdir()
    path.write_text("stands in for a read-only directory\n")
    yield


# -- the cases ---------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    what: str  # the bad input, as the table in docs/bad-inputs.md names it
    argv: tuple[str, ...]  # run in the work directory, after ``setup(work)``
    names: str  # regex the Error line must match (the file or option, and the problem)
    setup: Callable[[Path], None] = field(default=lambda work: None)
    readonly: str | None = None  # a directory to make unwritable around the run


def recon(*inputs: str) -> tuple[str, ...]:
    return ("reconstruct", *inputs, "-m", "model", "-o", "out.png")


S = ("sample", "-m", "model", "-o", "grid.png")
CASES = [
    # images
    Case("missing image file", recon("nope.png"), r"nope\.png: file not found"),
    Case("zero-byte file", recon("empty.png"), r"empty\.png: empty file",
         _write("empty.png", b"")),
    Case("text file named .png", recon("text.png"),
         r"text\.png: not a readable image", _write("text.png", "hello, not a png\n")),
    Case("truncated PNG", recon("cut.png"), r"cut\.png: truncated or corrupt",
         _truncated("PNG")),
    Case("truncated JPEG", recon("cut.jpg"), r"cut\.jpg: truncated or corrupt",
         _truncated("JPEG")),
    Case("1x1 image", recon("dot.png"), r"dot\.png: image is 1x1 pixels",
         lambda w: Image.new("L", (1, 1)).save(w / "dot.png")),
    Case("decompression bomb (PNG header declaring 30000x30000)", recon("bomb.png"),
         r"bomb\.png: refused", _bomb),
    Case("folder with no images", recon("nothing"),
         r"nothing: folder holds no images", lambda w: (w / "nothing").mkdir()),
    # A bad input among several good ones is a batch: see
    # test_a_bad_input_among_several_is_skipped below (exit 1, the others written).
    # models
    Case("model directory missing (or a typo)", ("reconstruct", "good.png", "-m", "modle"),
         r"modle: no such model directory or model name"),
    Case("model directory with no weights (no model.weights.h5, no .tflite)",
         ("reconstruct", "good.png", "-m", "model"), r"model/model\.weights\.h5: model directory is missing",
         _model_without("model.weights.h5", "encoder.tflite", "decoder.tflite")),
    Case("model.weights.h5 missing, --backend keras",
         ("reconstruct", "good.png", "-m", "model", "--backend", "keras"),
         r"model/model\.weights\.h5: model directory is missing", _model_without("model.weights.h5")),
    Case("model.weights.h5 of random bytes", ("reconstruct", "good.png", "-m", "model",
         "--backend", "keras"), r"model/model\.weights\.h5: cannot load weights",
         _model_file("model.weights.h5", np.random.default_rng(0).bytes(3000))),
    Case("model.weights.h5 holding unexpected HDF5 objects", ("reconstruct", "good.png", "-m",
         "model", "--backend", "keras"), r"model/model\.weights\.h5: cannot load weights",
         _odd_weights_h5),
    Case("encoder.tflite of random bytes", ("reconstruct", "good.png", "-m", "model"),
         r"model/encoder\.tflite: not a usable LiteRT flatbuffer",
         _model_file("encoder.tflite", np.random.default_rng(1).bytes(700))),
    Case("config.json truncated", ("reconstruct", "good.png", "-m", "model"),
         r"model/config\.json: model config is not valid JSON",
         _model_file("config.json", '{"image_size": 16,')),
    Case("config.json missing", ("info", "model"), r"model/config\.json: model directory is missing",
         _model_without("config.json")),
    Case("config.json with an impossible value", ("info", "model"),
         r"model/config\.json: invalid model config: latent_dim",
         _model_file("config.json", '{"image_size": 16, "latent_dim": 0}')),
    Case("meta.json of random bytes", ("info", "model"), r"model/meta\.json: cannot read model metadata",
         _model_file("meta.json", b"\x9e\xff\x00junk")),
    Case(".keras file of random bytes", ("reconstruct", "good.png", "-m", "junk.keras"),
         r"junk\.keras: not a \.keras file \(it is not a zip archive\)",
         _write("junk.keras", np.random.default_rng(2).bytes(400))),
    Case(".keras file with a Lambda layer (code)", ("reconstruct", "good.png", "-m", "evil.keras"),
         r"evil\.keras: refused: the file holds a Lambda layer", _keras_with_lambda),
    # numbers
    Case("--temperature nan", (*S, "-t", "nan"), r"--temperature must be a finite number"),
    Case("--temperature inf", (*S, "-t", "inf"), r"--temperature must be a finite number"),
    Case("--temperature 1e30", (*S, "-t", "1e30"), r"--temperature must be .* from 0 to 100"),
    Case("--temperature -1", (*S, "-t", "-1"), r"--temperature must be"),
    Case("-n 0", (*S, "-n", "0"), r"Invalid value for '-n': 0 is not in the range"),
    Case("-n -3", (*S, "-n", "-3"), r"Invalid value for '-n': -3 is not in the range"),
    Case("--seed -1", (*S, "--seed", "-1"), r"--seed must be a non-negative integer"),
    Case("--size 0", (*S, "--size", "0"), r"Invalid value for '--size'"),
    Case("latents with NaN", ("decode", "nan.npy", "-m", "model", "-o", "d.png"),
         r"nan\.npy: latents contain NaN", _latents("nan.npy", np.array([[np.nan, 0, 0, 0]]))),
    Case("latents of absurd size (1e30)", ("decode", "big.npy", "-m", "model", "-o", "d.png"),
         r"big\.npy: latents reach 1e\+30", _latents("big.npy", np.array([[1e30, 0, 0, 0]]))),
    Case("latents of the wrong latent size", ("decode", "z7.npy", "-m", "model", "-o", "d.png"),
         r"z7\.npy: latents have shape \(2, 7\); this model needs \(N, 4\)",
         _latents("z7.npy", np.zeros((2, 7), np.float32))),
    Case("latents file holding pickled objects", ("decode", "obj.npy", "-m", "model", "-o", "d.png"),
         r"obj\.npy: holds pickled Python objects, which are never loaded",
         _latents("obj.npy", np.array([{"a": 1}], dtype=object))),
    Case("latents file of random bytes", ("decode", "rand.npy", "-m", "model", "-o", "d.png"),
         r"rand\.npy: not a \.npy or \.npz file",
         _write("rand.npy", np.random.default_rng(3).bytes(300))),
    Case("train --epochs 0", ("train", "squares.npz", "-o", "run", "--epochs", "0"),
         r"Invalid value for '--epochs': 0", _train_data),
    Case("train --epochs -1", ("train", "squares.npz", "-o", "run", "--epochs", "-1"),
         r"Invalid value for '--epochs': -1", _train_data),
    Case("train --lr nan", ("train", "squares.npz", "-o", "run", "--lr", "nan"),
         r"--lr must be in \(0, 10\]", _train_data),
    Case("train --beta inf", ("train", "squares.npz", "-o", "run", "--beta", "inf"),
         r"--beta must be in \[0, 10000\]", _train_data),
    Case("train --beta 1e30", ("train", "squares.npz", "-o", "run", "--beta", "1e30"),
         r"--beta must be in \[0, 10000\]", _train_data),
    Case("train --lr 1e30", ("train", "squares.npz", "-o", "run", "--lr", "1e30"),
         r"--lr must be in \(0, 10\]", _train_data),
    Case("train --seed -1", ("train", "squares.npz", "-o", "run", "--seed", "-1"),
         r"--seed must be in \[0, 2\*\*32\)", _train_data),
    Case("train --val-split nan", ("train", "squares.npz", "-o", "run", "--val-split", "nan"),
         r"--val-split must be in \[0, 1\)", _train_data),
    # outputs
    Case("output path under a regular file", ("reconstruct", "good.png", "-m", "model", "-o",
         "notes.txt/out.png"), r"notes\.txt: is a file, not a directory",
         _write("notes.txt", "x\n")),
    Case("output DIR/ under a regular file", ("sample", "-m", "model", "-o", "notes.txt/samples/"),
         r"notes\.txt: is a file, not a directory", _write("notes.txt", "x\n")),
    Case("output directory that cannot be written", ("reconstruct", "good.png", "-m", "model",
         "-o", "readonly/out.png"), r"readonly: (output directory is not writable|is a file)",
         readonly="readonly"),
    Case("output DIR/ inside a directory that cannot be written", ("sample", "-m", "model", "-o",
         "readonly/samples/"), r"readonly: (output directory is not writable|is a file)",
         readonly="readonly"),
    Case("output directory of a new model under a regular file", ("train", "squares.npz", "-o",
         "notes.txt/run"), r"notes\.txt/run: Not a directory",
         _both(_train_data, _write("notes.txt", "x\n"))),
    Case("output path equal to the input path", ("reconstruct", "good.png", "-m", "model", "-o",
         "good.png"), r"good\.png: output path is also an input; refusing without --overwrite"),
    Case("two inputs with the same name into one DIR/", ("reconstruct", "good.png", "sub/good.png",
         "-m", "model", "-o", "outdir/"), r"outdir/good\.png: inputs good\.png and sub/good\.png",
         lambda w: (w / "sub").mkdir() or _noise().save(w / "sub" / "good.png")),
    Case("several inputs, one output file", ("reconstruct", "good.png", "good2.png", "-m", "model",
         "-o", "one.png"), r"one\.png: 2 inputs need a directory output"),
    Case("unsupported output format", ("reconstruct", "good.png", "-m", "model", "-o", "out.tga"),
         r"out\.tga: unsupported image format '\.tga'"),
    Case("latents output that is not .npy/.npz", ("encode", "good.png", "-m", "model", "-o", "z.txt"),
         r"z\.txt: latents output must end in \.npy or \.npz"),
    # training data and labels
    Case("labels CSV listing missing files", ("train", "faces", "--labels", "labels.csv", "-o", "run"),
         r"labels\.csv: 1 listed image\(s\) not found under faces: ghost\.png",
         _labelled_folder("file,smile\nf0.png,1\nghost.png,0\n")),
    Case("labels CSV with duplicate rows", ("train", "faces", "--labels", "labels.csv", "-o", "run"),
         r"labels\.csv: duplicate row for 'f0\.png' \(lines 2 and 3\)",
         _labelled_folder("file,smile\nf0.png,1\nf0.png,0\nf1.png,1\n")),
    Case("labels CSV with no file column", ("train", "faces", "--labels", "labels.csv", "-o", "run"),
         r"labels\.csv: labels file has no file column",
         _labelled_folder("picture,smile\nf0.png,1\n")),
    Case("labels CSV with a ragged row", ("train", "faces", "--labels", "labels.csv", "-o", "run"),
         r"labels\.csv: line 2 has 3 fields, the header has 2",
         _labelled_folder("file,smile\nf0.png,1,7\n")),
    Case("labels CSV that is not text", ("train", "faces", "--labels", "labels.csv", "-o", "run"),
         r"labels\.csv: labels file is not UTF-8 text",
         _both(_labelled_folder(""), _write("labels.csv", bytes(range(256))))),
    Case("labels CSV missing", ("train", "faces", "--labels", "nolabels.csv", "-o", "run"),
         r"nolabels\.csv: labels file not found", _labelled_folder("file,smile\n")),
    Case("training data missing", ("train", "nodata.npz", "-o", "run"),
         r"nodata\.npz: no such file or folder"),
    Case("training .npz of random bytes", ("train", "rand.npz", "-o", "run"),
         r"rand\.npz: not a readable \.npz file",
         _write("rand.npz", np.random.default_rng(4).bytes(500))),
    Case("training images with NaN", ("train", "nan.npz", "-o", "run"),
         r"nan\.npz: image array contains NaN", _npz("nan.npz", x=np.full((4, 8, 8), np.nan))),
    Case("training set of one image", ("train", "one.npz", "-o", "run"),
         r"one\.npz: need at least 2 images to train", _npz("one.npz", x=np.zeros((1, 8, 8)))),
    Case("a single image as training data", ("train", "good.png", "-o", "run"),
         r"good\.png: is a single image"),
    Case("train into an existing run without --resume", ("train", "squares.npz", "-o", "model"),
         r"model: already holds a training run; continue it with --resume", _train_data),
    Case("--resume with nothing to resume", ("train", "squares.npz", "-o", "fresh", "--resume"),
         r"fresh: nothing to resume", _train_data),
    Case("--resume with a corrupt checkpoint.npz", ("train", "squares.npz", "-o", "model",
         "--resume"), r"model/checkpoint\.npz: cannot read checkpoint",
         _checkpoint_run(np.random.default_rng(5).bytes(500))),
]  # fmt: skip

# Odd but valid inputs: accepted, with at most an explanatory warning line.
ODD_BUT_VALID = [
    ("CMYK JPEG", "cmyk.jpg", lambda p: Image.new("CMYK", (20, 20), (0, 0, 0, 0)).save(p), None),
    ("16-bit PNG", "deep.png",
     lambda p: Image.fromarray(np.full((20, 20), 40000, np.uint16)).save(p), None),
    ("palette PNG with transparency", "pal.png", lambda p: _palette(p), None),
    ("RGBA PNG (composited onto black)", "rgba.png",
     lambda p: Image.new("RGBA", (20, 20), (255, 255, 255, 128)).save(p), None),
    ("animated GIF (first frame used)", "anim.gif", lambda p: _animated(p),
     "warning: anim.gif: animated image with 2 frames; using the first frame"),
    ("EXIF-rotated JPEG (orientation honoured)", "rot.jpg", lambda p: _rotated(p), None),
    ("TIFF renamed .png", "tiff.png", lambda p: _noise().save(p, "TIFF"), None),
]  # fmt: skip


def _palette(path: Path) -> None:
    im = Image.new("P", (20, 20), 1)
    im.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    im.save(path, transparency=0)


def _animated(path: Path) -> None:
    frames = [Image.new("L", (20, 20), v) for v in (255, 0)]
    frames[0].save(path, save_all=True, append_images=frames[1:])


def _rotated(path: Path) -> None:
    im = _noise((10, 20))
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(path, exif=exif.tobytes())


def prepare(work: Path, model: Path, case: Case | None = None) -> None:
    work.mkdir(parents=True, exist_ok=True)
    shutil.copytree(model, work / "model")
    _noise(seed=0).save(work / "good.png")
    _noise(seed=1).save(work / "good2.png")
    if case is not None:
        case.setup(work)


def snapshot(root: Path) -> dict[str, str]:
    """Every path under root with its content hash: any new, lost or changed file shows."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_symlink():  # e.g. a hostile input pointing at /dev/zero: never read it
            out[rel] = "link:" + os.readlink(p)
        elif p.is_dir():
            out[rel] = "dir"
        elif not p.is_file():  # a FIFO would block the read
            out[rel] = "special"
        else:
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def error_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith("warning: ")]


# -- the tests ---------------------------------------------------------------------


def check_bad_input(case, runner, tiny_model, tmp_path, monkeypatch) -> None:
    """Run one Case: exit 2, one `Error:` line matching it, no traceback, nothing written."""
    work = tmp_path / "work"
    prepare(work, tiny_model, case)
    monkeypatch.chdir(work)
    guard = _unwritable_dir(work / case.readonly) if case.readonly else contextlib.nullcontext()
    with guard:
        before = snapshot(work)
        result = invoke(runner, *case.argv)
        after = snapshot(work)
    assert result.exit_code == 2, result.output
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert re.search(case.names, lines[0]), lines[0]
    assert "Traceback" not in result.output
    assert after == before, "the command wrote, removed or changed files"


@pytest.mark.parametrize("case", CASES, ids=[c.what for c in CASES])
def test_bad_input_gives_one_line_and_exit_2(case, runner, tiny_model, tmp_path, monkeypatch):
    check_bad_input(case, runner, tiny_model, tmp_path, monkeypatch)


@pytest.mark.parametrize("what, name, make, warning", ODD_BUT_VALID,
                         ids=[c[0] for c in ODD_BUT_VALID])  # fmt: skip
def test_odd_but_valid_images_are_accepted(what, name, make, warning, runner, tiny_model, tmp_path):
    make(tmp_path / name)
    out = tmp_path / "out.png"
    result = invoke(runner, "reconstruct", tmp_path / name, "-m", tiny_model, "-o", out)
    assert result.exit_code == 0, result.output
    assert loaded(out).size == (16, 16)
    assert error_lines(result.stderr) == []
    warnings = [ln for ln in result.stderr.splitlines() if ln.startswith("warning: ")]
    assert warnings == ([warning.replace("anim.gif", str(tmp_path / name))] if warning else [])


@pytest.mark.parametrize("args, written, summary", [
    (("reconstruct", "good.png", "nope.png", "-o", "outdir/"), "outdir/good.png",
     "reconstructed 1, skipped 1"),
    (("encode", "good.png", "text.png", "-o", "z.npy"), "z.npy", "encoded 1, skipped 1"),
])  # fmt: skip
def test_a_bad_input_among_several_is_skipped(args, written, summary, runner, tiny_model,
                                              tmp_path, monkeypatch):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    Image.fromarray(np.full((16, 16), 128, np.uint8)).save("good.png")
    (tmp_path / "text.png").write_text("hello\n")
    result = invoke(runner, *args, "-m", tiny_model)
    assert result.exit_code == 1, result.output
    assert (tmp_path / written).is_file()
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("Error: ") and lines[1:] == [summary], result.stderr


def test_debug_flag_lets_the_exception_through(runner, tmp_path):
    from conceptvae.cli.main import cli

    from conceptvae.errors import ModelError

    result = runner.invoke(cli, ["--debug", "info", str(tmp_path / "nomodel")])
    assert isinstance(result.exception, ModelError) and result.exit_code == 1


def test_messages_with_newlines_stay_on_one_line(runner, tiny_model, tmp_path):
    bad = tmp_path / "two\nlines.png"
    result = invoke(runner, "reconstruct", bad, "-m", tiny_model)
    assert result.exit_code == 2
    assert len(error_lines(result.stderr)) == 1 and "two\\nlines.png" in result.stderr


# -- docs/bad-inputs.md ----------------------------------------------------------


def _run_real(case: Case, work: Path) -> tuple[int, str, str]:
    guard = _unwritable_dir(work / case.readonly) if case.readonly else contextlib.nullcontext()
    env = {**os.environ, "CONCEPTVAE_HOME": str(work / ".home"), "CONCEPTVAE_OFFLINE": "1"}
    with guard:
        before = snapshot(work)
        proc = subprocess.run([sys.executable, "-m", "conceptvae", *case.argv], cwd=work,
                              capture_output=True, text=True, env=env)  # fmt: skip
        changed = snapshot(work) != before
    lines = error_lines(proc.stderr)
    message = next((ln for ln in lines if ln.startswith("Error: ")), "(no error line)")
    notes = []
    warned = sum(ln.startswith("warning: ") for ln in proc.stderr.splitlines())
    if warned:
        notes.append(f"after {warned} `warning:` line(s)")
    if len(lines) > 1:
        notes.append(f"plus {len(lines) - 1} other stderr line(s) (TensorFlow start-up log)")
    if changed:
        notes.append("files changed!")
    if not re.search(case.names, message):
        notes.append("unexpected message!")
    return proc.returncode, message, "; ".join(notes)


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def code(text: str) -> str:
    return f"`` {cell(text)} ``" if "`" in text else f"`{cell(text)}`"


def case_rows(cases: list[Case], model: Path, root: Path) -> list[str]:
    """One table row per case, from a real `python -m conceptvae` run in a scratch dir."""
    rows = []
    for i, case in enumerate(cases):
        work = root / f"case{i:02d}"
        prepare(work, model, case)
        status, message, notes = _run_real(case, work)
        command = "conceptvae " + " ".join(case.argv)
        seen = code(message) + (f" ({notes})" if notes else "")
        rows.append(f"| {cell(case.what)} | {code(command)} | {seen} | {status} |")
        print(f"{status} {message} {notes}", file=sys.stderr)
    return rows


def scratch_model(root: Path) -> Path:
    """The tiny model every table row runs against."""
    from conceptvae.training import train

    x, y = synthetic_images(96)
    np.savez(root / "squares.npz", x_train=x, y_train=y)
    model = root / "tiny"
    train(root / "squares.npz", model, latent_dim=4, filters=[8, 16], epochs=1,
          batch_size=32, seed=0, verbose=0)  # fmt: skip
    return model


def print_rows(cases: list[Case]) -> None:
    """Print the docs/bad-inputs.md rows of ``cases``, from real runs."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print("\n".join(case_rows(cases, scratch_model(root), root / "cases")))


def _markdown(model: Path, root: Path) -> str:
    rows = ["| Input | Command tried | What the user sees (stderr) | Exit |", "|---|---|---|---|"]
    rows += case_rows(CASES, model, root)
    for what, name, make, _ in ODD_BUT_VALID:
        work = root / f"odd-{name}"
        prepare(work, model)
        make(work / name)
        argv = ("reconstruct", name, "-m", "model", "-o", "out.png")
        proc = subprocess.run([sys.executable, "-m", "conceptvae", *argv], cwd=work,
                              capture_output=True, text=True)  # fmt: skip
        seen = " ".join(ln for ln in proc.stderr.splitlines() if ln.startswith("warning: "))
        shown = f"{code(seen)} (image used)" if seen else "accepted, nothing on stderr"
        command = "conceptvae " + " ".join(argv)
        rows.append(f"| {cell(what)} | {code(command)} | {shown} | {proc.returncode} |")
    return "\n".join(rows)


def main() -> None:
    """Regenerate the table in docs/bad-inputs.md (between its table markers)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        table = _markdown(scratch_model(root), root / "cases")
    doc = Path(__file__).resolve().parents[1] / "docs" / "bad-inputs.md"
    start, end = "<!-- table:start -->", "<!-- table:end -->"
    text = doc.read_text()
    head, rest = text.split(start, 1)
    doc.write_text(f"{head}{start}\n{table}\n{end}{rest.split(end, 1)[1]}")


if __name__ == "__main__":
    main()
