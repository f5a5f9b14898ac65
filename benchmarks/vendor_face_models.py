"""Re-extract the vendored face models from the mediapipe wheel and check them.

Maintainers only; the library never imports this. Downloads the one wheel with
pip (no dependencies), checks its sha256 and each file's sha256 against
conceptvae/faces/models/NOTICE, and compares them with the shipped copies:

    python benchmarks/vendor_face_models.py --check     # verify the shipped files
    python benchmarks/vendor_face_models.py --write     # (re)write them from the wheel
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "conceptvae" / "faces" / "models"
PACKAGE = "mediapipe==0.10.21"
WHEEL = "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"
WHEEL_SHA256 = "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3"
FILES = {
    "face_detection_short_range.tflite": (
        "mediapipe/modules/face_detection/face_detection_short_range.tflite",
        "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
    ),
    "face_detection_full_range_sparse.tflite": (
        "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
        "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
    ),
    "face_landmark.tflite": (
        "mediapipe/modules/face_landmark/face_landmark.tflite",
        "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
    ),
    "LICENSE": (
        "mediapipe-0.10.21.dist-info/LICENSE",
        "8707eef0533987efc5b155d64761eeb6e20793f50b9bd1a68dad1cf4719d0ed8",
    ),
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true")
    mode.add_argument("--write", action="store_true")
    p.add_argument("--wheel", type=Path, help="an already downloaded wheel")
    args = p.parse_args()

    notice = (MODELS / "NOTICE").read_text()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel
        if wheel is None:
            # The wheel's manylinux tag fixes the platform; the models inside are the
            # same in every build of the release.
            subprocess.run(
                [sys.executable, "-m", "pip", "download", PACKAGE, "--no-deps", "-d", tmp,
                 "--only-binary=:all:", "--platform", "manylinux_2_28_x86_64",
                 "--python-version", "3.11", "--quiet"],
                check=True,
            )  # fmt: skip
            wheel = Path(tmp) / WHEEL
        got = sha256(wheel.read_bytes())
        print(f"{wheel.name}: sha256 {got} {'ok' if got == WHEEL_SHA256 else 'MISMATCH'}")
        bad = got != WHEEL_SHA256
        with zipfile.ZipFile(wheel) as zf:
            for name, (inner, want) in FILES.items():
                data = zf.read(inner)
                digest = sha256(data)
                shipped = MODELS / name
                same = shipped.exists() and shipped.read_bytes() == data
                listed = want in notice
                ok = digest == want and listed and (same or args.write)
                print(f"{name}: {digest} wheel={'ok' if digest == want else 'MISMATCH'} "
                      f"notice={'ok' if listed else 'MISSING'} shipped={'same' if same else 'DIFFERENT'}")  # fmt: skip
                bad |= not ok
                if args.write and digest == want:
                    shipped.write_bytes(data)
    print("all files verified" if not bad else "verification FAILED")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
