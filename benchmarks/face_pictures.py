"""The photograph pictures in README.md and pretrained/faces/README.md.

scikit-image's astronaut (``skimage.data.astronaut()``: Eileen Collins, NASA,
public domain; ``pip install scikit-image``) edited with the shipped faces model
through the CLI, exactly as a user would:

    conceptvae edit astronaut.png -c smile -a -2 -o less.png
    conceptvae edit astronaut.png -c smile -a 1.5 -o more.png
    conceptvae faces astronaut.png -o faces.png

and laid out as pretrained/faces/card-photo-smile.jpg (the whole photograph, then the
face enlarged, for -2, the original and +1.5) and pretrained/faces/card-photo-faces.jpg
(the ``faces`` overlay):

    python benchmarks/face_pictures.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "pretrained" / "faces"


def main() -> int:
    from skimage import data

    exe = str(Path(sys.executable).with_name("conceptvae"))
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "astronaut.png"
        Image.fromarray(data.astronaut()).save(src)
        shots = {}
        for label, amount in (("smile -2", "-2"), ("original", None), ("smile +1.5", "1.5")):
            if amount is None:
                shots[label] = Image.open(src).convert("RGB")
                continue
            out = Path(tmp) / f"{amount}.png"
            subprocess.run([exe, "edit", str(src), "-c", "smile", f"--amount={amount}", "-o",
                            str(out)], check=True)  # fmt: skip
            shots[label] = Image.open(out).convert("RGB")
        overlay = Path(tmp) / "faces.png"
        subprocess.run([exe, "faces", str(src), "-o", str(overlay)], check=True)
        Image.open(overlay).convert("RGB").resize((384, 384), Image.LANCZOS).save(
            OUT / "card-photo-faces.jpg", quality=90
        )
    cell, face_box = 256, (150, 50, 310, 210)
    sheet = Image.new("RGB", (3 * cell, 2 * cell + 20), "white")
    d = ImageDraw.Draw(sheet)
    for i, (label, im) in enumerate(shots.items()):
        sheet.paste(im.resize((cell, cell), Image.LANCZOS), (i * cell, 20))
        sheet.paste(im.crop(face_box).resize((cell, cell), Image.LANCZOS), (i * cell, 20 + cell))
        d.text((i * cell + 6, 4), label, fill=(0, 0, 0))
    sheet.save(OUT / "card-photo-smile.jpg", quality=90)
    print(OUT / "card-photo-smile.jpg", OUT / "card-photo-faces.jpg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
