"""Cold ``conceptvae edit`` on photographs and on a 64x64 crop: wall clock and where the time goes.

Two photographs made from scikit-image's astronaut (``skimage.data.astronaut()``,
NASA, public domain; ``pip install scikit-image``):

- portrait: the 512x512 photograph itself;
- group: 1280x886, six copies of it (three mirrored, turned by up to 10 degrees)
  tiled 3 x 2, so six faces of about 80 pixels;

and the 64x64 example face (``examples/face-1.png``), which is searched for its
face like any input. Per picture, ``--runs`` fresh processes run ``conceptvae
edit PICTURE --concept smile --amount 1.5 -o OUT.png`` (the README's headline
command: the model is found from the concept), interleaved across the pictures
so load changes hit them alike, and the median wall time is reported; then
``--runs`` fresh processes time the stages of the same edit one by one, with
the functions the command calls (imports; model and concepts; reading the
picture; loading the three face flatbuffers; detection + landmarks + alignment;
loading the VAE's two flatbuffers; encode + edit; decode + the mode's
rendering and paste-back; writing the PNG; and, timed from outside, the
interpreter's start and exit):

    python benchmarks/face_edit_speed.py [--runs 7] [--json results.json] [--mode warp]

(``--mode`` times the commands and the stages in that mode; default: the model's.)

Bars: group <= 0.8 s, portrait <= 0.4 s (issue 12), crop <= 0.3 s (issues 6
and 24), medians on 2 CPU cores; exit status 1 on a miss. The ratio photo /
crop carries over to a machine under other load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARS = {"portrait": 0.4, "group": 0.8, "crop": 0.3}
ROOT = Path(__file__).resolve().parents[1]

STAGES = r"""
import gc, json, os, sys, time
w0, t0 = time.time(), time.perf_counter()
from conceptvae.cli.main import BLAS_IDLE_SPIN, cli  # what the conceptvae command imports first
os.environ.setdefault(*BLAS_IDLE_SPIN)  # as the command's main() does, before numpy loads
import conceptvae.cli.edit  # the edit command's module
import numpy as np
from conceptvae.editing import EditOptions, parse_concepts, prepare_inputs
from conceptvae.editing.compose import render
from conceptvae.images import array_to_pil, load_pil, save_pil
from conceptvae.resolve import resolve_library, resolve_model
t1 = time.perf_counter()
photo, out, mode = sys.argv[1], sys.argv[2], sys.argv[3] or None
model = resolve_model(None, ["smile"])
lib = resolve_library(model)
args = parse_concepts(lib, ["smile"])
mode = EditOptions(mode=mode).mode_for(model)
t2 = time.perf_counter()
im = load_pil(photo)
t3 = time.perf_counter()
from conceptvae.faces import detect, landmarks
from conceptvae.faces.runtime import graph
for name in (detect.SHORT_RANGE.file, detect.FULL_RANGE.file, landmarks.LANDMARK_FILE):
    graph(name)
t4 = time.perf_counter()
inputs, slots = prepare_inputs(model, [im])
t5 = time.perf_counter()
model.backend.encoder, model.backend.decoder
t6 = time.perf_counter()
z = model.encode(np.stack([i.x for i in inputs])).astype(np.float64)
d = lib.direction(list(args[0].terms), z).astype(np.float64)
z_new = (z + 1.5 * d).astype(np.float32)
t7 = time.perf_counter()
image = render(model, inputs, slots, z.astype(np.float32), z_new, mode)[0]
t8 = time.perf_counter()
save_pil(array_to_pil(image), out, fast=True)
t9 = time.perf_counter()
gc.freeze()  # as the command's main() does on its way out
print(json.dumps({"imports": t1 - t0, "model + concepts": t2 - t1, "read picture": t3 - t2,
                  "face models load": t4 - t3, "detect + landmarks + align": t5 - t4,
                  "VAE graphs load": t6 - t5, "encode + edit": t7 - t6,
                  "decode + render + paste back": t8 - t7, "write PNG": t9 - t8,
                  "faces": len(inputs), "w0": w0, "w_end": time.time()}))
"""


def make_photos(folder: Path) -> dict[str, Path]:
    import numpy as np
    from PIL import Image
    from skimage import data

    a = Image.fromarray(data.astronaut())
    portrait = folder / "portrait.jpg"
    a.save(portrait, quality=95)
    canvas = Image.new("RGB", (1280, 886), (90, 90, 100))
    for i, (x, y) in enumerate([(0, 0), (427, 0), (854, 0), (0, 443), (427, 443), (854, 443)]):
        im = a.transpose(Image.FLIP_LEFT_RIGHT) if i % 2 else a
        im = im.resize((426, 426), Image.LANCZOS)
        im = im.rotate([0, 8, -6, 4, -10, 0][i], resample=Image.BICUBIC, fillcolor=(90, 90, 100))
        canvas.paste(im.crop((0, 0, 426, 443)), (x, y))
    group = folder / "group.jpg"
    canvas.save(group, quality=95)
    del np
    return {"portrait": portrait, "group": group}


def stages(photo: Path, out: Path, mode: str | None) -> dict[str, float]:
    """One fresh process timing the edit's stages; interpreter start and exit timed from here."""
    launched = time.time()
    r = subprocess.run([sys.executable, "-c", STAGES, str(photo), str(out), mode or ""],
                       check=True, capture_output=True, text=True)  # fmt: skip
    ended = time.time()
    got = json.loads(r.stdout.strip().splitlines()[-1])
    w0, w_end = got.pop("w0"), got.pop("w_end")
    return {"interpreter start": w0 - launched, **got, "exit": ended - w_end}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--json", type=Path)
    p.add_argument("--mode", help="edit mode for the timed commands (default: the model's)")
    args = p.parse_args()
    mode = ["--mode", args.mode] if args.mode else []
    exe = Path(sys.executable).with_name("conceptvae")
    results = {"load_average_start": os.getloadavg()[0]}
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        photos = make_photos(Path(tmp))
        photos["crop"] = ROOT / "examples" / "face-1.png"
        walls: dict[str, list[float]] = {name: [] for name in photos}
        for _ in range(args.runs):  # interleaved: load changes hit every photo alike
            for name, photo in photos.items():
                out = Path(tmp) / f"{name}_out.png"
                t = time.perf_counter()
                subprocess.run([str(exe), "edit", str(photo), "-c", "smile", "-a", "1.5", "-o",
                                str(out), "--overwrite", *mode], check=True, capture_output=True)  # fmt: skip
                walls[name].append(time.perf_counter() - t)
        timed: dict[str, list[dict[str, float]]] = {name: [] for name in photos}
        for _ in range(args.runs):
            for name, photo in photos.items():
                timed[name].append(stages(photo, Path(tmp) / f"{name}_stages.png", args.mode))
        for name in photos:
            st = timed[name]
            med = {k: round(statistics.median(x[k] for x in st), 3) for k in st[0]}
            w = walls[name]
            results[name] = {"median_s": round(statistics.median(w), 3), "min_s": round(min(w), 3),
                             "runs_s": [round(x, 3) for x in w], "bar_s": BARS.get(name),
                             "stages_median_s": med}  # fmt: skip
            ok &= statistics.median(w) <= BARS[name]
        ref = results["crop"]["median_s"]
        for name in photos:
            results[name]["ratio_to_crop"] = round(results[name]["median_s"] / ref, 2)
    results["load_average_end"] = os.getloadavg()[0]
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
