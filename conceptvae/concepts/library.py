"""The concept library: ``concepts.h5`` beside the model, and expressions -> directions.

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

Every concept name, class name and class-set name is unique across the file.
A library belongs to one model: it is refused (unless explicitly overridden) by
a model whose weights fingerprint differs, and always by another latent size.
Writers take an exclusive lock (on the model's directory) around
read-modify-write and replace the file atomically, so concurrent builds lose
nothing and readers never see half a file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConceptError, param, resource_problem
from ..io import atomic_write_bytes
from ..model import files
from ..readers import loads_json, open_regular
from .expressions import Term, check_name, parse_expression, quote, unknown_name_error

FORMAT = "conceptvae-concepts"
FORMAT_VERSION = 1
KINDS = ("attribute", "pc")
INFER = ("probe", "centroid")


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass
class Probe:
    """A logistic probe on latents.

    Binary (``classes`` is None): P(attribute | z) = sigmoid(coef . z + intercept).
    Classes: P(class k | z) = softmax(coef @ z + intercept)[k].
    """

    coef: np.ndarray
    intercept: np.ndarray | float
    classes: list[str] | None = None

    def logits(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, np.float64)
        if self.classes is None:
            return z @ self.coef + float(self.intercept)
        return z @ self.coef.T + self.intercept

    def predict_proba(self, z: np.ndarray) -> np.ndarray:
        """(N,) for a binary probe, (N, K) for a class probe (z may be one latent)."""
        s = self.logits(z)
        if self.classes is None:
            return _sigmoid(s)
        s = s - s.max(-1, keepdims=True)
        e = np.exp(s)
        return e / e.sum(-1, keepdims=True)

    def amount_to_reach(self, z: np.ndarray, direction: np.ndarray, p: float) -> np.ndarray:
        """Smallest amounts ``a`` with P(attribute | z + a * direction) = p (binary probes).

        The logit is linear along the line, so ``a = (logit(p) - w.z - b) / (w.d)``;
        negative when the image is already past ``p`` (read it as "remove"), and
        ``nan`` where the direction does not move the probe at all.
        """
        if self.classes is not None:
            raise ConceptError("amount_to_reach needs an attribute probe, not a class probe")
        if not 0.0 < p < 1.0:
            raise ConceptError(f"target probability must be strictly between 0 and 1, got {p}")
        slope = float(np.dot(self.coef, np.asarray(direction, np.float64)))
        target = math.log(p / (1.0 - p))
        with np.errstate(divide="ignore", invalid="ignore"):
            a = (target - self.logits(z)) / slope if abs(slope) > 1e-12 else np.nan
        return np.asarray(a, np.float64)


@dataclass
class Concept:
    """An attribute or principal-direction concept."""

    name: str
    kind: str
    method: str
    vector: np.ndarray  # float32 (D,), calibrated
    probe_coef: np.ndarray | None = None
    probe_intercept: float | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def norm(self) -> float:
        return float(np.linalg.norm(self.vector))

    @property
    def direction(self) -> np.ndarray:
        return (self.vector / max(self.norm, 1e-30)).astype(np.float32)

    @property
    def metrics(self) -> dict[str, Any]:
        return self.info.get("metrics") or {}

    @property
    def significant(self) -> bool | None:
        return self.metrics.get("significant")

    @property
    def probe(self) -> Probe | None:
        if self.probe_coef is None:
            return None
        return Probe(self.probe_coef.astype(np.float64), float(self.probe_intercept or 0.0))


@dataclass
class ClassSet:
    """The classes of one label column: centroids, counts and a multinomial probe."""

    name: str
    classes: list[str]
    centroids: np.ndarray  # float32 (K, D)
    counts: np.ndarray  # int64 (K,)
    probe_coef: np.ndarray  # float32 (K, D)
    probe_intercept: np.ndarray  # float64 (K,)
    info: dict[str, Any] = field(default_factory=dict)

    def index(self, name: str) -> int:
        return self.classes.index(name)

    def class_info(self, name: str) -> dict[str, Any]:
        return (self.info.get("per_class") or {}).get(name, {})

    @property
    def probe(self) -> Probe:
        return Probe(
            self.probe_coef.astype(np.float64),
            self.probe_intercept.astype(np.float64),
            list(self.classes),
        )

    def class_basis(self) -> np.ndarray:
        """Orthonormal columns (D, r) spanning the centroids' differences."""
        c = self.centroids.astype(np.float64)
        u, sv, vt = np.linalg.svd(c - c.mean(axis=0), full_matrices=False)
        keep = sv > 1e-9 * max(float(sv[0]) if sv.size else 0.0, 1e-30)
        return vt[keep].T

    def infer(self, z: np.ndarray, how: str = "probe") -> np.ndarray:
        """The current class index of each latent: probe argmax or nearest centroid."""
        z = np.atleast_2d(np.asarray(z, np.float64))
        if how == "probe":
            return self.probe.logits(z).argmax(-1)
        if how == "centroid":
            c = self.centroids.astype(np.float64)
            return ((z[:, None, :] - c[None]) ** 2).sum(-1).argmin(-1)
        raise ConceptError(f"class inference must be one of {', '.join(INFER)}, got {how!r}")


