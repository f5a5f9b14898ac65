"""Edit images along concept directions: ``edit``, ``traverse``, ``analogy``.

An edit encodes each image to its posterior mean ``z``, moves it to
``z + sum(amount_i * direction_i)`` (directions are calibrated by the concept
library: amount 1 is one typical difference between images without and with the
concept) and decodes. Two output modes:

* ``decode`` - the decoder's image of the moved latent, at the model's resolution.
* ``detail`` - ``input + (decode(z') - decode(z))``: the decoded *change* is
  upsampled (bicubic) to the input's own pixel size and added to the input, so
  the edit changes what the concept changes and keeps the sharp photograph
  elsewhere. The input is center-cropped to a square as in training (the output
  is that square crop at its own size; the parts of a non-square input outside
  the crop are not in the output). A grayscale model's change is added to every
  channel of a colour photograph, so colour is kept. A model may tune detail
  mode (meta.json ``edit_defaults.detail``): then it is blend's engine with the
  model's knobs (the faces model: redraw only where the change is strongest,
  the change's shading elsewhere), and lay other knobs over them for faces
  found in larger photographs (``edit_defaults.photo_detail``).
* ``blend`` - like ``detail`` outside the region the concept changes; inside it
  the edited decode (with the photograph's own lighting) replaces the
  photograph, joined by a Laplacian pyramid (:mod:`conceptvae.blending`), so a
  redrawn part (a mouth) does not keep the old one underneath.

``until=P`` chooses the amount per image: for an attribute concept, the amount
at which the concept's stored logistic probe reaches probability P (closed
form: the logit is linear along the direction); for a class target (``8`` or
``3->8``), the smallest amount in ``[0, max_amount]`` at which the class
probe's probability of the target class reaches P (a scan then bisection).
Amounts are capped at ``max_amount`` in size.

The functions named ``*_file(s)`` are what the CLI calls: they plan and refuse
outputs before any work and write through :mod:`conceptvae.io`.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from .checks import check_amount, check_max_amount, check_probability, check_steps, choice
from .concepts.expressions import split_amount
from .errors import ConceptError, ConceptVAEError, ModelError, param
from .images import (
    _to_standard_mode,
    array_to_pil,
    load_pil,
    pil_to_array,
    to_square,
)
from .latent import outside_typical_shell
from .options import (
    DEFAULT_MAX_AMOUNT,
    EDIT_MODES,
    MAX_ANALOGY_STEPS,
)
from .resolve import resolve_model

if TYPE_CHECKING:
    from .blending import BlendSettings
    from .concepts.expressions import Term
    from .concepts.library import ConceptLibrary
    from .faces.align import FaceAlignment
    from .faces.inputs import FaceChoice, FaceView
    from .model.loaded import VAEModel

MODES = EDIT_MODES
# Pictures (strips, analogies) are for people: cells are at least this many
# pixels even for a 16- or 28-pixel model, unless --size says otherwise.
MIN_CELL = 64
MAX_DETAIL_CELL = 512
# The class-target search: a coarse scan finds the first amount past P, then
# bisection pins it down far below the 1e-4 anyone could see.
_SCAN_POINTS = 65
_BISECT_STEPS = 60

ImageInput = str | os.PathLike | Image.Image | np.ndarray


class ShellWarning(UserWarning):
    """An edit moved a latent far outside the prior's typical shell."""


# -- options -----------------------------------------------------------------------


def check_mode(mode: str) -> str:
    return choice(mode, param("mode"), MODES)


def amounts_between(start: float, stop: float, steps: int) -> np.ndarray:
    check_amount(start, "range start")
    check_amount(stop, "range stop")
    check_steps(steps)
    return np.linspace(start, stop, steps)


def format_amount(a: float) -> str:
    """Short and signed for labels: -3, -1.5, 0, +1.5."""
    if a == 0:
        return "0"
    return f"{a:+.3g}"


# -- model and library -------------------------------------------------------------


def resolve_library(
    model: VAEModel, library: Any = None, ignore_fingerprint: bool = False
) -> ConceptLibrary:
    """``library`` is a ConceptLibrary, a concepts.h5 path, or None (the model's own)."""
    from .concepts.library import ConceptLibrary, model_ref, open_library

    if library is None:
        return open_library(model, ignore_fingerprint=ignore_fingerprint)
    lib = library if isinstance(library, ConceptLibrary) else ConceptLibrary.read(library)
    lib.check_model(model_ref(model), ignore_fingerprint)
    return lib


