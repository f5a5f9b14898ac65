"""The concept library: named concepts for one model, and expressions -> directions.

:class:`ConceptLibrary` is the container and its expression algebra; it is read
and written as ``concepts.h5`` beside the model (the file format is
:mod:`.h5format`), its values are :mod:`.values`, their checks :mod:`.validation`.
:func:`open_library` and :func:`update_library` are the ways in, checked against
the model (:mod:`conceptvae.model.identity`).

Every concept name, class name and class-set name is unique across the file.
A library belongs to one model: it is refused (unless explicitly overridden) by
a model whose weights fingerprint differs, and always by another latent size.
Writers take an exclusive lock (on the model's directory, :mod:`.lock`) around
read-modify-write and replace the file atomically, so concurrent builds lose
nothing and readers never see half a file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConceptError, param, resource_problem
from ..io import atomic_write_bytes
from ..model.identity import ModelRef, model_ref
from . import h5format
from .expressions import Term, check_name, parse_expression, quote, unknown_name_error
from .lock import exclusive
from .validation import (
    ClassSetEntry,
    ConceptEntry,
    check_class_set,
    check_concept,
    checked_array,
)
from .values import KINDS, ClassSet, Concept, Probe

__all__ = [
    "ClassSet", "Concept", "ConceptLibrary", "Probe", "assemble_library", "open_library",
    "update_library",
]  # fmt: skip


class ConceptLibrary:
    """Named concepts for one model; see the module docstring for the file format.

    Read it with :func:`open_library` (checks the model) or :meth:`read`; turn an
    expression into a latent direction with :meth:`direction`.
    """

    def __init__(
        self,
        latent_dim: int,
        model_fingerprint: str,
        concepts: dict[str, Concept] | None = None,
        class_sets: dict[str, ClassSet] | None = None,
        path: Path | None = None,
    ) -> None:
        self.latent_dim = int(latent_dim)
        self.model_fingerprint = str(model_fingerprint)
        self.concepts: dict[str, Concept] = dict(concepts or {})
        self.class_sets: dict[str, ClassSet] = dict(class_sets or {})
        self.path = path

    def __repr__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return f"<ConceptLibrary {len(self.names())} concepts, latent {self.latent_dim}{where}>"

    def __len__(self) -> int:
        return len(self.names())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    # -- names --------------------------------------------------------------

    def names(self) -> list[str]:
        """Every name usable in an expression: attributes, principal directions, classes."""
        out = list(self.concepts)
        for s in self.class_sets.values():
            out.extend(s.classes)
        return out

    def all_names(self) -> list[str]:
        """Names in use, class-set names included (they share the namespace)."""
        return self.names() + list(self.class_sets)

    def class_set_of(self, name: str) -> ClassSet | None:
        for s in self.class_sets.values():
            if name in s.classes:
                return s
        return None

    def concept(self, name: str) -> Concept:
        if name in self.concepts:
            return self.concepts[name]
        if self.class_set_of(name) is not None:
            raise ConceptError(f"{name!r} is a class, not an attribute concept")
        raise unknown_name_error(name, self.names())

    def _unknown(self, name: str) -> ConceptError:
        if name in self.class_sets:
            s = self.class_sets[name]
            shown = ", ".join(quote(c) for c in s.classes[:6])
            return ConceptError(
                f"{name!r} is a class column; name one of its classes ({shown}"
                f"{', ...' if len(s.classes) > 6 else ''}) or a transition like "
                f"{quote(s.classes[0])}->{quote(s.classes[-1])}"
            )
        return unknown_name_error(name, self.names())

    # -- expressions ----------------------------------------------------------

    def parse(self, expr: str | list[Term]) -> list[Term]:
        """Parse an expression and check that every name in it exists."""
        terms = parse_expression(expr) if isinstance(expr, str) else list(expr)
        for t in terms:
            self._check_ref(t)
        return terms

    def needs_latents(self, expr: str | list[Term]) -> bool:
        """True when the expression has a "towards class" term (the current class is inferred)."""
        return any(
            t.ref.source is None and t.ref.name not in self.concepts for t in self.parse(expr)
        )

    def _check_ref(self, t: Term) -> None:
        ref = t.ref
        if ref.source is None:
            if ref.name not in self.concepts and self.class_set_of(ref.name) is None:
                raise self._unknown(ref.name)
            return
        for n in (ref.source, ref.name):
            if self.class_set_of(n) is None:
                if n in self.concepts:
                    raise ConceptError(f"'->' joins two classes; {n!r} is an attribute concept")
                raise self._unknown(n)
        a, b = self.class_set_of(ref.source), self.class_set_of(ref.name)
        if a is not b:
            raise ConceptError(
                f"{ref.source!r} and {ref.name!r} are classes of different columns "
                f"({a.name}, {b.name})"  # type: ignore[union-attr]
            )

    def direction(
        self, expr: str | list[Term], z: np.ndarray | None = None, infer: str = "probe"
    ) -> np.ndarray:
        """The calibrated latent direction of a concept expression, float32.

        Shape (D,) without ``z``. With latents ``z`` (N, D) - or one latent (D,) -
        the result has z's shape: a class name alone ("towards 8") becomes, per
        latent, ``centroid_8 - centroid_current``, where the current class is
        inferred with the stored probe (``infer="probe"``) or the nearest
        centroid (``infer="centroid"``); an image already in the class gets 0.
        A transition ``3->8`` is ``centroid_8 - centroid_3`` without latents;
        with them it moves each latent's class coordinates (its projection on
        the span of the column's centroid differences) onto centroid 8 and
        leaves the rest (the style) alone, which for a latent at centroid 3 is
        the same step. Amount 1.0 of a concept is one typical difference
        between its negatives and positives (or between the two classes).
        """
        terms = self.parse(expr)
        zz = None
        if z is not None:
            zz = np.asarray(z, np.float64)
            if zz.shape[-1] != self.latent_dim or zz.ndim not in (1, 2):
                raise ConceptError(
                    f"latents must have shape (N, {self.latent_dim}) for this library, got {zz.shape}"
                )
        total = np.zeros(self.latent_dim if zz is None else zz.shape, np.float64)
        for t in terms:
            total = total + t.coef * self._ref_vector(t, zz, infer)
        return total.astype(np.float32)

    def _ref_vector(self, t: Term, z: np.ndarray | None, infer: str) -> np.ndarray:
        ref = t.ref
        if ref.source is None and ref.name in self.concepts:
            return self.concepts[ref.name].vector.astype(np.float64)
        if ref.source is not None:
            s = self.class_set_of(ref.name)
            assert s is not None  # checked by parse
            c = s.centroids.astype(np.float64)
            target = c[s.index(ref.name)]
            if z is None:
                return target - c[s.index(ref.source)]
            # The fixed centroid step keeps whatever class evidence an untypical
            # image carries (a 2 that leans towards 7 lands between 5 and 7);
            # moving the image's own class coordinates lands far more often.
            basis = s.class_basis()
            return (target - z) @ basis @ basis.T
        s = self.class_set_of(ref.name)
        assert s is not None
        if z is None:
            raise ConceptError(
                f"{ref.name!r} is a class: write SOURCE->{quote(ref.name)} (e.g. "
                f"{quote(s.classes[0])}->{quote(ref.name)}), or give latents so the current "
                f"class can be inferred"
            )
        current = s.infer(z, infer)
        c = s.centroids.astype(np.float64)
        out = c[s.index(ref.name)][None] - c[current]
        return out.reshape(z.shape)

    def probe(self, name: str) -> Probe:
        """The stored latent probe of an attribute, or the class probe of a class's column."""
        if name in self.concepts:
            p = self.concepts[name].probe
            if p is None:
                raise ConceptError(
                    f"{name!r} is unsupervised ({self.concepts[name].kind}); it has no probe"
                )
            return p
        s = self.class_sets.get(name) or self.class_set_of(name)
        if s is None:
            raise self._unknown(name)
        return s.probe

    # -- changes ------------------------------------------------------------

    def _check_free(self, names: list[str], replace: bool, replacing: set[str]) -> None:
        taken = set(self.all_names()) - replacing
        clash = [n for n in names if n in taken]
        if clash:
            raise ConceptError(
                f"the library already has {', '.join(map(repr, clash))}"
                + (
                    f"; pass {param('replace')} to overwrite"
                    if not replace
                    else " (as another kind of concept; remove it first)"
                )
            )

    def add_concept(self, concept: Concept, replace: bool = False) -> None:
        check_concept(concept, self.latent_dim)
        replacing = {concept.name} if replace and concept.name in self.concepts else set()
        self._check_free([concept.name], replace, replacing)
        self.concepts[concept.name] = concept

    def add_class_set(self, cset: ClassSet, replace: bool = False) -> None:
        check_class_set(cset, self.latent_dim)
        new = [cset.name, *cset.classes]
        # With replace, every class set sharing a name with the new one goes, whole
        # (a class column rebuilt, under its own name or another).
        old = self.class_sets_sharing(new) if replace else []
        replacing = {n for s in old for n in (s.name, *s.classes)}
        self._check_free(new, replace, replacing)
        for s in old:
            del self.class_sets[s.name]
        self.class_sets[cset.name] = cset

    def class_sets_sharing(self, names: list[str]) -> list[ClassSet]:
        """The class sets whose name or a class is among ``names``."""
        wanted = set(names)
        return [s for s in self.class_sets.values() if wanted & {s.name, *s.classes}]

    def remove(self, name: str) -> list[str]:
        """Remove a concept, or a whole class set by its name; returns the names removed."""
        if name in self.concepts:
            del self.concepts[name]
            return [name]
        if name in self.class_sets:
            s = self.class_sets.pop(name)
            return [name, *s.classes]
        s = self.class_set_of(name)
        if s is not None:
            raise ConceptError(
                f"{name!r} is one class of {s.name!r}; remove the whole set with its name {s.name!r}"
            )
        raise unknown_name_error(name, self.all_names())

    def rename(self, old: str, new: str) -> None:
        check_name(new)
        if old == new:
            return
        if new in self.all_names():
            raise ConceptError(f"the library already has {new!r}")
        if old in self.concepts:
            c = self.concepts.pop(old)
            c.name = new
            self.concepts[new] = c
            return
        if old in self.class_sets:
            s = self.class_sets.pop(old)
            s.name = new
            self.class_sets[new] = s
            return
        s = self.class_set_of(old)
        if s is None:
            raise unknown_name_error(old, self.all_names())
        s.classes[s.index(old)] = new
        per_class = s.info.get("per_class") or {}
        if old in per_class:
            per_class[new] = per_class.pop(old)
        s.info["classes"] = list(s.classes)

    # -- model check ----------------------------------------------------------

    def check_model(self, ref: ModelRef, ignore_fingerprint: bool | None = False) -> None:
        """``ignore_fingerprint=None``: the caller has no way to override, so no hint."""
        where = self.path or ref.library_path
        if ref.latent_dim != self.latent_dim:
            raise ConceptError(
                f"concept library is for latent size {self.latent_dim}, but the model "
                f"{ref.path} has latent size {ref.latent_dim}",
                where,
            )
        if ref.fingerprint != self.model_fingerprint and not ignore_fingerprint:
            raise ConceptError(
                f"concept library was built for model {self.model_fingerprint}, not this "
                f"model's weights ({ref.fingerprint}); rebuild the concepts"
                + (
                    ""
                    if ignore_fingerprint is None
                    else f", or pass {param('ignore_fingerprint')} to use them anyway"
                ),
                where,
            )

    # -- (de)serialisation -------------------------------------------------------

    @classmethod
    def read(cls, path: str | os.PathLike) -> ConceptLibrary:
        """Read and validate a concepts.h5; any problem is a one-line ConceptError."""
        path = Path(path)
        lib = h5format.read(path, assemble_library)
        lib.path = path
        return lib

    def write(self, path: str | os.PathLike) -> None:
        """Write atomically (temp file beside it, then rename)."""
        path = Path(path)
        # Refuse anything a reader would refuse, before the old file is touched:
        # a library that cannot be read back would lock every command out of it.
        try:
            for c in self.concepts.values():
                check_concept(c, self.latent_dim)
            for cs in self.class_sets.values():
                check_class_set(cs, self.latent_dim)
        except ConceptError as exc:
            raise ConceptError(f"refusing to write: {exc.message}", path) from None
        # HDF5 builds the file in memory; only plain Python writes touch the disk. On a
        # full disk the HDF5 library itself fails badly (errors from destructors,
        # a crash at exit); a failed os.write is one clean OSError.
        try:
            data = h5format.to_bytes(self)
        except Exception as exc:
            problem = resource_problem(exc)
            if problem is None:
                raise
            raise ConceptError(problem, path) from None
        atomic_write_bytes(path, data)
        self.path = path


