"""Bad inputs of edit / traverse / analogy: exit 2, one line, nothing written.

The same checks as tests/test_bad_inputs.py (whose helpers are reused); the work
directory's ``model/`` gets a concept library (smile, thick, pc1 and the classes
3 and 8 of the column digit). The docs table rows come from real runs:

    python tests/test_bad_inputs_edit.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import invoke
from test_bad_inputs import Case, _write, check_bad_input, prepare, print_rows
from test_editing import make_library, write_library

from conceptvae.model import files


def _library(work: Path) -> None:
    write_library(work / "model")


def _then(*makers):  # noqa: ANN001, ANN202
    def make(work: Path) -> None:
        for m in makers:
            m(work)

    return make


def _other_library(fingerprint: str | None = None, latent_dim: int = 4):  # noqa: ANN202
    def make(work: Path) -> None:
        fp = fingerprint or files.read_meta(work / "model")["fingerprint"]
        make_library(latent_dim, fp).write(work / "other.h5")

    return make


def _odd_h5(work: Path) -> None:
    """A concepts.h5 with the right marker holding a soft link where a group belongs."""
    import h5py

    path = work / "model" / files.CONCEPTS
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "conceptvae-concepts"
        f.attrs["format_version"] = 1
        f.attrs["latent_dim"] = 4
        f.attrs["model_fingerprint"] = files.read_meta(work / "model")["fingerprint"]
        f.create_group("concepts")
        f["concepts/smile"] = h5py.SoftLink("/elsewhere")


def edit_(*args: str) -> tuple[str, ...]:
    return ("edit", "good.png", "-m", "model", *args)


def trav(*args: str) -> tuple[str, ...]:
    return ("traverse", "good.png", "-m", "model", *args)


L = _library
CASES = [
    # concepts and libraries
    Case("unknown concept (closest names suggested)", edit_("-c", "smiel"),
         r"unknown concept 'smiel'; closest: smile", L),
    Case("unknown name inside an expression", edit_("-c", "smile+0.5*thik"),
         r"unknown concept 'thik'; closest: thick", L),
    Case("class column name used as a concept", edit_("-c", "digit"),
         r"'digit' is a class column; name one of its classes", L),
    Case("malformed concept expression", edit_("-c", "smile+"),
         r"bad concept expression 'smile\+': expected a concept name", L),
    Case("'->' between an attribute and a class", edit_("-c", "smile->8"),
         r"'->' joins two classes; 'smile' is an attribute concept", L),
    Case("model without a concept library", edit_("-c", "smile"),
         r"model/concepts\.h5: this model has no concept library yet"),
    Case("concept library of another model (--library)",
         edit_("-c", "smile", "--library", "other.h5"),
         r"other\.h5: concept library was built for model sha256:0000000000000000",
         _other_library("sha256:0000000000000000")),
    Case("concept library of another latent size (--library)",
         edit_("-c", "smile", "--library", "other.h5"),
         r"other\.h5: concept library is for latent size 6", _other_library(latent_dim=6)),
    Case("corrupt concepts.h5 (random bytes)", edit_("-c", "smile"),
         r"model/concepts\.h5: not a readable concept library",
         _write("model/concepts.h5", np.random.default_rng(6).bytes(600))),
    Case("concepts.h5 with a soft link inside", edit_("-c", "smile"),
         r"model/concepts\.h5: not a valid concept library: /concepts/smile is a SoftLink",
         _odd_h5),
    # amounts
    Case("--amount nan", edit_("-c", "smile", "--amount", "nan"),
         r"--amount must be a finite number from -100 to 100, got nan", L),
    Case("--amount inf", edit_("-c", "smile", "--amount", "inf"),
         r"--amount must be a finite number", L),
    Case("--amount 1e30", edit_("-c", "smile", "--amount", "1e30"),
         r"--amount must be a finite number from -100 to 100, got 1e\+30", L),
    Case("--amount -1e30", edit_("-c", "smile", "--amount", "-1e30"),
         r"--amount must be a finite number", L),
    Case("amount in EXPR=AMOUNT is nan", edit_("-c", "smile=nan"),
         r"amount in --concept 'smile=nan' must be a finite number", L),
    Case("--until 0", edit_("-c", "smile", "--until", "0"),
         r"--until must be a probability strictly between 0 and 1, got 0\.0", L),
    Case("--until 1.5", edit_("-c", "smile", "--until", "1.5"),
         r"--until must be a probability strictly between 0 and 1", L),
    Case("--until nan", edit_("-c", "smile", "--until", "nan"),
         r"--until must be a probability", L),
    Case("--max-amount 0", edit_("-c", "smile", "--until", "0.9", "--max-amount", "0"),
         r"--max-amount must be a finite number in \(0, 100\], got 0\.0", L),
    Case("--max-amount inf", edit_("-c", "smile", "--until", "0.9", "--max-amount", "inf"),
         r"--max-amount must be a finite number", L),
    Case("--until with an expression", edit_("-c", "smile+thick", "--until", "0.9"),
         r"--until needs a single concept", L),
    Case("--until with two concepts without amounts",
         edit_("-c", "smile", "-c", "thick", "--until", "0.9"),
         r"give exactly one --concept without =AMOUNT \(got 2\)", L),
    Case("--until on a concept without a probe", edit_("-c", "pc1", "--until", "0.9"),
         r"'pc1' is unsupervised \(pc\); it has no probe", L),
    Case("--until together with --amount", edit_("-c", "smile", "--until", "0.9", "--amount",
         "2"), r"--amount and --until do not go together", L),
    # steps, sweeps and ranges
    Case("traverse --steps 0", trav("-c", "smile", "--steps", "0"),
         r"Invalid value for '--steps': 0 is not in the range 1<=x<=64", L),
    Case("traverse --steps -3", trav("-c", "smile", "--steps", "-3"),
         r"Invalid value for '--steps': -3 is not in the range", L),
    Case("analogy --steps 1", ("analogy", "good.png", "good2.png", "good.png", "-m", "model",
         "--steps", "1"), r"Invalid value for '--steps': 1 is not in the range 2<=x<=16"),
    Case("--range without a colon", trav("-c", "smile", "--range", "3"),
         r"--range must look like START:STOP \(e\.g\. -3:3\), got '3'", L),
    Case("--range of words", trav("-c", "smile", "--range", "a:b"),
         r"--range must look like START:STOP", L),
    Case("--range with nan", trav("-c", "smile", "--range", "nan:3"),
         r"--range must be a finite number", L),
    Case("--sweep without a count", edit_("-c", "smile", "--sweep", "-2:2"),
         r"--sweep must look like START:STOP:COUNT \(e\.g\. -2:2:9\), got '-2:2'", L),
    Case("--sweep with count 0", edit_("-c", "smile", "--sweep=-2:2:0"),
         r"--sweep COUNT must be an integer from 1 to 64, got 0", L),
    Case("--sweep with a negative count", edit_("-c", "smile", "--sweep=-2:2:-4"),
         r"--sweep COUNT must be an integer from 1 to 64, got -4", L),
    Case("--sweep with an absurd amount", edit_("-c", "smile", "--sweep=-2:1e30:5"),
         r"--sweep must be a finite number", L),
    Case("--sweep together with --until", edit_("-c", "smile", "--sweep=-2:2:5", "--until",
         "0.9"), r"--sweep and --until do not go together", L),
    # outputs
    Case("edit output equal to the input", edit_("-c", "smile", "-o", "good.png"),
         r"good\.png: output path is also an input; refusing without --overwrite", L),
    Case("traverse output equal to the input", trav("-c", "smile", "-o", "good.png"),
         r"good\.png: output path is also an input; refusing without --overwrite", L),
    Case("analogy output equal to an input", ("analogy", "good.png", "good2.png", "good.png",
         "-m", "model", "-o", "good2.png"),
         r"good2\.png: output path is also an input; refusing without --overwrite"),
    Case("edit: several inputs, one output file", ("edit", "good.png", "good2.png", "-m", "model",
         "-c", "smile", "-o", "one.png"), r"one\.png: 2 inputs need a directory output", L),
    Case("edit: unsupported output format", edit_("-c", "smile", "-o", "out.tga"),
         r"out\.tga: unsupported image format '\.tga'", L),
    Case("edit into a directory that cannot be written", edit_("-c", "smile", "-o",
         "readonly/out.png"), r"readonly: (output directory is not writable|is a file)", L,
         readonly="readonly"),
    Case("edit: missing input image", ("edit", "nope.png", "-m", "model", "-c", "smile"),
         r"nope\.png: file not found", L),
    Case("edit: text file named .png", ("edit", "text.png", "-m", "model", "-c", "smile"),
         r"text\.png: not a readable image", _then(L, _write("text.png", "hello\n"))),
    Case("analogy: missing input image", ("analogy", "good.png", "nope.png", "good2.png", "-m",
         "model"), r"nope\.png: file not found"),
    # the embedded default (no --model): the shipped digits and faces models
    Case("no --model: a concept no pretrained model holds", ("edit", "good.png", "-c", "glasses"),
         r"no pretrained model holds glasses \(digits: 0, 1, .*; faces: smile, pc1"),
    Case("no --model: a concept several pretrained models hold", ("edit", "good.png", "-c", "pc1"),
         r"several pretrained models hold pc1: digits, faces; choose one with --model"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.what for c in CASES])
def test_bad_edit_input_gives_one_line_and_exit_2(case, runner, tiny_model, tmp_path, monkeypatch):
    check_bad_input(case, runner, tiny_model, tmp_path, monkeypatch)


def test_overwrite_lets_the_output_replace_the_input(runner, tiny_model, tmp_path, monkeypatch):
    work = tmp_path / "work"
    prepare(work, tiny_model)
    _library(work)
    monkeypatch.chdir(work)
    before = (work / "good.png").read_bytes()
    result = invoke(runner, *edit_("-c", "smile", "-o", "good.png", "--overwrite"))
    assert result.exit_code == 0, result.output
    assert (work / "good.png").read_bytes() != before


def main() -> None:
    """Print the docs/bad-inputs.md rows of these cases, from real runs."""
    print_rows(CASES)


if __name__ == "__main__":
    main()
