"""Decode one image file into the model's pixel format, safely.

Every command that reads an image comes through :func:`load_image`, so every
odd file (16-bit, palette, CMYK, EXIF-rotated, animated, truncated, a
decompression bomb) is handled in one place and fails with one clear line.
"""

from __future__ import annotations

import logging
import os
import stat
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import DataError
from .io import atomic_path

# Pillow's plugins log (not raise) some complaints about malformed files, and with no
# handler configured Python prints them to stderr: a second line beside the error.
logging.getLogger("PIL").addHandler(logging.NullHandler())

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")
# Refuse before decoding: a 30000x30000 canvas is 900 M pixels of RAM per channel.
MAX_PIXELS = 100_000_000
MIN_SIDE = 4


class ImageNote(UserWarning):
    """Something worth telling the user about an image that was still used."""


def _open(path: Path) -> Image.Image:
    try:
        if path.is_dir():
            raise DataError("is a directory, not an image", path)
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO would block, /dev/zero never ends
            raise DataError("not a regular file (a pipe, device or socket)", path)
        if path.stat().st_size == 0:
            raise DataError("empty file (0 bytes)", path)
        im = Image.open(path)
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError("file not found", path) from None
    except PermissionError:
        raise DataError("permission denied", path) from None
    except UnidentifiedImageError:
        raise DataError("not a readable image (unknown or corrupt format)", path) from None
    except Image.DecompressionBombError as exc:
        raise DataError(f"refused: image is too large to decode safely ({exc})", path) from None
    except Exception as exc:  # noqa: BLE001 - malformed files make Pillow raise many types
        raise DataError(f"not a readable image ({_reason(exc)})", path) from None
    w, h = im.size
    if w * h > MAX_PIXELS:
        im.close()
        raise DataError(
            f"refused: image declares {w}x{h} pixels, more than the {MAX_PIXELS:,} allowed",
            path,
        )
    if min(w, h) < MIN_SIDE:
        im.close()
        raise DataError(f"image is {w}x{h} pixels; at least {MIN_SIDE}x{MIN_SIDE} is needed", path)
    return im


