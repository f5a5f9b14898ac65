"""Studio latency: time per slider update, server side and round trip (issue 15).

    python benchmarks/studio_latency.py [--updates 100] [--json F]

Starts `conceptvae studio --no-browser --port 0` as a user would (pretrained
models, LiteRT), uploads the inputs, then sends ``--updates`` preview requests
per case, each with a different smile amount (as a dragged slider does),
one at a time like the page. For each it records the server's own time for the
update (its ``Server-Timing`` header: the edit and the BMP encoding) and the
round trip seen by the client over loopback (HTTP, JSON, transfer). Reports
median and 95th percentile after 5 untimed warm-up updates. Bars: server time
<= 60 ms for a 64x64 crop, <= 150 ms for a 512x512 photo; exit status 1 if a
median is over its bar.

Inputs: the shipped example face (64x64) and a 512x512 photo: scikit-image's
``astronaut`` (NASA, public domain) when scikit-image is installed, else a
512x512 picture of smooth gradients and noise (the time does not depend on
what the pixels show).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np
from PIL import Image


def photo_512() -> tuple[bytes, str]:
    try:
        from skimage import data

        im, what = Image.fromarray(data.astronaut()), "scikit-image astronaut (512x512 RGB)"
    except ImportError:
        rng = np.random.default_rng(0)
        y, x = np.mgrid[0:512, 0:512]
        arr = np.stack([x // 2, y // 2, (x + y) // 4], -1) + rng.integers(-20, 20, (512, 512, 3))
        im, what = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)), "synthetic 512x512 RGB"
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue(), what


def post(url: str, body: bytes, headers: dict) -> tuple[bytes, dict]:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.read(), dict(r.headers)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=100)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp()
    proc = subprocess.Popen(
        [sys.executable, "-m", "conceptvae", "studio", "--no-browser", "--port", "0"],
        stdout=subprocess.PIPE, text=True, cwd=tmp, env={**os.environ, "TMPDIR": tmp},
    )  # fmt: skip
    try:
        url = proc.stdout.readline().split()[3].rstrip("/")
        photo, photo_what = photo_512()
        uploaded, _ = post(url + "/api/images", photo, {"X-Filename": "photo.png", "Content-Type": "image/png"})
        photo_id = json.loads(uploaded)["id"]
        cases = [
            ("64x64 example face", "example:face-1", "decode", 60.0),
            ("64x64 example face", "example:face-1", "detail", 60.0),
            (f"512x512 photo ({photo_what})", photo_id, "decode", 150.0),
            (f"512x512 photo ({photo_what})", photo_id, "detail", 150.0),
            ("64x64 example face", "example:face-1", "blend", 60.0),
            (f"512x512 photo ({photo_what})", photo_id, "blend", 150.0),
        ]
        rows, ok = [], True
        for what, image, mode, bar in cases:
            server, trip = [], []
            for i in range(args.updates + 5):
                amount = round(-3 + 6 * ((i * 7) % 121) / 120, 2)
                body = json.dumps({"model": "faces", "image": image, "mode": mode,
                                   "amounts": {"smile": amount, "pc1": 0.5}}).encode()  # fmt: skip
                start = time.perf_counter()
                _, headers = post(url + "/api/preview", body, {"Content-Type": "application/json"})
                elapsed = (time.perf_counter() - start) * 1000
                if i >= 5:
                    trip.append(elapsed)
                    server.append(float(re.search(r"dur=([\d.]+)", headers["server-timing"])[1]))
            row = {
                "input": what, "mode": mode, "updates": args.updates, "bar_ms": bar,
                "server_median_ms": float(np.median(server)),
                "server_p95_ms": float(np.percentile(server, 95)),
                "round_trip_median_ms": float(np.median(trip)),
                "round_trip_p95_ms": float(np.percentile(trip, 95)),
            }  # fmt: skip
            row["pass"] = row["server_median_ms"] <= bar
            ok &= row["pass"]
            rows.append(row)
            print(f"{what:<48} {mode:<7} server {row['server_median_ms']:6.1f} ms "
                  f"(p95 {row['server_p95_ms']:6.1f})  round trip {row['round_trip_median_ms']:6.1f} "
                  f"ms (p95 {row['round_trip_p95_ms']:6.1f})  bar {bar:g} ms  "
                  f"{'ok' if row['pass'] else 'OVER'}")  # fmt: skip
        print(f"load average {os.getloadavg()[0]:.2f}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(rows, f, indent=2)
        return 0 if ok else 1
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
