"""The ``concepts.h5`` file format: reading and writing it, and nothing else.

File layout (HDF5, written with h5py; no pickled objects, nothing executed)::

    /                      attrs: format="conceptvae-concepts", format_version,
                                  latent_dim, model_fingerprint, updated
    /concepts/<name>/      attrs: kind ("attribute" | "pc"), method
        info               utf-8 text: JSON object (counts, metrics, data, created, ...)
        vector             float32 (D,)  calibrated: amount 1.0 = one typical difference
        probe_coef         float32 (D,)  attribute concepts: P(attr | z) =
        probe_intercept    float64 ()        sigmoid(probe_coef . z + probe_intercept)
    /class_sets/<name>/
        info               utf-8 text: JSON with "classes": [...] and per-class metrics
        centroids          float32 (K, D)  one per class; "a->b" is centroid_b - centroid_a
        counts             int64 (K,)
        probe_coef         float32 (K, D)  P(class | z) = softmax(probe_coef @ z + probe_intercept)
        probe_intercept    float64 (K,)

The reader accepts only hard-linked groups and in-file datasets of the right type
and shape (checked before any data is read), and hands what it finds, unchecked,
to the caller's ``assemble`` (:func:`conceptvae.concepts.library.assemble_library`),
which validates every entry as the JSON and npz exports are validated.
h5py is imported on use.
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ..errors import ConceptError
from ..readers import first_line, loads_json, open_regular
from .validation import FORMAT, FORMAT_VERSION, ClassSetEntry, ConceptEntry, check_header
from .values import ClassSet, Concept, now

if TYPE_CHECKING:
    from .library import ConceptLibrary

MAX_INFO_BYTES = 16 << 20
MAX_LIBRARY_BYTES = 1 << 30

Bad = Callable[[str], ConceptError]
# assemble(latent_dim, fingerprint, concepts, class_sets, bad) -> the library
T = TypeVar("T")
Assemble = Callable[[int, str, Iterator[ConceptEntry], Iterator[ClassSetEntry], Bad], T]


# -- reading ------------------------------------------------------------------------------------


def read(path: Path, assemble: Assemble[T]) -> T:
    """Open, parse and ``assemble`` a concepts.h5; any problem is a one-line ConceptError.

    ``assemble`` runs while the file is open: the entries are read as it asks for them.
    """
    import h5py

    # A regular file of sane size (no FIFO, no /dev/zero behind a symlink).
    with open_regular(path, "concept library", MAX_LIBRARY_BYTES, ConceptError):
        pass
    try:
        fh = h5py.File(path, "r")
    except Exception as exc:  # noqa: BLE001 - h5py raises many types for bad files
        raise ConceptError(f"not a readable concept library ({first_line(exc)})", path) from None
    try:
        with fh:
            return _parse(fh, path, assemble)
    except ConceptError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged file can fail anywhere inside h5py
        raise ConceptError(f"corrupt concept library ({first_line(exc)})", path) from None


def peek_names(path: Path) -> set[str] | None:
    """The concept and class names a concepts.h5 holds, read without checking the
    rest (choosing among libraries by name needs no vectors); None when the file does
    not read plainly, for the full reader to say why."""
    import h5py

    try:
        with open_regular(path, "concept library", MAX_LIBRARY_BYTES, ConceptError):
            pass
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FORMAT:
                return None
            names = set(f["concepts"].keys()) if "concepts" in f else set()
            for g in (f["class_sets"].values() if "class_sets" in f else ()):
                raw = g["info"][()]
                if len(raw) > MAX_INFO_BYTES:
                    return None
                classes = loads_json(raw.decode() if isinstance(raw, bytes) else str(raw))
                classes = classes.get("classes") if isinstance(classes, dict) else None
                if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
                    return None
                names |= set(classes)
            return names
    except Exception:  # noqa: BLE001 - anything odd: the full reader reports it
        return None


def _invalid(path: Path, msg: str) -> ConceptError:
    return ConceptError(f"not a valid concept library: {msg}", path)


def _parse(f: Any, path: Path, assemble: Assemble[T]) -> T:
    bad: Bad = functools.partial(_invalid, path)
    attrs = dict(f.attrs)
    latent_dim = check_header(
        attrs.get("format"), attrs.get("format_version"), attrs.get("latent_dim"),
        attrs.get("model_fingerprint"), bad, path,
    )  # fmt: skip
    top = _top_groups(f, bad)
    concepts = _concept_entries(top.get("concepts"), latent_dim, bad)
    class_sets = _class_set_entries(top.get("class_sets"), latent_dim, bad)
    return assemble(latent_dim, attrs["model_fingerprint"], concepts, class_sets, bad)


def _top_groups(f: Any, bad: Bad) -> dict[str, Any]:
    import h5py

    top = dict(_members(f, "", bad))
    unexpected = set(top) - {"concepts", "class_sets"}
    if unexpected:
        raise bad(f"unexpected object(s) {', '.join(sorted(unexpected))}")
    for key in ("concepts", "class_sets"):
        if key in top and not isinstance(top[key], h5py.Group):
            raise bad(f"/{key} is not a group")
    return top


def _members(group: Any, where: str, bad: Bad) -> list[tuple[str, Any]]:
    """(name, object) of every member, refusing soft and external links."""
    import h5py

    out = []
    for name in group:
        link = group.get(name, getlink=True)
        if not isinstance(link, h5py.HardLink):
            raise bad(f"{where}/{name} is a {type(link).__name__}, not stored in the file")
        out.append((name, group[name]))
    return out


def _entry_group(g: Any, where: str, allowed: set[str], bad: Bad) -> None:
    import h5py

    if not isinstance(g, h5py.Group):
        raise bad(f"{where} is not a group")
    extra = set(g) - allowed
    if extra:
        raise bad(f"unexpected object(s) in {where}: {', '.join(sorted(extra))}")


def _dataset(
    group: Any, name: str, where: str, shape: tuple[int, ...], kinds: str, bad: Bad
) -> np.ndarray:
    # Type and shape are checked before reading, so a huge dataset is never loaded.
    import h5py

    obj = group.get(name, getlink=True)
    if obj is None:
        raise bad(f"{where} has no {name}")
    if not isinstance(obj, h5py.HardLink) or not isinstance(group[name], h5py.Dataset):
        raise bad(f"{where}/{name} is not a dataset")
    ds = group[name]
    if ds.is_virtual or ds.external:
        raise bad(f"{where}/{name} refers to data outside the file")
    if ds.dtype.kind not in kinds or ds.shape != shape:
        raise bad(f"{where}/{name} has type {ds.dtype} and shape {ds.shape}; expected {shape}")
    return np.asarray(ds[()])


def _info(group: Any, where: str, bad: Bad) -> dict[str, Any]:
    import h5py

    if group.get("info", getlink=True) is None:
        return {}
    ds = group["info"]
    if (
        not isinstance(group.get("info", getlink=True), h5py.HardLink)
        or not isinstance(ds, h5py.Dataset)
        or ds.shape != ()
        or h5py.check_string_dtype(ds.dtype) is None
    ):
        raise bad(f"{where}/info is not a text dataset")
    raw = ds.asstr()[()]
    if len(raw) > MAX_INFO_BYTES:
        raise bad(f"{where}/info is larger than {MAX_INFO_BYTES:,} bytes")
    try:
        info = loads_json(raw, None, f"{where} info", ConceptError)
    except ConceptError as exc:
        raise bad(exc.message) from None
    if not isinstance(info, dict):
        raise bad(f"{where} info is not a JSON object")
    return info


def _text_attr(obj: Any, name: str, where: str, bad: Bad) -> str:
    v = obj.attrs.get(name)
    if isinstance(v, bytes):
        v = v.decode("utf-8")
    if not isinstance(v, str):
        raise bad(f"{where} has no {name}")
    return v


def _concept_entries(group: Any, dim: int, bad: Bad) -> Iterator[ConceptEntry]:
    for name, g in _members(group, "/concepts", bad) if group is not None else []:
        where = f"/concepts/{name}"
        _entry_group(g, where, {"vector", "probe_coef", "probe_intercept", "info"}, bad)
        has_probe = "probe_coef" in g
        yield ConceptEntry(
            name, where, _text_attr(g, "kind", where, bad), _text_attr(g, "method", where, bad),
            _dataset(g, "vector", where, (dim,), "f", bad),
            _dataset(g, "probe_coef", where, (dim,), "f", bad) if has_probe else None,
            _dataset(g, "probe_intercept", where, (), "f", bad) if has_probe else None,
            _info(g, where, bad),
        )  # fmt: skip


def _class_set_entries(group: Any, dim: int, bad: Bad) -> Iterator[ClassSetEntry]:
    allowed = {"centroids", "counts", "probe_coef", "probe_intercept", "info"}
    for name, g in _members(group, "/class_sets", bad) if group is not None else []:
        where = f"/class_sets/{name}"
        _entry_group(g, where, allowed, bad)
        info = _info(g, where, bad)
        classes = info.pop("classes", None)
        if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
            raise bad(f"{where} has no list of classes")
        k = len(classes)
        yield ClassSetEntry(
            name, where, classes, _dataset(g, "centroids", where, (k, dim), "f", bad),
            _dataset(g, "counts", where, (k,), "iu", bad),
            _dataset(g, "probe_coef", where, (k, dim), "f", bad),
            _dataset(g, "probe_intercept", where, (k,), "f", bad), info,
        )  # fmt: skip


# -- writing ------------------------------------------------------------------------------------


def to_bytes(lib: ConceptLibrary) -> bytes:
    """The whole file, built in memory (the caller writes it atomically)."""
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["latent_dim"] = lib.latent_dim
        f.attrs["model_fingerprint"] = lib.model_fingerprint
        f.attrs["updated"] = now()
        g = f.create_group("concepts")
        for name in sorted(lib.concepts):
            _write_concept(g.create_group(name), lib.concepts[name])
        g = f.create_group("class_sets")
        for name in sorted(lib.class_sets):
            _write_class_set(g.create_group(name), lib.class_sets[name])
    return buf.getvalue()


def _write_concept(cg: Any, c: Concept) -> None:
    cg.attrs["kind"] = c.kind
    cg.attrs["method"] = c.method
    _write_text(cg, "info", json.dumps(c.info, sort_keys=True))
    cg.create_dataset("vector", data=np.asarray(c.vector, np.float32))
    if c.probe_coef is not None:
        cg.create_dataset("probe_coef", data=np.asarray(c.probe_coef, np.float32))
        cg.create_dataset("probe_intercept", data=np.float64(c.probe_intercept or 0.0))


def _write_class_set(sg: Any, s: ClassSet) -> None:
    _write_text(sg, "info", json.dumps({**s.info, "classes": s.classes}, sort_keys=True))
    sg.create_dataset("centroids", data=np.asarray(s.centroids, np.float32))
    sg.create_dataset("counts", data=np.asarray(s.counts, np.int64))
    sg.create_dataset("probe_coef", data=np.asarray(s.probe_coef, np.float32))
    sg.create_dataset("probe_intercept", data=np.asarray(s.probe_intercept, np.float64))


def _write_text(group: Any, name: str, text: str) -> None:
    # A dataset, not an attribute: HDF5 caps compact attributes at 64 KiB, and the
    # metrics of a class column with many classes can exceed that.
    import h5py

    group.create_dataset(name, data=text, dtype=h5py.string_dtype("utf-8"))
