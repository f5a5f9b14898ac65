"""Faces model figures (issue 17) read by three independent smile judges, with contact sheets.

Judges, all trained for evaluation only on the 2,500-face classifier split
(never seen by the VAE or its concepts), with blur augmentation so they read
soft decodes as they read photographs, class-balanced so an unsure face is not
simply "not smiling":

* ``cnn``: a small batch-norm CNN at half resolution (cached in benchmarks/out);
* ``hog``: histograms of oriented gradients (Dalal & Triggs 2005, numpy) and a
  logistic regression: another family of model, other features, other errors;
* ``deep``: evaluate_pretrained.py's smile classifier, a deeper CNN at full
  resolution (7 convs with batch norm, global average pooling; about 92% right on
  the test photographs, like the classifier the issue was measured with).

Figures (each per judge) on the 1,500 held-out test faces:

* ``recon_still_smiling``: smiling faces (label 1) whose photograph the judge
  reads as smiling and whose reconstruction it still reads as smiling;
* ``decode_up`` / ``decode_down``: label-0 faces read smiling after +1.5 and
  label-1 faces read not smiling after -1.5, ``--mode decode``;
* ``<mode>_up`` / ``<mode>_down`` for each photo-keeping mode (detail, blend),
  and ``<mode>_ssim_up``: mean SSIM of the +1.5 edit against the photograph
  (``<mode>_ssim``: over both directions).

    python benchmarks/evaluate_faces.py pretrained/faces --split benchmarks/out/pretrained/faces-split \
        --sheets benchmarks/out/faces-sheets [--json out.json] [--tune]

``--tune`` measures on 400 faces of the VAE's own split instead of the test
faces: the faces blend-mode settings were chosen on (the test faces choose nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import evaluate_pretrained as ev  # noqa: E402

CACHE = HERE / "out"
# The raw SMILEsmileD crops (../shared/data beside the repository; SMILES_IMAGES overrides).
DATA = Path(
    os.environ.get("SMILES_IMAGES", HERE.parent.parent / "shared" / "data" / "smiles" / "images")
)
AMOUNT = 1.5
BARS = {
    "recon_still_smiling": 0.85, "decode_up": 0.90, "decode_down": 0.97,
    "photo_up": 0.80, "photo_down": 0.80, "photo_ssim_up": 0.90,
}  # fmt: skip


# -- judge 2: HOG + logistic regression -------------------------------------------------


def hog(images: np.ndarray, cell: int = 8, bins: int = 9, chunk: int = 1000) -> np.ndarray:
    """(N, H, W, 1) in [0, 1] -> (N, features): unsigned-orientation histograms per
    cell (votes split between the two nearest bins), L2-Hys normalised over 2x2-cell
    blocks."""
    if len(images) > chunk:
        return np.concatenate([hog(images[i : i + chunk], cell, bins)
                               for i in range(0, len(images), chunk)])  # fmt: skip
    x = images[..., 0].astype(np.float32)
    gy, gx = np.gradient(x, axis=(1, 2))
    mag = np.hypot(gx, gy)
    ang = np.mod(np.arctan2(gy, gx), np.pi) / np.pi * bins  # [0, bins)
    lo = np.floor(ang).astype(np.int32) % bins
    frac = ang - np.floor(ang)
    n, h, w = x.shape
    ch, cw = h // cell, w // cell
    hist = np.empty((n, ch, cw, bins), np.float32)
    for b in range(bins):
        vote = np.where(lo == b, mag * (1 - frac), 0) + np.where(
            (lo + 1) % bins == b, mag * frac, 0
        )
        hist[..., b] = vote.reshape(n, ch, cell, cw, cell).sum(axis=(2, 4))
    blocks = np.concatenate(
        [hist[:, i : i + ch - 1, j : j + cw - 1] for i in (0, 1) for j in (0, 1)], axis=-1
    )
    blocks /= np.sqrt((blocks**2).sum(-1, keepdims=True) + 1e-6)
    blocks = np.minimum(blocks, 0.2)
    blocks /= np.sqrt((blocks**2).sum(-1, keepdims=True) + 1e-6)
    return blocks.reshape(n, -1)


class HogJudge:
    """HOG features -> standardised -> class-balanced logistic regression."""

    def __init__(self, images_dir: Path, clf_csv: Path, seed: int = 0, copies: int = 6) -> None:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        names, y = ev.read_split(clf_csv)
        x = ev.load_faces(images_dir, names)
        rng = np.random.default_rng(seed)
        # The photographs once, then augmented copies (flips, shifts, contrast, blur).
        xs = [x] + [ev._augment(x, rng) for _ in range(copies)]
        feats = np.concatenate([hog(a) for a in xs])
        labels = np.tile(y, len(xs))
        self.model = make_pipeline(
            StandardScaler(),
            LogisticRegression(C=0.01, class_weight="balanced", max_iter=2000),
        ).fit(feats, labels)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self.model.predict(hog(images)).astype(bool)


class CnnJudge:
    """A small CNN (half resolution, 5 convs with batch norm), cached in benchmarks/out.

    Smaller than evaluate_pretrained.py's 7-conv judge so it trains in minutes on a
    shared CPU; the same augmentation (flips, shifts, contrast, blur on 60% of the
    faces) and class-balanced weights.
    """

    def __init__(self, images_dir: Path, clf_csv: Path, seed: int = 0, epochs: int = 20) -> None:
        keras = ev._keras()
        CACHE.mkdir(exist_ok=True)
        path = CACHE / "smile_judge_small_cnn.keras"
        if path.exists():
            self.model = keras.saving.load_model(path)
            return
        names, y = ev.read_split(clf_csv)
        x = ev.load_faces(images_dir, names)
        rng = np.random.default_rng(seed)
        keras.utils.set_random_seed(seed)
        layers = keras.layers

        def block(filters: int) -> list:
            return [layers.Conv2D(filters, 3, padding="same", use_bias=False),
                    layers.BatchNormalization(), layers.Activation("relu")]  # fmt: skip

        model = keras.Sequential(
            [keras.Input((64, 64, 1)), layers.AveragePooling2D(2), *block(32), *block(32),
             layers.MaxPooling2D(), *block(64), *block(64), layers.MaxPooling2D(), *block(128),
             layers.GlobalAveragePooling2D(), layers.Dropout(0.3), layers.Dense(1)]
        )  # fmt: skip
        batch = 64
        steps = epochs * int(np.ceil(len(x) / batch))
        model.compile(
            optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)),
            loss=keras.losses.BinaryCrossentropy(from_logits=True),
        )
        weights = {c: len(y) / (2 * max(1, int((y == c).sum()))) for c in (0, 1)}
        for _ in range(epochs):
            model.fit(ev._augment(x, rng), y, batch_size=batch, epochs=1, verbose=2,
                      shuffle=True, class_weight=weights)  # fmt: skip
        model.save(path)
        self.model = model

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return ev.smiling(self.model, images)


class DeepJudge:
    """evaluate_pretrained.py's smile classifier (cached in benchmarks/out)."""

    def __init__(self, images_dir: Path, clf_csv: Path) -> None:
        self.model = ev.smile_classifier(images_dir, clf_csv)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return ev.smiling(self.model, images)


