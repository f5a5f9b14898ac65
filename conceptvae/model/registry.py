"""Find models by name: the shipped ones in pretrained/ and the user's own.

A model argument is a path to a model directory (or a .keras file), or a name
looked up in ``$CONCEPTVAE_HOME/models/`` (default ``~/.conceptvae``) and then
among the pretrained models that ship with the package.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import shutil
import tempfile
import warnings
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
    name = os.fspath(spec)
    named = None
    if os.sep not in name and "/" not in name:
        named = next((e for e in list_models() if e.name == name), None)
    if p.exists():
        if named is None or named.path.resolve() == p.resolve():
            return p
        # A bare name that is both a path here and a known model: only a real
        # model (a model directory or a .keras file) wins over the name.
        if files.is_model_dir(p) or (p.is_file() and p.suffix == ".keras"):
            warnings.warn(
                f"using the model in ./{name}, not the {named.source} model {name!r} "
                f"(give ./{name} or its full path to make this explicit)",
                stacklevel=1,  # one location: said once per process, however often resolved
            )
            return p
        warnings.warn(
            f"./{name} is not a model; using the {named.source} model {name!r}", stacklevel=1
        )
        return named.path
    if named is not None:
        return named.path
    names = sorted({e.name for e in list_models()})
    close = difflib.get_close_matches(name, names, n=3)
    hint = (
        f"; did you mean {', '.join(close)}?"
        if close
        else (f"; known models: {', '.join(names)}" if names else "")
    )
    raise ModelError(f"no such model directory or model name{hint}", spec)


def is_pretrained(path: str | os.PathLike) -> bool:
    """Whether ``path`` is one of the models that ship with the package."""
    root = pretrained_dir()
    return root is not None and Path(path).resolve().parent == root.resolve()


def user_copy(path: Path) -> Path:
    """For a shipped model whose copy was made (see writable_model), the copy, said
    on stderr; else ``path``."""
    if not is_pretrained(path):
        return path
    target = user_models_dir() / path.name
    if not files.is_model_dir(target):
        return path
    warnings.warn(
        f"{path.name} is a shipped model and stays read-only; changing your copy at {target}",
        stacklevel=1,
    )
    return target


def writable_model(path: Path) -> Path:
    """``path``, or for a shipped model its copy under ``$CONCEPTVAE_HOME/models``.

    Shipped models are read-only (they live in site-packages, or in the
    checkout that builds them): a command that changes one works on the user's
    copy, made on first use and then found by the same name, and says so.
    """
    if not is_pretrained(path):
        return path
    target = user_copy(path)
    if target != path:
        return target
    target = user_models_dir() / path.name
    if target.exists():
        raise ModelError(
            f"{path.name} is a shipped model and stays read-only, and its copy cannot go to "
            f"{target}, which exists and is not a model; move it away",
            target,
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=target.parent))
    try:
        shutil.copytree(path, tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    warnings.warn(
        f"{path.name} is a shipped model and stays read-only; copied it to {target} and "
        f"changed the copy (the name {path.name!r} now means your copy)",
        stacklevel=1,
    )
    return target
