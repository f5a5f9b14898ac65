"""Scaling of `train --distribute` (issue 16): one device against two replicas.

Each configuration trains the same model on the same MNIST images with the same
global batch, in fresh processes (a tf.distribute strategy is per process):

- ``one device``: plain training, no strategy (today's default);
- ``mirrored x2``: MirroredStrategy over two logical CPU devices carved out of
  the one physical CPU (``tf.config.set_logical_device_configuration``);
- ``multiworker x2``: two MultiWorkerMirroredStrategy workers on 127.0.0.1
  (TF_CONFIG), each a full process with its own TensorFlow runtime.

Images/s is the global batch times the steps of an epoch over the per-epoch
``seconds`` that train() records (median of the measured epochs, after an
untimed warm-up epoch that holds graph tracing); CPU seconds per epoch are
summed over the run's processes (every thread). On a machine with one CPU the
replicas share its cores, so these figures measure the overhead of
distribution, not a speed-up; on GPUs each replica has its own device.

    python benchmarks/distribute_scaling.py                  # all three, 12,800 images
    python benchmarks/distribute_scaling.py --images 25600 --epochs 3 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# The shared data sit beside the repository: ../shared/data.
DATA = str(Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mnist.npz")
CONFIGS = ("one device", "mirrored x2", "multiworker x2")


def child(args: argparse.Namespace) -> None:
    """One training run (or one worker of one); prints a JSON line."""
    import numpy as np

    if args.config == "mirrored x2":
        from conceptvae.model.quiet import import_tensorflow

        import_tensorflow()
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
    from conceptvae.training import train

    with np.load(args.data) as npz:
        x, y = npz["x_train"][: args.images], npz["y_train"][: args.images]
        xt, yt = npz["x_test"][:2000], npz["y_test"][:2000]
    data = os.path.join(args.tmp, "subset.npz")
    if args.worker == 0:
        np.savez(data + ".part.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)
        os.replace(data + ".part.npz", data)
    while not os.path.exists(data):
        time.sleep(0.1)
    kw = dict(filters=[32, 64], latent_dim=16, batch_size=args.batch_size, val_split=0.0,
              epochs=1 + args.epochs, seed=0, verbose=0)  # fmt: skip
    if args.config == "mirrored x2":
        kw.update(distribute="mirrored", devices=["CPU:0", "CPU:1"])
    elif args.config == "multiworker x2":
        kw.update(distribute="multiworker")
    t0 = time.perf_counter()
    result = train(data, os.path.join(args.tmp, f"model{args.worker}"), **kw)
    print(json.dumps({"seconds": result.history["seconds"][1:],
                      "cpu_seconds": result.history["cpu_seconds"][1:],
                      "test_mse": result.metrics.get("test_mse"),
                      "total": time.perf_counter() - t0}))  # fmt: skip


def _ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def measure(config: str, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        base = [sys.executable, __file__, "--child", "--config", config, "--tmp", tmp,
                "--data", args.data, "--images", str(args.images), "--epochs", str(args.epochs),
                "--batch-size", str(args.batch_size)]  # fmt: skip
        workers = 2 if config == "multiworker x2" else 1
        hosts = [f"127.0.0.1:{p}" for p in _ports(workers)]
        procs = []
        for i in range(workers):
            env = dict(os.environ)
            if workers > 1:
                env["TF_CONFIG"] = json.dumps(
                    {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": i}}
                )
            procs.append(subprocess.Popen([*base, "--worker", str(i)], env=env,
                                          stdout=subprocess.PIPE, text=True))  # fmt: skip
        outs = [p.communicate()[0] for p in procs]
        if any(p.returncode for p in procs):
            raise SystemExit(f"{config}: a run failed")
        got = [json.loads(out.strip().splitlines()[-1]) for out in outs]
    steps = args.images // args.batch_size
    epoch = statistics.median(got[0]["seconds"])
    # CPU seconds of an epoch summed over the processes (every thread of each).
    cpu = statistics.median(sum(g["cpu_seconds"][e] for g in got) for e in range(args.epochs))
    return {"config": config, "epoch_seconds": [round(s, 2) for s in got[0]["seconds"]],
            "images_per_s": round(steps * args.batch_size / epoch),
            "cpu_seconds_per_epoch": round(cpu, 2), "test_mse": got[0]["test_mse"]}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=DATA)
    p.add_argument("--images", type=int, default=12800)
    p.add_argument("--epochs", type=int, default=2, help="measured epochs (after one warm-up)")
    p.add_argument("--batch-size", type=int, default=128, help="the global batch")
    p.add_argument("--configs", default=",".join(CONFIGS))
    p.add_argument("--json")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--config", help=argparse.SUPPRESS)
    p.add_argument("--tmp", help=argparse.SUPPRESS)
    p.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    rows = []
    print("| configuration | epoch s | images/s | ratio | CPU s/epoch | test MSE |")
    print(f"load average at start: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    for config in args.configs.split(","):
        row = measure(config, args)
        base = rows[0]["images_per_s"] if rows else row["images_per_s"]
        row["ratio"] = round(row["images_per_s"] / base, 2)
        rows.append(row)
        print(f"| {config} | {', '.join(map(str, row['epoch_seconds']))} | "
              f"{row['images_per_s']:,} | {row['ratio']:.2f} | {row['cpu_seconds_per_epoch']} | "
              f"{row['test_mse']} |", flush=True)  # fmt: skip
    print(f"load average at end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
