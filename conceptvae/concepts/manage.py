"""List, show, remove, rename and import the concepts of a model's library; exports as dicts.

Nothing here loads TensorFlow: the model is only read for its latent size and
weights fingerprint (config.json and meta.json).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConceptError
from ..model.identity import model_ref
from ..readers import first_line
from .library import ConceptLibrary, assemble_library, open_library, update_library
from .stats import trust_verdict
from .validation import FORMAT, FORMAT_VERSION, ClassSetEntry, ConceptEntry, check_header
from .values import ClassSet, Concept


def with_trust(row: dict[str, Any]) -> dict[str, Any]:
    """The row plus its ``trust`` verdict, derived from the statistics it shows
    (so a library written before the verdict existed reads the same way)."""
    two_class = not str(row["kind"]).startswith("class:")
    trust = trust_verdict(
        row.get("p_value"),
        row.get("probe_auc"),
        row.get("n_pos"),
        row.get("n_neg"),
        row.get("probe_accuracy") if two_class else None,
    )
    significant = row.get("significant") if trust is None else trust == "ok"
    return {**row, "trust": trust, "significant": significant}


# An export holds a few vectors per concept: 256 MiB is thousands of concepts at latent 4096.
MAX_EXPORT_BYTES = 256 << 20


def concept_row(c: Concept) -> dict[str, Any]:
    """One concept's summary, as list, show and build report it."""
    return with_trust(_concept_row(c))


def _concept_row(c: Concept) -> dict[str, Any]:
    m = c.metrics
    return {
        "name": c.name,
        "kind": c.kind,
        "method": c.method,
        "n_pos": c.info.get("n_pos"),
        "n_neg": c.info.get("n_neg"),
        "probe_accuracy": m.get("probe_accuracy"),
        "probe_auc": m.get("probe_auc"),
        "p_value": m.get("p_value"),
        "significant": m.get("significant"),
        "stability": m.get("stability"),
        "norm": round(c.norm, 6),
        "explained_variance_ratio": m.get("explained_variance_ratio"),
        "created": c.info.get("created"),
    }


def class_row(s: ClassSet, i: int) -> dict[str, Any]:
    return with_trust(_class_values(s, i))


def _class_values(s: ClassSet, i: int) -> dict[str, Any]:
    name = s.classes[i]
    m = s.class_info(name)
    return {
        "name": name,
        "kind": f"class:{s.name}",
        "method": "centroid",
        "n_pos": int(s.counts[i]),
        "n_neg": int(s.counts.sum() - s.counts[i]),
        "probe_accuracy": (s.info.get("metrics") or {}).get("probe_accuracy"),
        "probe_auc": m.get("probe_auc"),
        "p_value": m.get("p_value"),
        "significant": m.get("significant"),
        "stability": m.get("stability"),
        "norm": m.get("norm"),
        "explained_variance_ratio": None,
        "created": s.info.get("created"),
    }


def list_concepts(model: Any, ignore_fingerprint: bool = False) -> dict[str, Any]:
    """Every concept of the model's library, one row each (class values included)."""
    lib = open_library(model, ignore_fingerprint, missing_ok=True)
    rows = [concept_row(lib.concepts[n]) for n in sorted(lib.concepts, key=_natural)]
    for set_name in sorted(lib.class_sets):
        s = lib.class_sets[set_name]
        rows.extend(class_row(s, i) for i in range(len(s.classes)))
    return {
        "library": str(lib.path),
        "exists": bool(lib.path and Path(lib.path).exists()),
        "latent_dim": lib.latent_dim,
        "model_fingerprint": lib.model_fingerprint,
        "concepts": rows,
    }


def _natural(name: str) -> tuple:
    """pc2 before pc10."""
    import re

    return tuple((0, int(p), "") if p.isdecimal() else (1, 0, p) for p in re.split(r"(\d+)", name))


