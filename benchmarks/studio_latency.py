"""Studio latency: time per slider update, server side and round trip (issue 15).

    python benchmarks/studio_latency.py [--updates 100] [--json F]

Starts `conceptvae studio --no-browser --port 0` as a user would (pretrained
models, LiteRT), uploads the inputs, then sends ``--updates`` preview requests
per case, each with a different smile amount (as a dragged slider does),
one at a time like the page: for the photo, both the "live" updates the page
sends while a slider moves (edited on a 256-pixel copy) and the preview at rest
(512 pixels) it asks for when the slider stops. For each it records the server's own time for the
update (its ``Server-Timing`` header: the edit and the BMP encoding) and the
round trip seen by the client over loopback (HTTP, JSON, transfer). Reports
median and 95th percentile after 5 untimed warm-up updates. Bars: server time
<= 60 ms for a 64x64 crop, <= 150 ms for a 512x512 photo (updates while a slider moves); exit status 1
if a median is over its bar.

Inputs: the shipped example face (64x64); a 512x512 picture of smooth
gradients and noise with no face, edited whole (``align`` false, as
``--no-align``); and a 512x512 photograph with one face, which the faces model
finds, aligns, edits and pastes back on every update: ``--photo PATH``, else
scikit-image's ``astronaut`` (NASA, public domain) when scikit-image is
installed, else the example face set into a gradient.
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


def png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def plain_512() -> Image.Image:
    """Smooth colour gradients with noise: no face, edited as a whole (align false)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:512, 0:512]
    arr = np.stack([x // 2, y // 2, (x + y) // 4], -1) + rng.integers(-20, 20, (512, 512, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def face_512(path: str | None) -> tuple[Image.Image, str]:
    """A 512x512 photograph with a face: --photo, else scikit-image's astronaut, else the
    example face-2 (tinted, 4x, edges faded) set into a gradient."""
    if path:
        return Image.open(path).convert("RGB"), os.path.basename(path)
    try:
        from skimage import data

        return Image.fromarray(data.astronaut()), "scikit-image astronaut"
    except ImportError:
        pass
    from importlib.resources import files

    face = Image.open(files("conceptvae.examples") / "face-2.png").convert("L").resize((256, 256))
    rgb = np.asarray(face, np.float32)[..., None] * np.array([1.08, 0.86, 0.72], np.float32)
    yy, xx = np.mgrid[0:256, 0:256] + 0.5
    alpha = np.clip(np.minimum(np.minimum(xx, 256 - xx), np.minimum(yy, 256 - yy)) / 16, 0, 1)
    base = np.asarray(plain_512(), np.float32)
    region = base[128:384, 128:384]
    base[128:384, 128:384] = region * (1 - alpha[..., None]) + np.clip(rgb, 0, 255) * alpha[..., None]
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)), "example face set into a gradient"


def post(url: str, body: bytes, headers: dict) -> tuple[bytes, dict]:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.read(), dict(r.headers)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=100)
    ap.add_argument("--json", default=None)
    ap.add_argument("--photo", default=None, help="a 512x512 photograph with a face")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp()
    proc = subprocess.Popen(
        [sys.executable, "-m", "conceptvae", "studio", "--no-browser", "--port", "0"],
        stdout=subprocess.PIPE, text=True, cwd=tmp, env={**os.environ, "TMPDIR": tmp},
    )  # fmt: skip
    try:
        url = proc.stdout.readline().split()[3].rstrip("/")
        ids = {}
        face_im, face_what = face_512(args.photo)
        for key, im in (("plain", plain_512()), ("face", face_im)):
            uploaded, _ = post(url + "/api/images", png(im),
                               {"X-Filename": f"{key}.png", "Content-Type": "image/png"})  # fmt: skip
            ids[key] = json.loads(uploaded)["id"]
        photos = [("512x512 photo, no face, as a crop", ids["plain"], False),
                  (f"512x512 photo, 1 face ({face_what})", ids["face"], True)]
        cases = [("64x64 example face", "example:face-1", True, mode, False, 60.0)
                 for mode in ("decode", "detail", "blend")]
        cases += [(what, image, align, mode, live, 150.0)
                  for what, image, align in photos
                  for mode in ("decode", "detail", "blend")
                  for live in (True, False)]  # fmt: skip
        rows, ok = [], True
        for what, image, align, mode, live, bar in cases:
            server, trip = [], []
            for i in range(args.updates + 5):
                amount = round(-3 + 6 * ((i * 7) % 121) / 120, 2)
                body = json.dumps({"model": "faces", "image": image, "mode": mode, "live": live,
                                   "align": align,
                                   "amounts": {"smile": amount, "pc1": 0.5}}).encode()  # fmt: skip
                start = time.perf_counter()
                _, headers = post(url + "/api/preview", body, {"Content-Type": "application/json"})
                elapsed = (time.perf_counter() - start) * 1000
                if i >= 5:
                    trip.append(elapsed)
                    server.append(float(re.search(r"dur=([\d.]+)", headers["server-timing"])[1]))
            row = {
                "input": what, "mode": mode, "live": live, "updates": args.updates, "bar_ms": bar,
                "server_median_ms": float(np.median(server)),
                "server_p95_ms": float(np.percentile(server, 95)),
                "round_trip_median_ms": float(np.median(trip)),
                "round_trip_p95_ms": float(np.percentile(trip, 95)),
            }  # fmt: skip
            # The bar is for updates while a slider moves; the preview at rest is shown too.
            photo = image in ids.values()
            row["pass"] = row["server_median_ms"] <= bar or (photo and not live)
            ok &= row["pass"]
            rows.append(row)
            kind = "" if not photo else ("live " if live else "at rest ")
            print(f"{what:<56} {kind + mode:<14} server {row['server_median_ms']:6.1f} ms "
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
