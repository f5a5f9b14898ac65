"""Bad inputs to interpolate, morph, run, grid and scatter: exit 2, one line, nothing written.

The cases use the harness of tests/test_bad_inputs.py (a work directory holding the
tiny model as ``model/`` and ``good.png``/``good2.png``). Print the rows for the
table in docs/bad-inputs.md from real runs of the installed command with:

    python tests/test_bad_inputs_morph.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from test_bad_inputs import Case, _write, check_bad_input, print_rows


def _script(obj: dict, name: str = "morph.json"):
    return _write(name, json.dumps(obj))


def _script_with_library(obj: dict):
    """A script plus a concept library (holding 'smile') beside model/."""

    def make(work: Path) -> None:
        from conceptvae.concepts.library import Concept, ConceptLibrary
        from conceptvae.model.identity import model_ref

        ref = model_ref(work / "model")
        lib = ConceptLibrary(ref.latent_dim, ref.fingerprint)
        lib.add_concept(Concept("smile", "attribute", "mean", np.array([1, 0, 0, 0], "f4")))
        lib.write(ref.library_path)
        _script(obj)(work)

    return make


def script(*keyframes: dict, **top) -> dict:
    return {"model": "model", "output": "out.gif", **top, "keyframes": list(keyframes)}


GOOD = {"image": "good.png"}
M = ("morph", "good.png", "good2.png", "-m", "model")
INTERP = ("interpolate", "good.png", "good2.png", "-m", "model")
CASES = [
    Case("morph --frames 0", (*M, "--frames", "0", "-o", "m.gif"),
         r"--frames must be a whole number from 1 to 10000, got 0"),
    Case("morph --frames -5", (*M, "--frames", "-5", "-o", "m.gif"),
         r"--frames must be a whole number from 1 to 10000, got -5"),
    Case("interpolate --steps 0", (*INTERP, "--steps", "0", "-o", "s.png"),
         r"--steps must be a whole number from 2 to 10000, got 0"),
    Case("interpolate --steps -1", (*INTERP, "--steps", "-1", "-o", "s.png"),
         r"--steps must be a whole number from 2 to 10000, got -1"),
    Case("morph --fps nan", (*M, "--fps", "nan", "-o", "m.gif"),
         r"--fps must be a finite number from 0.01 to 100"),
    Case("morph --fps inf", (*M, "--fps", "inf", "-o", "m.webp"),
         r"--fps must be a finite number from 0.01 to 100"),
    Case("morph --fps 0", (*M, "--fps", "0", "-o", "m.webp"), r"--fps must be a finite number"),
    Case("morph --ease with an unknown easing", (*M, "--ease", "bounce", "-o", "m.gif"),
         r"Invalid value for '--ease': 'bounce' is not one of 'linear', 'cosine'"),
    Case("morph with one keyframe", ("morph", "good.png", "-m", "model", "-o", "m.gif"),
         r"a morph needs at least 2 keyframes, got 1"),
    Case("morph keyframe seed:x", ("morph", "good.png", "seed:x", "-m", "model", "-o", "m.gif"),
         r"keyframe 'seed:x': write seed:N"),
    Case("morph keyframe that is missing", ("morph", "good.png", "nope.png", "-m", "model", "-o",
         "m.gif"), r"nope\.png: file not found"),
    Case("morph to an unsupported format", (*M, "-o", "m.avi"),
         r"m\.avi: unsupported output format '\.avi'"),
    Case("GIF faster than 50 fps", (*M, "--fps", "60", "-o", "m.gif"),
         r"m\.gif: GIF frame delays are whole hundredths of a second"),
    Case("MP4 of an odd frame size", (*M, "--size", "33", "-o", "m.mp4"),
         r"m\.mp4: MP4 \(H\.264\) needs an even frame size"),
    Case("morph output equal to a keyframe", (*M, "-o", "good2.png"),
         r"good2\.png: output path is also an input"),
    Case("morph into a DIR/ under a regular file", (*M, "-o", "notes.txt/frames/"),
         r"notes\.txt: is a file, not a directory", _write("notes.txt", "x\n")),
    Case("morph into a directory that cannot be written", (*M, "-o", "readonly/m.gif"),
         r"readonly: (output directory is not writable|is a file)", readonly="readonly"),
    # scripts
    Case("script file missing", ("run", "nope.json"), r"nope\.json: morph script not found"),
    Case("script that is not JSON", ("run", "morph.json"),
         r"morph\.json: morph script is not valid JSON", _write("morph.json", "model: x\n")),
    Case("script that is not UTF-8", ("run", "morph.json"), r"morph\.json: cannot read morph script",
         _write("morph.json", b"\xff\xfe\x00{")),
    Case("script that is a directory", ("run", "scripts"), r"scripts: cannot read morph script",
         lambda w: (w / "scripts").mkdir()),
    Case("script with an unknown field", ("run", "morph.json"),
         r"morph\.json: keyframes\[0\]\.hodl: unknown field \(did you mean 'hold'\?\)",
         _script(script({"image": "good.png", "hodl": 1}, GOOD))),
    Case("script fps NaN", ("run", "morph.json"), r"morph\.json: fps: must be a finite number",
         _write("morph.json", '{"model": "model", "output": "o.gif", "fps": NaN, '
                '"keyframes": [{"seed": 1}]}')),
    Case("script with an unknown easing", ("run", "morph.json"),
         r"morph\.json: keyframes\[1\]\.easing: must be one of linear, cosine, got 'bounce'",
         _script(script(GOOD, {"seed": 2, "easing": "bounce"}))),
    Case("script with a negative hold", ("run", "morph.json"),
         r"morph\.json: keyframes\[1\]\.hold: must be a finite number from 0",
         _script(script(GOOD, {"seed": 2, "hold": -1}))),
    Case("script keyframe with both image and seed", ("run", "morph.json"),
         r"morph\.json: keyframes\[0\]: give exactly one of",
         _script(script({"image": "good.png", "seed": 3}))),
    Case("script referencing a missing image", ("run", "morph.json"),
         r"morph\.json: keyframes\[1\]\.image: faces/gone\.png: file not found",
         _script(script(GOOD, {"image": "faces/gone.png"}))),
    Case("script referencing a missing model", ("run", "morph.json"),
         r"morph\.json: model: nomodel: no such model directory or model name",
         _script(script(GOOD, model="nomodel"))),
    Case("script with an unknown concept in an offset", ("run", "morph.json"),
         r"morph\.json: keyframes\[1\]\.concepts: unknown concept 'smiel'.*smile",
         _script_with_library(script(GOOD, {"seed": 4, "concepts": "smiel"}))),
    Case("script with concepts but no concept library", ("run", "morph.json"),
         r"morph\.json: keyframes\[1\]\.concepts: model/concepts\.h5: this model has no "
         r"concept library", _script(script(GOOD, {"seed": 4, "concepts": "smile"}))),
    Case("script output in an unsupported format", ("run", "morph.json"),
         r"morph\.json: output: out\.avi: unsupported output format",
         _script(script(GOOD, output="out.avi"))),
    # pictures
    Case("grid -n 0", ("grid", "-m", "model", "--axes", "z1,z2", "-n", "0", "-o", "g.png"),
         r"-n \(cells per side\) must be a whole number from 2 to 50, got 0"),
    Case("grid --span nan", ("grid", "-m", "model", "--axes", "z1,z2", "--span", "nan", "-o",
         "g.png"), r"--span must be a finite number above 0"),
    Case("grid of a 4-D latent without axes", ("grid", "-m", "model", "-o", "g.png"),
         r"this model's latent has 4 dimensions: name two axes with --axes A,B"),
    Case("scatter of missing data", ("scatter", "nodata", "-m", "model", "-o", "s.png"),
         r"nodata: no such file or folder"),
    Case("scatter --max-points 0", ("scatter", "good.png", "-m", "model", "--max-points", "0",
         "-o", "s.png"), r"--max-points must be a whole number from 2"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.what for c in CASES])
def test_bad_input_gives_one_line_and_exit_2(case, runner, tiny_model, tmp_path, monkeypatch):
    check_bad_input(case, runner, tiny_model, tmp_path, monkeypatch)


def main() -> None:
    """Print this file's rows of the table in docs/bad-inputs.md, from real runs."""
    print_rows(CASES)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