JUDGES = ("cnn", "hog", "deep")


def judges(images_dir: Path, clf_csv: Path, kinds: Sequence[str] = JUDGES) -> dict:
    """The smile judges named in ``kinds`` (each trained or read from its cache)."""
    made = {"cnn": CnnJudge, "hog": HogJudge, "deep": DeepJudge}
    return {k: made[k](images_dir, clf_csv) for k in kinds}


# -- contact sheets ----------------------------------------------------------------------


def contact_sheet(path: Path, title: str, rows: list[tuple[str, np.ndarray]],
                  verdicts: dict[str, np.ndarray], cell: int = 96) -> None:  # fmt: skip
    """Columns of faces; rows as given (e.g. photo, output). Under the last row, one
    coloured bar per judge: green = the judge reads the figure's target, red = not."""
    from PIL import Image, ImageDraw

    n = len(rows[0][1])
    label_w, bar, pad = 90, 8, 2
    height = 24 + len(rows) * (cell + pad) + len(verdicts) * (bar + pad) + 4
    sheet = Image.new("RGB", (label_w + n * (cell + pad), height), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 4), title, fill="black")
    y = 24
    for name, images in rows:
        draw.text((4, y + cell // 2 - 6), name, fill="black")
        for i, im in enumerate(images):
            arr = np.clip(im[..., 0] if im.shape[-1] == 1 else im, 0, 1) * 255 + 0.5
            pil = Image.fromarray(arr.astype(np.uint8)).resize((cell, cell), Image.LANCZOS)
            sheet.paste(pil.convert("RGB"), (label_w + i * (cell + pad), y))
        y += cell + pad
    for judge, ok in verdicts.items():
        draw.text((4, y - 2), judge, fill="black")
        for i, v in enumerate(ok):
            x0 = label_w + i * (cell + pad)
            draw.rectangle([x0, y, x0 + cell - 1, y + bar - 1],
                           fill=(40, 160, 40) if v else (200, 40, 40))  # fmt: skip
        y += bar + pad
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


# -- the figures ------------------------------------------------------------------------


def evaluate(model_dir: str, split: Path, images_dir: Path = DATA, modes=("detail", "blend"),
             sheets: Path | None = None, tune: bool = False, amount: float = AMOUNT,
             judge_set: dict | None = None, show: int = 16, align: bool = True) -> dict:  # fmt: skip
    from conceptvae import load_model
    from conceptvae.editing import edit, prepare_inputs, reconstruct

    js = judge_set or judges(DATA, split / "clf.csv")
    names, y = ev.read_split(split / ("vae.csv" if tune else "test.csv"))
    if tune:
        pick = np.sort(np.random.default_rng(7).permutation(len(names))[:400])
        names, y = [names[i] for i in pick], y[pick]
    # An aligned copy (align-faces) lacks the faces its detector missed.
    have = [(images_dir / n).is_file() for n in names]
    names, y = [n for n, h in zip(names, have) if h], y[np.array(have, bool)]
    x = ev.load_faces(images_dir, names)
    # The model is given the image files, as `conceptvae edit face.jpg` is: a face
    # model finds and aligns the face in each (see conceptvae.faces.inputs).
    files = [images_dir / n for n in names]
    pos, neg = np.nonzero(y == 1)[0], np.nonzero(y == 0)[0]
    model = load_model(model_dir)
    out: dict = {"faces": len(x), "smiling": len(pos), "amount": amount}
    photo_read = {k: j(x) for k, j in js.items()}
    for k in js:
        out[f"{k}_photo_recall"] = float(photo_read[k][pos].mean())
        out[f"{k}_photo_specificity"] = float((~photo_read[k][neg]).mean())
        out[f"{k}_photo_accuracy"] = float((photo_read[k] == (y == 1)).mean())
    recon = np.stack(reconstruct(model, files, align=align))
    # Reconstruction error against what the model was given (the aligned face):
    # the decode of an aligned crop is drawn in the model's framing.
    seen = np.stack([i.x for i in prepare_inputs(model, files, align=align)[0]])
    out["test_mse"] = float(np.mean((recon - seen) ** 2))
    out["recon_ssim"] = float(np.mean([ev.ssim(a, b) for a, b in zip(recon, seen)]))
    show_pos, show_neg = pos[:show], neg[:show]
    for k, j in js.items():
        read = j(recon)
        base = pos[photo_read[k][pos]]
        out[f"{k}_recon_still_smiling"] = float(read[base].mean())
        out[f"{k}_recon_still_smiling_all"] = float(read[pos].mean())
    if sheets:
        contact_sheet(sheets / "recon_still_smiling.png",
                      "smiling photographs and their reconstructions (bars: read as smiling)",
                      [("photo", x[show_pos]), ("recon", recon[show_pos])],
                      {k: j(recon[show_pos]) for k, j in js.items()})  # fmt: skip
    for mode in ("decode", *modes):
        up = np.stack(edit(model, [files[i] for i in neg], f"smile={amount}", mode=mode,
                           align=align).images)  # fmt: skip
        down = np.stack(edit(model, [files[i] for i in pos], f"smile={-amount}", mode=mode,
                             align=align).images)  # fmt: skip
        for k, j in js.items():
            out[f"{k}_{mode}_up"] = float(j(up).mean())
            out[f"{k}_{mode}_down"] = float((~j(down)).mean())
        if mode != "decode":
            s_up = [ev.ssim(a, b) for a, b in zip(up, x[neg])]
            s_down = [ev.ssim(a, b) for a, b in zip(down, x[pos])]
            out[f"{mode}_ssim_up"] = float(np.mean(s_up))
            out[f"{mode}_ssim"] = float(np.mean(s_up + s_down))
        if sheets:
            sel_up = np.arange(min(show, len(neg)))
            sel_down = np.arange(min(show, len(pos)))
            contact_sheet(sheets / f"{mode}_up.png",
                          f"neutral photographs, smile +{amount} --mode {mode} (bars: read smiling)",
                          [("photo", x[show_neg]), (mode, up[sel_up])],
                          {k: j(up[sel_up]) for k, j in js.items()})  # fmt: skip
            contact_sheet(sheets / f"{mode}_down.png",
                          f"smiling photographs, smile -{amount} --mode {mode} (bars: read neutral)",
                          [("photo", x[show_pos]), (mode, down[sel_down])],
                          {k: ~j(down[sel_down]) for k, j in js.items()})  # fmt: skip
    return out


def table(results: dict, photo_mode: str, amount: float = AMOUNT) -> list[str]:
    """Markdown rows: figure | one column per judge | bar (the bars are for 1.5)."""
    a = f"{amount:g}"
    rows = [("smiling still smiling after reconstruct (of photos the judge reads smiling)",
             "recon_still_smiling", "recon_still_smiling"),
            (f"neutral -> smiling, decode, +{a}", "decode_up", "decode_up"),
            (f"smiling -> neutral, decode, -{a}", "decode_down", "decode_down"),
            (f"neutral -> smiling, {photo_mode}, +{a}", f"{photo_mode}_up", "photo_up"),
            (f"smiling -> neutral, {photo_mode}, -{a}", f"{photo_mode}_down", "photo_down")]  # fmt: skip
    names = [k for k in JUDGES if f"{k}_{rows[0][1]}" in results]
    out = ["| figure | " + " | ".join(f"judge {k}" for k in names) + " | bar |",
           "| --- | " + "---: | " * len(names) + "---: |"]  # fmt: skip
    for label, key, bar in rows:
        vals = [results[f"{k}_{key}"] for k in names]
        ok = all(v >= BARS[bar] for v in vals)
        cells = " | ".join(f"{100 * v:.1f}%" for v in vals)
        out.append(f"| {label} | {cells} | >= {100 * BARS[bar]:.0f}% {'ok' if ok else 'MISSED'} |")
    s = results[f"{photo_mode}_ssim_up"]
    blank = " | ".join(["(no judge)"] + [""] * (len(names) - 2))
    out.append(f"| SSIM of the {photo_mode} edit (+{a}) to the photograph | {s:.3f} | {blank} "
               f"| >= 0.90 {'ok' if s >= 0.90 else 'MISSED'} |")  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", nargs="+", help="model directories or names")
    ap.add_argument("--split", default=str(CACHE / "pretrained" / "faces-split"))
    ap.add_argument("--images", default=str(DATA),
                    help="test faces from here: the raw crops, or their align-faces copy "
                    "(benchmarks/out/pretrained/smiles-aligned); the judges always train on "
                    "the raw classifier crops")  # fmt: skip
    ap.add_argument("--modes", default="detail,blend", help="photo-keeping modes to measure")
    ap.add_argument("--sheets", help="folder for contact sheets (one subfolder per model)")
    ap.add_argument("--tune", action="store_true", help="measure on 400 VAE-split faces")
    ap.add_argument("--amount", type=float, default=AMOUNT)
    ap.add_argument("--json", help="write results here")
    ap.add_argument("--no-align", action="store_true",
                    help="give the model the crops as they are (no face finding)")  # fmt: skip
    a = ap.parse_args(argv)
    t = time.perf_counter()
    split = Path(a.split)
    js = judges(DATA, split / "clf.csv")
    results = {}
    for m in a.model:
        sheets = Path(a.sheets) / Path(m).name if a.sheets else None
        results[m] = evaluate(m, split, Path(a.images), tuple(a.modes.split(",")), sheets,
                              a.tune, a.amount, js, align=not a.no_align)  # fmt: skip
        print(json.dumps({m: results[m]}, indent=1), flush=True)
        for mode in a.modes.split(","):
            print("\n".join(table(results[m], mode, a.amount)), flush=True)
    results["seconds"] = round(time.perf_counter() - t, 1)
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
