"""The README from any folder, photographs kept as JPEG, and a wheel that declares
its data (issue 25)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from conftest import run_conceptvae
from facephotos import FACES, Placement, scene
from PIL import Image, JpegImagePlugin

try:
    import tomllib
except ImportError:  # Python 3.10: pytest itself depends on tomli there
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent


_run = run_conceptvae


def _readme_example_commands() -> list[str]:
    """The README's commands on the shipped examples (``example:NAME``)."""
    lines = re.findall(r"^(conceptvae [^\n#]*example:[^\n#]*?)\s*(?:#.*)?$",
                       (REPO / "README.md").read_text(), flags=re.M)  # fmt: skip
    return [ln.strip() for ln in lines]


def test_the_readme_examples_run_from_an_empty_folder_as_written(tmp_path):
    commands = _readme_example_commands()
    # Set up (face-1), the digits block (edit, traverse, morph) and the script.
    assert len(commands) >= 5, commands
    for line in commands:
        p = _run(tmp_path, *shlex.split(line)[1:])
        assert p.returncode == 0, f"{line}\n{p.stderr}"
        assert "outside the prior" not in p.stderr, f"{line}\n{p.stderr}"
    made = sorted(f.name for f in tmp_path.iterdir())
    assert {"face-1_smile1.5.png", "37.gif", "smile.gif", "digit-7_traverse_slant.png"} <= set(
        made
    ), made
    # The shipped script wrote to this folder, not into the installed package.
    assert not list((REPO / "examples" / "scripts").glob("*.gif"))
    again = _run(tmp_path, "run", "example:smile")
    assert again.returncode == 2 and "already exists" in again.stderr


def test_an_unknown_example_lists_the_examples(tmp_path):
    p = _run(tmp_path, "edit", "example:face-9", "-c", "smile")
    assert p.returncode == 2
    assert "no such example (examples: example:digit-3" in p.stderr and "example:smile" in p.stderr


def test_set_up_names_every_extra():
    setup = (REPO / "README.md").read_text().split("## Set up")[1].split("\n## ")[0]
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]  # fmt: skip
    for extra in set(extras) - {"test"}:
        assert f'".[{extra}]"' in setup, extra


def test_a_jpeg_photograph_comes_back_as_a_jpeg(tmp_path):
    faces = [Placement(FACES[0], (160.0, 150.0), 2.2, 4.0)]
    Image.fromarray(scene(320, 300, faces, seed=1)).save(tmp_path / "photo.jpg", quality=95)
    p = _run(tmp_path, "edit", "photo.jpg", "-c", "smile", "-a", "1.5")
    assert p.returncode == 0, p.stderr
    assert p.stdout.split(":")[0].strip() == "photo_smile1.5.jpg"
    with Image.open(tmp_path / "photo_smile1.5.jpg") as im:
        assert im.format == "JPEG" and im.size == (320, 300)
        assert JpegImagePlugin.get_sampling(im) == 0  # 4:4:4, no chroma subsampling
        assert im.quantization[0][0] <= 3  # quality 95's luminance table
    # -o DIR/ keeps the JPEG; -o FILE.png says otherwise.
    assert _run(tmp_path, "edit", "photo.jpg", "-c", "smile", "-o", "out/").returncode == 0
    assert Image.open(tmp_path / "out" / "photo.jpg").format == "JPEG"
    assert _run(tmp_path, "edit", "photo.jpg", "-c", "smile", "-o", "p.png").returncode == 0
    assert Image.open(tmp_path / "p.png").format == "PNG"


def test_every_data_folder_is_a_declared_package():
    # setuptools warns "Package would be ignored" for a folder of package data
    # that is not itself declared; each must be listed, with its files.
    tool = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages, dirs, data = set(tool["packages"]), tool["package-dir"], tool["package-data"]

    def source(package: str) -> Path:
        parts = package.split(".")
        for k in range(len(parts), 0, -1):
            mapped = dirs.get(".".join(parts[:k]))
            if mapped is not None:
                return REPO / mapped / Path(*parts[k:])
        return REPO / Path(*parts)

    for package in sorted(packages):
        root = source(package)
        for sub in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "__pycache__"):
            if any(f.is_file() for f in sub.iterdir()):
                assert f"{package}.{sub.name}" in packages, f"{sub} is not a declared package"
        files = [f for f in root.iterdir() if f.is_file() and f.suffix != ".py"]
        if files and package in data:
            declared = {f for pattern in data[package] for f in root.glob(pattern)}
            assert not set(files) - declared - {root / "README.md"} or package.endswith(
                "examples"), (package, sorted(set(files) - declared))  # fmt: skip
    for package in ("conceptvae.pretrained.faces", "conceptvae.faces.models",
                    "conceptvae.studio.static", "conceptvae.examples.scripts"):  # fmt: skip
        assert package in packages and data[package] == ["*"]


def test_the_browser_tests_find_chromium_and_chromedriver_on_path(tmp_path, monkeypatch):
    from test_studio_browser import find_program

    for name in ("chromium-browser", "chromedriver"):
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_program(("chromium", "chromium-browser")) == str(tmp_path / "chromium-browser")
    assert find_program(("chromedriver",)) == str(tmp_path / "chromedriver")
    assert find_program(("chromium",), (str(tmp_path / "nope"),)) is None
