"""The values a concept library holds: :class:`Concept`, :class:`ClassSet` and the
latent :class:`Probe` of each. They compute (directions, probabilities, class
inference); checking them is :mod:`.validation`, storing them :mod:`.h5format`."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConceptError

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
