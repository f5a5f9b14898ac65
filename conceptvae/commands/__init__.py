"""The file side of every verb: what the CLI (and any other front end) calls.

Each command plans its outputs against its inputs (and refuses a bad one)
before any work, reads the inputs, calls the domain function once
(:mod:`conceptvae.editing`, :mod:`conceptvae.sequences`,
:mod:`conceptvae.latent_maps`, :mod:`conceptvae.script`, the model's own
encode/decode) and writes every file atomically. Domain modules return arrays
and results only; nothing below this layer writes a user's output file.

* :mod:`.edit` - ``edit_files``, ``traverse_file``, ``analogy_file``
* :mod:`.sequences` - ``interpolate_file``, ``morph_file``
* :mod:`.scripts` - ``render_script``, ``run_script``
* :mod:`.pictures` - ``grid_file``, ``scatter_file``
* :mod:`.codec` - ``reconstruct_files``, ``encode_files``, ``decode_file``, ``sample_files``
* :mod:`.faces` - ``faces_files``, ``align_folder``

Importing this package is cheap; each command module loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_attributes

_LAZY = {
    "edit_files": ("conceptvae.commands.edit", "edit_files"),
    "traverse_file": ("conceptvae.commands.edit", "traverse_file"),
    "analogy_file": ("conceptvae.commands.edit", "analogy_file"),
    "interpolate_file": ("conceptvae.commands.sequences", "interpolate_file"),
    "morph_file": ("conceptvae.commands.sequences", "morph_file"),
    "render_script": ("conceptvae.commands.scripts", "render_script"),
    "run_script": ("conceptvae.commands.scripts", "run_script"),
    "grid_file": ("conceptvae.commands.pictures", "grid_file"),
    "scatter_file": ("conceptvae.commands.pictures", "scatter_file"),
    "reconstruct_files": ("conceptvae.commands.codec", "reconstruct_files"),
    "encode_files": ("conceptvae.commands.codec", "encode_files"),
    "decode_file": ("conceptvae.commands.codec", "decode_file"),
    "sample_files": ("conceptvae.commands.codec", "sample_files"),
    "faces_files": ("conceptvae.commands.faces", "faces_files"),
    "align_folder": ("conceptvae.commands.faces", "align_folder"),
}
__all__ = [
    "align_folder", "analogy_file", "decode_file", "edit_files", "faces_files", "encode_files", "grid_file", "interpolate_file",
    "morph_file", "reconstruct_files", "render_script", "run_script", "sample_files",
    "scatter_file", "traverse_file",
]  # fmt: skip

if TYPE_CHECKING:
    from .codec import decode_file, encode_files, reconstruct_files, sample_files
    from .edit import analogy_file, edit_files, traverse_file
    from .faces import align_folder, faces_files
    from .pictures import grid_file, scatter_file
    from .scripts import render_script, run_script
    from .sequences import interpolate_file, morph_file

__getattr__ = lazy_attributes(globals(), _LAZY)
