"""The example files that ship with the package, named ``example:NAME`` from anywhere.

``example:face-1`` is ``face-1.png`` among the installed examples (the same
names the studio lists); ``example:smile`` is the morph script
``scripts/smile.json``. A name with its suffix (``example:face-1.png``) works too.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from .errors import DataError

PREFIX = "example:"


def examples_dir() -> Path | None:
    """Where the installed examples are (``conceptvae.examples``), or None."""
    spec = importlib.util.find_spec("conceptvae.examples")
    if spec is None or not spec.submodule_search_locations:
        return None
    return next((Path(p) for p in spec.submodule_search_locations if Path(p).is_dir()), None)


def is_example_spec(spec: object) -> bool:
    return isinstance(spec, str) and spec.startswith(PREFIX)


def example_path(spec: str | os.PathLike) -> str | os.PathLike:
    """``example:NAME`` -> the installed example's path; anything else as it is."""
    if not is_example_spec(spec):
        return spec
    name = str(spec)[len(PREFIX) :]
    root = examples_dir()
    if root is not None and name and "/" not in name.replace("scripts/", "", 1) and ".." not in name:
        for candidate in (name, f"{name}.png", f"scripts/{name}", f"scripts/{name}.json"):
            p = root / candidate
            if p.is_file() and p.name != "__init__.py":
                return p
    known = ", ".join(example_names()) or "none installed"
    raise DataError(f"no such example (examples: {known})", spec)


def example_names() -> list[str]:
    """``example:face-1``, ..., ``example:smile``: every name :func:`example_path` takes."""
    root = examples_dir()
    if root is None:
        return []
    images = sorted(p.stem for p in root.glob("*.png"))
    scripts = sorted(p.stem for p in (root / "scripts").glob("*.json"))
    return [f"{PREFIX}{n}" for n in images + scripts]


def is_example(path: str | os.PathLike | None) -> bool:
    """Whether ``path`` is one of the installed example files."""
    root = examples_dir()
    if path is None or root is None:
        return False
    real, base = os.path.realpath(path), os.path.realpath(root)
    return os.path.commonpath([real, base]) == base
