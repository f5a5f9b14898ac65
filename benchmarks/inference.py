"""Inference speed: cold CLI runs on LiteRT vs Keras, throughput, --help, peak memory.

Measures what issue 6 asks for, on any model directory:

(a) cold CLI run with the LiteRT backend, process start to PNG written, median of N runs
(b) the same command with ``--backend keras``, runs interleaved with (a); ratio b/a
(c) encode+decode throughput in images/s per model (in-process, warmed up)
(d) ``conceptvae --help`` wall time, median of N runs
(e) peak RSS of the cold LiteRT run (each child's own rusage, via os.wait4)

The command is a template, so the same benchmark switches to ``edit`` once it
exists; ``{image}``, ``{model}`` and ``{out}`` are filled in per run:

    python benchmarks/inference.py --model /tmp/bench_faces --image face.png --runs 10
    python benchmarks/inference.py --model faces \\
        --command 'edit {image} --model {model} --concept smile -o {out}'

Without ``--model`` it measures every pretrained model (throughput) and the
first one (cold runs). The machine's load average is printed with the results:
on a shared machine, numbers taken under load are upper bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The bars from the issue.
BAR_COLD_S = 0.3
BAR_RATIO = 8.0
BAR_HELP_S = 0.2
BAR_RSS_MB = 150.0

DEFAULT_COMMAND = "reconstruct {image} --model {model} -o {out}"


def cli_prefix() -> list[str]:
    """The installed console script, as users run it; else ``python -m conceptvae``."""
    exe = shutil.which("conceptvae", path=str(Path(sys.executable).parent)) or shutil.which(
        "conceptvae"
    )
    return [exe] if exe else [sys.executable, "-m", "conceptvae"]


def run_cold(argv: list[str], out: Path | None, env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds from spawn to exit, the child's CPU seconds (user + system; less
    sensitive than wall time to other load on a shared machine) and its peak RSS in MB."""
    if out is not None and out.exists():
        out.unlink()
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    # wait4 gives this child's own rusage; RUSAGE_CHILDREN would be the max over all of them.
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {shlex.join(argv)}\n{err}")
    if out is not None and not out.is_file():
        raise SystemExit(f"command wrote no {out}: {shlex.join(argv)}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0  # KB on Linux


def imports_tensorflow(argv: list[str], env: dict[str, str]) -> bool:
    """Whether the command imports tensorflow (checked once, with -X importtime)."""
    cmd = [sys.executable, "-X", "importtime", "-m", "conceptvae", *argv]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    return any(
        line.rstrip().endswith((" tensorflow", " keras")) for line in proc.stderr.splitlines()
    )


def model_size(model_dir: Path) -> int:
    cfg = json.loads((model_dir / "config.json").read_text())
    return int(cfg["image_size"]), int(cfg["channels"])


def make_image(path: Path, size: int, channels: int) -> None:
    """A smooth synthetic picture, used when no --image is given."""
    import numpy as np
    from PIL import Image

    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    base = (0.5 + 0.4 * np.sin(6 * xx) * np.cos(4 * yy)) * 255
    arr = np.repeat(base[..., None], channels, axis=-1).astype(np.uint8)
    Image.fromarray(arr[..., 0] if channels == 1 else arr).save(path)


def cold_runs(
    model: str, image: Path, template: str, runs: int, tmp: Path, env: dict[str, str]
) -> dict:
    prefix = cli_prefix()
    results: dict[str, list] = {
        f"{b}{k}": [] for b in ("litert", "keras") for k in ("", "_cpu", "_rss")
    }
    for i in range(runs + 1):  # run 0 warms the page cache and is dropped
        for backend in ("litert", "keras"):
            out = tmp / f"{backend}_{i}.png"
            args = shlex.split(template.format(image=image, model=model, out=out))
            args += ["--backend", backend]
            seconds, cpu, rss = run_cold(prefix + args, out, env)
            if i:
                results[backend].append(seconds)
                results[f"{backend}_cpu"].append(cpu)
                results[f"{backend}_rss"].append(rss)
    litert_args = shlex.split(template.format(image=image, model=model, out=tmp / "out.png"))
    med_l = statistics.median(results["litert"])
    med_k = statistics.median(results["keras"])
    return {
        "command": shlex.join(["conceptvae", *litert_args]),
        "runs": runs,
        "litert_s": results["litert"],
        "keras_s": results["keras"],
        "litert_median_s": med_l,
        "keras_median_s": med_k,
        "ratio": med_k / med_l,
        "litert_cpu_median_s": statistics.median(results["litert_cpu"]),
        "keras_cpu_median_s": statistics.median(results["keras_cpu"]),
        "litert_peak_rss_mb": max(results["litert_rss"]),
        "litert_median_rss_mb": statistics.median(results["litert_rss"]),
        "keras_peak_rss_mb": max(results["keras_rss"]),
        "litert_imports_tensorflow": imports_tensorflow(litert_args + ["--backend", "litert"], env),
    }


def help_runs(runs: int, env: dict[str, str]) -> dict:
    prefix = cli_prefix()
    runs_ = [run_cold(prefix + ["--help"], None, env) for _ in range(runs + 1)][1:]
    times = [r[0] for r in runs_]
    return {
        "help_s": times,
        "help_median_s": statistics.median(times),
        "help_cpu_median_s": statistics.median(r[1] for r in runs_),
    }


THROUGHPUT_CODE = """
import json, sys, time
import numpy as np
from conceptvae.model.api import load_model
model_path, backend, batch, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
m = load_model(model_path, backend=backend)
x = np.random.default_rng(0).random((batch, *m.image_shape), dtype=np.float32)
m.decode(m.encode(x))  # warm-up: loads the graphs, sizes the buffers
n, t0 = 0, time.perf_counter()
while True:
    m.decode(m.encode(x))
    n += batch
    if time.perf_counter() - t0 >= seconds:
        break
print(json.dumps({"images_per_s": n / (time.perf_counter() - t0), "images": n}))
"""


def throughput(model: str, backend: str, batch: int, seconds: float, env: dict[str, str]) -> dict:
    """Encode+decode images/s, in a fresh process per backend so neither warms the other."""
    proc = subprocess.run(
        [sys.executable, "-c", THROUGHPUT_CODE, model, backend, str(batch), str(seconds)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"throughput run failed for {model} ({backend}):\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def pretrained_models() -> list[str]:
    from conceptvae.model.registry import list_models

    return [str(e.path) for e in list_models() if e.source == "pretrained"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", help="Model dir or name (repeatable).")
    ap.add_argument("--image", type=Path, help="Input image [default: a synthetic one].")
    ap.add_argument("--command", default=DEFAULT_COMMAND, help="CLI template (after 'conceptvae').")
    ap.add_argument("--runs", type=int, default=10, help="Cold runs per backend [10].")
    ap.add_argument("--batch", type=int, default=256, help="Throughput batch size [256].")
    ap.add_argument("--seconds", type=float, default=3.0, help="Throughput time per model [3].")
    ap.add_argument("--keras-throughput", action="store_true", help="Also time Keras (c).")
    ap.add_argument("--threads", type=int, help="Set CONCEPTVAE_THREADS for every run.")
    ap.add_argument("--json", type=Path, help="Also write the results here.")
    args = ap.parse_args(argv)

    models = args.model or pretrained_models()
    if not models:
        ap.error("no --model given and no pretrained models installed")
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.threads:
        env["CONCEPTVAE_THREADS"] = str(args.threads)

    from conceptvae.model.registry import resolve_model_path

    first = resolve_model_path(models[0])
    report: dict = {"load_average_before": os.getloadavg(), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="cvae_bench_") as tmpdir:
        tmp = Path(tmpdir)
        image = args.image
        if image is None:
            image = tmp / "input.png"
            make_image(image, *model_size(first))
        report["cold"] = cold_runs(models[0], image, args.command, args.runs, tmp, env)
        report["help"] = help_runs(args.runs, env)
        report["throughput"] = {}
        for m in models:
            row = {"litert": throughput(m, "litert", args.batch, args.seconds, env)}
            if args.keras_throughput:
                row["keras"] = throughput(m, "keras", args.batch, args.seconds, env)
            report["throughput"][m] = row
    report["load_average_after"] = os.getloadavg()

    c, h = report["cold"], report["help"]
    lines = [
        f"command: {c['command']} (--backend litert | keras), {c['runs']} interleaved cold runs",
        f"(a) LiteRT cold run   median {c['litert_median_s']:.3f} s  "
        f"[min {min(c['litert_s']):.3f}, max {max(c['litert_s']):.3f}]  "
        f"bar <= {BAR_COLD_S} s: {_ok(c['litert_median_s'] <= BAR_COLD_S)}  "
        f"(CPU median {c['litert_cpu_median_s']:.3f} s)",
        f"(b) Keras cold run    median {c['keras_median_s']:.3f} s  "
        f"[min {min(c['keras_s']):.3f}, max {max(c['keras_s']):.3f}]  "
        f"(CPU median {c['keras_cpu_median_s']:.3f} s)",
        f"    ratio (b)/(a)     {c['ratio']:.1f}x  bar >= {BAR_RATIO:g}x: {_ok(c['ratio'] >= BAR_RATIO)}",
        f"(d) conceptvae --help median {h['help_median_s']:.3f} s  "
        f"bar <= {BAR_HELP_S} s: {_ok(h['help_median_s'] <= BAR_HELP_S)}  "
        f"(CPU median {h['help_cpu_median_s']:.3f} s)",
        f"(e) peak RSS, LiteRT  {c['litert_peak_rss_mb']:.0f} MB (median {c['litert_median_rss_mb']:.0f}) "
        f"bar <= {BAR_RSS_MB:g} MB: {_ok(c['litert_peak_rss_mb'] <= BAR_RSS_MB)};  "
        f"Keras {c['keras_peak_rss_mb']:.0f} MB",
        f"    LiteRT run imports tensorflow: {c['litert_imports_tensorflow']}",
    ]
    for m, row in report["throughput"].items():
        extra = f", keras {row['keras']['images_per_s']:.0f}" if "keras" in row else ""
        lines.append(
            f"(c) {m}: encode+decode {row['litert']['images_per_s']:.0f} images/s LiteRT{extra} "
            f"(batch {args.batch})"
        )
    lines.append(
        "load average before/after: "
        + " / ".join(
            ", ".join(f"{v:.2f}" for v in report[k])
            for k in ("load_average_before", "load_average_after")
        )
        + f" on {report['cpus']} CPUs"
    )
    print("\n".join(lines))
    if args.json:
        from conceptvae.io import atomic_write_json

        atomic_write_json(args.json, report)
    return 0


def _ok(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


if __name__ == "__main__":
    sys.exit(main())
