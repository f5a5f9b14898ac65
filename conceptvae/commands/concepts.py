"""The ``concepts`` verbs for front ends.

``build``, ``rm``, ``rename`` and ``import`` change the model's own library
(``concepts.h5``, replaced atomically under its lock by :mod:`conceptvae.concepts`);
``list`` and ``show`` read it; ``export`` writes a file of the user's, here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..concepts.library import open_library
from ..concepts.manage import (
    import_library,
    library_to_dict,
    list_concepts,
    remove_concepts,
    rename_concept,
    select_concepts,
    show_concept,
)
from ..errors import ConceptError
from ..io import atomic_path, atomic_write_text
from ..lazy import lazy_attributes
from ..model.identity import model_ref
from ..options import EXPORT_FORMATS
from ..outputs import check_writable_parent

if TYPE_CHECKING:
    from ..concepts.build import build_concepts

# The build pulls in scikit-learn; list, show, rm, rename, export and import do not.
__getattr__ = lazy_attributes(globals(), {"build_concepts": ("conceptvae.concepts.build",
                                                             "build_concepts")})  # fmt: skip

__all__ = [
    "build_concepts", "export_library", "import_library", "list_concepts", "remove_concepts",
    "rename_concept", "show_concept",
]  # fmt: skip


def export_library(
    model: Any,
    out: str | os.PathLike,
    fmt: str | None = None,
    names: list[str] | None = None,
    ignore_fingerprint: bool = False,
) -> tuple[Path, int]:
    """Write the library (or the named concepts) as JSON or npz; returns (path, count)."""
    out = Path(out)
    fmt = fmt or out.suffix.lstrip(".").lower()
    if fmt not in EXPORT_FORMATS:
        raise ConceptError(f"export format must be one of {', '.join(EXPORT_FORMATS)}", out)
    ref = model_ref(model)
    check_writable_parent(out)
    # Never over the library being read, nor any file of its model.
    model_files = [ref.library_path]
    if ref.path.is_dir():
        model_files += [p for p in ref.path.iterdir() if p.is_file()]
    else:
        model_files.append(ref.path)
    if os.path.realpath(out) in {os.path.realpath(p) for p in model_files}:
        raise ConceptError("is a file of the model being exported; export to another path", out)
    lib = select_concepts(open_library(ref, ignore_fingerprint), names)
    data = library_to_dict(lib)
    if fmt == "json":
        atomic_write_text(out, json.dumps(data, indent=1, sort_keys=True) + "\n")
    else:
        arrays: dict[str, np.ndarray] = {}
        header = json.loads(json.dumps(data))
        for i, (n, c) in enumerate(sorted(lib.concepts.items())):
            entry = header["concepts"][n]
            for key in ("vector", "probe_coef"):
                value = getattr(c, key)
                entry[key] = None if value is None else f"c{i}_{key}"
                if value is not None:
                    arrays[f"c{i}_{key}"] = np.asarray(value, np.float32)
        for j, (n, s) in enumerate(sorted(lib.class_sets.items())):
            entry = header["class_sets"][n]
            for key in ("centroids", "counts", "probe_coef", "probe_intercept"):
                entry[key] = f"s{j}_{key}"
                arrays[f"s{j}_{key}"] = np.asarray(getattr(s, key))
        arrays["library_json"] = np.array(json.dumps(header, sort_keys=True))
        with atomic_path(out, suffix=".npz") as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    return out, len(lib)
