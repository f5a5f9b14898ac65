"""Concepts on the command line: suggestions from every library, only what is
missing, and a shell-split expression explained (issue 25)."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import pytest
from conftest import invoke, one_line_error

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def digit(tmp_path):
    return shutil.copy(EXAMPLES / "digit-7.png", tmp_path / "digit-7.png")


# The whole output is the one line: nothing else on stdout either.
_error = functools.partial(one_line_error, whole_output=True)


def test_a_typo_without_a_model_gets_the_closest_name(runner, digit):
    line = _error(invoke(runner, "edit", digit, "-c", "smiel"))
    assert "no pretrained model holds smiel (closest: smile)" in line


def test_classes_on_the_faces_model_point_to_digits_not_pc3(runner, digit):
    line = _error(invoke(runner, "edit", digit, "-c", "3->8", "-m", "faces"))
    assert "pc3" not in line
    assert "the digits model holds 3, 8: --model digits" in line


def test_an_expression_error_names_only_what_is_missing(runner, digit):
    line = _error(invoke(runner, "edit", digit, "-c", "slant+thick+loopy"))
    assert "holds loopy " in line
    assert "slant," not in line.split("(")[0] and "thick" not in line.split("(")[0]
    line = _error(invoke(runner, "edit", digit, "-c", "smile+thick"))
    assert "no pretrained model holds all of smile, thick (smile: faces; thick: digits)" in line


def test_an_unquoted_arrow_says_to_quote_the_expression(runner, digit):
    # `-c 3->8` unquoted: the shell passes "3-" and writes to a file named 8.
    line = _error(invoke(runner, "edit", digit, "-c", "3-"))
    assert "quote the expression" in line and "'>'" in line


def test_until_never_moves_a_face_the_other_way(runner, tmp_path):
    # face-2 already smiles past 0.9: it is left as it is, not made to smile less.
    for name in ("face-1.png", "face-2.png"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    r = invoke(runner, "edit", tmp_path / "face-1.png", tmp_path / "face-2.png", "-c", "smile",
               "--until", "0.9", "-o", f"{tmp_path}/out/")  # fmt: skip
    assert r.exit_code == 0, r.output
    amounts = {line.split("/")[-1].split(":")[0]: float(line.split("smile ")[1].split(";")[0])
               for line in r.output.splitlines()}  # fmt: skip
    assert amounts["face-1.png"] > 0.3
    assert amounts["face-2.png"] == 0
    probability = float(r.output.splitlines()[1].split("probability ")[1])
    assert probability > 0.9
    assert "never moved the other way" in " ".join(invoke(runner, "edit", "--help").output.split())