def show_concept(model: Any, name: str, ignore_fingerprint: bool = False) -> dict[str, Any]:
    """Everything stored about one concept, class, or class set."""
    lib = open_library(model, ignore_fingerprint)
    if name in lib.concepts:
        c = lib.concepts[name]
        out = {**concept_row(c), "info": c.info, "vector": c.vector.tolist()}
        if c.probe_coef is not None:
            out["probe"] = {"coef": c.probe_coef.tolist(), "intercept": c.probe_intercept}
        return out
    if name in lib.class_sets:
        s = lib.class_sets[name]
        return {
            "name": name,
            "kind": "class set",
            "method": "centroid",
            "classes": s.classes,
            "counts": s.counts.tolist(),
            "info": s.info,
            "rows": [class_row(s, i) for i in range(len(s.classes))],
        }
    s = lib.class_set_of(name)
    if s is None:
        lib.concept(name)  # raises the unknown-name error with the closest names
    assert s is not None
    i = s.index(name)
    info = {k: v for k, v in s.info.items() if k != "per_class"}
    return {
        **class_row(s, i),
        "class_set": s.name,
        "classes": s.classes,
        "info": {**info, **s.class_info(name)},
        "vector": s.centroids[i].tolist(),
    }


def remove_concepts(model: Any, names: list[str], ignore_fingerprint: bool = False) -> list[str]:
    """Remove concepts (a class set goes whole, by its name). All or nothing."""
    removed: list[str] = []
    with update_library(_existing(model), ignore_fingerprint) as lib:
        for n in names:
            removed.extend(lib.remove(n))
    return removed


def rename_concept(model: Any, old: str, new: str, ignore_fingerprint: bool = False) -> None:
    with update_library(_existing(model), ignore_fingerprint) as lib:
        lib.rename(old, new)


def _existing(model: Any) -> Any:
    from ..model.registry import user_copy

    # A shipped model changed before: its copy holds the changes.
    ref = model_ref(model)
    ref = dataclasses.replace(ref, path=user_copy(ref.path))
    if not ref.library_path.exists():
        raise ConceptError(
            "this model has no concept library yet; build one with `conceptvae concepts build`",
            ref.library_path,
        )
    return ref


# -- export / import ---------------------------------------------------------------------


def select_concepts(lib: ConceptLibrary, names: list[str] | None) -> ConceptLibrary:
    """The named concepts (a class's whole set comes along), or all of them."""
    if not names:
        return lib
    out = ConceptLibrary(lib.latent_dim, lib.model_fingerprint)
    for n in names:
        if n in lib.concepts:
            out.concepts[n] = lib.concepts[n]
        elif n in lib.class_sets:
            out.class_sets[n] = lib.class_sets[n]
        elif lib.class_set_of(n) is not None:
            s = lib.class_set_of(n)
            out.class_sets[s.name] = s  # type: ignore[union-attr]
        else:
            lib.concept(n)  # unknown-name error
    return out


