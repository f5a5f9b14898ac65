"""Peak memory (max RSS) of ``edit``, ``faces`` and strips on large photographs (issue 26).

The photographs are made here, written as JPEG (quality 90):

- ``big6000.jpg``: 6000x6000, scikit-image's astronaut (NASA, public domain;
  ``pip install scikit-image``) scaled 4.2 times (a face of about 400 pixels) in
  the middle of a flat grey field;
- ``big9000.jpg``: 9000x9000, a 300x300 scene of tests/facephotos.py holding one
  face of about 100 pixels (face-2 at 1.5 times its 64 pixels; its mesh box is
  94x104), pasted into a flat field (a face of 1/90 of the photo's side;
  found only by the fine grid of issue 26);
- ``found9000.jpg``: the same field with face-1 at 1.6 times (a 107x122 box),
  which the tiles before the fine grid did find (weakly): what an edit of a
  9000x9000 photo cost before;
- ``grey16.png``: 9000x9000 16-bit greyscale, one face of about 220 pixels;
- ``folder40/p00.jpg`` ... ``p39.jpg``: 4000x3000, each with a 300x300 scene
  (a face of about 105 pixels) at its own place; ``folder1``, ``folder2``,
  ``folder3``, ``folder10``: the first 1, 2, 3, 10 of them.

Each command runs in a fresh process under ``/usr/bin/time -f %M`` (kB), one run
each (max RSS barely varies between runs), with ``CONCEPTVAE_THREADS=1``:

    python benchmarks/photo_memory.py make DIR     # the photographs
    python benchmarks/photo_memory.py run DIR [--json out.json] [--only TEXT]   # the table

``run`` prints one markdown row per command: peak RSS, exit status, wall time,
and for ``faces`` how many faces it found.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
FOLDER = 40


def _scene(seed: int, face: int | None = None, scale: float = 1.6) -> np.ndarray:
    sys.path.insert(0, str(ROOT / "tests"))
    from facephotos import FACES, Placement, scene

    face = seed % 2 if face is None else face
    return scene(300, 300, [Placement(FACES[face], (150, 150), scale, 0)], seed=seed)


def _field(width: int, height: int) -> np.ndarray:
    return np.full((height, width, 3), (118, 124, 131), np.uint8)


def make(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    from skimage import data

    astronaut = Image.fromarray(data.astronaut())
    big = astronaut.resize((2150, 2150), Image.LANCZOS)
    canvas = Image.fromarray(_field(6000, 6000))
    canvas.paste(big, (1925, 1925))
    canvas.save(folder / "big6000.jpg", quality=90)
    del canvas
    canvas = _field(9000, 9000)
    canvas[2900:3200, 6100:6400] = _scene(1, face=1, scale=1.5)
    Image.fromarray(canvas).save(folder / "big9000.jpg", quality=90)
    canvas = _field(9000, 9000)
    canvas[5200:5500, 3100:3400] = _scene(0)
    Image.fromarray(canvas).save(folder / "found9000.jpg", quality=90)
    del canvas
    grey = np.full((9000, 9000), 30000, np.uint16)
    face = _scene(0, face=0, scale=3.0).astype(np.float32) @ np.float32([0.299, 0.587, 0.114])
    grey[4000:4300, 4000:4300] = (face * 257).astype(np.uint16)
    Image.fromarray(grey).save(folder / "grey16.png")
    del grey
    many = folder / "folder40"
    many.mkdir(exist_ok=True)
    for k in range(FOLDER):
        canvas = _field(4000, 3000)
        y, x = 300 + (k * 517) % 2300, 300 + (k * 811) % 3300
        canvas[y : y + 300, x : x + 300] = _scene(k)
        Image.fromarray(canvas).save(many / f"p{k:02d}.jpg", quality=90)
    for n in (1, 2, 3, 10):
        sub = folder / f"folder{n}"
        sub.mkdir(exist_ok=True)
        for k in range(n):
            shutil.copyfile(many / f"p{k:02d}.jpg", sub / f"p{k:02d}.jpg")


EDIT = ["-c", "smile", "-a", "1.5"]
COMMANDS = [
    ["edit", "big6000.jpg", *EDIT, "-o", "{out}/e6000.jpg"],
    ["edit", "big9000.jpg", *EDIT, "-o", "{out}/e9000.jpg"],
    ["edit", "found9000.jpg", *EDIT, "-o", "{out}/f9000.jpg"],
    ["faces", "big9000.jpg"],
    ["faces", "big6000.jpg"],
    *[["edit", f"folder{n}", *EDIT, "-o", f"{{out}}/f{n}/"] for n in (1, 2, 3, 10, 40)],
    ["reconstruct", "big6000.jpg", "-o", "{out}/r6000.jpg"],
    ["faces", "grey16.png"],
    ["edit", "grey16.png", *EDIT, "-o", "{out}/g.png"],
    ["faces", "big9000.jpg", "-o", "{out}/overlay.jpg"],
    ["edit", "big6000.jpg", *EDIT, "--mode", "warp", "-o", "{out}/w6000.jpg"],
    ["traverse", "big6000.jpg", "-c", "smile", "--steps", "5", "-o", "{out}/t5.png"],
    ["traverse", "big6000.jpg", "-c", "smile", "--steps", "9", "-o", "{out}/t9.png"],
    ["traverse", "big6000.jpg", "-c", "smile", "--steps", "64", "-o", "{out}/t64.png"],
    ["edit", "big6000.jpg", "-c", "smile", "--sweep=-2:2:5", "-o", "{out}/s5.png"],
    ["traverse", "found9000.jpg", "-c", "smile", "--steps", "9", "-o", "{out}/t9000.png"],
    # A strip of many photographs: one row per photograph, built one at a time.
    *[["traverse", f"folder{n}", "-c", "smile", "--steps", "3", "-o", f"{{out}}/tf{n}.png"]
      for n in (1, 10, 40)],  # fmt: skip
    ["traverse", "folder40", "-c", "smile", "--steps", "1", "-o", "{out}/tf40s1.png"],
    # 40 rows of 9 cells of 512 pixels: 94 of the 100 megapixels a picture may have.
    ["traverse", "folder40", "-c", "smile", "--steps", "8", "-o", "{out}/tf40s8.png"],
]


def run(folder: Path, only: str | None = None) -> list[dict]:
    exe = shutil.which("conceptvae") or "conceptvae"
    rows = []
    env = {**os.environ, "CONCEPTVAE_THREADS": "1"}
    with tempfile.TemporaryDirectory() as out:
        for args in COMMANDS:
            if only is not None and only not in " ".join(args):
                continue
            cmd = ["/usr/bin/time", "-f", "%M", exe, *(a.format(out=out) for a in args)]
            t0 = time.perf_counter()
            done = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            kb = int(done.stderr.strip().splitlines()[-1])
            row = {"args": args, "max_rss_kb": kb, "exit": done.returncode,
                   "seconds": round(wall, 1)}  # fmt: skip
            if args[0] == "faces" and done.returncode == 0:
                row["faces"] = len(re.findall(r"^\s+\d+: box", done.stdout, re.MULTILINE))
            rows.append(row)
            print(f"| `conceptvae {' '.join(args).replace('{out}/', '')}` | {kb:,} kB | "
                  f"{done.returncode} | {wall:.1f} s | {row.get('faces', '')} |", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["make", "run"])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--only", metavar="TEXT", help="run only the commands whose text has TEXT")
    a = ap.parse_args()
    if a.what == "make":
        make(a.folder)
        return
    rows = run(a.folder, a.only)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
