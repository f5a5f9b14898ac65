"""Package attributes that import their module on first use.

Keeps `import conceptvae` (and `conceptvae.concepts`) free of TensorFlow,
scikit-learn and h5py until a name that needs them is touched. A package's lazy
public API is one table, ``{module: names}``: its ``__all__``, ``__getattr__``
and ``__dir__`` are derived from it (:func:`lazy_module`), so each name is
written once.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any


def lazy_attributes(namespace: dict[str, Any], table: dict[str, tuple[str, str]]) -> Callable:
    """A module ``__getattr__`` resolving ``table[name] = (module, attribute)`` once.

    A module may be relative to the package (``.errors``)."""
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attr = table[name]
        value = getattr(importlib.import_module(module, package), attr)
        namespace[name] = value
        return value

    return __getattr__


def by_name(modules: dict[str, Iterable[str]]) -> dict[str, tuple[str, str]]:
    """``{module: names}`` turned around: ``{name: (module, name)}``; a name listed
    twice is a mistake in the table."""
    table: dict[str, tuple[str, str]] = {}
    for module, names in modules.items():
        for name in names:
            if name in table:
                raise ValueError(f"{name!r} is listed under {table[name][0]} and {module}")
            table[name] = (module, name)
    return table


def lazy_module(namespace: dict[str, Any], modules: dict[str, Iterable[str]]) -> None:
    """Give a package (``globals()``) the lazy public API ``modules`` describes:
    ``__all__`` (sorted), a ``__getattr__`` importing each name's module on first
    use, and a ``__dir__`` listing them before they are loaded."""
    table = by_name(modules)
    namespace["__all__"] = sorted(table)
    namespace["__getattr__"] = lazy_attributes(namespace, table)

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(table))

    namespace["__dir__"] = __dir__
