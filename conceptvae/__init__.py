"""conceptvae: edit images with concept vectors in a VAE's latent space.

Importing the package is cheap (no TensorFlow); the heavy parts load on use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["ConceptVAEError", "VAEConfig", "VAEModel", "load_model", "open_dataset", "train"]

_LAZY = {
    "ConceptVAEError": ("conceptvae.errors", "ConceptVAEError"),
    "VAEConfig": ("conceptvae.config", "VAEConfig"),
    "VAEModel": ("conceptvae.model.loaded", "VAEModel"),
    "load_model": ("conceptvae.model.api", "load_model"),
    "open_dataset": ("conceptvae.data", "open_dataset"),
    "train": ("conceptvae.training", "train"),
}

if TYPE_CHECKING:
    from .config import VAEConfig
    from .data import open_dataset
    from .errors import ConceptVAEError
    from .model.api import load_model
    from .model.loaded import VAEModel
    from .training import train


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'conceptvae' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