def _bands(im: Image.Image) -> Iterator[tuple[slice, np.ndarray]]:
    """A one-channel image's rows as float64, about 2 MB at a time: a 100-megapixel
    16-bit or float image as one float64 array would be 800 MB, and each step of
    arithmetic on it as much again."""
    w, h = im.size
    rows = max(1, (1 << 18) // w)
    for y in range(0, h, rows):
        end = min(h, y + rows)
        yield slice(y, end), np.asarray(im.crop((0, y, w, end)), np.float64)


def _to_l(im: Image.Image, convert: Callable[[np.ndarray], np.ndarray]) -> Image.Image:
    """A one-channel image made 8-bit (mode 'L') by ``convert``, a band of rows at a time."""
    out = np.empty(im.size[::-1], np.uint8)
    for rows, band in _bands(im):
        out[rows] = convert(band)
    return Image.fromarray(out, mode="L")


def _to_standard_mode(im: Image.Image) -> Image.Image:
    """Return an 'L' or 'RGB' image; transparency is composited onto black."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        top = 65535.0 if mode.startswith("I;16") or (im.getextrema()[1] or 0) > 255 else 255.0
        return _to_l(im, lambda a: np.clip(a / top * 255.0 + 0.5, 0, 255).astype(np.uint8))
    if mode == "F":
        # NaN pixels become black; +inf white (after the scaling below).
        def finite(a: np.ndarray) -> np.ndarray:
            return np.nan_to_num(a, nan=0.0, posinf=255.0, neginf=0.0)

        top = max(float(finite(band).max(initial=0)) for _, band in _bands(im))
        scale = 255.0 if top > 1.0 else 1.0
        return _to_l(im, lambda a: (np.clip(finite(a) / scale, 0, 1) * 255 + 0.5).astype(np.uint8))
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode == "PA":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "La", "RGBa"):
        rgba = im.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        im = Image.alpha_composite(base, rgba).convert("RGB")
    if im.mode == "1":
        im = im.convert("L")
    if im.mode not in ("L", "RGB"):
        im = im.convert("RGB")  # CMYK, YCbCr, LAB, HSV
    return im


def to_square(im: Image.Image, size: int) -> Image.Image:
    """Center-crop to a square, then resize with Lanczos."""
    w, h = im.size
    side = min(w, h)
    if w != h:
        left, top = (w - side) // 2, (h - side) // 2
        im = im.crop((left, top, left + side, top + side))
    if side != size:
        im = im.resize((size, size), Image.LANCZOS, reducing_gap=3.0 if side > 4 * size else None)
    return im


def load_pil(path: str | os.PathLike) -> Image.Image:
    """Open, validate and normalise an image file to mode 'L' or 'RGB' at full size."""
    path = Path(path)
    im = _open(path)
    out = None
    try:
        frames = getattr(im, "n_frames", 1)
        if frames > 1:
            im.seek(0)
            warnings.warn(
                f"{path}: animated image with {frames} frames; using the first frame",
                ImageNote,
                stacklevel=2,
            )
        im.load()
        if frames <= 1:
            # In place: without it Pillow returns a copy even of an upright photo.
            ImageOps.exif_transpose(im, in_place=True)
        out = _to_standard_mode(im)
        if out is im and not _detached(im):
            # The original is closed below: an independent copy of pixels still
            # tied to the file (a frame of several, a memory-mapped raw file).
            out = im.copy()
        return out
    except DataError:
        raise
    except Image.DecompressionBombError as exc:
        raise DataError(f"refused: image is too large to decode safely ({exc})", path) from None
    except MemoryError:
        # The machine's limit, not the file's fault: never call an intact file corrupt.
        w, h = im.size
        raise DataError(out_of_memory(w, h), path) from None
    except Exception as exc:  # noqa: BLE001 - malformed files make Pillow raise many types
        raise DataError(f"truncated or corrupt image ({_reason(exc)})", path) from None
    finally:
        if out is not im:
            im.close()


def _detached(im: Image.Image) -> bool:
    """Whether a loaded image's pixels are its own: its file read and closed, not
    mapped. Such an image is returned as it is: a copy would hold a large
    photograph twice."""
    return getattr(im, "fp", None) is None and not getattr(im, "map", None)


def out_of_memory(width: int, height: int) -> str:
    return (
        f"out of memory decoding this {width}x{height} image (the file itself may be "
        "fine): free memory or use a smaller copy"
    )


def _reason(exc: BaseException) -> str:
    """Pillow's complaint, on one short line."""
    text = " ".join(str(exc).split())[:160]
    return text or type(exc).__name__


def pil_to_array(im: Image.Image, size: int, channels: int) -> np.ndarray:
    """An 'L'/'RGB' PIL image -> uint8 array (size, size, channels)."""
    im = im.convert("L" if channels == 1 else "RGB")
    arr = np.asarray(to_square(im, size), dtype=np.uint8)
    return arr.reshape(size, size, channels)


def load_image_uint8(path: str | os.PathLike, size: int, channels: int) -> np.ndarray:
    return pil_to_array(load_pil(path), size, channels)


def load_image(path: str | os.PathLike, size: int, channels: int) -> np.ndarray:
    """Read an image file as float32 (size, size, channels) in [0, 1]."""
    return load_image_uint8(path, size, channels).astype(np.float32) / 255.0


def native_size_and_channels(path: str | os.PathLike) -> tuple[int, int]:
    im = load_pil(path)
    return min(im.size), (1 if im.mode == "L" else 3)


def to_uint8(images: np.ndarray) -> np.ndarray:
    """float [0, 1] -> uint8 with rounding; NaN becomes 0.

    Done a few million values at a time: a 36-megapixel photograph's whole-array
    float temporaries cost more than a gigabyte, its uint8 result 108 MB."""
    src = np.asarray(images)
    if src.ndim == 0:
        src = src.reshape(1)
        return to_uint8(src).reshape(())
    out = np.empty(src.shape, np.uint8)
    step = max(1, (1 << 22) // max(1, src[0].size))
    for i in range(0, len(src), step):
        part = np.nan_to_num(np.asarray(src[i : i + step], dtype=np.float32), nan=0.0)
        np.clip(part, 0.0, 1.0, out=part)
        part *= 255.0
        part += 0.5
        out[i : i + step] = part.astype(np.uint8)
    return out


def array_to_pil(image: np.ndarray, size: int | None = None) -> Image.Image:
    """float [0, 1] (H, W[, C]) or uint8 -> PIL image, optionally upscaled to ``size``."""
    arr = image if image.dtype == np.uint8 else to_uint8(image)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    im = Image.fromarray(arr, mode="L" if arr.ndim == 2 else "RGB")
    if size is not None and size != im.size[0]:
        im = im.resize((size, size * im.size[1] // im.size[0]), Image.LANCZOS)
    return im


SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP"}


def check_image_suffix(path: str | os.PathLike) -> str:
    """The Pillow format an output path's suffix asks for; refuse unknown suffixes."""
    path = Path(path)
    fmt = SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"unsupported image format {path.suffix!r}; use one of {', '.join(SAVE_FORMATS)}",
            path,
        )
    return fmt


def save_pil(im: Image.Image, path: str | os.PathLike, fast: bool = False) -> None:
    """Write atomically; the format comes from the suffix.

    ``fast`` trades a little PNG size (about 10% on photographs) for zlib's
    quickest level: a 1280-pixel photograph takes ~0.05 s instead of ~0.4 s.
    """
    path = Path(path)
    fmt = check_image_suffix(path)
    # JPEG: high quality with full-resolution colour (no chroma subsampling).
    kwargs = {"quality": 95, "subsampling": 0} if fmt == "JPEG" else {"lossless": True} if fmt == "WEBP" else {}
    if fast and fmt == "PNG":
        kwargs = {"compress_level": 1}
    with atomic_path(path, suffix=path.suffix) as tmp:
        im.save(tmp, format=fmt, **kwargs)


def save_image(image: np.ndarray, path: str | os.PathLike, size: int | None = None) -> None:
    save_pil(array_to_pil(image, size), path)
