"""Concept building: time for one concept over 60,000 MNIST images, and flat memory.

Measures what issue 3 asks for:

(a) ``conceptvae concepts build`` of ONE concept over the 60,000 MNIST training
    images, encoding included, as a cold CLI process (start to library written);
    the build's own time (printed by the command) is shown too. Two concepts:
    ``odd`` (a labeled 0/1 column: the digit is odd) and ``thick`` (labeled from the
    pixels with --morpho, so the measurement pass is included).
(b) peak RSS of the same build on 6,000 and on 60,000 images (subsets written to a
    temp dir as uncompressed .npz, which conceptvae streams from disk); the bar is
    that they agree within 10%.

Each run is a fresh process on a fresh copy of the model (its own rusage via
os.wait4). Needs a digits model, e.g.:

    nice -n 10 conceptvae train ../shared/data/mnist.npz --out /tmp/bench_digits \\
        --latent-dim 16 --epochs 1
    python benchmarks/concept_build.py --model /tmp/bench_digits --runs 3

The machine's load average is printed with the results: on a shared machine,
numbers taken under load are upper bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BAR_SECONDS = 15.0
BAR_RSS_RATIO = 1.10


def cli_prefix() -> list[str]:
    exe = shutil.which("conceptvae", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "conceptvae"]


def write_subset(mnist: Path, n: int, out: Path) -> Path:
    """The first n training images, uncompressed, with y = [is odd] as a 0/1 column."""
    with np.load(mnist, allow_pickle=False) as data:
        x, y = data["x_train"][:n], data["y_train"][:n]
    np.savez(out, x=x, y=(y % 2 == 1).astype(np.int64)[:, None])  # column "y0"
    return out


def run_build(model: Path, data: Path, args: list[str], work: Path) -> dict:
    target = work / f"model_{time.monotonic_ns()}"
    shutil.copytree(model, target)
    (target / "concepts.h5").unlink(missing_ok=True)
    cmd = [*cli_prefix(), "concepts", "build", str(target), str(data), *args]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    proc.returncode = os.waitstatus_to_exitcode(status)
    shutil.rmtree(target)
    if proc.returncode != 0:
        raise SystemExit(f"build failed ({' '.join(cmd)}):\n{err or out}")
    inner = re.search(r"images, ([\d.]+) s\)", out)
    return {
        "wall_s": wall,
        "build_s": float(inner.group(1)) if inner else None,
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


def summarise(runs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0] if runs[0][k] is not None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default="/tmp/bench_digits", help="digits model directory")
    shared = Path(__file__).resolve().parent.parent.parent / "shared" / "data"  # ../shared/data
    ap.add_argument("--mnist", default=str(shared / "mnist.npz"), help="keras-layout mnist.npz")
    ap.add_argument("--runs", type=int, default=3, help="runs per configuration (median)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    opts = ap.parse_args()
    model, mnist = Path(opts.model), Path(opts.mnist)
    if not (model / "config.json").is_file():
        raise SystemExit(f"no model at {model}; train one first (see --help)")
    backend = "litert" if (model / "encoder.tflite").is_file() else "keras"

    configs = {
        "odd": ["--attribute", "y0", "--name", "odd"],
        "thick": ["--morpho", "--attribute", "thick"],
    }
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="concept_bench_") as tmp:
        work = Path(tmp)
        data = {n: write_subset(mnist, n, work / f"mnist_{n}.npz") for n in (6000, 60000)}
        for name, args in configs.items():
            for n, path in data.items():
                runs = []
                for _ in range(opts.runs):
                    runs.append(run_build(model, path, args, work))
                results[f"{name}/{n}"] = {"runs": runs, **summarise(runs)}
                r = results[f"{name}/{n}"]
                print(
                    f"{name:<6} {n:>6} images: wall {r['wall_s']:6.2f} s  "
                    f"build {r.get('build_s', float('nan')):6.2f} s  "
                    f"peak RSS {r['peak_rss_mb']:7.1f} MB  (median of {opts.runs})",
                    flush=True,
                )

    print(f"\nbackend {backend}; load average {os.getloadavg()[0]:.2f} (2 cores)")
    ok = True
    for name in configs:
        big, small = results[f"{name}/60000"], results[f"{name}/6000"]
        ratio = big["peak_rss_mb"] / small["peak_rss_mb"]
        time_ok = big["wall_s"] <= BAR_SECONDS
        mem_ok = 1 / BAR_RSS_RATIO <= ratio <= BAR_RSS_RATIO
        ok &= time_ok and mem_ok
        print(
            f"{name:<6} 60,000 images in {big['wall_s']:.2f} s cold "
            f"({'ok' if time_ok else 'OVER'} bar {BAR_SECONDS:.0f} s); "
            f"peak RSS 60k/6k = {big['peak_rss_mb']:.0f}/{small['peak_rss_mb']:.0f} MB "
            f"= {ratio:.3f} ({'ok' if mem_ok else 'OVER'} bar {BAR_RSS_RATIO:.2f})"
        )
    if opts.json:
        Path(opts.json).write_text(json.dumps({"backend": backend, "results": results}, indent=2))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
