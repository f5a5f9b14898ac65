"""``reconstruct``, ``encode``, ``decode``, ``sample`` on files.

Inputs are read (and refused) before anything is written, and every output
goes through an atomic write, so a failure never leaves half a result.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..checks import check_seed
from ..errors import ConceptVAEError, DataError, param
from ..images import check_image_suffix, save_image, save_pil
from ..io import atomic_path, atomic_save_npy
from ..model.loaded import VAEModel, posterior_draw
from ..options import MAX_SAMPLES, MAX_TEMPERATURE, MAX_TOTAL_PIXELS
from ..outputs import (
    check_dir_creatable,
    check_output_files,
    check_writable_parent,
    is_dir_target,
    plan_outputs,
    refuse_overwriting_inputs,
    refuse_overwriting_model,
)
from ..render import grid as make_grid
from ..resolve import resolve_model
from .batch import Batch, Written, input_error, kept_paths
from .inputs import expand_inputs

# Prior draws are N(0, 1) per dimension: a temperature or latent value far beyond a
# few units decodes to saturated noise (and, large enough, to inf/NaN), so it is
# refused as a typo rather than silently written.
MAX_ABS_LATENT = 1e4

# Image files decoded and encoded at once by encode_files.
ENCODE_CHUNK = 256


def reconstruct_files(
    model: VAEModel | str | os.PathLike | None,
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike | None,
    *,
    size: int | None = None,
    overwrite: bool = False,
    backend: str = "auto",
    align: bool = True,
    face: str | int = "all",
    progress: Callable[[int, int], None] | None = None,
) -> Batch:
    """A face model reconstructs the faces in each image (``align``, ``face``: see
    :func:`conceptvae.editing.reconstruct`). Inputs are done one at a time, each
    written when it is done (a folder of photographs is never held at once). Of
    several inputs, one that cannot be used (unreadable, no face found) is left
    out, with its error in :attr:`Batch.skipped`; ``progress(done, total)``
    after each."""
    from ..editing import reconstruct

    model = resolve_model(model, (), backend)
    paths = expand_inputs(inputs)
    targets = plan_outputs(paths, out, default_name="{stem}_recon{suffix}", overwrite=overwrite)
    refuse_overwriting_model(targets, model)
    for target in targets:
        check_image_suffix(target)
    batch = Batch([])
    for k, (path, target) in enumerate(zip(paths, targets)):
        try:
            (img,) = reconstruct(model, [path], align=align, face=face, as_uint8=True)
        except ConceptVAEError as exc:
            if len(paths) == 1 or not input_error(exc, path):
                raise
            batch.skipped.append(exc)
        else:
            save_image(img, target, size)
            batch.written.append(Written(target, path.stem, {}))
        if progress is not None:
            progress(k + 1, len(paths))
    return batch


def encode_files(
    model: VAEModel | str | os.PathLike | None,
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    sample: bool = False,
    seed: int | None = None,
    backend: str = "auto",
    progress: Callable[[int, int], None] | None = None,
    align: bool = True,
    face: str | int = "largest",
    skipped: list[ConceptVAEError] | None = None,
) -> np.ndarray:
    """Latents of image files, read ENCODE_CHUNK at a time (memory stays bounded);
    ``progress(done, total)`` hears of each chunk. A face model encodes one
    aligned face per image (``face``: "largest" or a number; ``align=False``:
    the whole image as a crop). With a ``skipped`` list, an input that cannot be
    used (unreadable, no face found) is left out, its error appended there (a
    .npz's ``files`` names the inputs encoded)."""
    model = resolve_model(model, (), backend)
    out = Path(out)
    if out.suffix not in (".npy", ".npz"):
        raise ConceptVAEError("latents output must end in .npy or .npz", out)
    check_seed(seed)
    check_writable_parent(out)
    paths = expand_inputs(inputs)
    refuse_overwriting_inputs([out], paths, overwrite=False, offer_overwrite=False)
    refuse_overwriting_model([out], model)
    empty = np.zeros((0, model.latent_dim), np.float32)
    means, log_vars = [empty], [empty]
    used: list[Path] = []
    if len(paths) == 1:
        skipped = None  # a single input's error is the command's
    for start in range(0, len(paths), ENCODE_CHUNK):
        chunk = paths[start : start + ENCODE_CHUNK]
        views = _views(model, chunk, align, face, skipped)
        if len(views):
            used.extend(kept_paths(chunk, skipped or []))
            mean, log_var = model.encode_posterior(views)
            means.append(mean)
            log_vars.append(log_var)
        if progress:
            progress(min(start + ENCODE_CHUNK, len(paths)), len(paths))
    z = np.concatenate(means)
    if not used:
        return z  # every input skipped: nothing written
    if sample:
        z = posterior_draw(z, np.concatenate(log_vars), seed)
    if out.suffix == ".npy":
        atomic_save_npy(out, z)
    else:
        with atomic_path(out, suffix=".npz") as tmp, open(tmp, "wb") as fh:
            np.savez(fh, z=z, files=np.array([str(p) for p in used]))
    return z


def _views(model: VAEModel, paths: list[Path], align: bool, face: str | int,
           skipped: list[ConceptVAEError] | None) -> np.ndarray:  # fmt: skip
    """The chunk's views; with a ``skipped`` list, one at a time, leaving out what fails."""
    from ..faces.inputs import model_views

    def views(chunk: list[Path]) -> np.ndarray:
        return model_views(chunk, model.meta, model.config.image_size, model.config.channels,
                           align=align, face=face)  # fmt: skip

    if skipped is None:
        return views(paths)
    out = []
    for p in paths:
        try:
            out.append(views([p]))
        except ConceptVAEError as exc:
            if not input_error(exc, p):
                raise
            skipped.append(exc)
    if not out:
        return np.zeros((0, model.config.image_size, model.config.image_size,
                         model.config.channels), np.float32)  # fmt: skip
    return np.concatenate(out)


# Latents are (N, latent_dim) float32: 1 GiB is 65 million numbers.
MAX_LATENT_BYTES = 1 << 30


def read_latents(path: str | os.PathLike, latent_dim: int) -> tuple[np.ndarray, list[str] | None]:
    path = Path(path)
    from ..readers import open_regular

    try:
        with open_regular(path, "file", None, DataError) as fh:
            magic = fh.read(6)
    except DataError as exc:
        if "it is a directory" in exc.message:
            raise DataError("is a directory, not a .npy/.npz file", path) from None
        raise
    # numpy treats anything that is neither .npy nor zip as a pickle; say what it is.
    if not magic.startswith((b"\x93NUMPY", b"PK\x03\x04", b"PK\x05\x06")):
        if magic.startswith(b"\x80"):
            raise DataError("holds pickled Python objects, which are never loaded", path)
        raise DataError("not a .npy or .npz file (unrecognised content)", path)
    from ..readers import npy_header, npz_headers

    if magic.startswith(b"PK"):
        npz_headers(path, MAX_LATENT_BYTES, DataError)
    else:
        npy_header(path, MAX_LATENT_BYTES, DataError)
    try:
        loaded = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError("file not found", path) from None
    except IsADirectoryError:
        raise DataError("is a directory, not a .npy/.npz file", path) from None
    except MemoryError:
        raise DataError("declares an array too large to load", path) from None
    except Exception as exc:  # noqa: BLE001 - numpy, zipfile and ast raise many types
        if "pickle" in str(exc):
            # numpy's message suggests allow_pickle=True; conceptvae never unpickles.
            raise DataError("holds pickled Python objects, which are never loaded", path) from None
        raise DataError(f"not a readable .npy/.npz file ({_one_line(exc)})", path) from None
    names = None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            if "z" not in loaded.files:
                raise DataError("the .npz holds no array named 'z'", path)
            try:
                z = loaded["z"]
                files = loaded["files"] if "files" in loaded.files else None
            except MemoryError:
                raise DataError("declares an array too large to load", path) from None
            except Exception as exc:  # noqa: BLE001 - zip and npy readers raise many types
                if "pickle" in str(exc):
                    raise DataError(
                        "holds pickled Python objects, which are never loaded", path
                    ) from None
                raise DataError(f"corrupt .npz member ({_one_line(exc)})", path) from None
            # A zip member not named *.npy comes back as raw bytes, not an array.
            if not isinstance(z, np.ndarray):
                raise DataError("the .npz member 'z' is not a numpy array", path)
            if isinstance(files, np.ndarray) and files.ndim == 1 and files.dtype.kind in "US":
                names = [Path(str(f)).stem for f in files]
    else:
        z = loaded
    if z.dtype.kind not in "fiu":
        raise DataError(f"latents must be numeric, got dtype {z.dtype}", path)
    # Checked in float64 first: casting 1e300 to float32 would overflow (and warn).
    z = np.atleast_2d(z).astype(np.float64)
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise DataError(f"latents have shape {z.shape}; this model needs (N, {latent_dim})", path)
    if len(z) == 0:
        raise DataError("no latents in file", path)
    if not np.isfinite(z).all():
        raise DataError("latents contain NaN or infinite values", path)
    top = float(np.abs(z).max())
    if top > MAX_ABS_LATENT:
        raise DataError(
            f"latents reach {top:.3g}; values beyond +-{MAX_ABS_LATENT:g} are not meaningful "
            "(latents are about N(0, 1))",
            path,
        )
    return z.astype(np.float32), names


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:160] or type(exc).__name__