def assemble_library(
    latent_dim: int,
    fingerprint: str,
    concepts: Iterator[ConceptEntry] | list[ConceptEntry],
    class_sets: Iterator[ClassSetEntry] | list[ClassSetEntry],
    bad: Any,
) -> ConceptLibrary:
    """Check every entry (names, kinds, shapes, finite values, unique names) and build
    the library; each problem is ``bad(message)``, naming where the entry was found."""
    dim = latent_dim
    lib = ConceptLibrary(dim, fingerprint)
    try:
        for c in concepts:
            check_name(c.name)
            if c.kind not in KINDS:
                raise bad(f"{c.where} has unknown kind {c.kind!r}")
            if not isinstance(c.method, str):
                raise bad(f"{c.where} has no method")
            if not isinstance(c.info, dict):
                raise bad(f"{c.where} info is not a JSON object")
            coef = intercept = None
            if c.probe_coef is not None:
                coef = checked_array(c.probe_coef, (dim,), f"{c.where}/probe_coef", bad)
                coef = coef.astype(np.float32)
                intercept = float(
                    checked_array(c.probe_intercept, (), f"{c.where}/probe_intercept", bad)
                )
            vector = checked_array(c.vector, (dim,), f"{c.where}/vector", bad).astype(np.float32)
            lib.add_concept(Concept(c.name, c.kind, c.method, vector, coef, intercept, c.info))
        for s in class_sets:
            if not isinstance(s.classes, list) or not all(isinstance(x, str) for x in s.classes):
                raise bad(f"{s.where} has no list of classes")
            if not isinstance(s.info, dict):
                raise bad(f"{s.where} info is not a JSON object")
            k = len(s.classes)
            lib.add_class_set(
                ClassSet(
                    s.name,
                    list(s.classes),
                    checked_array(s.centroids, (k, dim), f"{s.where}/centroids", bad).astype(
                        np.float32
                    ),
                    checked_array(s.counts, (k,), f"{s.where}/counts", bad, np.int64),
                    checked_array(s.probe_coef, (k, dim), f"{s.where}/probe_coef", bad).astype(
                        np.float32
                    ),
                    checked_array(s.probe_intercept, (k,), f"{s.where}/probe_intercept", bad),
                    s.info,
                )
            )
    except ConceptError as exc:
        if exc.path:
            raise
        raise bad(exc.raw) from None
    names = lib.all_names()
    if len(set(names)) != len(names):
        raise bad("a name is used twice")
    return lib


