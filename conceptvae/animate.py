"""Write a sequence of frames: a PNG strip, a GIF, a WebP, an MP4, or a DIR/ of PNGs.

The output's suffix picks the format (``DIR/`` - a trailing slash or an existing
directory - gets one PNG per frame, ``frame_0000.png`` ...). Every format holds
exactly the frames given, and the same frames give the same bytes:

* GIF and WebP are assembled here, frame by frame, from Pillow's per-frame
  encoders. Pillow's and libwebp's animation writers merge consecutive identical
  frames (a hold, or two in-betweens that round to the same pixels) into one
  longer frame, so the file would hold fewer frames than asked for.
* MP4 (H.264, yuv420p) is encoded by the ffmpeg binary inside the imageio-ffmpeg
  wheel, never a system ffmpeg, single-threaded with bit-exact flags so the bytes
  do not depend on the machine's core count. They may differ between ffmpeg
  builds (x264 writes its version into the stream).

Frame delays are whole milliseconds (WebP) or hundredths of a second (GIF);
rounding is spread over the frames so the total duration stays exact.
"""

from __future__ import annotations

import io
import os
import re
import struct
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from .checks import check_count, check_fps
from .errors import ConceptVAEError, param
from .extras import MissingExtraError, require_extra
from .images import MAX_PIXELS, array_to_pil, to_uint8
from .io import atomic_path
from .options import DEFAULT_FPS, MAX_TOTAL_PIXELS
from .outputs import (
    check_dir_creatable,
    check_output_files,
    check_writable_parent,
    is_dir_target,
    refuse_overwriting_inputs,
)

KINDS = {".png": "strip", ".gif": "gif", ".webp": "webp", ".mp4": "mp4"}
# GIF delays are whole hundredths of a second and browsers slow anything under
# 2/100 s down to 1/10 s, so 50 fps is the fastest GIF that plays as written.
GIF_MAX_FPS = 50.0
STRIP_MAX_COLUMNS = 32
STRIP_WRAP = 16

Progress = Callable[[int], None]


@dataclass(frozen=True)
class FrameTarget:
    """Where frames go and as what: ``kind`` is strip, gif, webp, mp4 or dir."""

    path: Path
    kind: str

    def frame_paths(self, n: int) -> list[Path]:
        """The files a ``dir`` target holds for ``n`` frames (frame_0000.png, ...)."""
        width = max(4, len(str(n - 1)))
        return [self.path / f"frame_{i:0{width}d}.png" for i in range(n)]


def plan_target(
    out: str | os.PathLike,
    inputs: Sequence[str | os.PathLike] = (),
    overwrite: bool = False,
) -> FrameTarget:
    """Refuse an unusable output before any work; creates nothing."""
    if is_dir_target(out):
        path = Path(out)
        check_dir_creatable(path)
        return FrameTarget(path, "dir")
    path = Path(out)
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        raise ConceptVAEError(
            f"unsupported output format {path.suffix or '(no suffix)'!r}; use .png (a strip), "
            ".gif, .webp, .mp4, or DIR/ (one PNG per frame)",
            path,
        )
    check_writable_parent(path)
    refuse_overwriting_inputs([path], list(inputs), overwrite)
    return FrameTarget(path, kind)


def check_target(
    target: FrameTarget,
    n_frames: int,
    fps: float,
    side: int,
    inputs: Sequence[str | os.PathLike] = (),
    overwrite: bool = False,
) -> None:
    """Refuse what this format cannot hold, and a frame folder whose frame files
    would replace an input (a keyframe inside DIR/), before any frame is rendered."""
    if target.kind == "dir":
        frames = target.frame_paths(n_frames)
        check_output_files(frames)
        refuse_overwriting_inputs(frames, list(inputs), overwrite)
    if n_frames * side * side > MAX_TOTAL_PIXELS:
        raise ConceptVAEError(
            f"{n_frames} frames of {side}x{side} are {n_frames * side * side:,} pixels; at most "
            f"{MAX_TOTAL_PIXELS:,} are rendered: ask for fewer frames or a smaller "
            f"{param('size')}",
            target.path,
        )
    if target.kind == "gif" and fps > GIF_MAX_FPS:
        raise ConceptVAEError(
            f"GIF frame delays are whole hundredths of a second, so a GIF plays at most "
            f"{GIF_MAX_FPS:g} fps (asked for {fps:g}); use .webp or .mp4",
            target.path,
        )
    if target.kind == "mp4":
        require_extra("mp4")
    if target.kind == "mp4" and side % 2:
        raise ConceptVAEError(
            f"MP4 (H.264) needs an even frame size, but frames are {side}x{side}; "
            f"use {param('size')} {side + 1} (or {side - 1})",
            target.path,
        )
    if target.kind == "strip":
        cols, rows = strip_shape(n_frames)
        if cols * rows * side * side > MAX_PIXELS:
            raise ConceptVAEError(
                f"a strip of {n_frames} frames of {side}x{side} pixels is too large for one "
                "picture; write .gif, .webp, .mp4 or DIR/ instead",
                target.path,
            )


