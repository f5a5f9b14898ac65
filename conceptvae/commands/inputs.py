"""Reading a command's inputs: files as given, folders expanded to their images."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import DataError


def expand_inputs(inputs: Sequence[str | os.PathLike]) -> list[Path]:
    """Files as given (``example:NAME``: a shipped example, see
    :mod:`conceptvae.shipped`); folders expand to their images (recursively, sorted)."""
    from ..shipped import example_path

    out: list[Path] = []
    for item in inputs:
        p = Path(example_path(item))
        if p.is_dir():
            # Only folders need the dataset module (csv, zipfile, sockets...): a
            # single-image command skips its import.
            from ..data import find_images

            found = find_images(p)
            if not found:
                raise DataError("folder holds no images", p)
            out.extend(found)
        else:
            out.append(p)
    return out
