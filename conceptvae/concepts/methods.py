"""The attribute-concept estimators by method name: the one registry.

A new method is one module holding a :class:`~.estimators.DirectionEstimator`
subclass plus one entry here (or one :func:`register_estimator` call). Entries
name ``"module:Class"``, so reading the names - the command line's method
choices - imports nothing; the class is imported when a build asks for it.

What a build does with an estimator follows from the class, not from its name:
one with ``partial_fit`` is fed every image as the data streams past (exact on
any dataset size); one without is fitted on the bounded, class-balanced sample
and calibrated on the full data's class means. ``uses_covariates = True`` asks
for the co-occurring attributes as covariates (``fit(Z, y, covariates)``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..errors import ConceptError

if TYPE_CHECKING:
    from .estimators import DirectionEstimator

# method name -> "module:Class" (or the class itself, once registered from code)
ESTIMATORS: dict[str, Any] = {
    "mean": "conceptvae.concepts.estimators:MeanDifference",
    "balanced": "conceptvae.concepts.estimators:BalancedMeanDifference",
    "logistic": "conceptvae.concepts.estimators:LogisticDirection",
    "svm": "conceptvae.concepts.estimators:SVMDirection",
}


def method_names() -> tuple[str, ...]:
    """Every registered method, in registration order."""
    return tuple(ESTIMATORS)


def register_estimator(method: str, estimator: str | type[DirectionEstimator]) -> None:
    """Make ``method`` build with ``estimator`` (``"module:Class"`` or the class)."""
    if not isinstance(method, str) or not method.isidentifier():
        raise ValueError(f"a method name is a plain word, got {method!r}")
    if isinstance(estimator, str) and estimator.count(":") != 1:
        raise ValueError(f"name the estimator as 'module:Class', got {estimator!r}")
    ESTIMATORS[method] = estimator


def check_method(method: str) -> None:
    if method not in ESTIMATORS:
        raise ConceptError(f"unknown method {method!r}; use one of {', '.join(ESTIMATORS)}")


def estimator_class(method: str) -> type[DirectionEstimator]:
    """The registered class of ``method`` (its module imported now)."""
    check_method(method)
    entry = ESTIMATORS[method]
    if isinstance(entry, str):
        module, _, name = entry.partition(":")
        entry = getattr(importlib.import_module(module), name)
    return entry  # type: ignore[no-any-return]


def make_estimator(method: str, **params: Any) -> DirectionEstimator:
    """An unfitted estimator of ``method`` with these hyperparameters."""
    return estimator_class(method)(**params)


def streams(method: str) -> bool:
    """True when ``method``'s estimator is fitted on every image as the data streams past."""
    return hasattr(estimator_class(method), "partial_fit")