@dataclass(frozen=True)
class ModelRef:
    """What a library needs to know about its model, read without TensorFlow."""

    path: Path
    latent_dim: int
    fingerprint: str

    @property
    def library_path(self) -> Path:
        if self.path.is_dir():
            return self.path / files.CONCEPTS
        return self.path.with_name(self.path.stem + ".concepts.h5")


def model_ref(model: Any) -> ModelRef:
    """A VAEModel, model directory, .keras file or model name -> ModelRef."""
    from ..model.loaded import VAEModel

    if isinstance(model, ModelRef):
        return model
    if isinstance(model, VAEModel):
        if model.path is None:
            raise ConceptError("this model was not loaded from disk, so it has no concept library")
        return ModelRef(Path(model.path), model.latent_dim, model.fingerprint)
    from ..config import VAEConfig
    from ..model.registry import resolve_model_path

    path = resolve_model_path(model)
    if path.is_dir():
        files.require_files(path, [files.CONFIG])
        cfg = VAEConfig.load(path / files.CONFIG)
        fp = files.read_meta(path).get("fingerprint")
        if fp:
            return ModelRef(path, cfg.latent_dim, str(fp))
    from ..model.api import load_model

    loaded = load_model(path)
    return ModelRef(path, loaded.latent_dim, loaded.fingerprint)


_F32_MAX = float(np.finfo(np.float32).max)
MAX_CLASSES = 10000
MAX_INFO_BYTES = 16 << 20
MAX_LIBRARY_BYTES = 1 << 30
MAX_COUNT = 2**53
MAX_TEXT = 10000


