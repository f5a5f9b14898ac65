"""Evaluate pretrained models with classifiers trained for evaluation only.

Digits (MNIST test set): reconstruction MSE per pixel; share of reconstructions a
CNN classifier assigns to the true digit; share of class edits a->b at amount
1.0 (all 90 ordered pairs, 50 test digits each) the classifier reads as b.

Faces: see --faces (the smile classifier is trained on a split of the faces the
VAE never saw, with blur augmentation so it reads soft decoded faces too).

    python benchmarks/evaluate_pretrained.py            # both shipped models
    python benchmarks/evaluate_pretrained.py --digits pretrained/digits \
        --mnist ../shared/data/mnist.npz [--json out.json]

With neither --digits nor --faces it evaluates both shipped models; the faces
split lists come from benchmarks/make_pretrained.py (benchmarks/out/pretrained/
faces-split). Inputs are checked before anything runs.

Classifiers are cached in benchmarks/out/ (not committed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CACHE = HERE / "out"


def _keras():
    from conceptvae.model.quiet import import_tensorflow

    import_tensorflow()
    import keras

    return keras


def digit_classifier(mnist: Path, seed: int = 0):
    """A small CNN (about 99% test accuracy); trained once, then cached."""
    keras = _keras()
    CACHE.mkdir(exist_ok=True)
    path = CACHE / "digit_classifier.keras"
    d = np.load(mnist)
    if path.exists():
        return keras.saving.load_model(path), d
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(10),
        ]
    )
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    x = d["x_train"][..., None].astype("float32") / 255
    model.fit(x, d["y_train"], batch_size=128, epochs=4, verbose=2)
    model.save(path)
    return model, d


def classify(clf, images: np.ndarray) -> np.ndarray:
    return np.asarray(clf.predict(images, batch_size=1000, verbose=0)).argmax(axis=1)


def evaluate_digits(model_dir: str, mnist: Path, per_pair: int = 50) -> dict:
    from conceptvae import load_model
    from conceptvae.concepts import open_library

    clf, d = digit_classifier(mnist)
    xt = d["x_test"][..., None].astype("float32") / 255
    yt = d["y_test"]
    out = {"classifier_test_accuracy": float((classify(clf, xt) == yt).mean())}
    model = load_model(model_dir)
    z = model.encode(xt)
    recon = model.decode(z)
    out["test_mse"] = float(np.mean((recon - xt) ** 2))
    out["recon_read_as_true_digit"] = float((classify(clf, recon) == yt).mean())
    lib = open_library(model)
    # "a->b" as `conceptvae edit` applies it (per image: class coordinates moved
    # to b's centroid), and the seeds' fixed centroid step for comparison.
    rates: dict[str, dict[str, float]] = {"": {}, "fixed_step_": {}}
    for a in range(10):
        idx = np.nonzero(yt == a)[0][:per_pair]
        for b in range(10):
            if a == b:
                continue
            for key, step in (("", lib.direction(f"{a}->{b}", z[idx])),
                              ("fixed_step_", lib.direction(f"{a}->{b}")[None, :])):  # fmt: skip
                read = classify(clf, model.decode(z[idx] + step))
                rates[key][f"{a}->{b}"] = float((read == b).mean())
    for key, r in rates.items():
        vals = np.array(list(r.values()))
        out[f"{key}class_edit_landing_mean"] = float(vals.mean())
        out[f"{key}class_edit_landing_worst"] = float(vals.min())
        out[f"{key}class_edit_worst_pair"] = min(r, key=r.get)
    out["class_edit_pairs"] = len(rates[""])
    return out


# -- faces --------------------------------------------------------------------


def read_split(csv_path: Path) -> tuple[list[str], np.ndarray]:
    import csv

    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r["file"] for r in rows], np.array([int(r["smile"]) for r in rows])


def load_faces(images_dir: Path, names: list[str]) -> np.ndarray:
    from conceptvae.images import load_image

    return np.stack([load_image(images_dir / n, 64, 1) for n in names])


def _blur(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    out = np.empty_like(x)
    for i, im in enumerate(x):
        sigma = rng.uniform(0.0, 2.0)
        out[i] = gaussian_filter(im, sigma=(sigma, sigma, 0)) if sigma > 0.2 else im
    return out


def _augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flips, shifts of up to 3 pixels, contrast jitter, and blur on 60% of the faces
    (sigma up to 2.5: as soft as a decoded face, or softer)."""
    from scipy.ndimage import gaussian_filter

    out = np.empty_like(x)
    for i, im in enumerate(x):
        if rng.random() < 0.5:
            im = im[:, ::-1]
        dy, dx = rng.integers(-3, 4, size=2)
        im = np.roll(im, (dy, dx), axis=(0, 1))
        if rng.random() < 0.6:
            sigma = rng.uniform(0.3, 2.5)
            im = gaussian_filter(im, sigma=(sigma, sigma, 0))
        mean = im.mean()
        im = (im - mean) * rng.uniform(0.8, 1.2) + mean + rng.uniform(-0.08, 0.08)
        out[i] = np.clip(im, 0.0, 1.0)
    return out


