"""Hostile files and options, per command (issue 14): exit 2, one line, nothing written.

Each case is what an adversarial user would try: files that never end (/dev/zero,
a FIFO), JSON nested 100,000 deep or holding 5,000-digit integers, headers that
promise terabytes, values finite in float64 but not in float32, outputs aimed at
the command's own inputs, options inside their types but absurd in size. The
harness is tests/test_bad_inputs.py's: a work directory with the tiny model as
``model/``; the command must exit 2 with exactly one ``Error:`` line and leave
every file in the work directory as it was (no output, no temp or lock file, no
empty directory). Print the rows for docs/bad-inputs.md with

    python tests/test_hostile_files.py
"""

from __future__ import annotations

import io
import json
import os
import struct
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from test_bad_inputs import Case, _both, _write, check_bad_input, print_rows

DEEP = "[" * 100_000 + "]" * 100_000
BIG_INT = "9" * 5000


def _edit_json(rel: str, change: Callable[[dict], object]) -> Callable[[Path], None]:
    def make(work: Path) -> None:
        path = work / rel
        obj = json.loads(path.read_text())
        change(obj)
        path.write_text(json.dumps(obj))

    return make


def _fifo(rel: str) -> Callable[[Path], None]:
    def make(work: Path) -> None:
        (work / rel).unlink(missing_ok=True)
        os.mkfifo(work / rel)

    return make


def _zero(rel: str) -> Callable[[Path], None]:
    def make(work: Path) -> None:
        (work / rel).unlink(missing_ok=True)
        (work / rel).symlink_to("/dev/zero")

    return make


def _library(work: Path) -> None:
    """A concept library beside model/: attribute 'smile', pc1 and a class set."""
    from conceptvae.concepts.library import ClassSet, Concept, ConceptLibrary
    from conceptvae.model.identity import model_ref

    ref = model_ref(work / "model")
    lib = ConceptLibrary(ref.latent_dim, ref.fingerprint)
    info = {"column": "smile", "n_pos": 3, "n_neg": 4, "metrics": {"significant": True}}
    lib.add_concept(Concept("smile", "attribute", "mean", np.array([1, 0, 0, 0], "f4"),
                            np.array([1, 0, 0, 0], "f4"), 0.0, info))  # fmt: skip
    lib.add_concept(Concept("pc1", "pc", "pca", np.array([0, 1, 0, 0], "f4")))
    c = np.eye(2, 4, dtype="f4")
    lib.add_class_set(ClassSet("digit", ["a", "b"], c, np.array([2, 3]), c, np.zeros(2), {}))
    lib.write(ref.library_path)


def _library_h5(change: Callable) -> Callable[[Path], None]:
    """The library, then ``change(h5py_file)`` applied to it in place."""

    def make(work: Path) -> None:
        import h5py

        _library(work)
        with h5py.File(work / "model" / "concepts.h5", "a") as f:
            change(f)

    return make


def _set_info(group: str, change: Callable[[dict], object]) -> Callable:
    def edit(f) -> None:  # noqa: ANN001
        import h5py

        g = f[group]
        info = json.loads(g["info"].asstr()[()]) if "info" in g else {}
        change(info)
        if "info" in g:
            del g["info"]
        g.create_dataset("info", data=json.dumps(info), dtype=h5py.string_dtype("utf-8"))

    return edit


def _empty_class_set(f) -> None:  # noqa: ANN001
    g = f["class_sets/digit"]
    for k in list(g):
        del g[k]
    _set_info("class_sets/digit", lambda i: i.update(classes=[]))(f)
    g["centroids"] = np.zeros((0, 4), "f4")
    g["counts"] = np.zeros(0, "i8")
    g["probe_coef"] = np.zeros((0, 4), "f4")
    g["probe_intercept"] = np.zeros(0)


def _export_with(change: Callable[[dict], object], name: str = "export.json"):
    def make(work: Path) -> None:
        from conceptvae.concepts.manage import library_to_dict, read_export

        _library(work)
        d = library_to_dict(read_export(work / "model" / "concepts.h5"))
        d = json.loads(json.dumps(d))
        change(d)
        (work / name).write_text(json.dumps(d))
        (work / "model" / "concepts.h5").unlink()

    return make


def _npy_bytes(shape_text: str, dtype: str = "<f4") -> bytes:
    """A .npy whose header declares ``shape_text``, with almost no data."""
    header = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape_text}, }}"
    header = header.ljust(118) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 64


