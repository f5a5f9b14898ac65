"""The test NLL on a whole test split at a large K, in resumable chunks.

`conceptvae evaluate --nll --samples 5000` over the 10,000 MNIST test digits
takes about 3 hours of this machine's two cores, longer than a session lasts.
This runs the same estimate chunk by chunk (in-process, through
conceptvae.commands.evaluate.HeldOutLikelihood, the model loaded once) and
writes each chunk's per-image figures to its own JSON file in --out, atomically:
killed or rebooted, the next run skips the images already done.

    nohup nice -n 19 python benchmarks/nll_full.py benchmarks/models/mnist-bernoulli \\
        ../shared/data/mnist.npz --samples 5000 --binarize 0 --chunk 200 \\
        --out benchmarks/out/nll-k5000 > nll-k5000.log 2>&1 &
    python benchmarks/nll_full.py benchmarks/models/mnist-bernoulli \\
        ../shared/data/mnist.npz --samples 5000 --binarize 0 \\
        --out benchmarks/out/nll-k5000 --merge      # the pooled figure so far

Image i of the split is binarised and drawn from seeds that depend on i alone
(conceptvae.model.likelihood), so the per-image values, and the pooled figure,
do not depend on --chunk or on where a run was interrupted. The pooled figure
is computed from every per-image value: the mean NLL and its standard error
(sample standard deviation / sqrt(images)), the ELBO and KL means. It is also
written to summary.json in --out. A file in --out measured with other settings
(model, data, K, seeds) is refused, never mixed in.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from conceptvae.errors import ConceptVAEError
from conceptvae.io import atomic_write_json, read_json

CHUNK_NAME = re.compile(r"images-(\d{6})-(\d{6})\.json")
# What a chunk is measured with: files that differ in any of these are not pooled.
SETTINGS = ("samples", "seed", "binarize", "model_fingerprint", "data_fingerprint",
            "split_images")  # fmt: skip
PER_IMAGE = ("log_px", "elbo", "kl", "log_px_given_z")


def chunk_path(out: Path, start: int, stop: int) -> Path:
    return out / f"images-{start:06d}-{stop:06d}.json"


def read_chunks(out: Path) -> list[dict[str, Any]]:
    """The chunk files in ``out``, each checked (per-image lists of its length)."""
    chunks = []
    for path in sorted(out.glob("images-*.json")):
        m = CHUNK_NAME.fullmatch(path.name)
        if m is None:
            continue
        c = read_json(path, "chunk file")
        start, stop = int(m.group(1)), int(m.group(2))
        ok = (
            isinstance(c, dict)
            and c.get("start") == start
            and c.get("stop") == stop
            and all(k in c for k in SETTINGS)
            and all(
                isinstance(c.get(k), list)
                and len(c[k]) == stop - start
                and all(isinstance(v, float) and math.isfinite(v) for v in c[k])
                for k in PER_IMAGE
            )
        )
        if not ok:
            raise ConceptVAEError("is not a chunk file of this script (remove it)", path)
        c["path"] = path
        chunks.append(c)
    return chunks


def check_settings(chunks: list[dict[str, Any]], settings: dict[str, Any] | None) -> dict:
    """The settings every chunk shares (``settings`` when given: the run's own)."""
    for c in chunks:
        mine = {k: c[k] for k in SETTINGS}
        if settings is None:
            settings = mine
        elif mine != settings:
            other = ", ".join(f"{k} {mine[k]} (not {settings[k]})" for k in SETTINGS
                              if mine[k] != settings[k])  # fmt: skip
            raise ConceptVAEError(
                f"was measured with other settings: {other}; use another --out", c["path"]
            )
    return settings or {}


def missing_spans(done: np.ndarray, chunk: int) -> list[tuple[int, int]]:
    """The [start, stop) spans of images not done, each at most ``chunk`` long."""
    spans = []
    i, n = 0, len(done)
    while i < n:
        if done[i]:
            i += 1
            continue
        j = i
        while j < n and not done[j] and j - i < chunk:
            j += 1
        spans.append((i, j))
        i = j
    return spans


def pooled(chunks: list[dict[str, Any]], total: int) -> dict[str, Any]:
    """The figures over every image done (each image counted once)."""
    values = {k: np.full(total, np.nan) for k in PER_IMAGE}
    seconds = cpu = 0.0
    done = np.zeros(total, bool)
    for c in chunks:
        span = slice(c["start"], min(c["stop"], total))
        if span.stop <= span.start:  # beyond a --limit
            continue
        fresh = ~done[span]
        for k in PER_IMAGE:
            values[k][span][fresh] = np.asarray(c[k])[: span.stop - span.start][fresh]
        done[span] = True
        seconds += c["seconds"] * fresh.mean()
        cpu += c["cpu_seconds"] * fresh.mean()
    n = int(done.sum())
    out: dict[str, Any] = {"images": n}
    if n:
        log_px = values["log_px"][done]
        out.update(
            nll_nats=round(float(-log_px.mean()), 3),
            stderr=round(float(log_px.std(ddof=1) / math.sqrt(n)), 3) if n > 1 else 0.0,
            elbo_nats=round(float(values["elbo"][done].mean()), 3),
            kl_nats=round(float(values["kl"][done].mean()), 3),
            reconstruction_nats=round(float(-values["log_px_given_z"][done].mean()), 3),
            seconds=round(seconds, 1),
            cpu_seconds=round(cpu, 1),
            images_per_hour=round(n / seconds * 3600, 1) if seconds > 0 else None,
        )
    return out


def report(summary: dict[str, Any], settings: dict[str, Any], out: Path) -> None:
    full = {**settings, **summary}
    atomic_write_json(out / "summary.json", full)
    n, total = summary["images"], settings["split_images"]
    what = "the whole test split" if n == total else f"PARTIAL: {n:,} of {total:,} test images"
    if n:
        print(
            f"NLL {summary['nll_nats']:.2f} +- {summary['stderr']:.2f} nats/image "
            f"(K={settings.get('samples')}; {what}); ELBO {summary['elbo_nats']:.2f}, "
            f"KL {summary['kl_nats']:.2f}; {summary['seconds']:.0f} s of chunks, "
            f"{summary['images_per_hour']} images/hour"
        )
    else:
        print(f"no images done yet ({what})")
    print(json.dumps(full, sort_keys=True), flush=True)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.merge:
        chunks = read_chunks(out) if out.is_dir() else []
        if not chunks:
            raise ConceptVAEError("holds no chunk files to merge", out)
        settings = check_settings(chunks, None)
        report(pooled(chunks, settings["split_images"]), settings, out)
        return 0
    from conceptvae.commands.evaluate import HeldOutLikelihood

    held_out = HeldOutLikelihood(args.model, args.data, binarize=args.binarize, seed=args.seed,
                                 batch=args.batch)  # fmt: skip
    described = held_out.described()
    settings = {
        "samples": args.samples,
        **{k: described[k] for k in SETTINGS if k in described},
        "split_images": held_out.images,
    }
    total = held_out.images if args.limit is None else min(args.limit, held_out.images)
    out.mkdir(parents=True, exist_ok=True)
    chunks = read_chunks(out)
    check_settings(chunks, settings)
    done = np.zeros(total, bool)
    for c in chunks:
        done[c["start"] : c["stop"]] = True
    spans = missing_spans(done, args.chunk)
    print(f"{int(done.sum()):,} of {total:,} images done in {out}; {len(spans)} chunks to go "
          f"(K={args.samples}, pid {os.getpid()})", flush=True)  # fmt: skip
    for start, stop in spans:
        t0, cpu0 = time.perf_counter(), time.process_time()
        est = held_out.estimate(start, stop - start, samples=args.samples)
        record = {
            **settings,
            "start": start,
            "stop": stop,
            "model": described["model"],
            "data": described["data"],
            "seconds": round(time.perf_counter() - t0, 1),
            "cpu_seconds": round(time.process_time() - cpu0, 1),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **{k: [float(v) for v in getattr(est, k)] for k in PER_IMAGE},
        }
        atomic_write_json(chunk_path(out, start, stop), record)
        chunks.append(record)
        s = pooled(chunks, held_out.images)
        print(f"images {start}-{stop - 1}: NLL {est.nll:.2f} in {record['seconds']:.0f} s; "
              f"{s['images']:,}/{total:,} done, pooled NLL {s['nll_nats']:.2f} +- "
              f"{s['stderr']:.2f}", flush=True)  # fmt: skip
    report(pooled(chunks, held_out.images), settings, out)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model")
    p.add_argument("data")
    p.add_argument("--samples", type=int, default=5000, help="K draws per image [5000]")
    p.add_argument("--chunk", type=int, default=200, help="images per chunk file [200]")
    p.add_argument("--binarize", type=int, default=None, metavar="SEED",
                   help="binarise the test images with this seed (0 for the benchmark)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seed of the posterior draws [0]")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="only the first N test images [all]")  # fmt: skip
    p.add_argument("--batch", type=int, default=2048, help="decoder rows at once [2048]")
    p.add_argument("--out", default="benchmarks/out/nll-k5000", help="folder of chunk files")
    p.add_argument("--merge", action="store_true",
                   help="only pool the chunk files in --out and print the figure")  # fmt: skip
    args = p.parse_args(argv)
    for name in ("samples", "chunk", "batch", "limit"):
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name} must be at least 1")
    try:
        return run(args)
    except ConceptVAEError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