def smile_classifier(images_dir: Path, clf_csv: Path, seed: int = 0):
    """A CNN trained only on the classifier split (never seen by the VAE).

    Blur augmentation so it reads soft decoded faces as it reads photographs, and
    class-balanced weights so that an unsure face is not simply called "not
    smiling" (28% of the faces smile): its errors on either class are alike.
    """
    keras = _keras()
    CACHE.mkdir(exist_ok=True)
    path = CACHE / "smile_classifier_v2.keras"
    if path.exists():
        return keras.saving.load_model(path)
    names, y = read_split(clf_csv)
    x = load_faces(images_dir, names)
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    layers = keras.layers

    def block(filters: int) -> list:
        return [layers.Conv2D(filters, 3, padding="same", use_bias=False),
                layers.BatchNormalization(), layers.Activation("relu")]  # fmt: skip

    model = keras.Sequential(
        [keras.Input((64, 64, 1)), *block(32), *block(32), layers.MaxPooling2D(),
         *block(64), *block(64), layers.MaxPooling2D(), *block(128), *block(128),
         layers.MaxPooling2D(), *block(192), layers.GlobalAveragePooling2D(),
         layers.Dropout(0.4), layers.Dense(1)]
    )  # fmt: skip
    epochs, batch = 30, 64
    steps = epochs * int(np.ceil(len(x) / batch))
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)],
    )
    weights = {c: len(y) / (2 * max(1, int((y == c).sum()))) for c in (0, 1)}
    for _ in range(epochs):
        model.fit(_augment(x, rng), y, batch_size=batch, epochs=1, verbose=2, shuffle=True,
                  class_weight=weights)  # fmt: skip
    model.save(path)
    return model


def smiling(clf, images: np.ndarray) -> np.ndarray:
    return np.asarray(clf.predict(images, batch_size=500, verbose=0))[:, 0] > 0


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004) of two (H, W, 1) images in [0, 1]: scikit-image's
    ``structural_similarity(a, b, data_range=1)`` (a 7x7 uniform window, sample
    (co)variances, the 3-pixel border left out), what another measurer is most
    likely to run. (The faces card's pictures need scikit-image too.)

    An earlier version (a Gaussian window, sigma 1.5, with the border reflected
    in) read 0.025 higher on face edits: the border, which an edit barely
    changes, counted in full."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a[..., 0].astype(np.float64),
                                       b[..., 0].astype(np.float64), data_range=1.0))  # fmt: skip


def evaluate_faces(model_dir: str, images_dir: Path, clf_csv: Path, test_csv: Path,
                   concept: str = "smile", amount: float = 1.5) -> dict:  # fmt: skip
    from conceptvae import load_model
    from conceptvae.editing import edit

    clf = smile_classifier(images_dir, clf_csv)
    names, y = read_split(test_csv)
    x = load_faces(images_dir, names)
    pos, neg = x[y == 1], x[y == 0]
    read = smiling(clf, x)
    out = {
        "classifier_accuracy_photos": float((read == y).mean()),
        # The ceiling the classifier puts on every share below: how often it
        # reads the photographs themselves as their labels say.
        "classifier_recall_photos": float(read[y == 1].mean()),
        "classifier_specificity_photos": float((~read[y == 0]).mean()),
        "classifier_accuracy_blurred": float(
            (smiling(clf, _blur(x, np.random.default_rng(1))) == y).mean()
        ),
        "test_images": len(x),
    }
    model = load_model(model_dir)
    recon = model.reconstruct(x)
    out["test_mse"] = float(np.mean((recon - x) ** 2))
    recon_read = smiling(clf, recon)
    out["smiling_recon_still_smiling"] = float(recon_read[y == 1].mean())
    # "still": of the smiling faces whose photograph the classifier reads as smiling
    out["read_smiling_recon_still_smiling"] = float(recon_read[(y == 1) & read].mean())
    for mode in ("decode", "detail"):
        up = np.stack(edit(model, neg, f"{concept}={amount}", mode=mode).images)
        down = np.stack(edit(model, pos, f"{concept}={-amount}", mode=mode).images)
        out[f"{mode}_neutral_to_smile"] = float(smiling(clf, up).mean())
        out[f"{mode}_smile_to_neutral"] = float((~smiling(clf, down)).mean())
        if mode == "detail":
            out["detail_ssim_vs_input"] = float(
                np.mean(
                    [
                        ssim(e, o)
                        for e, o in zip(np.concatenate([up, down]), np.concatenate([neg, pos]))
                    ]
                )
            )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--digits", help="digits model dir or name")
    ap.add_argument("--mnist", default=str(HERE.parent.parent / "shared" / "data" / "mnist.npz"))
    ap.add_argument("--faces", help="faces model dir or name")
    ap.add_argument(
        "--faces-images", default=str(HERE.parent.parent / "shared" / "data" / "smiles" / "images")
    )
    ap.add_argument(
        "--faces-split",
        default=str(CACHE / "pretrained" / "faces-split"),
        help="folder with clf.csv and test.csv (made by benchmarks/make_pretrained.py)",
    )
    ap.add_argument("--json", help="write results here")
    args = ap.parse_args(argv)
    if not args.digits and not args.faces:
        args.digits, args.faces = "digits", "faces"
    need = [Path(args.mnist)] if args.digits else []
    if args.faces:
        split = Path(args.faces_split)
        need += [Path(args.faces_images), split / "clf.csv", split / "test.csv"]
    missing = [p for p in need if not p.exists()]
    if missing:
        for p in missing:
            hint = " (benchmarks/make_pretrained.py writes it)" if p.suffix == ".csv" else ""
            print(f"error: {p}: not found{hint}", file=sys.stderr)
        return 2
    results = {}
    t = time.perf_counter()
    if args.digits:
        results["digits"] = evaluate_digits(args.digits, Path(args.mnist))
    if args.faces:
        split = Path(args.faces_split)
        results["faces"] = evaluate_faces(
            args.faces, Path(args.faces_images), split / "clf.csv", split / "test.csv"
        )
    results["seconds"] = round(time.perf_counter() - t, 1)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
