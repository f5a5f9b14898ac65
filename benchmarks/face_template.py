"""Measure a face model's alignment template: where the five landmarks sit in its
training crops.

Runs ``conceptvae.faces.find_faces`` (the same detector, padding and landmark
model the edit path uses) over every training crop and prints the per-point
median (robust to the few crops whose landmarks go astray), the spread, and the
share of crops in which one face was found, as the JSON that goes under the
model's ``meta.json`` key ``face_alignment``:

    python benchmarks/face_template.py ../shared/data/smiles/images \
        --labels benchmarks/out/pretrained/faces-split/vae.csv --size 64

Without ``--labels`` every image in the folder is used.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("images", type=Path)
    p.add_argument("--labels", type=Path, help="CSV whose `file` column lists the training crops")
    p.add_argument("--size", type=int, default=64, help="the model's image size")
    p.add_argument("--limit", type=int, default=0)
    args = p.parse_args()

    from conceptvae.faces import DEFAULT_PADDING, find_faces
    from conceptvae.images import load_pil

    if args.labels:
        with open(args.labels, newline="") as fh:
            names = [r["file"] for r in csv.DictReader(fh)]
        files = [args.images / n for n in names]
    else:
        files = sorted(f for f in args.images.rglob("*") if f.suffix.lower() in (".jpg", ".png"))
    if args.limit:
        files = files[: args.limit]
    points, missed, several = [], 0, 0
    t0 = time.perf_counter()
    for f in files:
        im = load_pil(f)
        if im.size != (args.size, args.size):
            sys.exit(f"{f}: {im.size}, expected {args.size}x{args.size} crops")
        faces = find_faces(im)
        if not faces:
            missed += 1
            continue
        if len(faces) > 1:
            several += 1
        # The crop's own face is the one nearest its centre.
        centre = np.array([args.size / 2, args.size / 2])
        best = min(faces, key=lambda fc: float(np.linalg.norm(fc.landmarks.mean(0) - centre)))
        points.append(best.landmarks)
    pts = np.stack(points)
    med = np.median(pts, axis=0)
    spread = np.median(np.linalg.norm(pts - med, axis=-1), axis=0)
    report = {
        "template": [[round(float(x), 2), round(float(y), 2)] for x, y in med],
        "image_size": args.size,
        "detect_padding": DEFAULT_PADDING,
        "points": ["right_eye", "left_eye", "nose_tip", "mouth_right", "mouth_left"],
        "measured_on": len(pts),
        "crops": len(files),
        "found_share": round(len(pts) / len(files), 4),
        "several_faces": several,
        "median_distance_px": [round(float(v), 2) for v in spread],
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(report, indent=2))
    del missed


if __name__ == "__main__":
    main()