def default_mode(model: VAEModel) -> str:
    """meta.json ``{"edit_defaults": {"mode": ...}}`` when the model sets it, else decode."""
    defaults = model.meta.get("edit_defaults") or {}
    mode = defaults.get("mode", "decode") if isinstance(defaults, dict) else "decode"
    if mode not in MODES:
        where = Path(model.path) / "meta.json" if model.path else None
        raise ModelError(f"edit_defaults.mode must be one of {', '.join(MODES)}", where)
    return mode


# -- concept arguments -------------------------------------------------------------


@dataclass(frozen=True)
class ConceptArg:
    """One ``--concept``: the expression as written, its terms, and its amount if given."""

    expr: str
    terms: tuple[Term, ...]
    amount: float | None = None

    @property
    def label(self) -> str:
        return self.expr if self.amount is None else f"{self.expr}={self.amount:g}"


def parse_concepts(
    lib: ConceptLibrary, concepts: str | Sequence[str] | Mapping[str, float]
) -> list[ConceptArg]:
    """Each item is ``EXPR`` or ``EXPR=AMOUNT``; a mapping gives ``{EXPR: AMOUNT}``."""
    if isinstance(concepts, Mapping):
        items = [(str(k), check_amount(v, f"amount of {k!r}")) for k, v in concepts.items()]
    else:
        if isinstance(concepts, str):
            concepts = [concepts]
        items = [_split_amount(lib, str(c)) for c in concepts]
    if not items:
        raise ConceptError("name at least one concept")
    return [ConceptArg(e, tuple(lib.parse(e)), a) for e, a in items]


def _split_amount(lib: ConceptLibrary, text: str) -> tuple[str, float | None]:
    expr, value = split_amount(text, lib.names())
    if value is None:
        return text, None
    if not expr:
        raise ConceptError(f"{param('concepts')} {text!r} has an amount but no concept")
    return expr, check_amount(value, f"amount in {param('concepts')} {text!r}")


def concept_slug(args: Sequence[ConceptArg]) -> str:
    """File-name-safe text for concepts: ``3->8`` -> ``3to8``, ``a+0.5*b`` -> ``a+0.5xb``."""
    parts = []
    for a in args:
        s = a.expr.replace("->", "to").replace("*", "x")
        s = re.sub(r"[\s'\"]", "", s)
        s = re.sub(r"[^\w.+=-]", "_", s)
        parts.append(s[:60] or "concept")
    return "_".join(parts)


# -- inputs --------------------------------------------------------------------------


@dataclass
class _Input:
    """One image the model encodes: a whole input, or one face found in a photograph."""

    name: str
    crop: Image.Image  # the square center crop at its own size, mode 'L' or 'RGB'
    x: np.ndarray  # (S, S, C) float32 in [0, 1]: exactly what training would see
    slot: int = 0  # which output image this belongs to
    face: FaceView | None = None  # set when the crop is a face aligned out of a photo


@dataclass
class _Slot:
    """One output image: a whole input's result, or a photograph its faces go back into."""

    name: str
    photo: np.ndarray | None = None  # uint8 (H, W, C) photograph; None: not a photo
    alignment: FaceAlignment | None = None
    crop: bool = False  # the photo is a face crop of the model's size: all of it is face


def _as_list(images: Any, size: int, channels: int) -> list[Any]:
    if isinstance(images, (str, os.PathLike, Image.Image)):
        return [images]
    if isinstance(images, np.ndarray):
        if images.ndim == 4:
            return list(images)
        # (N, S, S) is a stack of grayscale images for a grayscale model
        if images.ndim == 3 and channels == 1 and images.shape[1:] == (size, size):
            if images.shape[-1] not in (1, 3):
                return list(images)
        return [images]
    return list(images)