def strip_shape(n: int) -> tuple[int, int]:
    """(columns, rows): one row up to STRIP_MAX_COLUMNS frames, else rows of STRIP_WRAP."""
    cols = n if n <= STRIP_MAX_COLUMNS else STRIP_WRAP
    return cols, -(-n // cols)


def delays(n: int, fps: float, units_per_second: int) -> list[int]:
    """Per-frame delays in whole units whose running sum tracks ``i / fps`` exactly."""
    edges = [round(i * units_per_second / fps) for i in range(n + 1)]
    return [max(1, b - a) for a, b in zip(edges, edges[1:])]


# -- writing ------------------------------------------------------------------------


def write_frames(
    frames: np.ndarray,
    target: FrameTarget | str | os.PathLike,
    fps: float = DEFAULT_FPS,
    size: int | None = None,
    loop: bool = True,
    progress: Progress | None = None,
) -> list[Path]:
    """Write frames (N, H, W[, C]), float in [0, 1] or uint8; returns the files written.

    ``size`` upscales each frame (Lanczos) to ``size`` pixels wide; ``loop``
    makes GIF and WebP repeat forever (else they play once).
    """
    if not isinstance(target, FrameTarget):
        target = plan_target(target)
    frames = np.asarray(frames)
    frames = frames if frames.dtype == np.uint8 else to_uint8(frames)
    if frames.ndim == 4 and frames.shape[-1] == 1:
        frames = frames[..., 0]
    n = check_count(len(frames), "number of frames")
    fps = check_fps(fps)
    check_target(target, n, fps, size or frames.shape[2])
    tick = progress or (lambda k: None)

    def pictures() -> Iterator[Image.Image]:
        for f in frames:
            yield array_to_pil(f, size)
            tick(1)

    if target.kind == "dir":
        paths = target.frame_paths(n)
        for im, p in zip(pictures(), paths):
            with atomic_path(p, suffix=".png") as tmp:
                im.save(tmp, format="PNG")
        return paths
    with atomic_path(target.path, suffix=target.path.suffix) as tmp:
        if target.kind == "strip":
            _save_strip(list(pictures()), tmp)
        elif target.kind == "gif":
            _save_gif(frames, pictures(), tmp, fps, loop)
        elif target.kind == "webp":
            _save_webp(pictures(), n, tmp, fps, loop)
        else:
            _save_mp4(pictures(), tmp, fps)
    return [target.path]


def _save_strip(images: list[Image.Image], path: Path) -> None:
    from .render import grid

    cols, rows = strip_shape(len(images))
    arrays = np.stack([np.asarray(im) for im in images])
    labels = [str(r * cols) for r in range(rows)] if rows > 1 else None
    grid(arrays, ncols=cols, row_labels=labels).save(path, format="PNG")


def _gif_palette(frames: np.ndarray) -> Image.Image | None:
    """One palette for the whole GIF: None for grey frames (exact), else median cut."""
    if frames.ndim == 3:
        return None
    # A deterministic sample of at most 64 frames keeps palette building cheap.
    pick = frames[np.linspace(0, len(frames) - 1, min(len(frames), 64)).astype(int)]
    mosaic = Image.fromarray(pick.reshape(-1, pick.shape[2], 3), "RGB")
    return mosaic.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


_GREY = bytes(v for i in range(256) for v in (i, i, i))


def _to_palette(im: Image.Image, palette: Image.Image | None) -> Image.Image:
    if palette is None:
        p = Image.frombytes("P", im.size, im.convert("L").tobytes())
        p.putpalette(_GREY)
        return p
    return im.convert("RGB").quantize(palette=palette, dither=Image.Dither.NONE)


def _save_gif(
    frames: np.ndarray, images: Iterator[Image.Image], path: Path, fps: float, loop: bool
) -> None:
    # Pillow's legacy per-frame helpers: every frame written whole, none merged.
    from PIL import GifImagePlugin

    palette = _gif_palette(frames)
    ds = delays(len(frames), fps, 100)
    with open(path, "wb") as fh:
        for i, im in enumerate(images):
            p = _to_palette(im, palette)
            if i == 0:
                info = {"duration": ds[0] * 10}
                if loop:
                    info["loop"] = 0
                header, _ = GifImagePlugin.getheader(p, None, info)
                fh.write(b"".join(header))
            fh.write(b"".join(GifImagePlugin.getdata(p, (0, 0), duration=ds[i] * 10)))
        fh.write(b";")


def _riff_chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    pos = 12
    while pos + 8 <= len(data):
        tag = data[pos : pos + 4]
        (length,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        yield tag, data[pos + 8 : pos + 8 + length]
        pos += 8 + length + (length & 1)


def _chunk(tag: bytes, payload: bytes) -> bytes:
    return tag + struct.pack("<I", len(payload)) + payload + (b"\0" if len(payload) & 1 else b"")


def _u24(v: int) -> bytes:
    return struct.pack("<I", v)[:3]


def _save_webp(images: Iterator[Image.Image], n: int, path: Path, fps: float, loop: bool) -> None:
    """An animated WebP container (VP8X + ANIM + one ANMF per frame), lossless frames."""
    ds = delays(n, fps, 1000)
    frames = []
    width = height = 0
    for im, d in zip(images, ds):
        width, height = im.size
        buf = io.BytesIO()
        # method 2: half the encoding time of the default 4, files within a few percent.
        im.convert("RGB").save(buf, format="WEBP", lossless=True, method=2)
        bitstream = b"".join(
            _chunk(tag, body)
            for tag, body in _riff_chunks(buf.getvalue())
            if tag in (b"ALPH", b"VP8 ", b"VP8L")
        )
        # x/2, y/2, width-1, height-1, duration (ms), flags: no blending, no disposal.
        head = _u24(0) + _u24(0) + _u24(width - 1) + _u24(height - 1) + _u24(d) + b"\x02"
        frames.append(_chunk(b"ANMF", head + bitstream))
    vp8x = _chunk(b"VP8X", b"\x02\0\0\0" + _u24(width - 1) + _u24(height - 1))
    anim = _chunk(b"ANIM", b"\xff\xff\xff\xff" + struct.pack("<H", 0 if loop else 1))
    body = b"WEBP" + vp8x + anim + b"".join(frames)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def ffmpeg_exe() -> str:
    """The ffmpeg binary shipped inside the imageio-ffmpeg wheel (never a system one)."""
    try:
        from importlib.resources import files

        binaries = files("imageio_ffmpeg.binaries")
    except ModuleNotFoundError:
        raise MissingExtraError("mp4") from None
    found = sorted(
        str(p)
        for p in binaries.iterdir()
        if p.name.startswith("ffmpeg") and p.is_file() and os.access(str(p), os.X_OK)
    )
    if not found:
        raise ConceptVAEError(
            "the installed imageio-ffmpeg has no ffmpeg binary for this platform; "
            "write .gif or .webp instead"
        )
    return found[-1]


def _save_mp4(images: Iterator[Image.Image], path: Path, fps: float) -> None:
    rate = Fraction(fps).limit_denominator(1001)
    proc = None
    try:
        for im in images:
            rgb = im.convert("RGB")
            if proc is None:
                w, h = rgb.size
                cmd = [
                    ffmpeg_exe(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
                    "-framerate", f"{rate.numerator}/{rate.denominator}", "-i", "-",
                    "-an", "-c:v", "libx264", "-preset", "medium", "-crf", "18",
                    "-pix_fmt", "yuv420p", "-threads", "1", "-filter_threads", "1",
                    "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1",
                    "-movflags", "+faststart", "-f", "mp4", str(path),
                ]  # fmt: skip
                proc = subprocess.Popen(
                    cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
                )
            assert proc.stdin is not None
            try:
                proc.stdin.write(rgb.tobytes())
            except BrokenPipeError:
                break
        if proc is None:
            raise ConceptVAEError("no frames to write", path)
        _, err = proc.communicate()
    except BaseException:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        raise
    if proc.returncode != 0:
        lines = err.decode("utf-8", "replace").strip().splitlines()
        raise ConceptVAEError(
            f"ffmpeg could not encode the MP4 ({lines[-1] if lines else proc.returncode})", path
        )


# -- reading back -------------------------------------------------------------------


def count_frames(path: str | os.PathLike) -> int:
    """Frames in a written GIF, WebP, MP4 or frame directory (for checks and tests)."""
    path = Path(path)
    if path.is_dir():
        return len(sorted(path.glob("frame_*.png")))
    if path.suffix.lower() == ".mp4":
        proc = subprocess.run(
            [ffmpeg_exe(), "-nostdin", "-hide_banner", "-i", str(path), "-map", "0:v:0",
             "-c", "copy", "-f", "null", "-"],
            capture_output=True, text=True,
        )  # fmt: skip
        counts = re.findall(r"frame=\s*(\d+)", proc.stderr)
        if proc.returncode != 0 or not counts:
            raise ConceptVAEError("not a readable MP4", path)
        return int(counts[-1])
    with Image.open(path) as im:
        return int(getattr(im, "n_frames", 1))