def _npz_bytes(**members: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(f"{name}.npy", data)
    return buf.getvalue()


def _idx(dims: tuple[int, ...], body: bytes = b"\0" * 64) -> bytes:
    return b"\0\0\x08" + bytes([len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + body


def _keras_config(config: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.0.0"}))
    return buf.getvalue()


HUGE_KERAS = {
    "class_name": "Sequential",
    "config": {"layers": [{"class_name": "Dense", "config": {"units": 4096}}] * 64},
}


def _checkpoint(change: Callable[[dict], object] | None = None, nan_weights: bool = False):
    """The tiny model's checkpoint with its state (or its weights) tampered with."""

    def make(work: Path) -> None:
        from conftest import synthetic_images

        x, _ = synthetic_images(8)
        np.savez(work / "squares.npz", x=x)
        path = work / "model" / "checkpoint.npz"
        with np.load(path) as npz:
            arrays = {k: npz[k] for k in npz.files}
        state = json.loads(str(arrays["state"]))
        state["options"]["data"] = "squares.npz"  # the run's data, as given on the command line
        if change is not None:
            change(state)
        arrays["state"] = np.array(json.dumps(state))
        if nan_weights:
            arrays["w0"] = np.full_like(arrays["w0"], np.nan)
        with open(path, "wb") as fh:
            np.savez(fh, **arrays)

    return make


def _folder(name: str, n: int) -> Callable[[Path], None]:
    def make(work: Path) -> None:
        from PIL import Image

        (work / name).mkdir()
        for i in range(n):
            Image.new("L", (16, 16), 40 * i).save(work / name / f"i{i}.png")

    return make


def _train_data(work: Path) -> None:
    from conftest import synthetic_images

    x, _ = synthetic_images(16)
    np.savez(work / "squares.npz", x=x)


def _copy(src: str, dst: str) -> Callable[[Path], None]:
    def make(work: Path) -> None:
        (work / dst).parent.mkdir(parents=True, exist_ok=True)
        (work / dst).write_bytes((work / src).read_bytes())

    return make


def _script(obj: dict, name: str = "morph.json") -> Callable[[Path], None]:
    return _write(name, json.dumps(obj))


def _seeds(**top) -> dict:
    return {"model": "model", "output": "out.gif", **top, "keyframes": [{"seed": 1}, {"seed": 2}]}


MORPH = ("morph", "good.png", "good2.png", "-m", "model")
T = ("train", "squares.npz", "-o", "run", "--latent-dim", "4", "--filters", "8,16", "--epochs", "1")
CASES = [
    # JSON readers: model metadata, model config, scripts
    Case("meta.json nested 100,000 deep", ("info", "model"),
         r"model/meta\.json: model metadata is refused: nested more than 64 levels",
         _write("model/meta.json", DEEP)),
    Case("meta.json with a 5,000-digit integer", ("info", "model"),
         r"model/meta\.json: model metadata is refused: it holds an integer with 5000 digits",
         _write("model/meta.json", '{"parameters": ' + BIG_INT + "}")),
    Case("meta.json with wrong-typed fields", ("info", "model"),
         r"model/meta\.json: invalid model metadata: parameters must be a whole number",
         _edit_json("model/meta.json", lambda m: m.update(parameters="many"))),
    Case("meta.json edit_defaults of the wrong type", ("reconstruct", "good.png", "-m", "model",
         "-o", "r.png"), r"model/meta\.json: invalid model metadata: edit_defaults",
         _edit_json("model/meta.json", lambda m: m.update(edit_defaults=["detail"]))),
    Case("meta.json that is a FIFO (would block forever)", ("info", "model"),
         r"model/meta\.json: cannot read model metadata \(not a regular file", _fifo("model/meta.json")),
    Case("meta.json that is /dev/zero (never ends)", ("info", "model"),
         r"model/meta\.json: cannot read model metadata \(not a regular file", _zero("model/meta.json")),
    Case("config.json nested 100,000 deep", ("info", "model"),
         r"model/config\.json: model config is refused: nested", _write("model/config.json", DEEP)),
    Case("config.json asking for 16 dense layers of 4096", ("reconstruct", "good.png", "-m", "model",
         "-o", "r.png"), r"model/config\.json: invalid model config: the network would have",
         _edit_json("model/config.json", lambda c: c.update(hidden=[4096] * 16))),
    Case("model.weights.h5 holding NaN weights", ("reconstruct", "good.png", "-m", "model", "--backend",
         "keras", "-o", "r.png"), r"model: the model's encoder returns NaN .* weights are damaged",
         lambda w: _nan_weights(w / "model" / "model.weights.h5")),
    Case(".keras whose config asks for 64 layers of 4096 units", ("reconstruct", "good.png", "-m",
         "huge.keras", "-o", "r.png"), r"huge\.keras: refused: its config asks for about",
         _write("huge.keras", _keras_config(HUGE_KERAS))),
    Case("morph script nested 100,000 deep", ("run", "morph.json"),
         r"morph\.json: morph script is refused: nested", _write("morph.json", DEEP)),
    Case("morph script with a 5,000-digit seed", ("run", "morph.json"),
         r"morph\.json: morph script is refused: it holds an integer with 5000 digits",
         _write("morph.json", '{"model": "model", "output": "o.gif", "keyframes": [{"seed": '
                + BIG_INT + '}, {"seed": 2}]}')),
    Case("morph script that is a FIFO", ("run", "morph.json"),
         r"morph\.json: cannot read morph script \(not a regular file", _fifo("morph.json")),
    Case("morph script that is /dev/zero", ("run", "morph.json"),
         r"morph\.json: cannot read morph script \(not a regular file", _zero("morph.json")),
    Case("seed:N with 5,000 digits", (*MORPH[:2], "seed:" + BIG_INT, "-m", "model", "-o", "m.gif"),
         r"seed:9+.*: write seed:N with N a whole number from 0 to"),
    # scripts naming their outputs
    Case("script output outside its folder (../victim.png)", ("run", "s/morph.json"),
         r"s/morph\.json: output: .*victim\.gif: must stay inside the script's folder",
         _both(lambda w: (w / "s").mkdir(), _script({**_seeds(output="../victim.gif"),
                                                     "model": "../model"}, "s/morph.json"))),
    Case("script output that is an absolute path", ("run", "morph.json"),
         r"morph\.json: output: /tmp/.*\.gif: must stay inside the script's folder",
         _script(_seeds(output="/tmp/conceptvae-victim.gif"))),
    Case("script whose output is the script itself", ("run", "morph.json"),
         r"morph\.json: output: .*morph\.json: already exists",
         _script(_seeds(output="morph.json"))),
    Case("script output over an existing file, no --overwrite", ("run", "morph.json"),
         r"morph\.json: output: .*old\.gif: already exists \(pass --overwrite",
         _both(_script(_seeds(output="old.gif")), _write("old.gif", b"GIF89a old"))),
    Case("script output DIR/ over existing frames", ("run", "morph.json"),
         r"morph\.json: output: .*frame_0000\.png: would replace existing files",
         _both(_script(_seeds(output="frames/")), _write("frames/frame_0000.png", b"old"))),
    Case("script fps 1e-300", ("run", "morph.json"),
         r"morph\.json: fps: must be a finite number from 0\.01 to 100", _script(_seeds(fps=1e-300))),
    # options and environment
    Case("morph --fps 1e-300 (GIF)", (*MORPH, "--fps", "1e-300", "-o", "m.gif"),
         r"--fps must be a finite number from 0\.01 to 100, got 1e-300"),
    Case("morph --fps 0.001 (WebP durations would be truncated)", (*MORPH, "--fps", "0.001", "-o",
         "m.webp"), r"--fps must be a finite number from 0\.01 to 100"),
    Case("encode -o onto the model's own checkpoint", ("encode", "good.png", "-m", "model", "-o",
         "model/checkpoint.npz"), r"model/checkpoint\.npz: is a file of the model this command"),
    Case("reconstruct -o onto the model's preview", ("reconstruct", "good.png", "-m", "model", "-o",
         "model/preview.png"), r"model/preview\.png: is a file of the model this command"),
    Case("morph -o onto the model's preview", (*MORPH, "-o", "model/preview.png"),
         r"model/preview\.png: is a file of the model this command"),
    Case("morph -o DIR/ over a keyframe inside DIR", ("morph", "d/frame_0000.png", "good2.png", "-m",
         "model", "--frames", "4", "-o", "d/"),
         r"d/frame_0000\.png: output path is also an input", _copy("good.png", "d/frame_0000.png")),
    Case("sample asking for 167 gigapixels", ("sample", "-m", "model", "-n", "10000", "--size", "4096",
         "-o", "s.png"), r"the picture would be 409,600x409,600 pixels"),
    Case("morph asking for 167 gigapixels of frames", (*MORPH, "--frames", "10000", "--size", "4096",
         "-o", "m.gif"), r"m\.gif: 10000 frames of 4096x4096 are .* pixels; at most"),
    Case("sample -o DIR/ asking for 167 gigapixels of files", ("sample", "-m", "model", "-n", "10000",
         "--size", "4096", "-o", "many/"), r"many/?: 10000 samples of 4096x4096 are"),
    Case("grid asking for 42 gigapixels", ("grid", "-m", "model", "--axes", "z1,z2", "-n", "50",
         "--size", "4096", "-o", "g.png"), r"the picture would be 204,800x204,800 pixels"),
    Case("traverse asking for a gigapixel strip", ("traverse", "good.png", "-m", "model", "-c", "smile",
         "--steps", "64", "--size", "4096", "-o", "t.png"), r"the picture would be 266,240x4,096",
         _library),
    Case("analogy asking for gigapixels", ("analogy", "good.png", "good2.png", "good.png", "-m",
         "model", "--steps", "16", "--size", "4096", "-o", "a.png"), r"the picture would be"),
    # data files
    Case("IDX header whose dimensions overflow int64", ("train", "train-images-idx3-ubyte", "-o", "run"),
         r"train-images-idx3-ubyte: IDX header declares shape \(4294967295",
         _write("train-images-idx3-ubyte", _idx((2**32 - 1,) * 4))),
    Case("gzip IDX whose header promises terabytes", ("train", "x-images-idx3-ubyte.gz", "-o", "run"),
         r"x-images-idx3-ubyte\.gz: IDX header declares shape",
         lambda w: _write("x-images-idx3-ubyte.gz", __import__("gzip").compress(
             _idx((100000, 100000, 100000))))(w)),
    Case("npz with negative int64 pixels", ("train", "neg.npz", "-o", "run"),
         r"neg\.npz: integer images must be 0\.\.255, found -1",
         lambda w: np.savez(w / "neg.npz", x=np.full((4, 8, 8), -1, np.int64))),
    Case("npz whose header promises 40 PB", ("train", "huge.npz", "-o", "run"),
         r"huge\.npz: 'x' declares shape \(99999999999, 99999, 4\)",
         _write("huge.npz", _npz_bytes(x=_npy_bytes("(99999999999, 99999, 4)", "|u1")))),
    Case("npz holding 5,000 members", ("train", "many.npz", "-o", "run"),
         r"many\.npz: holds 5000 arrays", _write("many.npz", _npz_bytes(
             **{f"a{i}": _npy_bytes("(1,)") for i in range(5000)}))),
    Case("latents .npy whose header promises 4 TB", ("decode", "z.npy", "-m", "model", "-o", "d.png"),
         r"z\.npy: array declares shape \(1000000000000, 4\)", _write("z.npy", _npy_bytes("(1000000000000, 4)"))),
    Case("labels CSV that is a FIFO", ("train", "faces", "--labels", "labels.csv", "-o", "run"),
         r"labels\.csv: cannot read labels file \(not a regular file",
         _both(_folder("faces", 4), _fifo("labels.csv"))),
    Case("labels CSV that is /dev/zero", ("train", "faces", "--labels", "labels.csv", "-o", "run"),
         r"labels\.csv: cannot read labels file \(not a regular file",
         _both(_folder("faces", 4), _zero("labels.csv"))),
    Case("scatter of a one-image folder", ("scatter", "one", "-m", "model", "-o", "s.png"),
         r"one: a scatter plot needs at least 2 images, found 1", _folder("one", 1)),
    Case("scatter -o over one of its data images", ("scatter", "data", "-m", "model", "-o",
         "data/i0.png"), r"data/i0\.png: is inside the data folder data", _folder("data", 3)),
    # training
    Case("training that diverges (--lr 10)", (*T, "--lr", "10", "--epochs", "3"),
         r"run: training diverged at epoch \d", _train_data),
    Case("train into a new nested directory, data fails", ("train", "one.npz", "-o", "new/deep/run"),
         r"one\.npz: need at least 2 images", lambda w: np.savez(w / "one.npz", x=np.zeros((1, 8, 8)))),
    Case("checkpoint with wrong-typed options", ("train", "squares.npz", "-o", "model", "--resume"),
         r"model/checkpoint\.npz: checkpoint state is malformed \(options: (--)?lr must be",
         _checkpoint(lambda s: s["options"].update(lr="fast"))),
    Case("checkpoint with an absurd epoch", ("train", "squares.npz", "-o", "model", "--resume"),
         r"model/checkpoint\.npz: checkpoint state is malformed \(epoch",
         _checkpoint(lambda s: s.update(epoch=10**30))),
    Case("checkpoint with a ragged history", ("train", "squares.npz", "-o", "model", "--resume",
         "--epochs", "3"), r"model/checkpoint\.npz: checkpoint state is malformed \(history",
         _checkpoint(lambda s: s["history"].update(loss=["x"]))),
    Case("checkpoint with NaN weights", ("train", "squares.npz", "-o", "model", "--resume",
         "--epochs", "3"), r"model/checkpoint\.npz: checkpoint holds NaN",
         _checkpoint(nan_weights=True)),
    Case("checkpoint state nested 100,000 deep", ("train", "squares.npz", "-o", "model", "--resume"),
         r"model/checkpoint\.npz: cannot read checkpoint \(checkpoint state is refused: nested",
         lambda w: (_checkpoint()(w), np.savez(w / "model" / "checkpoint.npz", state=np.array(DEEP)))),
    # concept libraries: read, write, import, export
    Case("concepts import of a JSON export holding 1e39", ("concepts", "import", "model",
         "export.json"), r"export\.json: .*smile'?[./]vector holds 1e\+39, beyond float32's range",
         _export_with(lambda d: d["concepts"]["smile"]["vector"].__setitem__(0, 1e39))),
    Case("concepts import of an export with counts 1e30", ("concepts", "import", "model",
         "export.json"), r"export\.json: .*digit'?[./]counts must hold whole numbers",
         _export_with(lambda d: d["class_sets"]["digit"].update(counts=[1e30, 1]))),
    Case("concepts import of an export nested 100,000 deep", ("concepts", "import", "model",
         "export.json"), r"export\.json: concept export is refused: nested", _write("export.json", DEEP)),
    Case("concepts import of an npz export promising 4 TB", ("concepts", "import", "model", "e.npz"),
         r"e\.npz: 'c0_vector' declares shape", _write("e.npz", _npz_bytes(
             library_json=_npy_bytes("()", "<U4"), c0_vector=_npy_bytes("(1000000000000,)")))),
    Case("concepts import of a corrupt npz", ("concepts", "import", "model", "e.npz"),
         r"e\.npz: not a readable \.npz file", _write("e.npz", b"PK\x03\x04" + b"\xff" * 300)),
    Case("concepts export -o onto the library it reads", ("concepts", "export", "model", "-o",
         "model/concepts.h5", "--format", "json"),
         r"model/concepts\.h5: is a file of the model being exported", _library),
    Case("concepts export -o onto the model's meta.json", ("concepts", "export", "model", "-o",
         "model/meta.json"), r"model/meta\.json: is a file of the model being exported", _library),
    Case("concept info with wrong-typed fields", ("concepts", "list", "model"),
         r"model/concepts\.h5: not a valid concept library: concept 'smile' info field 'n_pos'",
         _library_h5(_set_info("concepts/smile", lambda i: i.update(n_pos="many")))),
    Case("concept info nested 100,000 deep", ("concepts", "show", "model", "smile"),
         r"model/concepts\.h5: not a valid concept library: .*nested",
         _library_h5(lambda f: _set_raw_info(f))),
    Case("class set with no classes", ("concepts", "list", "model"),
         r"model/concepts\.h5: not a valid concept library: class set 'digit' needs from 2",
         _library_h5(_empty_class_set)),
    Case("library vector beyond float32 stored as float64", ("concepts", "list", "model"),
         r"model/concepts\.h5: not a valid concept library: .*vector holds",
         _library_h5(lambda f: (f["concepts/pc1"].__delitem__("vector"),
                                f["concepts/pc1"].create_dataset("vector", data=np.full(4, 1e39))))),
    Case("concepts rm of an unknown name (no lock file left)", ("concepts", "rm", "model", "nosuch"),
         r"unknown concept 'nosuch'", _library),
    Case("library that is a FIFO", ("concepts", "list", "model"),
         r"model/concepts\.h5: cannot read concept library \(not a regular file",
         _fifo("model/concepts.h5")),
]  # fmt: skip


def _nan_weights(path: Path) -> None:
    import h5py

    with h5py.File(path, "a") as f:
        f.visititems(lambda name, obj: obj.__setitem__((), np.full(obj.shape, np.nan, obj.dtype))
                     if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f" else None)


def _set_raw_info(f) -> None:  # noqa: ANN001
    import h5py

    g = f["concepts/smile"]
    del g["info"]
    g.create_dataset("info", data=DEEP, dtype=h5py.string_dtype("utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[c.what for c in CASES])
def test_hostile_input_gives_one_line_and_exit_2(case, runner, tiny_model, tmp_path, monkeypatch):
    check_bad_input(case, runner, tiny_model, tmp_path, monkeypatch)


if __name__ == "__main__":
    print_rows(CASES)
    sys.exit(0)
