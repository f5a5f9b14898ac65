"""Package attributes that import their module on first use.

Keeps `import conceptvae` (and `conceptvae.concepts`) free of TensorFlow,
scikit-learn and h5py until a name that needs them is touched.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_attributes(namespace: dict[str, Any], table: dict[str, tuple[str, str]]) -> Callable:
    """A module ``__getattr__`` resolving ``table[name] = (module, attribute)`` once."""

    def __getattr__(name: str) -> Any:
        if name not in table:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        module, attr = table[name]
        value = getattr(importlib.import_module(module), attr)
        namespace[name] = value
        return value

    return __getattr__
