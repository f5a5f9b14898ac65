"""Every hint names a real option: of the command that prints it, or of the
`conceptvae ...` command it quotes.

Statically, every ``--flag`` in a string of the package (messages, hints, help)
is checked; dynamically, the errors that several commands share (the default
model, concept-library checks, output checks) are triggered from each command
that can print them.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path

import click
import numpy as np
import pytest
from conftest import invoke

import conceptvae

PACKAGE = Path(conceptvae.__file__).parent
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
QUOTED = re.compile(r"`(conceptvae [^`]*)`")
GROUP_FLAGS = {"--debug", "--help", "--version"}


def command_options() -> dict[str, set[str]]:
    """``"concepts build"`` -> its long options; groups map to their own."""
    from conceptvae.cli.main import cli

    ctx = click.Context(cli)
    out: dict[str, set[str]] = {}

    def walk(cmd: click.Command, path: list[str]) -> None:
        names = {o for p in cmd.params for o in [*p.opts, *getattr(p, "secondary_opts", [])]}
        out[" ".join(path)] = names | GROUP_FLAGS
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                walk(cmd.get_command(ctx, name), [*path, name])

    walk(cli, [])
    return out


OPTIONS = command_options()


def quoted_command(text: str) -> str:
    """The longest command path a quoted ``conceptvae ...`` names."""
    words = text.split()[1:]
    for n in range(len(words), -1, -1):
        if " ".join(words[:n]) in OPTIONS:
            return " ".join(words[:n])
    raise AssertionError(f"quotes an unknown command: {text!r}")


def bad_flags(text: str, command: str) -> list[str]:
    """Flags in ``text`` that neither ``command`` nor the command quoted around them has."""
    bad = []
    for m in QUOTED.finditer(text):
        quoted = quoted_command(m.group(1))
        bad += [f"{f} (of `conceptvae {quoted}`)" for f in FLAG.findall(m.group(1))
                if f not in OPTIONS[quoted]]  # fmt: skip
    bad += [f for f in FLAG.findall(QUOTED.sub("", text)) if f not in OPTIONS[command]]
    return bad


def strings(path: Path) -> list[tuple[int, str]]:
    """Every string literal (f-strings with their holes as {}), docstrings left out."""
    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            docstrings.add(id(body[0].value))
    out = []
    for node in ast.walk(tree):
        if id(node) in docstrings:
            continue
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            out.append((node.lineno, text))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append((node.lineno, node.value))
    return out


def test_the_scan_sees_the_package():
    from conceptvae.cli.main import COMMANDS

    assert {"concepts build", "run", "edit"} <= set(OPTIONS)
    assert (PACKAGE / "cli" / "main.py").is_file() and len(COMMANDS) > 10
    found = [t for p in (PACKAGE / "cli").glob("*.py") for _, t in strings(p) if "--" in t]
    assert len(found) > 20


def test_cli_strings_name_options_of_their_own_commands():
    from conceptvae.cli.main import COMMANDS

    by_module: dict[str, set[str]] = {}
    for name, (module, _) in COMMANDS.items():
        subs = [c for c in OPTIONS if c == name or c.startswith(name + " ")]
        by_module.setdefault(module, set()).update(subs)
    problems = []
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        commands = by_module.get(path.stem, set(OPTIONS))  # options.py serves every command
        for line, text in strings(path):
            if not FLAG.search(text):
                continue
            # A module's string belongs to one of its commands: it must name options of one.
            if all(bad_flags(text, c) for c in commands):
                problems.append(
                    f"cli/{path.name}:{line}: {text!r} {bad_flags(text, min(commands))}"
                )
    assert not problems, "\n".join(problems)


def test_library_strings_name_options_that_exist():
    every = set().union(*OPTIONS.values())
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "cli" in path.relative_to(PACKAGE).parts or "pretrained" in path.parts:
            continue
        for line, text in strings(path):
            for m in QUOTED.finditer(text):
                problems += [f"{path.name}:{line}: {b}" for b in bad_flags(m.group(0), "")
                             if "(of" in b]  # fmt: skip
            problems += [f"{path.name}:{line}: {f} in {text!r}"
                         for f in FLAG.findall(QUOTED.sub("", text)) if f not in every]  # fmt: skip
    assert not problems, "\n".join(problems)


# -- the shared errors, from each command that can print them ---------------------------------


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_model):
    """The tiny model with a library, and a copy whose library is for other weights."""
    from conceptvae.concepts.library import Concept, ConceptLibrary
    from conceptvae.model.identity import model_ref

    root = tmp_path_factory.mktemp("hint-models")
    own, foreign = root / "own", root / "foreign"
    for path, fingerprint in ((own, None), (foreign, "0123456789abcdef")):
        shutil.copytree(tiny_model, path)
        ref = model_ref(path)
        lib = ConceptLibrary(ref.latent_dim, fingerprint or ref.fingerprint)
        for k, name in enumerate(("left", "up")):
            v = np.eye(ref.latent_dim, dtype=np.float32)[k]
            lib.add_concept(Concept(name, "attribute", "mean", v, v, 0.0, {"column": name}))
        lib.write(path / "concepts.h5")
    return own, foreign


def script(tmp_path: Path, name: str, **fields) -> Path:
    body = {"output": "out.gif", "keyframes": [{"seed": 1}, {"seed": 2}], **fields}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(body))
    return path


def cases(tmp_path: Path, own: Path, foreign: Path) -> list[tuple[str, ...]]:
    (tmp_path / "c.json").write_text("{}")
    png = tmp_path / "in.png"
    from PIL import Image

    Image.fromarray(np.zeros((16, 16), np.uint8)).save(png)
    return [
        # no model: the default model's error says how to name one
        (
            "run",
            script(tmp_path, "nomodel", keyframes=[{"seed": 1, "concepts": "zzz"}, {"seed": 2}]),
        ),
        ("edit", png, "-c", "zzz"),
        ("traverse", png, "-c", "zzz"),
        # frame size for MP4
        ("run", script(tmp_path, "odd", model=str(own), output="o.mp4", size=17)),
        ("morph", "seed:1", "seed:2", "-m", own, "--size", "17", "-o", tmp_path / "o.mp4"),
        # a library built for other weights
        (
            "run",
            script(
                tmp_path,
                "foreign",
                model=str(foreign),
                keyframes=[{"seed": 1, "concepts": "left"}, {"seed": 2}],
            ),
        ),  # fmt: skip
        ("grid", "-m", foreign, "--axes", "left,up", "-o", tmp_path / "g.png"),
        ("edit", png, "-m", foreign, "-c", "left", "-o", tmp_path / "e.png"),
        ("traverse", png, "-m", foreign, "-c", "left", "-o", tmp_path / "t.png"),
        ("concepts", "list", foreign),
        # a 4-D latent with no axes named
        ("grid", "-m", own, "-o", tmp_path / "g.png"),
        # names already taken
        ("concepts", "import", own, export_of(own, tmp_path)),
        # output that is an input
        ("reconstruct", png, "-m", own, "-o", png),
        ("edit", png, "-m", own, "-c", "left", "-o", png),
    ]


def export_of(model: Path, tmp_path: Path) -> Path:
    from conceptvae.commands.concepts import export_library

    out = tmp_path / "lib.json"
    export_library(model, out)
    return out


def test_shared_errors_name_options_of_the_command_that_prints_them(runner, tmp_path, models):
    own, foreign = models
    problems, seen = [], []
    for args in cases(tmp_path, own, foreign):
        r = invoke(runner, *args)
        assert r.exit_code == 2, (args, r.output)
        line = r.stderr.strip().splitlines()[-1]
        seen.append(line)
        command = quoted_command("conceptvae " + " ".join(str(a) for a in args))
        if bad := bad_flags(line, command):
            problems.append(f"{command}: {line} -> {bad}")
    assert not problems, "\n".join(problems)
    # Each case reached the error it is there for.
    for words in (
        "no pretrained model holds zzz",
        'use "size" 18',
        "--size 18",
        "rebuild the concepts",
        "--pca 2",
        "already has 'left'",
        "refusing without",
    ):
        assert any(words in line for line in seen), words


def test_parameters_the_library_names_are_options_of_some_command():
    """The library names parameters (errors.param); the CLI spells them as its flags."""
    from conceptvae.cli.options import FLAG_NAMES, flag

    every = set().union(*OPTIONS.values()) | set(FLAG_NAMES.values())
    named = re.compile(r"""param\(\s*["']([A-Za-z_]\w*)["']\s*\)""")
    problems, seen = [], set()
    for path in sorted(PACKAGE.rglob("*.py")):
        for name in named.findall(path.read_text()):
            seen.add(name)
            if flag(name) not in every:
                problems.append(f"{path.relative_to(PACKAGE)}: param({name!r}) -> {flag(name)}")
    assert len(seen) > 20 and not problems, "\n".join(problems)