def library_to_dict(lib: ConceptLibrary) -> dict[str, Any]:
    """A JSON-ready dict holding everything in the library (float32 values exactly)."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "latent_dim": lib.latent_dim,
        "model_fingerprint": lib.model_fingerprint,
        "concepts": {
            n: {
                "kind": c.kind,
                "method": c.method,
                "vector": c.vector.tolist(),
                "probe_coef": None if c.probe_coef is None else c.probe_coef.tolist(),
                "probe_intercept": c.probe_intercept,
                "info": c.info,
            }
            for n, c in sorted(lib.concepts.items())
        },
        "class_sets": {
            n: {
                "classes": s.classes,
                "centroids": s.centroids.tolist(),
                "counts": s.counts.tolist(),
                "probe_coef": s.probe_coef.tolist(),
                "probe_intercept": s.probe_intercept.tolist(),
                "info": s.info,
            }
            for n, s in sorted(lib.class_sets.items())
        },
    }


def library_from_dict(d: Any, source: str | os.PathLike) -> ConceptLibrary:
    """Validate an exported dict (from JSON or npz) back into a library."""

    def bad(msg: str) -> ConceptError:
        return ConceptError(f"not a conceptvae concept export: {msg}", source)

    if not isinstance(d, dict):
        raise bad("missing or wrong format marker")
    dim = check_header(
        d.get("format"), d.get("format_version"), d.get("latent_dim"),
        d.get("model_fingerprint"), bad, source,
    )  # fmt: skip

    def mapping(value: Any, what: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise bad(f"{what} is not an object")
        return value

    concepts = [
        ConceptEntry(
            name, f"concept {name!r}", c.get("kind"), c.get("method"), c.get("vector"),
            c.get("probe_coef"), c.get("probe_intercept"), c.get("info", {}),
        )  # fmt: skip
        for name, c in mapping(d.get("concepts", {}), "concepts").items()
        if mapping(c, f"concept {name!r}") is c
    ]
    class_sets = [
        ClassSetEntry(
            name, f"class set {name!r}", s.get("classes"), s.get("centroids"), s.get("counts"),
            s.get("probe_coef"), s.get("probe_intercept"), s.get("info", {}),
        )  # fmt: skip
        for name, s in mapping(d.get("class_sets", {}), "class_sets").items()
        if mapping(s, f"class set {name!r}") is s
    ]
    return assemble_library(dim, d["model_fingerprint"], concepts, class_sets, bad)


def read_export(path: str | os.PathLike) -> ConceptLibrary:
    """A library from an export (.json / .npz) or another library file (.h5)."""
    path = Path(path)
    if not path.is_file():
        raise ConceptError("file not found", path)
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5"):
        return ConceptLibrary.read(path)
    if suffix == ".json":
        from ..io import read_json

        try:
            return library_from_dict(read_json(path, "concept export"), path)
        except ConceptError:
            raise
        except Exception as exc:  # noqa: BLE001 - read_json raises ConceptVAEError
            raise ConceptError(str(getattr(exc, "message", exc)), path) from None
    if suffix == ".npz":
        return _read_npz_export(path)
    raise ConceptError("expected a .json or .npz concept export, or a concepts .h5 file", path)


def _read_npz_export(path: Path) -> ConceptLibrary:
    from ..readers import loads_json, npz_headers

    # Declared shapes first (a header can promise terabytes in a few bytes).
    npz_headers(path, MAX_EXPORT_BYTES, ConceptError)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as exc:  # noqa: BLE001 - zipfile, zlib and numpy raise many types
        raise ConceptError(f"not a readable .npz file ({first_line(exc)})", path) from None
    raw = arrays.pop("library_json", None)
    if raw is None or raw.dtype.kind != "U" or raw.shape != ():
        raise ConceptError("not a conceptvae concept export (no library_json)", path)
    try:
        header = loads_json(str(raw), path, "library_json", ConceptError)
    except ConceptError as exc:
        raise ConceptError(f"not a conceptvae concept export ({exc.message})", path) from None

    def deref(value: Any) -> Any:
        if isinstance(value, str):
            if value not in arrays:
                raise ConceptError(f"not a conceptvae concept export (missing array {value})", path)
            return arrays[value]
        return value

    if isinstance(header, dict):
        for section, keys in (
            ("concepts", ("vector", "probe_coef")),
            ("class_sets", ("centroids", "counts", "probe_coef", "probe_intercept")),
        ):
            for entry in (header.get(section) or {}).values():
                if isinstance(entry, dict):
                    for key in keys:
                        if key in entry:
                            entry[key] = deref(entry[key])
    return library_from_dict(header, path)


def import_library(
    model: Any,
    source: str | os.PathLike,
    replace: bool = False,
    ignore_fingerprint: bool = False,
    names: list[str] | None = None,
) -> list[str]:
    """Add the concepts of an export (or another library) to the model's library."""
    incoming = select_concepts(read_export(source), names)
    ref = model_ref(model)
    incoming.path = Path(source)
    incoming.check_model(ref, ignore_fingerprint)
    added: list[str] = []
    with update_library(ref, ignore_fingerprint) as lib:
        for c in incoming.concepts.values():
            lib.add_concept(c, replace=replace)
            added.append(c.name)
        for s in incoming.class_sets.values():
            lib.add_class_set(s, replace=replace)
            added.extend(s.classes)
    return added
