"""conceptvae: edit images with concept vectors in a VAE's latent space.

Importing the package is cheap (no TensorFlow); the heavy parts load on use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_attributes

__version__ = "0.1.0"

__all__ = [
    "ConceptVAEError",
    "TrainOptions",
    "VAEConfig",
    "VAEModel",
    "analogy",
    "edit",
    "find_faces",
    "grid",
    "interpolate",
    "load_model",
    "morph",
    "open_dataset",
    "open_library",
    "reconstruct",
    "render_script",
    "scatter",
    "train",
    "traverse",
]

_LAZY = {
    "ConceptVAEError": ("conceptvae.errors", "ConceptVAEError"),
    "TrainOptions": ("conceptvae.config", "TrainOptions"),
    "VAEConfig": ("conceptvae.config", "VAEConfig"),
    "VAEModel": ("conceptvae.model.loaded", "VAEModel"),
    "load_model": ("conceptvae.model.api", "load_model"),
    "open_dataset": ("conceptvae.data", "open_dataset"),
    "train": ("conceptvae.training", "train"),
    "open_library": ("conceptvae.concepts", "open_library"),
    "edit": ("conceptvae.editing", "edit"),
    "find_faces": ("conceptvae.faces", "find_faces"),
    "traverse": ("conceptvae.editing", "traverse"),
    "analogy": ("conceptvae.editing", "analogy"),
    "reconstruct": ("conceptvae.editing", "reconstruct"),
    "interpolate": ("conceptvae.sequences", "interpolate"),
    "morph": ("conceptvae.sequences", "morph"),
    "render_script": ("conceptvae.commands.scripts", "render_script"),
    "grid": ("conceptvae.latent_maps", "grid"),
    "scatter": ("conceptvae.latent_maps", "scatter"),
}

if TYPE_CHECKING:
    from .commands.scripts import render_script
    from .concepts import open_library
    from .config import TrainOptions, VAEConfig
    from .data import open_dataset
    from .editing import analogy, edit, reconstruct, traverse
    from .errors import ConceptVAEError
    from .faces import find_faces
    from .latent_maps import grid, scatter
    from .model.api import load_model
    from .model.loaded import VAEModel
    from .sequences import interpolate, morph
    from .training import train


__getattr__ = lazy_attributes(globals(), _LAZY)


def _map_checkout_subpackages() -> None:
    """Make ``conceptvae.cli``, ``.pretrained`` and ``.examples`` importable from a checkout.

    An install maps the top-level folders ``cli/``, ``pretrained/`` and
    ``examples/`` into the package. Run from the repository root, the source
    folder ``conceptvae/`` comes first on ``sys.path`` and shadows the install,
    and it has none of them. So when this package has no ``cli`` of its own but
    sits in a conceptvae checkout, a finder maps exactly those names to the
    folders beside it; a wheel (where they live inside the package) is left alone.
    """
    import importlib.abc
    import importlib.util
    import sys
    from pathlib import Path

    here = Path(__file__).resolve().parent
    root = here.parent
    if (here / "cli").is_dir() or not (root / "pyproject.toml").is_file():
        return
    folders = {
        f"{__name__}.{sub}": root / sub
        for sub in ("cli", "pretrained", "examples")
        if (root / sub / "__init__.py").is_file()
    }
    if not folders:
        return

    class CheckoutFinder(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001, ANN201
            folder = folders.get(fullname)
            if folder is None:
                return None
            return importlib.util.spec_from_file_location(
                fullname, folder / "__init__.py", submodule_search_locations=[str(folder)]
            )

    sys.meta_path.append(CheckoutFinder())


_map_checkout_subpackages()


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
