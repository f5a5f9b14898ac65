"""File-level encode / decode / reconstruct / sample, as the CLI uses them.

Inputs are read (and refused) before anything is written, and every output
goes through an atomic write, so a failure never leaves half a result.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .data import find_images
from .errors import ConceptVAEError, DataError
from .images import save_image, save_pil
from .io import atomic_path, atomic_save_npy
from .model.loaded import VAEModel
from .outputs import ensure_dir, is_dir_target, plan_outputs, refuse_overwriting_inputs
from .render import grid as make_grid


def expand_inputs(inputs: Sequence[str | os.PathLike]) -> list[Path]:
    """Files as given; folders expand to their images (recursively, sorted)."""
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = find_images(p)
            if not found:
                raise DataError("folder holds no images", p)
            out.extend(found)
        else:
            out.append(p)
    return out


def reconstruct_files(
    model: VAEModel,
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike | None,
    size: int | None = None,
    overwrite: bool = False,
) -> list[Path]:
    paths = expand_inputs(inputs)
    targets = plan_outputs(paths, out, default_name="{stem}_recon{suffix}", overwrite=overwrite)
    recon = model.reconstruct(paths)
    for img, target in zip(recon, targets):
        save_image(img, target, size)
    return targets


def encode_files(
    model: VAEModel,
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    sample: bool = False,
    seed: int | None = None,
) -> np.ndarray:
    out = Path(out)
    if out.suffix not in (".npy", ".npz"):
        raise ConceptVAEError("latents output must end in .npy or .npz", out)
    paths = expand_inputs(inputs)
    refuse_overwriting_inputs([out], paths, overwrite=False)
    z = model.encode(paths, sample=sample, seed=seed)
    if out.suffix == ".npy":
        atomic_save_npy(out, z)
    else:
        with atomic_path(out, suffix=".npz") as tmp, open(tmp, "wb") as fh:
            np.savez(fh, z=z, files=np.array([str(p) for p in paths]))
    return z


def read_latents(path: str | os.PathLike, latent_dim: int) -> tuple[np.ndarray, list[str] | None]:
    path = Path(path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError("file not found", path) from None
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"not a readable .npy/.npz file ({exc})", path) from None
    names = None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            if "z" not in loaded.files:
                raise DataError("the .npz holds no array named 'z'", path)
            z = loaded["z"]
            if "files" in loaded.files:
                names = [Path(str(f)).stem for f in loaded["files"]]
    else:
        z = loaded
    if z.dtype.kind not in "fiu":
        raise DataError(f"latents must be numeric, got dtype {z.dtype}", path)
    z = np.atleast_2d(z).astype(np.float32)
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise DataError(f"latents have shape {z.shape}; this model needs (N, {latent_dim})", path)
    if len(z) == 0:
        raise DataError("no latents in file", path)
    if not np.isfinite(z).all():
        raise DataError("latents contain NaN or infinite values", path)
    return z, names


def decode_file(
    model: VAEModel, latents: str | os.PathLike, out: str | os.PathLike, size: int | None = None
) -> list[Path]:
    z, names = read_latents(latents, model.latent_dim)
    images = model.decode(z)
    if is_dir_target(out):
        d = ensure_dir(Path(out))
        width = max(4, len(str(len(z) - 1)))
        stems = (
            names
            if names and len(set(names)) == len(names)
            else [f"{i:0{width}d}" for i in range(len(z))]
        )
        targets = [d / f"{s}.png" for s in stems]
        for img, t in zip(images, targets):
            save_image(img, t, size)
        return targets
    target = Path(out)
    if len(images) == 1:
        save_image(images[0], target, size)
    else:
        save_pil(make_grid(images, cell=size), target)
    return [target]


def sample_files(
    model: VAEModel,
    n: int,
    out: str | os.PathLike,
    temperature: float = 1.0,
    seed: int | None = 0,
    grid: bool = True,
    size: int | None = None,
) -> list[Path]:
    as_grid = grid
    images = model.sample(n, temperature=temperature, seed=seed)
    if is_dir_target(out) or not as_grid:
        d = ensure_dir(Path(out))
        width = max(4, len(str(n - 1)))
        targets = [d / f"sample_{i:0{width}d}.png" for i in range(n)]
        for img, t in zip(images, targets):
            save_image(img, t, size)
        return targets
    save_pil(make_grid(images, cell=size), out)
    return [Path(out)]