# -- opening against a model ------------------------------------------------------


def open_library(
    model: Any, ignore_fingerprint: bool | None = False, missing_ok: bool = False
) -> ConceptLibrary:
    """The library beside ``model`` (VAEModel, directory or name), checked against it.

    A library built for other weights is refused (``ignore_fingerprint`` overrides;
    ``None`` when the caller offers no override), one for another latent size always. ``missing_ok`` gives an empty library when
    the model has none yet.
    """
    ref = model_ref(model)
    path = ref.library_path
    if not path.exists():
        if missing_ok:
            return ConceptLibrary(ref.latent_dim, ref.fingerprint, path=path)
        raise ConceptError(
            "this model has no concept library yet; build one with `conceptvae concepts build`",
            path,
        )
    lib = ConceptLibrary.read(path)
    lib.check_model(ref, ignore_fingerprint)
    return lib


@contextlib.contextmanager
def update_library(model: Any, ignore_fingerprint: bool = False) -> Iterator[ConceptLibrary]:
    """Read-modify-write under the lock; the file is replaced only if the block succeeds.

    The library is re-read inside the lock, so changes made by another process
    since this one last looked are kept.
    """
    from ..model.registry import writable_model

    ref = model_ref(model)
    ref = dataclasses.replace(ref, path=writable_model(ref.path))
    path = ref.library_path
    with exclusive(path):
        if path.exists():
            lib = ConceptLibrary.read(path)
            lib.check_model(ref, ignore_fingerprint)
        else:
            lib = ConceptLibrary(ref.latent_dim, ref.fingerprint, path=path)
        yield lib
        lib.write(path)
