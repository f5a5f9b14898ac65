"""The studio's one door into the library: models, images, edits, commands, morphs.

Everything the page asks for goes through :class:`Studio`, and this module is
the only one in the studio that imports the editing and sequence functions, so
moving to another library layer (a ``commands`` package, the face pipeline)
changes this file alone. The server (:mod:`.app`) only routes.

What the client sends never becomes a path: models are chosen by name among
those the registry lists (plus the one the operator named on the command line),
images by an id this module made. Uploads are checked (bytes, declared pixels)
before they are decoded, written under a private temporary folder with a name
chosen here, and the folder is removed by :meth:`Studio.close`.
"""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import shlex
import shutil
import tempfile
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from ..errors import ConceptVAEError

# Uploads declaring more pixels than this are decoded one at a time.
HEAVY_DECODE_PIXELS = 4_000_000
_HEAVY_DECODE = threading.Lock()

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000
MAX_IMAGES = 32
# Decoded uploads held at once (bytes of pixels); the oldest are forgotten first.
MAX_HELD_BYTES = 512 * 1024 * 1024
# Previews of larger photos are computed on a copy this many pixels on its short
# side (the download is always at full size); while a slider is being dragged, on
# a smaller one (the page then asks once more at PREVIEW_SIDE when it stops), so
# the slowest mode (blend) keeps up too.
PREVIEW_SIDE = 512
LIVE_SIDE = 256
# A face previewed on a copy is at least this many pixels wide there, so the
# detector that runs on the copy finds what it found in the photograph.
MIN_PREVIEW_FACE = 96
# ... up to this short side: smaller faces in a larger photograph may be missed by
# the preview (the download, like the CLI, works on the photograph itself).
MAX_PREVIEW_SIDE = 2048
AMOUNT_RANGE = 3.0
MAX_MORPH_FRAMES = 120
MORPH_FORMATS = {"gif": "image/gif", "webp": "image/webp", "mp4": "video/mp4"}
MORPH_SIZES = (0, 128, 256, 512)
MAX_SEED = 2**31 - 1
# Pillow decodes these formats; the suffix of a stored upload comes from the
# format Pillow detected, never from the client's file name.
_SUFFIX = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "BMP": ".bmp", "GIF": ".gif"}
_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")


class StudioError(ConceptVAEError):
    """A request the studio refuses (the server answers 4xx with this message)."""

    status = 400


class NotFound(StudioError):
    status = 404


class TooLarge(StudioError):
    status = 413


@dataclass
class StudioImage:
    id: str
    name: str  # the file name shown and used in commands (a base name, never a path here)
    path: Path  # where the library reads it: the private folder, or a shipped example
    pil: Image.Image  # decoded once, exactly as the CLI decodes the file
    example: bool = False
    _proxies: dict[int, Image.Image] = field(default_factory=dict)
    _faces: dict[str, list] = field(default_factory=dict)  # model name -> faces found

    @property
    def held_bytes(self) -> int:
        w, h = self.pil.size
        return w * h * len(self.pil.getbands())

    def proxy(self, side: int = PREVIEW_SIDE) -> Image.Image:
        """The image for previews: itself, or a copy ``side`` pixels on its short side.

        The centre square the edit uses is the same region of the picture at
        either size; only its pixel count differs.
        """
        if side not in self._proxies:
            w, h = self.pil.size
            scale = side / min(w, h)
            if scale >= 1:
                self._proxies[side] = self.pil
            else:
                size = (max(1, round(w * scale)), max(1, round(h * scale)))
                self._proxies[side] = self.pil.resize(size, Image.LANCZOS, reducing_gap=3.0)
        return self._proxies[side]


@dataclass
class EditRequest:
    """One state of the page: model, image, mode and the amount of each concept."""

    model: str
    image: str
    mode: str
    amounts: dict[str, float] = field(default_factory=dict)  # concept or class name -> amount
    # A face model finds the faces of a photograph unless this is False (the
    # picture itself is taken as an aligned crop, as `--no-align` does).
    align: bool = True
    live: bool = False  # a slider is moving: preview on the LIVE_SIDE copy
    face: str = "all"  # with align, the faces of a photograph to edit: all, largest or N


@dataclass
class MorphRequest:
    model: str
    keys: list[str]  # image ids or seed:N
    frames: int = 24
    fps: float = 12.0
    fmt: str = "gif"
    size: int = 0  # 0: the model's resolution


@dataclass
class _Loaded:
    model: Any  # VAEModel
    library: Any  # ConceptLibrary or None
    spec: str  # what `--model` says in a copied command