def decode_file(
    model: VAEModel | str | os.PathLike | None,
    latents: str | os.PathLike,
    out: str | os.PathLike,
    size: int | None = None,
    backend: str = "auto",
) -> list[Path]:
    model = resolve_model(model, (), backend)
    dir_target = is_dir_target(out)
    if dir_target:
        check_dir_creatable(Path(out))
    else:
        check_image_suffix(out)
        check_writable_parent(Path(out))
        refuse_overwriting_inputs([Path(out)], [latents], overwrite=False, offer_overwrite=False)
        refuse_overwriting_model([out], model)
    z, names = read_latents(latents, model.latent_dim)
    images = model.decode(z)
    if dir_target:
        d = Path(out)
        width = max(4, len(str(len(z) - 1)))
        usable = (
            names
            and len(names) == len(z)
            and len(set(names)) == len(names)
            and all(s and not s.startswith(".") for s in names)
        )
        stems = names if usable else [f"{i:0{width}d}" for i in range(len(z))]
        targets = [d / f"{s}.png" for s in stems]
        check_output_files(targets)
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
    model: VAEModel | str | os.PathLike | None,
    n: int,
    out: str | os.PathLike,
    temperature: float = 1.0,
    seed: int | None = 0,
    grid: bool = True,
    size: int | None = None,
    backend: str = "auto",
) -> list[Path]:
    model = resolve_model(model, (), backend)
    if not 1 <= n <= MAX_SAMPLES:
        raise ConceptVAEError(f"number of samples must be from 1 to {MAX_SAMPLES}, got {n}")
    if not (np.isfinite(temperature) and 0 <= temperature <= MAX_TEMPERATURE):
        raise ConceptVAEError(
            f"{param('temperature')} must be a finite number from 0 to {MAX_TEMPERATURE:g}, "
            f"got {temperature}"
        )
    check_seed(seed)
    as_dir = is_dir_target(out) or not grid
    if not as_dir:
        refuse_overwriting_model([out], model)
    if as_dir:
        check_dir_creatable(Path(out))
    else:
        check_image_suffix(out)
        check_writable_parent(Path(out))
    side = size or model.config.image_size
    if not as_dir:
        from ..render import check_picture

        check_picture(n, int(np.ceil(np.sqrt(n))), side)
    elif n * side * side > MAX_TOTAL_PIXELS:
        raise ConceptVAEError(
            f"{n} samples of {side}x{side} are {n * side * side:,} pixels; at most "
            f"{MAX_TOTAL_PIXELS:,} are rendered: ask for fewer or a smaller {param('size')}",
            out,
        )
    images = model.sample(n, temperature=temperature, seed=seed)
    if as_dir:
        d = Path(out)
        width = max(4, len(str(n - 1)))
        targets = [d / f"sample_{i:0{width}d}.png" for i in range(n)]
        check_output_files(targets)
        for img, t in zip(images, targets):
            save_image(img, t, size)
        return targets
    from ..render import sample_sheet

    save_pil(sample_sheet(images, seed=seed, temperature=temperature, cell=size), out)
    return [Path(out)]
