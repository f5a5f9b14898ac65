"""Training throughput (images/s) of conceptvae's own training path on MNIST.

Each configuration is one call of :func:`conceptvae.training.train` on the 60,000 MNIST
training images (``val_split=0``, so an epoch is exactly 60,000 images) for a warm-up epoch
plus the measured epochs. The per-epoch wall time is the ``seconds`` entry that train() records
in the run's history: from the start to the end of the epoch's batches, so model build, data
loading, graph tracing (in the warm-up epoch), the per-epoch checkpoint and the end-of-run
evaluation and export are excluded.

    python benchmarks/train_throughput.py                      # the standard set of configs
    python benchmarks/train_throughput.py --filters 64,128 --latent-dim 32 --epochs 2

Bar (core-toolkit issue): at least 3,000 images/s, i.e. one epoch of 60,000 in 20 s or less.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The shared data sit beside the repository: ../shared/data.
DATA = str(Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mnist.npz")
BAR = 3000.0  # images/s
BASE = {"filters": [32, 64], "hidden": [], "latent_dim": 16, "batch_size": 128,
        "activation": "relu", "blocks": 0, "supervise": []}  # fmt: skip

# The library default first, then candidates for the pretrained digits model, which may be
# larger for quality, then the configuration of benchmarks/time_to_quality.py.
STANDARD = [
    {},
    {"latent_dim": 32},
    {"filters": [64, 128], "latent_dim": 32},
    {"hidden": [256]},
    {"hidden": [256], "latent_dim": 32},
    {"blocks": 1},
    {"blocks": 1, "latent_dim": 32},
    {"latent_dim": 32, "supervise": ["label"]},
    {"blocks": 1, "supervise": ["label"]},
    {"blocks": 1, "latent_dim": 32, "supervise": ["label"]},
    {"activation": "swish"},
    {"filters": [16, 32], "hidden": [256, 64], "latent_dim": 2, "batch_size": 64,
     "activation": "swish"},
]  # fmt: skip


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def _label(cfg: dict) -> str:
    parts = []
    for key, value in cfg.items():
        if key in ("hidden", "activation", "blocks", "supervise") and value == BASE[key]:
            continue  # library defaults, left out for readability
        if key == "supervise":
            parts += [f"--supervise {column}" for column in value]
            continue
        text = ",".join(map(str, value)) if isinstance(value, list) else value
        parts.append(f"--{key.replace('_', '-')} {text}")
    return " ".join(parts)


def measure(data: str, cfg: dict, epochs: int, warmup: int) -> dict:
    """Train warmup + epochs epochs through conceptvae.training.train; time the measured ones."""
    from conceptvae.model import files
    from conceptvae.training import train

    with tempfile.TemporaryDirectory(prefix="cvae-throughput-") as tmp:
        out = Path(tmp) / "model"
        result = train(data, out, epochs=warmup + epochs, val_split=0.0, seed=0, verbose=0, **cfg)
        meta = json.loads((out / files.META).read_text())
    images = meta["data"]["images"]
    seconds = result.history["seconds"][warmup:]
    median = statistics.median(seconds)
    return {
        "config": _label(cfg),
        "parameters": meta["parameters"],
        "images_per_epoch": images,
        "warmup_epoch_s": round(sum(result.history["seconds"][:warmup]), 2),
        "epoch_s": [round(s, 2) for s in seconds],
        "images_per_s_median": round(images / median),
        "images_per_s_best": round(images / min(seconds)),
        "passes": images / median >= BAR,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=DATA, help=f"MNIST .npz (keras layout) [{DATA}]")
    p.add_argument("--filters", type=_ints, help="conv filters [32,64]")
    p.add_argument("--hidden", type=_ints, help="dense hidden sizes, e.g. 256 [none]")
    p.add_argument("--latent-dim", type=int, help="[16]")
    p.add_argument("--batch-size", type=int, help="[128]")
    p.add_argument("--activation", choices=["relu", "swish", "gelu", "leaky_relu", "elu"])
    p.add_argument("--blocks", type=int, help="extra convs per resolution [0]")
    p.add_argument("--supervise", action="append", metavar="COLUMN",
                   help="supervised label column (repeatable), e.g. label [none]")  # fmt: skip
    p.add_argument("--epochs", type=int, default=1, help="measured epochs per config [1]")
    p.add_argument("--warmup", type=int, default=1, help="untimed warm-up epochs [1]")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    a = p.parse_args(argv)

    given = {key: getattr(a, key) for key in BASE if getattr(a, key) is not None}
    configs = [{**BASE, **c} for c in ([given] if given else STANDARD)]
    cpu = platform.processor() or platform.machine()
    print(f"# conceptvae training throughput on MNIST, {os.cpu_count()} CPUs ({cpu}) shared "
          f"with other users; load average at start {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
    rows = []
    for cfg in configs:
        t = time.perf_counter()
        row = measure(a.data, cfg, a.epochs, a.warmup)
        row["load_average"] = round(os.getloadavg()[0], 2)
        row["run_s"] = round(time.perf_counter() - t, 1)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)

    print(f"\n| config | params | epoch s (measured) | images/s (median) | >= {BAR:,.0f} |")
    print("| --- | ---: | --- | ---: | :---: |")
    for r in rows:
        print(
            f"| `{r['config']}` | {r['parameters']:,} | {', '.join(map(str, r['epoch_s']))} "
            f"| {r['images_per_s_median']:,} | {'yes' if r['passes'] else 'NO'} |"
        )
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0 if all(r["passes"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
