"""Held-back faces set into colour photographs: are they found, edited, and is the
rest of the photograph untouched?

Each of the SMILEsmileD faces held out from the pretrained faces model (the
1,500-face test split of benchmarks/make_pretrained.py) is tinted to a random
skin tone, scaled (96-256 pixels), turned (up to +-15 degrees) and set at a
random place into a 512x512 colour picture (a random smooth colour field with
noise, or a colourised texture from scikit-image), with its edges softened.
Then ``conceptvae.edit(photo, "smile", 1.5)`` runs on the pretrained faces
model, and per photo:

- found (% of photos): exactly one face found, its box centre on the placed face;
- edited (% of photos): a face found on the placed one and its pixels changed;
- untouched outside (% of the photos edited): every pixel outside the placed
  face's footprint keeps its exact value;
- colour kept (% of the photos edited): the output is colour and the edit moved
  luminance only: over the changed, unclipped pixels the mean |change| of Cb
  and Cr is under 1 level.

With ``--judge`` it also measures whether the edits land (issue 17): neutral
faces (label 0) get ``smile +AMOUNT`` and smiling ones ``smile -AMOUNT``, the
placed face is cut back out of the edited photograph (the placement inverted,
luminance, tint undone) and the smile judges of benchmarks/evaluate_faces.py
read it: landed (% per direction and judge) = read smiling after +, read
neutral after -. The same judges' reading of the unedited faces cut back the
same way is given beside it (what a real smile scores).

It also counts the faces found in scikit-image's own pictures: one in each of
the two with a person (astronaut, cameraman), none in the 17 others (a cat,
coffee, a rocket, textures, text...).

    python benchmarks/face_photos_eval.py [--limit N] [--seed 0] [--sheet out.png] [--judge]
        [--mode MODE] [--split vae] [--judges cnn,hog,deep]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
# ../shared beside the checkout (CI's layout), or two levels up from a worktree.
DATA = next(
    (d / "shared" / "data" for d in (ROOT.parent, ROOT.parent.parent) if (d / "shared").is_dir()),
    ROOT.parent / "shared" / "data",
)
SIZE = 512


def held_back(data: Path, work: Path, part: str = "test") -> tuple[list[Path], np.ndarray]:
    split = work / "faces-split" / f"{part}.csv"
    if not split.exists():
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from make_pretrained import split_faces

        split_faces(data, work)
    with open(split, newline="") as fh:
        rows = list(csv.DictReader(fh))
    files = [data / "smiles" / "images" / r["file"] for r in rows]
    return files, np.array([int(r["smile"]) for r in rows])


def textures() -> list[np.ndarray]:
    from skimage import data

    out = []
    for name in ("brick", "grass", "gravel", "camera", "moon", "text"):
        if name == "camera":
            continue  # a person: not a background without faces
        img = np.asarray(getattr(data, name)(), np.float32)
        out.append(img / 255.0)
    return out


def background(rng: np.random.Generator, texs: list[np.ndarray]) -> np.ndarray:
    ys, xs = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
    base = rng.uniform(20, 235, 3).astype(np.float32)
    slope = rng.uniform(-80, 80, (2, 3)).astype(np.float32)
    img = base + xs[..., None] * slope[0] + ys[..., None] * slope[1]
    if rng.random() < 0.5:
        t = texs[rng.integers(len(texs))]
        y0 = rng.integers(0, max(1, t.shape[0] - SIZE))
        x0 = rng.integers(0, max(1, t.shape[1] - SIZE))
        patch = np.asarray(Image.fromarray((t * 255).astype(np.uint8)).resize((SIZE, SIZE))
                           if min(t.shape[:2]) < SIZE else (t[y0:y0 + SIZE, x0:x0 + SIZE] * 255)
                           .astype(np.uint8), np.float32) / 255.0  # fmt: skip
        img = img * (0.5 + patch[..., None])
    img += rng.normal(0, 5, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def place(rng: np.random.Generator, photo: np.ndarray, face_path: Path):
    """The photo with the face set in, and its footprint (a bool mask)."""
    face = np.asarray(Image.open(face_path).convert("L"), np.float32)
    tint = np.array([rng.uniform(0.95, 1.15), rng.uniform(0.75, 0.95), rng.uniform(0.55, 0.85)])
    rgb = np.clip(face[..., None] * tint, 0, 255)
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32) + 0.5
    edge = np.minimum(np.minimum(xx, 64 - xx), np.minimum(yy, 64 - yy))
    alpha = np.clip(edge / 4.0, 0, 1)
    scale = rng.uniform(1.5, 4.0)
    angle = math.radians(rng.uniform(-15, 15))
    half = 32 * scale * math.sqrt(2)
    cx, cy = rng.uniform(half, SIZE - half, 2)
    c, s = math.cos(angle) * scale, math.sin(angle) * scale
    lin = np.array([[c, -s], [s, c]])
    m = np.hstack([lin, (np.array([cx, cy]) - lin @ np.array([32.0, 32.0]))[:, None]])
    inv = np.linalg.inv(lin)
    data = tuple(np.hstack([inv, -inv @ m[:, 2:]]).reshape(-1))
    rgba = np.dstack([rgb, alpha * 255]).astype(np.uint8)
    layer = np.asarray(Image.fromarray(rgba, "RGBA").transform((SIZE, SIZE), Image.AFFINE, data,
                                                               Image.BICUBIC), np.float32)  # fmt: skip
    a = layer[..., 3:] / 255.0
    out = np.clip(np.rint(photo * (1 - a) + layer[..., :3] * a), 0, 255).astype(np.uint8)
    luma = float(np.dot([0.299, 0.587, 0.114], tint))
    return out, layer[..., 3] > 0, (cx, cy), (m, luma)


def cut_back(photo: np.ndarray, placement: tuple[np.ndarray, float]) -> np.ndarray:
    """The placed face's 64x64 grey crop read back out of ``photo`` (1, 64, 64, 1) in [0, 1]."""
    m, luma = placement
    grey = np.asarray(Image.fromarray(photo).convert("F"), np.float32)  # ITU-R 601 luma
    img = Image.fromarray(grey, mode="F").transform(
        (64, 64), Image.AFFINE, tuple(m.reshape(-1)), Image.BICUBIC
    )
    return np.clip(np.asarray(img, np.float32) / (255.0 * luma), 0, 1)[None, ..., None]