def check_values(values: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    """float32 values of ``shape``: finite, and within float32's range *before* the
    cast (1e39 is finite in float64 and inf in float32)."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ConceptError(f"{what} is not numeric") from None
    if arr.shape != shape:
        raise ConceptError(f"{what} has shape {arr.shape}; expected {shape}")
    if not np.isfinite(arr).all():
        raise ConceptError(f"{what} holds NaN or infinite values")
    if arr.size and float(np.abs(arr).max()) > _F32_MAX:
        raise ConceptError(
            f"{what} holds {float(np.abs(arr).max()):g}, beyond float32's range (+-{_F32_MAX:.3g})"
        )
    return arr.astype(np.float32)


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int, float, str))


def _whole(v: Any) -> bool:
    return v is None or (isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_COUNT)


# Stored info fields conceptvae reads back, and what each must be; unknown fields
# are kept as long as they are plain JSON scalars or lists of them.
_INFO_FIELDS: dict[str, tuple[str, Any]] = {
    **{k: ("a whole number", _whole) for k in (
        "n_pos", "n_neg", "n_unknown", "n_images", "component", "seed", "strata", "n",
        "bootstraps", "permutations", "sample_size")},
    **{k: ("a text", lambda v: v is None or (isinstance(v, str) and len(v) <= MAX_TEXT))
       for k in ("column", "labels", "method", "created", "conceptvae_version")},
    "scale": ("a finite number", lambda v: v is None or (
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))),
    "balanced_on": ("a list of names", lambda v: isinstance(v, list) and all(
        isinstance(x, str) for x in v)),
    "orthogonal_to": ("a list of names", lambda v: isinstance(v, list) and all(
        isinstance(x, str) for x in v)),
    "metrics": ("an object of numbers", lambda v: isinstance(v, dict) and all(
        _scalar(x) for x in v.values())),
    "data": ("an object", lambda v: v is None or (isinstance(v, dict) and all(
        _scalar(x) for x in v.values()))),
    "per_class": ("an object of objects", lambda v: isinstance(v, dict) and all(
        isinstance(x, dict) and all(_scalar(y) for y in x.values()) for x in v.values())),
    "classes": ("a list of names", lambda v: isinstance(v, list) and all(
        isinstance(x, str) for x in v)),
}  # fmt: skip


def check_info(info: Any, what: str) -> dict[str, Any]:
    """A concept's or class set's stored info: a JSON object whose known fields have
    the types the commands that show it rely on."""
    if not isinstance(info, dict):
        raise ConceptError(f"{what} info is not a JSON object")
    for key, value in info.items():
        rule = _INFO_FIELDS.get(key)
        if rule is not None:
            if not rule[1](value):
                raise ConceptError(f"{what} info field {key!r} must be {rule[0]}")
        elif not (_scalar(value) or (isinstance(value, list) and all(map(_scalar, value)))):
            raise ConceptError(f"{what} info field {key!r} is not a plain value")
    data = info.get("data") or {}
    if not _whole(data.get("images")):
        raise ConceptError(f"{what} info field 'data.images' must be a whole number")
    for key in ("metrics", "per_class"):
        for k, v in (info.get(key) or {}).items():
            if isinstance(v, float) and not math.isfinite(v):
                raise ConceptError(f"{what} info field '{key}.{k}' is not finite")
    try:
        json.dumps(info, allow_nan=False)
    except ValueError:
        raise ConceptError(f"{what} info holds NaN or infinite numbers") from None
    return info


def check_concept(c: Concept, latent_dim: int) -> None:
    """Everything stored about a concept, type- and range-checked (on read and on write)."""
    what = f"concept {c.name!r}"
    check_name(c.name)
    if c.kind not in KINDS:
        raise ConceptError(f"unknown concept kind {c.kind!r}")
    if not isinstance(c.method, str) or len(c.method) > 100:
        raise ConceptError(f"{what} has a bad method")
    v = np.asarray(c.vector)
    if v.shape != (latent_dim,):
        raise ConceptError(
            f"concept {c.name!r} has {v.shape[-1] if v.ndim else 0} dimensions; "
            f"this library's latent size is {latent_dim}"
        )
    check_values(c.vector, (latent_dim,), f"{what} vector")
    if c.probe_coef is not None:
        check_values(c.probe_coef, (latent_dim,), f"{what} probe_coef")
        check_values(c.probe_intercept or 0.0, (), f"{what} probe_intercept")
    check_info(c.info, what)


def check_class_set(s: ClassSet, latent_dim: int) -> None:
    what = f"class set {s.name!r}"
    check_name(s.name, "class column name")
    if not isinstance(s.classes, list) or not 2 <= len(s.classes) <= MAX_CLASSES:
        raise ConceptError(f"{what} needs from 2 to {MAX_CLASSES} classes")
    for c in s.classes:
        check_name(c, "class name")
    if len(set(s.classes)) != len(s.classes):
        raise ConceptError(f"class set {s.name!r} lists a class twice")
    k = len(s.classes)
    if np.shape(s.centroids) != (k, latent_dim):
        raise ConceptError(
            f"class set {s.name!r} has centroids of shape {np.shape(s.centroids)}; "
            f"expected ({k}, {latent_dim})"
        )
    check_values(s.centroids, (k, latent_dim), f"{what} centroids")
    check_values(s.probe_coef, (k, latent_dim), f"{what} probe_coef")
    check_values(s.probe_intercept, (k,), f"{what} probe_intercept")
    counts = np.asarray(s.counts)
    if counts.shape != (k,) or counts.dtype.kind not in "iu":
        raise ConceptError(f"{what} counts must be {k} whole numbers")
    if counts.size and (int(counts.min()) < 0 or int(counts.max()) > MAX_COUNT):
        raise ConceptError(f"{what} counts must be from 0 to 2**53")
    check_info(s.info, what)


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
        replacing: set[str] = set()
        if replace and cset.name in self.class_sets:
            replacing = {cset.name, *self.class_sets[cset.name].classes}
        self._check_free([cset.name, *cset.classes], replace, replacing)
        if cset.name in replacing:
            del self.class_sets[cset.name]
        self.class_sets[cset.name] = cset

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
        import h5py

        path = Path(path)
        # A regular file of sane size (no FIFO, no /dev/zero behind a symlink).
        with open_regular(path, "concept library", MAX_LIBRARY_BYTES, ConceptError):
            pass
        try:
            fh = h5py.File(path, "r")
        except Exception as exc:  # noqa: BLE001 - h5py raises many types for bad files
            raise ConceptError(
                f"not a readable concept library ({_first_line(exc)})", path
            ) from None
        try:
            with fh:
                lib = _parse_h5(fh, path)
        except ConceptError:
            raise
        except Exception as exc:  # noqa: BLE001 - a damaged file can fail anywhere inside h5py
            raise ConceptError(f"corrupt concept library ({_first_line(exc)})", path) from None
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
            data = self._to_h5_bytes()
        except Exception as exc:
            problem = resource_problem(exc)
            if problem is None:
                raise
            raise ConceptError(problem, path) from None
        atomic_write_bytes(path, data)
        self.path = path

    def _to_h5_bytes(self) -> bytes:
        import h5py

        buf = io.BytesIO()
        with h5py.File(buf, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["latent_dim"] = self.latent_dim
            f.attrs["model_fingerprint"] = self.model_fingerprint
            f.attrs["updated"] = now()
            g = f.create_group("concepts")
            for name in sorted(self.concepts):
                c = self.concepts[name]
                cg = g.create_group(name)
                cg.attrs["kind"] = c.kind
                cg.attrs["method"] = c.method
                _write_text(cg, "info", json.dumps(c.info, sort_keys=True))
                cg.create_dataset("vector", data=np.asarray(c.vector, np.float32))
                if c.probe_coef is not None:
                    cg.create_dataset("probe_coef", data=np.asarray(c.probe_coef, np.float32))
                    cg.create_dataset(
                        "probe_intercept", data=np.float64(c.probe_intercept or 0.0)
                    )
            g = f.create_group("class_sets")
            for name in sorted(self.class_sets):
                s = self.class_sets[name]
                sg = g.create_group(name)
                _write_text(
                    sg, "info", json.dumps({**s.info, "classes": s.classes}, sort_keys=True)
                )
                sg.create_dataset("centroids", data=np.asarray(s.centroids, np.float32))
                sg.create_dataset("counts", data=np.asarray(s.counts, np.int64))
                sg.create_dataset("probe_coef", data=np.asarray(s.probe_coef, np.float32))
                sg.create_dataset(
                    "probe_intercept", data=np.asarray(s.probe_intercept, np.float64)
                )
        return buf.getvalue()


def _write_text(group: Any, name: str, text: str) -> None:
    # A dataset, not an attribute: HDF5 caps compact attributes at 64 KiB, and the
    # metrics of a class column with many classes can exceed that.
    import h5py

    group.create_dataset(name, data=text, dtype=h5py.string_dtype("utf-8"))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0][:200] if text else "") or type(exc).__name__


# -- the one validation both readers (concepts.h5 and exports) share ------------------------


@dataclass
class ConceptEntry:
    """One attribute or principal-direction concept as a reader found it (unchecked)."""

    name: str
    where: str
    kind: Any
    method: Any
    vector: Any
    probe_coef: Any = None
    probe_intercept: Any = None
    info: Any = field(default_factory=dict)


@dataclass
class ClassSetEntry:
    """One class set as a reader found it (unchecked)."""

    name: str
    where: str
    classes: Any
    centroids: Any
    counts: Any
    probe_coef: Any
    probe_intercept: Any
    info: Any = field(default_factory=dict)


def check_header(
    fmt: Any, version: Any, latent_dim: Any, fingerprint: Any, bad: Any, path: Any = None
) -> int:
    """Format marker, format version, latent size and fingerprint; returns the latent size."""
    if fmt != FORMAT:
        raise bad("missing or wrong format marker")
    integer = isinstance(version, (int, np.integer)) and not isinstance(version, bool)
    if not integer or not 1 <= int(version) <= FORMAT_VERSION:
        if integer and int(version) > FORMAT_VERSION:
            raise ConceptError(
                f"concept library format {int(version)} is newer than this conceptvae "
                f"understands ({FORMAT_VERSION}); upgrade conceptvae",
                path,
            )
        raise bad(f"unsupported format_version {version!r}")
    if (
        not isinstance(latent_dim, (int, np.integer))
        or isinstance(latent_dim, bool)
        or not 1 <= int(latent_dim) <= 4096
    ):
        raise bad("bad latent_dim")
    if not isinstance(fingerprint, str):
        raise bad("bad model_fingerprint")
    return int(latent_dim)


def checked_array(value: Any, shape: tuple[int, ...], what: str, bad: Any,
                  dtype: Any = np.float64) -> np.ndarray:  # fmt: skip
    """A numeric array of exactly ``shape``: finite floats within float32's range
    (1e39 is finite in float64 but inf once stored), or whole numbers 0..2**53."""
    if np.dtype(dtype).kind in "iu":
        # Counts: 1e30 or 2.5 would wrap or truncate in int64, so whole numbers only.
        try:
            raw = value if isinstance(value, np.ndarray) else np.asarray(value, dtype=object)
        except (TypeError, ValueError):
            raise bad(f"{what} is not numeric") from None
        if raw.shape != shape:
            raise bad(f"{what} has shape {raw.shape}; expected {shape}")
        flat = raw.reshape(-1).tolist()
        if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_COUNT
                   for v in flat):  # fmt: skip
            raise bad(f"{what} must hold whole numbers from 0 to 2**53")
        return np.asarray(flat, np.int64).reshape(shape)
    try:
        check_values(value, shape, what)
    except ConceptError as exc:
        raise bad(exc.raw) from None
    return np.asarray(value, dtype=dtype)


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


def _parse_h5(f: Any, path: Path) -> ConceptLibrary:
    """The HDF5 side: only hard-linked groups and in-file datasets of the right type."""
    import h5py

    def bad(msg: str) -> ConceptError:
        return ConceptError(f"not a valid concept library: {msg}", path)

    attrs = dict(f.attrs)
    latent_dim = check_header(
        attrs.get("format"), attrs.get("format_version"), attrs.get("latent_dim"),
        attrs.get("model_fingerprint"), bad, path,
    )  # fmt: skip

    def members(group: Any, where: str) -> list[tuple[str, Any]]:
        out = []
        for name in group:
            link = group.get(name, getlink=True)
            if not isinstance(link, h5py.HardLink):
                raise bad(f"{where}/{name} is a {type(link).__name__}, not stored in the file")
            out.append((name, group[name]))
        return out

    def dataset(
        group: Any, name: str, where: str, shape: tuple[int, ...], kinds: str
    ) -> np.ndarray:
        # Type and shape are checked before reading, so a huge dataset is never loaded.
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

    def info_of(group: Any, where: str) -> dict[str, Any]:
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

    def text_attr(obj: Any, name: str, where: str) -> str:
        v = obj.attrs.get(name)
        if isinstance(v, bytes):
            v = v.decode("utf-8")
        if not isinstance(v, str):
            raise bad(f"{where} has no {name}")
        return v

    top = dict(members(f, ""))
    unexpected = set(top) - {"concepts", "class_sets"}
    if unexpected:
        raise bad(f"unexpected object(s) {', '.join(sorted(unexpected))}")
    for key in ("concepts", "class_sets"):
        if key in top and not isinstance(top[key], h5py.Group):
            raise bad(f"/{key} is not a group")

    def concepts() -> Iterator[ConceptEntry]:
        for name, g in members(top["concepts"], "/concepts") if "concepts" in top else []:
            where = f"/concepts/{name}"
            if not isinstance(g, h5py.Group):
                raise bad(f"{where} is not a group")
            extra = set(g) - {"vector", "probe_coef", "probe_intercept", "info"}
            if extra:
                raise bad(f"unexpected object(s) in {where}: {', '.join(sorted(extra))}")
            has_probe = "probe_coef" in g
            yield ConceptEntry(
                name, where, text_attr(g, "kind", where), text_attr(g, "method", where),
                dataset(g, "vector", where, (latent_dim,), "f"),
                dataset(g, "probe_coef", where, (latent_dim,), "f") if has_probe else None,
                dataset(g, "probe_intercept", where, (), "f") if has_probe else None,
                info_of(g, where),
            )  # fmt: skip

    def class_sets() -> Iterator[ClassSetEntry]:
        for name, g in members(top["class_sets"], "/class_sets") if "class_sets" in top else []:
            where = f"/class_sets/{name}"
            if not isinstance(g, h5py.Group):
                raise bad(f"{where} is not a group")
            extra = set(g) - {"centroids", "counts", "probe_coef", "probe_intercept", "info"}
            if extra:
                raise bad(f"unexpected object(s) in {where}: {', '.join(sorted(extra))}")
            info = info_of(g, where)
            classes = info.pop("classes", None)
            if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
                raise bad(f"{where} has no list of classes")
            k = len(classes)
            yield ClassSetEntry(
                name, where, classes, dataset(g, "centroids", where, (k, latent_dim), "f"),
                dataset(g, "counts", where, (k,), "iu"),
                dataset(g, "probe_coef", where, (k, latent_dim), "f"),
                dataset(g, "probe_intercept", where, (k,), "f"), info,
            )  # fmt: skip

    return assemble_library(latent_dim, attrs["model_fingerprint"], concepts(), class_sets(), bad)


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
def _exclusive(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on the library's directory (no-op where fcntl is
    missing). Locking the directory itself, not a lock file beside the library,
    leaves nothing behind, whatever happens to the command."""
    try:
        import fcntl
    except ImportError:  # Windows: single-writer use only
        yield
        return
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError as exc:
        raise ConceptError(f"cannot lock the concept library ({exc.strerror})", folder) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


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
    with _exclusive(path):
        if path.exists():
            lib = ConceptLibrary.read(path)
            lib.check_model(ref, ignore_fingerprint)
        else:
            lib = ConceptLibrary(ref.latent_dim, ref.fingerprint, path=path)
        yield lib
        lib.write(path)
