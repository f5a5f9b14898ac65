"""The file side of every verb: what the CLI (and any other front end) calls.

Each command plans its outputs against its inputs (and refuses a bad one)
before any work, reads the inputs, calls the domain function once
(:mod:`conceptvae.editing`, :mod:`conceptvae.sequences`,
:mod:`conceptvae.latent_maps`, :mod:`conceptvae.script`, the model's own
encode/decode) and writes every file atomically. Domain modules return arrays
and results only; nothing below this layer writes a user's output file.

Importing this package is cheap; each command module loads on first use. The
table below names each module's commands (edit, sequences, scripts, pictures,
codec, faces).
"""

from __future__ import annotations

from ..lazy import lazy_module

lazy_module(globals(), {
    ".edit": ["edit_files", "traverse_file", "analogy_file"],
    ".sequences": ["interpolate_file", "morph_file"],
    ".scripts": ["render_script", "run_script"],
    ".pictures": ["grid_file", "scatter_file"],
    ".codec": ["reconstruct_files", "encode_files", "decode_file", "sample_files"],
    ".faces": ["faces_files", "align_folder"],
})  # fmt: skip