def _array_to_pil(arr: np.ndarray) -> Image.Image:
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] != 3):
        raise ConceptVAEError(
            f"an image array must be (H, W), (H, W, 1) or (H, W, 3), got {arr.shape}"
        )
    if arr.dtype != np.uint8:
        f = np.asarray(arr, np.float64)
        if not np.isfinite(f).all():
            raise ConceptVAEError("image array contains NaN or infinite values")
        arr = (np.clip(f, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return Image.fromarray(arr, mode="L" if arr.ndim == 2 else "RGB")


def face_alignment(model: VAEModel) -> FaceAlignment | None:
    """The model's face alignment (meta.json ``face_alignment``), or None: not a face model."""
    from .faces.inputs import model_alignment

    where = Path(model.path) / "meta.json" if model.path else None
    return model_alignment(model.meta, model.config.image_size, where)


def prepare_inputs(
    model: VAEModel, images: Any, *, align: bool = True, face: FaceChoice = "all"
) -> tuple[list[_Input], list[_Slot]]:
    """Paths, PIL images or arrays -> what the model encodes, and the output slots.

    For a face model (its meta.json has ``face_alignment``) with ``align``, each
    chosen face of an input (``face``: "all", "largest" or a number from 1, in
    reading order) becomes one aligned crop to encode, and its edit goes back
    into the input. An input of exactly the model's size is searched too (a crop
    framed by someone else is not the model's framing); where no face is found
    there, it is used as it is. A float array of the model's size is the
    model's own format and is never searched.
    """
    size, channels = model.config.image_size, model.config.channels
    alignment = face_alignment(model) if align else None
    if alignment is not None:
        from .faces.inputs import check_face_choice

        face = check_face_choice(face)
    out: list[_Input] = []
    slots: list[_Slot] = []
    for i, item in enumerate(_as_list(images, size, channels)):
        exact = None
        where = None
        if isinstance(item, (str, os.PathLike)):
            im, name, where = load_pil(item), Path(item).stem, item
        elif isinstance(item, Image.Image):
            im, name = _to_standard_mode(item), f"{i}"
        else:
            arr = np.asarray(item)
            im, name = _array_to_pil(arr), f"{i}"
            if arr.dtype.kind == "f" and arr.size == size * size * channels:
                if arr.shape[:2] == (size, size):
                    # Already the model's format: used as given, not rounded to 8 bits.
                    exact = np.clip(arr.astype(np.float32).reshape(size, size, channels), 0, 1)
        slot = len(slots)
        if alignment is not None and exact is None:
            from .faces.inputs import input_views, photo_array

            views, crop = input_views(im, alignment, channels, face, where)
            if views:
                slots.append(_Slot(name, photo_array(im), alignment, crop))
                for k, v in enumerate(views):
                    label = name if len(views) == 1 else f"{name}#{k + 1}"
                    out.append(_Input(label, v.crop, v.x, slot, v))
                continue
        x = pil_to_array(im, size, channels) / np.float32(255) if exact is None else exact
        slots.append(_Slot(name))
        out.append(_Input(name, to_square(im, min(im.size)), x, slot))
    if not out:
        raise ConceptVAEError("no images to edit")
    return out, slots


# -- the core ------------------------------------------------------------------------


@dataclass
class FaceEdit:
    """One face edited in a photograph: where it was found and what moved it."""

    box: tuple[float, float, float, float]  # x, y, w, h in the photograph's pixels
    score: float
    amounts: dict[str, float]
    probability: float | None = None
    capped: bool = False
    number: int = 1  # as `conceptvae faces` numbers the photo's faces


@dataclass
class EditResult:
    """What :func:`edit` made.

    ``images`` holds one float32 (H, W, C) array in [0, 1] per input: the model's
    resolution in decode mode, the input's square crop size in detail mode, and
    for a photograph given to a face model, the whole photograph (its size, its
    colour) with every chosen face edited. ``amounts`` is (N, len(concepts)):
    the amount of each concept used per image (for a photograph, the mean over
    its faces; ``faces[i]`` lists each face's own). With ``until``,
    ``probability`` is the probe's probability after the edit (a photograph's
    lowest) and ``capped`` marks images whose amount hit ``max_amount``.
    """

    images: list[np.ndarray]
    amounts: np.ndarray
    concepts: list[str]
    latents: np.ndarray
    original_latents: np.ndarray
    mode: str
    names: list[str]
    probability: np.ndarray | None = None
    capped: np.ndarray | None = None
    solved: int | None = None  # index of the concept whose amount ``until`` chose
    faces: list[list[FaceEdit] | None] = field(default_factory=list)

    def pil(self, size: int | None = None) -> list[Image.Image]:
        """PIL images, optionally resized to ``size`` pixels square."""
        return [array_to_pil(im, size) for im in self.images]

    def array(self) -> np.ndarray:
        """All images as one (N, H, W, C) array (their sizes must agree)."""
        if len({im.shape for im in self.images}) != 1:
            raise ConceptVAEError("edited images have different sizes; use .images")
        return np.stack(self.images)


def edit(
    model: Any,
    images: Any,
    concepts: str | Sequence[str] | Mapping[str, float],
    amount: float = 1.0,
    *,
    mode: str | None = None,
    until: float | None = None,
    max_amount: float = DEFAULT_MAX_AMOUNT,
    library: Any = None,
    ignore_fingerprint: bool = False,
    infer: str = "probe",
    backend: str = "auto",
    align: bool = True,
    face: FaceChoice = "all",
) -> EditResult:
    """Move each image along the concepts and decode (see the module docstring).

    ``concepts``: ``"smile"``, ``["smile", "thick=-0.5"]`` or ``{"smile": 1.5}``;
    an expression without its own ``=AMOUNT`` uses ``amount``. With ``until``,
    exactly one concept must have no ``=AMOUNT``: its amount is solved per image.
    For a face model, ``align`` finds the faces in each input (an input of the
    model's size with no face is used as it is), edits each chosen one
    (``face``: "all", "largest" or a number from 1, in reading order) aligned
    onto the model's template, and pastes it back; ``align=False`` treats every
    input as an aligned crop.
    """
    exprs = list(concepts) if not isinstance(concepts, str) else [concepts]
    model = resolve_model(model, exprs, backend)
    amount = check_amount(amount)
    max_amount = check_max_amount(max_amount)
    if until is not None:
        check_probability(until)
    mode = check_mode(mode) if mode is not None else default_mode(model)
    lib = resolve_library(model, library, ignore_fingerprint)
    args = parse_concepts(lib, concepts)
    solved = _solved_index(args) if until is not None else None
    inputs, slots = prepare_inputs(model, images, align=align, face=face)

    z = model.encode(np.stack([i.x for i in inputs])).astype(np.float64)
    amounts = np.array([[a.amount if a.amount is not None else amount for a in args]] * len(z))
    dirs = [lib.direction(list(a.terms), z, infer).astype(np.float64) for a in args]
    probability = capped = None
    if solved is not None:
        base = z + sum(amounts[:, [k]] * d for k, d in enumerate(dirs) if k != solved)
        amounts[:, solved], probability, capped = amounts_until(
            lib, args[solved], z, base, dirs[solved], until, max_amount
        )
    shift = sum(amounts[:, [k]] * d for k, d in enumerate(dirs))
    z_new = (z + shift).astype(np.float32)
    warn_if_outside_shell(z, z_new)
    images_out = _render(model, inputs, slots, z.astype(np.float32), z_new, mode)
    names = [a.expr for a in args]
    faces: list[list[FaceEdit] | None] = [None] * len(slots)
    per_slot: list[list[int]] = [[] for _ in slots]
    for r, inp in enumerate(inputs):
        per_slot[inp.slot].append(r)
        if inp.face is not None:
            f = inp.face.aligned.face
            faces[inp.slot] = [*(faces[inp.slot] or []), FaceEdit(
                f.box, f.score, dict(zip(names, map(float, amounts[r]))),
                None if probability is None else float(probability[r]),
                bool(capped[r]) if capped is not None else False, inp.face.number,
            )]  # fmt: skip
    return EditResult(
        images_out,
        np.stack([amounts[rows].mean(0) for rows in per_slot]),
        names,
        z_new,
        z.astype(np.float32),
        mode,
        [sl.name for sl in slots],
        None if probability is None else np.array([probability[r].min() for r in per_slot]),
        None if capped is None else np.array([capped[r].any() for r in per_slot]),
        solved,
        faces,
    )


def _solved_index(args: list[ConceptArg]) -> int:
    free = [k for k, a in enumerate(args) if a.amount is None]
    if len(free) != 1:
        raise ConceptError(
            f"{param('until')} chooses the amount of one concept: give exactly one "
            f"{param('concepts')} without "
            f"=AMOUNT (got {len(free)})"
        )
    return free[0]


def amounts_until(
    lib: ConceptLibrary,
    arg: ConceptArg,
    z: np.ndarray,
    base: np.ndarray,
    direction: np.ndarray,
    p: float,
    max_amount: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per latent: (amount, probability reached, capped) to bring ``arg`` to probability ``p``.

    ``base`` is where the latents start (after any other concepts); ``direction``
    is the calibrated direction of ``arg`` per latent (N, D).
    """
    if len(arg.terms) != 1:
        raise ConceptError(
            f"{param('until')} needs a single concept (an attribute like smile, or a class target "
            f"like 8 or 3->8), not the expression {arg.expr!r}"
        )
    ref = arg.terms[0].ref
    if ref.source is None and ref.name in lib.concepts:
        probe = lib.probe(ref.name)
        # One direction for all rows here: an attribute's vector does not depend on z.
        raw = probe.amount_to_reach(base, direction[0], p)
        if not np.isfinite(raw).all():
            raise ConceptError(f"the direction of {arg.expr!r} does not change its probe")
        amounts = np.clip(raw, -max_amount, max_amount)
        capped = np.abs(raw) > max_amount
        reached = probe.predict_proba(base + amounts[:, None] * direction)
        return amounts, np.asarray(reached, np.float64), capped
    cset = lib.class_set_of(ref.name)
    assert cset is not None  # lib.parse checked the name
    probe, k = cset.probe, cset.index(ref.name)

    def prob(a: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return probe.predict_proba(base[rows] + a[:, None] * direction[rows])[:, k]

    n = len(z)
    rows = np.arange(n)
    grid = np.linspace(0.0, max_amount, _SCAN_POINTS)
    scan = np.stack([prob(np.full(n, a), rows) for a in grid], axis=1)  # (N, points)
    hit = scan >= p
    amounts = np.full(n, max_amount)
    capped = ~hit.any(axis=1)
    first = hit.argmax(axis=1)
    lo = np.where(first > 0, grid[np.maximum(first - 1, 0)], 0.0)
    hi = grid[first]
    todo = np.nonzero(~capped & (first > 0))[0]
    amounts[~capped & (first == 0)] = 0.0
    lo, hi = lo[todo], hi[todo]
    for _ in range(_BISECT_STEPS):
        mid = 0.5 * (lo + hi)
        above = prob(mid, todo) >= p
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    amounts[todo] = hi
    return amounts, prob(amounts, rows), capped


def warn_if_outside_shell(z: np.ndarray, z_new: np.ndarray) -> None:
    """Warn when an edit pushes latents far beyond the prior's typical shell.

    Only outward pushes count: posterior means sit inside the shell (a VAE
    leaves unused dimensions near 0), and a latent pulled toward the origin
    decodes to an average-looking image, whereas one far outside it decodes to
    garbage.
    """
    z = np.atleast_2d(np.asarray(z, np.float64))
    z_new = np.atleast_2d(np.asarray(z_new, np.float64))
    d = z.shape[1]
    before = np.linalg.norm(z, axis=1) / math.sqrt(d)
    after = np.linalg.norm(z_new, axis=1) / math.sqrt(d)
    pushed = [
        r for r, r0, row in zip(after, before, z_new)
        if r > 1.0 and r > r0 and outside_typical_shell(row[None])
    ]  # fmt: skip
    if pushed:
        warnings.warn(
            f"the edit moves {len(pushed)} of {len(z)} latent(s) far outside the prior's "
            f"typical shell (norm up to {max(pushed):.1f} x sqrt({d}), typical 1); the "
            "decoder may produce garbage there: use a smaller amount",
            ShellWarning,
            stacklevel=3,
        )


def _render(
    model: VAEModel,
    inputs: list[_Input],
    slots: list[_Slot],
    z: np.ndarray,
    z_new: np.ndarray,
    mode: str,
) -> list[np.ndarray]:
    """One image per slot for each block of ``len(inputs)`` rows of ``z_new``
    (rows cycle through inputs; the result cycles through slots the same way).

    A whole input gives the decoded image (``decode``), its crop plus the
    decoded change (``detail``) or the blended edit (``blend``). A face found in
    a photograph gives its change instead (``detail``: decode(z') - decode(z);
    ``blend``: the blended crop minus the crop), or in ``decode`` mode the
    decode itself, pasted back into the photograph with every other face of it.
    """
    from .faces.paste import paste_back

    decoded = model.decode(z_new)
    start = None if mode == "decode" else model.decode(z)
    n = len(inputs)
    settings = blend_settings(model, mode) if mode != "decode" else None
    in_photo = blend_settings(model, mode, in_photo=True) if mode != "decode" else None
    out: list[np.ndarray] = []
    for c in range(len(z_new) // n):
        images: list[np.ndarray | None] = [None] * len(slots)
        photos: dict[int, np.ndarray] = {}
        for r, inp in enumerate(inputs):
            img = decoded[c * n + r]
            if inp.face is None:
                if start is None:
                    images[inp.slot] = img
                elif settings is not None:
                    images[inp.slot] = blend(inp.crop, start[r], img, settings)
                else:
                    images[inp.slot] = detail(inp.crop, img - start[r])
                continue
            slot = slots[inp.slot]
            if start is None and slot.crop:
                # Decode mode on a face crop of the model's size: the decoder's image
                # itself, in the framing it draws (as for any input of this size).
                images[inp.slot] = img
                continue
            # A face in a photograph: the change its crop gets, pasted back (the
            # decode itself in decode mode).
            knobs = settings if slot.crop else in_photo
            if start is None:
                change = img
            elif knobs is not None:
                change = blend(inp.crop, start[r], img, knobs) - inp.x
            else:
                change = img - start[r]
            photo = photos.get(inp.slot, slot.photo)
            aligned = inp.face.aligned
            photos[inp.slot] = paste_back(
                photo, change, aligned.to_crop, slot.alignment, aligned.face.mesh,
                whole=slot.crop, replace=start is None,
            )  # fmt: skip
        for k, photo in photos.items():
            images[k] = photo.astype(np.float32) / np.float32(255)
        out.extend(images)  # type: ignore[arg-type]
    return out


def _crop_array(crop: Image.Image, channels: int) -> np.ndarray:
    if channels == 3 and crop.mode == "L":
        crop = crop.convert("RGB")
    base = np.asarray(crop, np.float64)
    return base[..., None] if base.ndim == 2 else base


def blend_settings(
    model: VAEModel, mode: str = "blend", in_photo: bool = False
) -> BlendSettings | None:
    """The model's tuned knobs for a photo-keeping mode (meta.json
    ``edit_defaults.blend`` / ``edit_defaults.detail``). Blend mode without them
    uses the defaults; detail mode without them is None: the plain
    ``photo + change``.

    ``in_photo``: for a face found in a larger photograph, ``edit_defaults.photo_<mode>``
    (when the model sets it) is laid over those knobs. There the paste-back mask
    already keeps everything around the face, so the edit may redraw more of the
    face than in a crop, whose every pixel is the output."""
    from .blending import BlendSettings

    defaults = model.meta.get("edit_defaults") or {}
    defaults = defaults if isinstance(defaults, dict) else {}
    entry, key = defaults.get(mode), mode
    over = defaults.get(f"photo_{mode}") if in_photo else None
    if over is not None:
        key = f"photo_{mode}"
        # Anything but two dicts: ``over`` alone, which from_meta checks under its key.
        entry = {**entry, **over} if isinstance(entry, dict) and isinstance(over, dict) else over
    if mode == "detail" and entry is None:
        return None
    try:
        return BlendSettings.from_meta(entry, key)
    except ValueError as exc:
        where = Path(model.path) / "meta.json" if model.path else None
        raise ModelError(str(exc), where) from None


def blend(
    crop: Image.Image, start: np.ndarray, edited: np.ndarray, settings: BlendSettings | None = None
) -> np.ndarray:
    """The ``blend`` mode edit of ``crop`` from the decodes of z and z' (model size)."""
    from .blending import blend_edit

    start = np.asarray(start, np.float32)
    start = start[..., None] if start.ndim == 2 else start
    edited = np.asarray(edited, np.float32)
    edited = edited[..., None] if edited.ndim == 2 else edited
    base = _crop_array(crop, start.shape[-1]) / 255.0
    out = blend_edit(base, start, edited, settings)
    return (np.clip(np.rint(out * 255.0), 0.0, 255.0) / 255.0).astype(np.float32)


def detail(crop: Image.Image, change: np.ndarray) -> np.ndarray:
    """``crop + change``, the (S, S, C) change upsampled (bicubic) to the crop's size.

    Where the change is 0, the output is the input exactly. A one-channel change
    is added to every channel of a colour crop.
    """
    side = crop.size[0]
    change = np.asarray(change, np.float32)
    if change.ndim == 2:
        change = change[..., None]
    if change.shape[0] == side:
        up = change.astype(np.float64)
    else:
        up = np.stack(
            [
                np.asarray(Image.fromarray(np.ascontiguousarray(change[..., c]), mode="F")
                           .resize((side, side), Image.BICUBIC), np.float64)
                for c in range(change.shape[-1])
            ],
            axis=-1,
        )  # fmt: skip
    if up.shape[-1] == 3 and crop.mode == "L":
        crop = crop.convert("RGB")
    base = np.asarray(crop, np.float64)
    if base.ndim == 2:
        base = base[..., None]
    out = np.clip(np.rint(base + up * 255.0), 0.0, 255.0)
    return (out / 255.0).astype(np.float32)


# -- reconstruct ---------------------------------------------------------------------


def reconstruct(
    model: Any,
    images: Any,
    *,
    align: bool = True,
    face: FaceChoice = "all",
    backend: str = "auto",
) -> list[np.ndarray]:
    """Each image encoded and decoded: float32 (H, W, C) arrays in [0, 1].

    For a face model (``align``), like an edit with nothing moved in decode
    mode: the faces of a photograph are aligned, encoded, decoded and pasted
    back (the result has the photograph's size); an image of the model's size
    gives the decode of its aligned face. Otherwise the decode of the image.
    """
    model = resolve_model(model, (), backend)
    inputs, slots = prepare_inputs(model, images, align=align, face=face)
    z = model.encode(np.stack([i.x for i in inputs])).astype(np.float32)
    return _render(model, inputs, slots, z, z, "decode")


# -- strips (traverse, edit --sweep) -------------------------------------------------


@dataclass
class StripResult:
    """A traversal: ``cells[r][c]`` is input r moved by ``amounts[c]`` (float32 arrays).

    ``inputs[r]`` is input r as the model sees it (or its crop in detail mode);
    ``picture`` is the labelled strip (an "input" column, then one per amount).
    """

    cells: list[list[np.ndarray]]
    amounts: np.ndarray
    inputs: list[np.ndarray]
    names: list[str]
    title: str
    mode: str
    picture: Image.Image = field(repr=False)


def traverse(
    model: Any,
    images: Any,
    concepts: str | Sequence[str] | Mapping[str, float],
    amounts: Sequence[float] | np.ndarray | None = None,
    *,
    start: float = -3.0,
    stop: float = 3.0,
    steps: int = 9,
    mode: str | None = None,
    size: int | None = None,
    library: Any = None,
    ignore_fingerprint: bool = False,
    infer: str = "probe",
    backend: str = "auto",
    align: bool = True,
    face: FaceChoice = "all",
) -> StripResult:
    """Each image moved along the concepts by each amount, as arrays and a labelled strip.

    Column amount ``s`` moves ``z`` to ``z + s * sum(w_i * direction_i)``, where
    ``w_i`` is a concept's own ``=AMOUNT`` (default 1). ``amounts`` defaults to
    ``steps`` evenly spaced values from ``start`` to ``stop``. A photograph given
    to a face model is one row of whole photographs, its faces edited
    (``align`` and ``face`` as in :func:`edit`).
    """
    exprs = list(concepts) if not isinstance(concepts, str) else [concepts]
    model = resolve_model(model, exprs, backend)
    if amounts is None:
        amounts = amounts_between(start, stop, steps)
    amounts = np.asarray([check_amount(a, "amount") for a in amounts], np.float64)
    check_steps(len(amounts), "number of amounts")
    mode = check_mode(mode) if mode is not None else default_mode(model)
    lib = resolve_library(model, library, ignore_fingerprint)
    args = parse_concepts(lib, concepts)
    inputs, slots = prepare_inputs(model, images, align=align, face=face)

    z = model.encode(np.stack([i.x for i in inputs])).astype(np.float64)
    combined = sum(
        (a.amount if a.amount is not None else 1.0) * lib.direction(list(a.terms), z, infer)
        for a in args
    )
    # Column-major rows: every input at amounts[0], then every input at amounts[1], ...
    z_new = np.concatenate([z + s * combined for s in amounts]).astype(np.float32)
    warn_if_outside_shell(np.tile(z, (len(amounts), 1)), z_new)
    flat = _render(model, inputs, slots, z.astype(np.float32), z_new, mode)
    n = len(slots)
    cells = [[flat[c * n + r] for c in range(len(amounts))] for r in range(n)]
    first: dict[int, _Input] = {}
    for i in inputs:
        first.setdefault(i.slot, i)
    shown = []
    for k, sl in enumerate(slots):
        i = first[k]
        if sl.photo is not None:
            shown.append(sl.photo.astype(np.float32) / 255)
        elif mode in ("detail", "blend"):
            shown.append(np.asarray(i.crop, np.float32).reshape(*i.crop.size[::-1], -1) / 255)
        else:
            shown.append(i.x)
    title = ", ".join(a.label for a in args) + (f"  ({mode})" if mode != "decode" else "")
    names = [sl.name for sl in slots]
    cell = size or _cell_size(model, inputs, slots, mode)
    from .render import strip_picture  # drawing (ImageDraw, fonts) only for strips

    picture = strip_picture(shown, cells, [format_amount(a) for a in amounts], names, title, cell)
    return StripResult(cells, amounts, shown, names, title, mode, picture)


def _cell_size(model: VAEModel, inputs: list[_Input], slots: list[_Slot], mode: str) -> int:
    photos = [max(sl.photo.shape[:2]) for sl in slots if sl.photo is not None]
    if mode in ("detail", "blend") or photos:
        sides = [i.crop.size[0] for i in inputs if i.face is None] + photos
        return max(MIN_CELL, min(MAX_DETAIL_CELL, *sides))
    return max(MIN_CELL, model.config.image_size)


# -- analogy ----------------------------------------------------------------------------


@dataclass
class AnalogyResult:
    """D = C + (B - A) in latent space.

    ``d`` is the decoded D; ``grid[i][j]`` decodes ``A + u_j (B - A) + v_i (C - A)``
    for ``u, v`` evenly spaced in [0, 1] (plat's J-diagram: A top left, B top
    right, C bottom left, D bottom right); ``latents`` maps "A".."D" to latents.
    """

    d: np.ndarray
    grid: np.ndarray
    inputs: np.ndarray
    latents: dict[str, np.ndarray]
    picture: Image.Image = field(repr=False)


def analogy(
    model: Any,
    a: ImageInput,
    b: ImageInput,
    c: ImageInput,
    *,
    steps: int = 3,
    size: int | None = None,
    backend: str = "auto",
) -> AnalogyResult:
    """A is to B as C is to D: D = C + (B - A), drawn as a labelled J-diagram."""
    model = resolve_model(model, (), backend)
    steps = check_steps(steps, param("steps"), MAX_ANALOGY_STEPS)
    if steps < 2:
        raise ConceptVAEError(f"{param('steps')} must be at least 2 for an analogy, got {steps}")
    # A photograph contributes its largest face (decoded images are the model's crops).
    inputs = [prepare_inputs(model, [im], face="largest")[0][0] for im in (a, b, c)]
    za, zb, zc = model.encode(np.stack([i.x for i in inputs])).astype(np.float64)
    t = np.linspace(0.0, 1.0, steps)
    lattice = np.stack([za + u * (zb - za) + v * (zc - za) for v in t for u in t])
    warn_if_outside_shell(np.repeat(za[None], len(lattice), 0), lattice)
    decoded = model.decode(lattice.astype(np.float32))
    cells = decoded.reshape(steps, steps, *decoded.shape[1:])
    zd = zc + (zb - za)
    names = [i.name for i in inputs]
    from .render import analogy_picture

    picture = analogy_picture(
        [i.x for i in inputs], cells, names, size or max(MIN_CELL, model.config.image_size)
    )
    latents = {k: v.astype(np.float32) for k, v in zip("ABCD", (za, zb, zc, zd))}
    return AnalogyResult(cells[-1, -1], cells, np.stack([i.x for i in inputs]), latents, picture)
