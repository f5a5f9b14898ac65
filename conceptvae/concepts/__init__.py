"""Concept vectors: estimate them from labeled latents, keep them in a library, combine them.

* :mod:`.estimators` - scikit-learn direction estimators (mean, balanced,
  logistic, svm, class centroids, principal directions) and calibration.
* :mod:`.methods` - the one registry of method names -> estimators.
* :mod:`.stats` - how trustworthy a concept is (probe, permutation test, bootstrap).
* :mod:`.library` - :class:`ConceptLibrary`, the ``concepts.h5`` beside a model;
  :mod:`.values` (what it holds), :mod:`.validation`, :mod:`.h5format`, :mod:`.lock`.
* :mod:`.expressions` - ``smile+0.5*thick-slant``, ``3->8``.
* :mod:`.morpho` - stroke thickness and slant measured from digit pixels.
* :mod:`.build` - encode a dataset once, streaming, and add concepts to the library
  (:mod:`.build_options`, :mod:`.labels`, :mod:`.fit`).
* :mod:`.manage` - list, show, remove, rename, export, import.

Importing this package is cheap: scikit-learn, h5py and TensorFlow load on use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_module

lazy_module(globals(), {
    ".library": ["ConceptLibrary", "open_library"],
    ".build": ["build_concepts"],
    ".expressions": ["parse_expression"],
})  # fmt: skip

if TYPE_CHECKING:  # the lazy names, for type checkers and editors
    from .build import build_concepts  # noqa: F401
    from .expressions import parse_expression  # noqa: F401
    from .library import ConceptLibrary, open_library  # noqa: F401
