"""Find models by name: the shipped ones in pretrained/ and the user's own.

A model argument is a path to a model directory (or a .keras file), or a name
looked up in ``$CONCEPTVAE_HOME/models/`` (default ``~/.conceptvae``) and then
among the pretrained models that ship with the package.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError
from . import files


def home() -> Path:
    return Path(os.environ.get("CONCEPTVAE_HOME") or Path.home() / ".conceptvae")


def user_models_dir() -> Path:
    return home() / "models"


def pretrained_dir() -> Path | None:
    spec = importlib.util.find_spec("conceptvae.pretrained")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        if Path(loc).is_dir():
            return Path(loc)
    return None


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: Path
    source: str  # "pretrained" or "user"


def list_models() -> list[ModelEntry]:
    entries = []
    for source, root in (("user", user_models_dir()), ("pretrained", pretrained_dir())):
        if root is None or not root.is_dir():
            continue
        for d in sorted(root.iterdir()):
            if files.is_model_dir(d):
                entries.append(ModelEntry(d.name, d, source))
    return entries


def resolve_model_path(spec: str | os.PathLike) -> Path:
    """A model path or name -> the model directory (or .keras file)."""
    p = Path(spec)
    if p.exists():
        return p
    name = os.fspath(spec)
    if os.sep not in name and "/" not in name:
        for entry in list_models():
            if entry.name == name:
                return entry.path
    names = sorted({e.name for e in list_models()})
    close = difflib.get_close_matches(name, names, n=3)
    hint = (
        f"; did you mean {', '.join(close)}?"
        if close
        else (f"; known models: {', '.join(names)}" if names else "")
    )
    raise ModelError(f"no such model directory or model name{hint}", spec)