def _amount_text(a: float) -> str:
    return f"{a:g}"


class Studio:
    """The state behind one studio server: loaded models, images, a private folder."""

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        *,
        flag: Callable[[str], str] | None = None,
        max_upload_bytes: int = MAX_UPLOAD_BYTES,
        max_upload_pixels: int = MAX_UPLOAD_PIXELS,
    ) -> None:
        from ..model.registry import list_models

        self.flag = flag
        self.max_upload_bytes = max_upload_bytes
        self.max_upload_pixels = max_upload_pixels
        self._dir = Path(tempfile.mkdtemp(prefix="conceptvae-studio-"))
        os.chmod(self._dir, 0o700)
        self._lock = threading.RLock()  # model runtimes are not thread-safe
        self._models: dict[str, _Loaded] = {}
        self._images: OrderedDict[str, StudioImage] = OrderedDict()
        # name -> (path, spec for commands, source)
        self._entries: dict[str, tuple[Path, str, str]] = {}
        for e in list_models():
            self._entries.setdefault(e.name, (e.path, e.name, e.source))
        self.default_model = "faces" if "faces" in self._entries else next(iter(self._entries), "")
        if model is not None:
            self.default_model = self._add_operator_model(model)
        self._examples = self._find_examples()

    # -- lifetime --------------------------------------------------------------

    def close(self) -> None:
        """Forget every upload and remove the private folder."""
        with self._lock:
            self._images.clear()
            shutil.rmtree(self._dir, ignore_errors=True)

    @property
    def workdir(self) -> Path:
        return self._dir

    # -- models ----------------------------------------------------------------

    def _add_operator_model(self, spec: str | os.PathLike) -> str:
        """The model named on the command line: a registry name or a path (trusted)."""
        from ..model.registry import resolve_model_path

        name = os.fspath(spec)
        if name in self._entries:
            return name
        path = resolve_model_path(spec)
        label = path.name if path.name not in self._entries else str(path)
        self._entries[label] = (path, str(path.resolve()), "path")
        return label

    def models(self) -> list[dict[str, Any]]:
        from ..resolve import concept_summary

        return [
            {"name": n, "source": src, "concepts": concept_summary(p),
             "default": n == self.default_model}
            for n, (p, _, src) in self._entries.items()
        ]  # fmt: skip

    def _load(self, name: str) -> _Loaded:
        if not isinstance(name, str) or name not in self._entries:
            raise NotFound(f"unknown model {str(name)[:64]!r}")
        with self._lock:
            if name not in self._models:
                from ..concepts.library import open_library
                from ..model.api import load_model

                path, spec, _ = self._entries[name]
                model = load_model(path)
                try:
                    library = open_library(model)
                except ConceptVAEError:
                    library = None
                self._models[name] = _Loaded(model, library, spec)
            return self._models[name]

    def model_info(self, name: str) -> dict[str, Any]:
        """What the page needs to draw its controls for one model."""
        from ..editing.options import default_mode
        from ..options import EDIT_MODES

        m = self._load(name)
        attributes, class_sets = [], []
        if m.library is not None:
            # Named attributes first (smile), then unsupervised directions (pc1, ...).
            ordered = sorted(m.library.concepts.values(), key=lambda c: c.kind == "pc")
            for c in ordered:
                attributes.append({"name": c.name, "kind": c.kind,
                                   "significant": c.significant})  # fmt: skip
            for s in m.library.class_sets.values():
                class_sets.append({"name": s.name, "classes": list(s.classes)})
        cfg = m.model.config
        return {
            "name": name,
            "image_size": cfg.image_size,
            "channels": cfg.channels,
            "latent_dim": cfg.latent_dim,
            "modes": list(EDIT_MODES),
            "default_mode": default_mode(m.model),
            "attributes": attributes,
            "class_sets": class_sets,
            "range": AMOUNT_RANGE,
        }

    # -- images ----------------------------------------------------------------

    def _find_examples(self) -> dict[str, StudioImage]:
        import importlib.util

        spec = importlib.util.find_spec("conceptvae.examples")
        out: dict[str, StudioImage] = {}
        if spec is None or not spec.submodule_search_locations:
            return out
        for loc in spec.submodule_search_locations:
            for p in sorted(Path(loc).glob("*.png")):
                key = f"example:{p.stem}"
                out.setdefault(key, StudioImage(key, p.name, p, None, example=True))  # type: ignore[arg-type]
        return out

    def examples(self) -> list[dict[str, str]]:
        return [{"id": k, "name": v.name} for k, v in self._examples.items()]

    def image(self, image_id: str) -> StudioImage:
        with self._lock:
            im = self._images.get(image_id) if isinstance(image_id, str) else None
            if im is not None:
                self._images.move_to_end(image_id)
                return im
            ex = self._examples.get(image_id) if isinstance(image_id, str) else None
            if ex is None:
                raise NotFound("unknown image (upload it again)")
            if ex.pil is None:
                from ..images import load_pil

                ex.pil = load_pil(ex.path)
            return ex

    def add_upload(self, data: bytes, filename: str = "") -> dict[str, Any]:
        """Check, store and decode an uploaded image; returns its id and sizes."""
        from ..images import load_pil

        if len(data) > self.max_upload_bytes:
            raise TooLarge(
                f"upload is {len(data):,} bytes; the studio takes at most "
                f"{self.max_upload_bytes:,}"
            )
        if not data:
            raise StudioError("empty upload")
        fmt, (w, h) = self._sniff(data)
        if w * h > self.max_upload_pixels:
            raise TooLarge(
                f"image declares {w}x{h} pixels; the studio takes at most "
                f"{self.max_upload_pixels:,}"
            )
        image_id = secrets.token_hex(8)
        path = self._dir / f"{image_id}{_SUFFIX[fmt]}"
        with open(path, "xb") as f:
            f.write(data)
        # Large decodes take their turn: parallel uploads of a 40-Mpx 16-bit PNG
        # would each hold ~600 MB at once; small ones never wait behind them.
        gate = _HEAVY_DECODE if w * h > HEAVY_DECODE_PIXELS else contextlib.nullcontext()
        try:
            with gate, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pil = load_pil(path)
        except ConceptVAEError as exc:
            path.unlink(missing_ok=True)
            raise StudioError(exc.message) from None
        name = _display_name(filename, _SUFFIX[fmt])
        with self._lock:
            self._images[image_id] = StudioImage(image_id, name, path, pil)
            while len(self._images) > 1 and (
                len(self._images) > MAX_IMAGES
                or sum(i.held_bytes for i in self._images.values()) > MAX_HELD_BYTES
            ):
                _, old = self._images.popitem(last=False)
                old.path.unlink(missing_ok=True)
        return {"id": image_id, "name": name, "width": pil.size[0], "height": pil.size[1]}

    @staticmethod
    def _sniff(data: bytes) -> tuple[str, tuple[int, int]]:
        """The format and declared size, read from the header alone (no pixels decoded)."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data)) as im:
                    fmt, size = im.format, im.size
        except (Image.DecompressionBombWarning, Image.DecompressionBombError):
            raise TooLarge("image is too large to decode safely") from None
        except Exception:  # noqa: BLE001 - malformed files make Pillow raise many types
            raise StudioError("not a readable image (PNG, JPEG, WebP, BMP or GIF)") from None
        if fmt not in _SUFFIX:
            raise StudioError(f"unsupported image format {fmt}; use PNG, JPEG, WebP, BMP or GIF")
        return fmt, size

    def original(self, image_id: str) -> bytes:
        """The image as the CLI reads it (upright, standard mode), at preview size, as BMP."""
        return _bmp(self.image(image_id).proxy())

    # -- edits -----------------------------------------------------------------

    def _concept_args(self, m: _Loaded, amounts: Mapping[str, float]) -> list[str]:
        """``EXPR=AMOUNT`` for every non-zero amount, in the library's order."""
        from ..checks import check_amount
        from ..concepts.expressions import quote

        if m.library is None:
            raise StudioError("this model has no concept library")
        known = m.library.names()
        for k in amounts:
            if k not in known:
                raise StudioError(f"unknown concept {str(k)[:64]!r}")
        for s in m.library.class_sets.values():
            if sum(1 for c in s.classes if amounts.get(c, 0.0) != 0.0) > 1:
                raise StudioError(f"pick one target class of {s.name!r} at a time")
        args = []
        for name in known:
            a = amounts.get(name, 0.0)
            a = check_amount(a, f"amount of {name!r}")
            if abs(a) > AMOUNT_RANGE:
                raise StudioError(f"amount of {name!r} must be from -3 to 3, got {a:g}")
            if a != 0.0:
                args.append(f"{quote(name)}={_amount_text(a)}")
        # An edit needs a concept: amount 0 of the first one is the unedited image.
        return args or [f"{quote(known[0])}=0"]

    def preview(self, req: EditRequest) -> bytes:
        """The edited image as a BMP (lossless, and next to free to encode where a PNG
        of a 512-pixel photo takes tens of milliseconds): the download's pixels for an
        image up to PREVIEW_SIDE (LIVE_SIDE while ``live``) pixels on its short side,
        else the same edit of a smaller copy."""
        from ..editing.editor import edit
        from ..editing.options import check_mode

        m = self._load(req.model)
        check_mode(req.mode)
        args = self._concept_args(m, req.amounts)
        align, face = self._face_args(req)
        im = self.image(req.image)
        with self._lock, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the shell warning is shown by the CLI, not here
            source = im.proxy(self._preview_side(im, req, m, align))
            result = edit(m.model, [source], args, mode=req.mode, library=m.library,
                          align=align, face=face)  # fmt: skip
        return _bmp(result.pil()[0])

    def _preview_side(self, im: StudioImage, req: EditRequest, m: _Loaded, align: bool) -> int:
        """The short side of the copy a preview edits: LIVE_SIDE or PREVIEW_SIDE, but for
        faces in a photograph large enough that each is MIN_PREVIEW_FACE pixels wide."""
        side = LIVE_SIDE if req.live else PREVIEW_SIDE
        if not align or not self._is_photo_for_faces(im, m):
            return side
        faces = self._found(im, req.model, m)
        if not faces:
            return side
        smallest = min(min(f.box[2], f.box[3]) for f in faces)
        scale = MIN_PREVIEW_FACE / max(smallest, 1.0)
        return min(MAX_PREVIEW_SIDE, max(PREVIEW_SIDE, int(min(im.pil.size) * scale + 0.5)))

    def _is_photo_for_faces(self, im: StudioImage, m: _Loaded) -> bool:
        """A face model and an image that is not already one of its crops."""
        from ..editing.inputs import face_alignment
        from ..faces.inputs import is_model_size

        return face_alignment(m.model) is not None and not is_model_size(
            im.pil, m.model.config.image_size
        )

    def _found(self, im: StudioImage, name: str, m: _Loaded) -> list:
        """The faces of a photograph, found once per model (as the CLI finds them)."""
        from ..editing.inputs import face_alignment
        from ..faces import find_faces

        if name not in im._faces:
            alignment = face_alignment(m.model)
            with self._lock:
                im._faces[name] = find_faces(im.pil, padding=alignment.detect_padding)
        return im._faces[name]

    def faces(self, image_id: str, model: str) -> dict[str, Any]:
        """What the page shows of a photograph's faces: boxes as fractions of the image."""
        m = self._load(model)
        im = self.image(image_id)
        if not self._is_photo_for_faces(im, m):
            from ..editing.inputs import face_alignment

            return {"face_model": face_alignment(m.model) is not None, "photo": False,
                    "faces": []}  # fmt: skip
        w, h = im.pil.size
        found = self._found(im, model, m)
        return {
            "face_model": True,
            "photo": True,
            "faces": [
                {"number": k, "score": round(float(f.score), 3),
                 "box": [f.box[0] / w, f.box[1] / h, f.box[2] / w, f.box[3] / h]}
                for k, f in enumerate(found, 1)
            ],
        }  # fmt: skip

    @staticmethod
    def _face_args(req: EditRequest) -> tuple[bool, str | int]:
        """(align, face) for the library: the face choice checked as the CLI checks it."""
        from ..faces.inputs import check_face_choice

        return (True, check_face_choice(req.face)) if req.align else (False, "all")

    def render(self, req: EditRequest) -> tuple[bytes, str]:
        """The edited image at full size, written by the function ``conceptvae edit``
        runs, from the same bytes: what :meth:`command` writes, byte for byte."""
        from ..commands import edit_files
        from ..editing.options import check_mode

        m = self._load(req.model)
        check_mode(req.mode)
        args = self._concept_args(m, req.amounts)
        im = self.image(req.image)
        align, face = self._face_args(req)
        out = self._dir / f"render-{secrets.token_hex(8)}.png"
        try:
            with self._lock, warnings.catch_warnings():
                warnings.simplefilter("ignore")
                edit_files(m.model, [im.path], args, out=out, mode=req.mode, align=align,
                           face=face)  # fmt: skip
            data = out.read_bytes()
        finally:
            out.unlink(missing_ok=True)
        return data, _output_name(im)

    def command(self, req: EditRequest) -> str:
        """The ``conceptvae edit`` command that writes the same bytes as :meth:`render`;
        '' while every amount is 0 (nothing edited: no ``-c pc1=0`` to copy)."""
        from ..editing.options import check_mode

        m = self._load(req.model)
        check_mode(req.mode)
        args = self._concept_args(m, req.amounts)
        if not any(float(a) != 0.0 for a in req.amounts.values()):
            return ""
        im = self.image(req.image)
        align, face = self._face_args(req)
        options: list[tuple[str, str | None]] = [("concepts", a) for a in args]
        options += [("mode", req.mode), ("model", m.spec)]
        if not align:
            options.append(("align=False", None))
        elif face != "all":
            options.append(("face", str(face)))
        options.append(("out", _output_name(im)))
        return self._spell("edit", [_shown(im)], options)

    def _spell(self, verb: str, args: list[str], options: list[tuple[str, str | None]]) -> str:
        """A command line: the front end that started the studio spells the options
        (a value of None is a switch: ``align=False`` is ``--no-align``)."""
        if self.flag is None:
            raise StudioError("this studio was started without a command line to spell")
        parts = ["conceptvae", verb, *args]
        for name, value in options:
            parts += [self.flag(name)] + ([] if value is None else [value])
        return shlex.join(parts)

    # -- morphs ----------------------------------------------------------------

    def _morph_keys(self, keys: list[str]) -> tuple[list[str], list[str]]:
        """(what the library reads, what a command says) for each keyframe."""
        from ..keyframes import parse_key

        if not isinstance(keys, list) or not 2 <= len(keys) <= 8:
            raise StudioError("a morph needs 2 to 8 keyframes")
        lib_keys, shown = [], []
        for k in keys:
            if isinstance(k, str) and k.startswith("seed:"):
                kind, seed = parse_key(k)
                if kind != "seed" or int(seed) > MAX_SEED:  # type: ignore[arg-type]
                    raise StudioError(f"bad seed {k[:32]!r}")
                lib_keys.append(k)
                shown.append(k)
            else:
                im = self.image(k)
                lib_keys.append(str(im.path))
                shown.append(_shown(im))
        return lib_keys, shown

    def _check_morph(self, req: MorphRequest) -> None:
        if req.fmt not in MORPH_FORMATS:
            raise StudioError(f"format must be one of {', '.join(MORPH_FORMATS)}")
        if not isinstance(req.frames, int) or not 2 <= req.frames <= MAX_MORPH_FRAMES:
            raise StudioError(f"frames must be from 2 to {MAX_MORPH_FRAMES}")
        if req.size not in MORPH_SIZES:
            raise StudioError(f"size must be one of {', '.join(map(str, MORPH_SIZES))}")
        if not isinstance(req.fps, (int, float)) or not 1 <= req.fps <= 50:
            raise StudioError("fps must be from 1 to 50")

    def morph(self, req: MorphRequest) -> tuple[bytes, str, str]:
        """(bytes, file name, media type) of the animation the morph command writes."""
        from ..commands import morph_file

        self._check_morph(req)
        m = self._load(req.model)
        lib_keys, _ = self._morph_keys(req.keys)
        out = self._dir / f"morph-{secrets.token_hex(8)}.{req.fmt}"
        try:
            with self._lock:
                morph_file(m.model, lib_keys, out, frames=req.frames, fps=float(req.fps),
                           size=req.size or None)  # fmt: skip
            data = out.read_bytes()
        finally:
            out.unlink(missing_ok=True)
        return data, f"morph.{req.fmt}", MORPH_FORMATS[req.fmt]

    def morph_command(self, req: MorphRequest) -> str:
        self._check_morph(req)
        m = self._load(req.model)
        _, shown = self._morph_keys(req.keys)
        options = [("model", m.spec), ("frames", str(req.frames)), ("fps", f"{float(req.fps):g}")]
        if req.size:
            options.append(("size", str(req.size)))
        options.append(("out", f"morph.{req.fmt}"))
        return self._spell("morph", shown, options)


def _bmp(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="BMP")
    return buf.getvalue()


def _display_name(filename: str, suffix: str) -> str:
    """The client's base name, for commands and downloads (its folders are never used)."""
    base = str(filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if c.isprintable())[:128].strip()
    if not base or base.startswith(".") or Path(base).suffix.lower() not in _SUFFIXES:
        base = f"{Path(base).stem.lstrip('.') or 'image'}{suffix}"
    return base


def _shown(im: StudioImage) -> str:
    """How a command names an image: a shipped example as ``example:NAME`` (the
    command runs in any folder), an upload by the name the user's file has (the
    command runs where that file is)."""
    return f"example:{Path(im.name).stem}" if im.example else im.name


def _output_name(im: StudioImage) -> str:
    stem = "".join(c for c in Path(im.name).stem if c.isascii() and (c.isalnum() or c in "-_."))[:64].strip(".")
    return f"{stem or 'image'}_edited.png"
