"""What a stored concept library must be: limits, the checks every concept and class
set passes on read and on write, and the one validation both readers (``concepts.h5``
and exports) share (:class:`ConceptEntry`, :func:`check_header`, :func:`checked_array`)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConceptError
from .expressions import check_name
from .values import KINDS, ClassSet, Concept

FORMAT = "conceptvae-concepts"
FORMAT_VERSION = 1
_F32_MAX = float(np.finfo(np.float32).max)
MAX_CLASSES = 10000
MAX_COUNT = 2**53
MAX_TEXT = 10000
# A latent coordinate is a standard-normal draw under the VAE's prior: nothing an
# encoder gives lies beyond about 6, and the concept directions measured on the
# shipped models have components under 2 and norms under 7. A direction far past
# any latent scale (3.4e38 fits float32) can only come from a broken or hostile
# file, and an edit along it overflows the decoder, which would then be blamed;
# these bounds leave four orders of magnitude for unnormalised estimators.
MAX_DIRECTION_COMPONENT = 1e4
MAX_DIRECTION_NORM = 1e6
# Metrics that are shown and compared as numbers (a text there broke `concepts list`).
_NUMERIC_METRICS = frozenset({
    "probe_accuracy", "probe_auc", "p_value", "stability", "explained_variance",
    "explained_variance_ratio", "direction_auc", "statistic", "alpha", "norm",
})  # fmt: skip


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


def _metric(k: str, x: Any) -> bool:
    """The metrics shown and compared as numbers are numbers (or null); others are
    plain values (``significant`` is a flag, ``trust`` a verdict such as "ok")."""
    if k in _NUMERIC_METRICS:
        return x is None or (isinstance(x, (int, float)) and not isinstance(x, bool))
    return _scalar(x)


def _metrics(v: Any) -> bool:
    return isinstance(v, dict) and all(_metric(k, x) for k, x in v.items())


def _bad_metric(info: dict[str, Any]) -> str | None:
    """The first metric that is not a number, as ``metrics.<name>`` (or
    ``per_class.<class>.<name>``), to name it."""
    metrics = info.get("metrics")
    for k, x in (metrics.items() if isinstance(metrics, dict) else ()):
        if not _metric(k, x):
            return f"metrics.{k}"
    per_class = info.get("per_class")
    for c, m in (per_class.items() if isinstance(per_class, dict) else ()):
        for k, x in (m.items() if isinstance(m, dict) else ()):
            if not _metric(k, x):
                return f"per_class.{c}.{k}"
    return None


def check_direction(values: np.ndarray, what: str) -> None:
    """A direction edits move along (a concept vector, class centroids): within
    any latent scale (MAX_DIRECTION_COMPONENT, MAX_DIRECTION_NORM)."""
    arr = np.asarray(values, np.float64)
    if arr.size == 0:
        return
    top = float(np.abs(arr).max())
    norm = float(np.linalg.norm(arr, axis=-1).max())
    if top > MAX_DIRECTION_COMPONENT or norm > MAX_DIRECTION_NORM:
        raise ConceptError(
            f"{what} is far beyond any latent scale (largest component {top:.3g}, norm "
            f"{norm:.3g}; at most {MAX_DIRECTION_COMPONENT:g} and {MAX_DIRECTION_NORM:g}): "
            "a broken or foreign file"
        )


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
    "metrics": ("an object of numbers", _metrics),
    "data": ("an object", lambda v: v is None or (isinstance(v, dict) and all(
        _scalar(x) for x in v.values()))),
    "per_class": ("an object of objects of numbers", lambda v: isinstance(v, dict) and all(
        _metrics(x) for x in v.values())),
    "classes": ("a list of names", lambda v: isinstance(v, list) and all(
        isinstance(x, str) for x in v)),
}  # fmt: skip


def check_info(info: Any, what: str) -> dict[str, Any]:
    """A concept's or class set's stored info: a JSON object whose known fields have
    the types the commands that show it rely on."""
    if not isinstance(info, dict):
        raise ConceptError(f"{what} info is not a JSON object")
    bad = _bad_metric(info)
    if bad is not None:
        raise ConceptError(f"{what} info field {bad[:200]!r} must be a number")
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
    check_direction(check_values(c.vector, (latent_dim,), f"{what} vector"), f"{what} vector")
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
    centroids = check_values(s.centroids, (k, latent_dim), f"{what} centroids")
    check_direction(centroids, f"{what} centroids")
    check_values(s.probe_coef, (k, latent_dim), f"{what} probe_coef")
    check_values(s.probe_intercept, (k,), f"{what} probe_intercept")
    counts = np.asarray(s.counts)
    if counts.shape != (k,) or counts.dtype.kind not in "iu":
        raise ConceptError(f"{what} counts must be {k} whole numbers")
    if counts.size and (int(counts.min()) < 0 or int(counts.max()) > MAX_COUNT):
        raise ConceptError(f"{what} counts must be from 0 to 2**53")
    check_info(s.info, what)


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
