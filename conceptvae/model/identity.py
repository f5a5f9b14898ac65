"""A model's identity, read without TensorFlow: where it lives, its latent size and
the fingerprint of its weights (what a concept library is checked against)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConceptError
from . import files


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
    from .loaded import VAEModel

    if isinstance(model, ModelRef):
        return model
    if isinstance(model, VAEModel):
        if model.path is None:
            raise ConceptError("this model was not loaded from disk, so it has no concept library")
        return ModelRef(Path(model.path), model.latent_dim, model.fingerprint)
    from ..config import VAEConfig
    from .registry import resolve_model_path

    path = resolve_model_path(model)
    if path.is_dir():
        files.require_files(path, [files.CONFIG])
        cfg = VAEConfig.load(path / files.CONFIG)
        fp = files.read_meta(path).get("fingerprint")
        if fp:
            return ModelRef(path, cfg.latent_dim, str(fp))
    from .api import load_model

    loaded = load_model(path)
    return ModelRef(path, loaded.latent_dim, loaded.fingerprint)