def ycbcr(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    cb = -0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 0.5 * r - 0.418688 * g - 0.081312 * b
    return np.stack([cb, cr], -1)


# scikit-image's pictures: people (one face each) and none (no face may be found).
PEOPLE = ("astronaut", "camera")
NO_PEOPLE = ("chelsea", "cat", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry",
             "retina", "colorwheel", "page", "text", "brick", "grass", "gravel", "horse", "moon",
             "clock", "coins")  # fmt: skip


def skimage_pictures() -> dict[str, int]:
    """Faces found in each of scikit-image's pictures (real photographs)."""
    from skimage import data

    from conceptvae.faces import find_faces

    found = {}
    for name in PEOPLE + NO_PEOPLE:
        im = np.asarray(getattr(data, name)())
        if im.ndim == 3 and im.shape[-1] == 4:
            im = im[..., :3]
        found[name] = len(find_faces(im.astype(np.uint8)))
    return found


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "out" / "pretrained")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--amount", type=float, default=1.5)
    p.add_argument("--sheet", type=Path, help="a contact sheet of the first 12 photos")
    p.add_argument("--judge", action="store_true",
                   help="edit toward the other expression and judge whether it landed")
    from conceptvae.options import EDIT_MODES

    p.add_argument("--mode", choices=list(EDIT_MODES), help="edit mode (default: the model's)")
    p.add_argument("--split", choices=("test", "vae"), default="test",
                   help="the held-back faces (test), or the model's own training faces (vae: "
                   "for choosing settings without looking at the test faces)")
    p.add_argument("--judges", default="cnn,hog,deep",
                   help="with --judge: which of evaluate_faces.py's judges")  # fmt: skip
    args = p.parse_args()

    import conceptvae
    from conceptvae.faces import find_faces

    model = conceptvae.load_model("faces")
    files, labels = held_back(args.data, args.work, args.split)
    if args.limit:  # a seeded sample of both groups (the split lists neutral faces first)
        pick = np.sort(np.random.default_rng(args.seed).permutation(len(files))[: args.limit])
        files, labels = [files[i] for i in pick], labels[pick]
    judges = None
    if args.judge:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        import evaluate_faces as ef

        judges = ef.judges(args.data / "smiles" / "images", args.work / "faces-split" / "clf.csv",
                           args.judges.split(","))  # fmt: skip
    cuts: dict[str, list[np.ndarray]] = {"up": [], "down": [], "up_photo": [], "down_photo": []}
    rng = np.random.default_rng(args.seed)
    texs = textures()
    counts = dict.fromkeys(("found", "edited", "untouched", "colour"), 0)
    false_faces = missed = ran = 0
    shots = []
    t0 = time.perf_counter()
    for f, label in zip(files, labels):
        photo, footprint, centre, placement = place(rng, background(rng, texs), f)
        faces = find_faces(photo)
        on_face = [fc for fc in faces
                   if fc.box[0] <= centre[0] <= fc.box[0] + fc.box[2]
                   and fc.box[1] <= centre[1] <= fc.box[1] + fc.box[3]]  # fmt: skip
        false_faces += len(faces) - len(on_face)
        if len(faces) == 1 and on_face:
            counts["found"] += 1
        if not faces:
            missed += 1
            continue
        sign = -1.0 if (judges is not None and label == 1) else 1.0
        out = conceptvae.edit(model, photo, "smile", sign * args.amount, mode=args.mode).images[0]
        ran += 1
        out8 = (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)
        if judges is not None and on_face:
            way = "down" if sign < 0 else "up"
            cuts[way].append(cut_back(out8, placement))
            cuts[f"{way}_photo"].append(cut_back(photo, placement))
        changed = (out8 != photo).any(-1)
        if on_face and changed[footprint].any():
            counts["edited"] += 1
        if not changed[~footprint].any():
            counts["untouched"] += 1
        moved = changed & (out8.max(-1) < 255) & (out8.min(-1) > 0)
        chroma = np.abs(ycbcr(out8) - ycbcr(photo))[moved].mean() if moved.any() else 0.0
        if out8.shape == photo.shape and chroma < 1.0:
            counts["colour"] += 1
        if len(shots) < 12:
            shots.append((photo, out8))
    n = len(files)
    report = {
        "photos": n,
        "found_pct": round(100 * counts["found"] / n, 2),
        "edited_pct": round(100 * counts["edited"] / n, 2),
        # Of the photos the edit ran on (no face found: an error, nothing written).
        "edited_photos": ran,
        "untouched_outside_pct": round(100 * counts["untouched"] / max(ran, 1), 2),
        "colour_kept_pct": round(100 * counts["colour"] / max(ran, 1), 2),
        "no_face_found": missed,
        "false_faces": false_faces,
        "seconds_per_photo": round((time.perf_counter() - t0) / n, 3),
        "amount": args.amount,
        "seed": args.seed,
        "skimage_pictures_faces": skimage_pictures(),
    }
    if judges is not None:
        report["mode"] = args.mode or "default"
        for way in ("up", "down"):
            if not cuts[way]:
                continue
            edited, before = np.concatenate(cuts[way]), np.concatenate(cuts[f"{way}_photo"])
            report[f"{way}_faces"] = len(edited)
            for k, j in judges.items():
                read, read0 = j(edited), j(before)
                if way == "down":
                    read, read0 = ~read, ~read0
                report[f"{k}_landed_{way}_pct"] = round(100 * float(read.mean()), 2)
                # The unedited faces read as the edit's target (a real smile / neutral face
                # of the other group scores about the judge's recall / specificity).
                report[f"{k}_already_{way}_pct"] = round(100 * float(read0.mean()), 2)
    print(json.dumps(report, indent=2))
    if args.sheet and shots:
        sheet = Image.new("RGB", (256 * 6, 256 * ((len(shots) + 2) // 3)), "white")
        for i, (a, b) in enumerate(shots):
            x, y = (i % 3) * 512, (i // 3) * 256
            sheet.paste(Image.fromarray(a).resize((256, 256)), (x, y))
            sheet.paste(Image.fromarray(b).resize((256, 256)), (x + 256, y))
        sheet.save(args.sheet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
