"""conceptvae: edit images with concept vectors in a VAE's latent space.

Importing the package is cheap (no TensorFlow); the heavy parts load on use.
"""

from __future__ import annotations

from .lazy import lazy_module
from .version import __version__ as __version__

# The public API, one entry a name: each loads its module on first use.
lazy_module(globals(), {
    ".errors": ["ConceptVAEError"],
    ".config": ["TrainOptions", "VAEConfig"],
    ".model.loaded": ["VAEModel"],
    ".model.api": ["load_model"],
    ".data": ["open_dataset"],
    ".training": ["train"],
    ".concepts": ["open_library"],
    ".faces": ["find_faces"],
    ".editing": ["analogy", "edit", "reconstruct", "traverse"],
    ".sequences": ["interpolate", "morph"],
    ".commands.scripts": ["render_script"],
    ".latent_maps": ["grid", "scatter"],
})  # fmt: skip


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
