"""Morph scripts: a JSON file describing a whole animation, validated before rendering.

Example (``examples/scripts/smile.json`` has a complete one)::

    {
      "model": "faces",                   # a model name, or a directory relative to this file;
                                          # default: the pretrained model with the concepts
      "output": "smiles.gif",             # .gif, .webp, .mp4, .png (strip) or DIR/
      "fps": 12,                          # default 12
      "size": 128,                        # pixels per side; default: the model's size
      "loop": true,                       # morph back to the first keyframe; default false
      "easing": "cosine",                 # linear | cosine; default linear
      "interpolation": "slerp",           # slerp | lerp; default slerp
      "hold": 0.5, "transition": 1.0,     # defaults for every keyframe, in seconds
      "keyframes": [
        {"image": "faces/a.png", "hold": 1.0},
        {"image": "faces/a.png", "concepts": "1.5*smile", "transition": 2.0},
        {"seed": 7, "temperature": 0.8, "easing": "linear"}
      ]
    }

(JSON has no comments: the ``#`` notes above are for this docstring only; a
``"comment"`` field is allowed, and ignored, at the top and in every keyframe.)

Timing, in frames: each keyframe is on screen for ``max(1, round(hold * fps))``
frames, then ``round(transition * fps)`` in-between frames (excluding both
keyframes) lead to the next keyframe, eased per transition. Without ``loop`` the
last keyframe has no transition; with it, the last transition leads back to the
first keyframe, so the animation repeats seamlessly. The frame total is printed
by ``conceptvae run --check``.

A keyframe is an ``image`` (encoded to its posterior mean) or a sample ``seed``
(``default_rng(seed).standard_normal(D) * temperature``; under a learned mixture
prior, its draw with each component's spread scaled by ``temperature``), plus optional
``concepts``: an expression over the model's concept library (``smile``,
``1.5*smile-0.5*glasses``, ``3->8``) added to the keyframe's latent.

Relative paths (model, images, output) resolve against the script's folder.
Everything - fields, files, the model, concept names, the output location - is
checked before any frame is rendered, and every message names the keyframe and
field at fault (``keyframes[2].hold: ...``).
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConceptVAEError, param, render
from .keyframes import seed_latent
from .latent import EASINGS, ease, lerp, slerp
from .model.loaded import VAEModel
from .options import (
    DEFAULT_FPS,
    INTERPOLATIONS,
    MAX_FPS,
    MAX_FRAMES,
    MAX_SEED,
    MAX_TEMPERATURE,
    MIN_FPS,
)
from .resolve import resolve_model

TOP_FIELDS = (
    "model", "output", "fps", "size", "loop", "easing", "interpolation", "hold", "transition",
    "keyframes", "comment", "version",
)  # fmt: skip
KEY_FIELDS = ("image", "seed", "temperature", "concepts", "hold", "transition", "easing", "comment")
MAX_SECONDS = 3600.0
MAX_SIZE = 4096


@dataclass
class Keyframe:
    """One validated keyframe; ``image`` is resolved against the script's folder."""

    index: int
    image: Path | None = None
    seed: int | None = None
    temperature: float = 1.0
    concepts: str | None = None
    hold: float = 0.0
    transition: float = 1.0
    easing: str = "linear"
    explicit_transition: bool = False

    @property
    def where(self) -> str:
        return f"keyframes[{self.index}]"


@dataclass
class MorphScript:
    """A validated morph script (fields as in the module docstring)."""

    model: str | None  # None: the pretrained model holding the keyframes' concepts
    output: str | None
    keyframes: list[Keyframe]
    fps: float = DEFAULT_FPS
    size: int | None = None
    loop: bool = False
    interpolation: str = "slerp"
    path: Path | None = None
    base: Path = field(default_factory=lambda: Path("."))
    comment: str | None = field(default=None, repr=False)

    def frame_counts(self) -> list[tuple[int, int]]:
        """(hold frames, transition frames) per keyframe."""
        out = []
        last = len(self.keyframes) - 1
        for k in self.keyframes:
            hold = max(1, _frames(k.hold, self.fps))
            moves = k.index < last or self.loop
            out.append((hold, _frames(k.transition, self.fps) if moves else 0))
        return out

    @property
    def n_frames(self) -> int:
        return sum(h + t for h, t in self.frame_counts())

    def summary(self) -> str:
        n = self.n_frames
        return (
            f"{len(self.keyframes)} keyframes, {n} frames at {self.fps:g} fps "
            f"({n / self.fps:.2f} s)"
        )


def _frames(seconds: float, fps: float) -> int:
    # Half-up, not Python's round-half-even: 0.5 s at 1 fps is one frame.
    return int(math.floor(seconds * fps + 0.5))


# -- reading and validating ----------------------------------------------------------


def load_script(path: str | os.PathLike) -> MorphScript:
    """Read and validate a script file (fields only; files and model are checked later)."""
    from .io import read_json

    path = Path(path)
    obj = read_json(path, "morph script")
    return parse_script(obj, path.parent, path)


def parse_script(
    obj: Any, base: str | os.PathLike = ".", source: str | os.PathLike | None = None
) -> MorphScript:
    """Validate a script given as a dict; relative paths resolve against ``base``."""
    v = _Validator(Path(base), source)
    return v.script(obj)


class _Validator:
    def __init__(self, base: Path, source: str | os.PathLike | None) -> None:
        self.base = base
        self.source = source

    def fail(self, where: str, message: str) -> ConceptVAEError:
        return ConceptVAEError(f"{where}: {message}", self.source)

    def fields(self, obj: dict, allowed: tuple[str, ...], where: str) -> None:
        for key in obj:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                at = f"{where}." if where else ""
                raise self.fail(
                    f"{at}{key}", f"unknown field{hint}; fields are {', '.join(allowed)}"
                )

    def number(self, obj: dict, key: str, where: str, lo: float, hi: float, default: float,
               lo_open: bool = False) -> float:  # fmt: skip
        if key not in obj:
            return default
        x = obj[key]
        name = f"{where}.{key}" if where else key
        ok = isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
        if not ok or x > hi or x < lo or (lo_open and x == lo):
            bound = f"above {lo:g} and at most {hi:g}" if lo_open else f"from {lo:g} to {hi:g}"
            raise self.fail(name, f"must be a finite number {bound}, got {_show(x)}")
        return float(x)

    def choice(
        self, obj: dict, key: str, where: str, options: tuple[str, ...], default: str
    ) -> str:
        if key not in obj:
            return default
        x = obj[key]
        name = f"{where}.{key}" if where else key
        if x not in options:
            raise self.fail(name, f"must be one of {', '.join(options)}, got {_show(x)}")
        return str(x)

    def text(self, obj: dict, key: str, where: str, required: bool = False) -> str | None:
        name = f"{where}.{key}" if where else key
        if key not in obj:
            if required:
                raise self.fail(name, "missing (required)")
            return None
        x = obj[key]
        if not isinstance(x, str) or not x.strip():
            raise self.fail(name, f"must be a non-empty string, got {_show(x)}")
        return x

    def script(self, obj: Any) -> MorphScript:
        if not isinstance(obj, dict):
            raise ConceptVAEError(
                f"a morph script is a JSON object, not {type(obj).__name__}", self.source
            )
        self.fields(obj, TOP_FIELDS, "")
        if "version" in obj and obj["version"] != 1:
            raise self.fail(
                "version", f"this conceptvae reads version 1, got {_show(obj['version'])}"
            )
        model = self.text(obj, "model", "")
        output = self.text(obj, "output", "")
        fps = self.number(obj, "fps", "", MIN_FPS, MAX_FPS, DEFAULT_FPS)
        size = None
        if obj.get("size") is not None:
            s = obj["size"]
            if isinstance(s, bool) or not isinstance(s, int) or not 1 <= s <= MAX_SIZE:
                raise self.fail(
                    "size", f"must be a whole number from 1 to {MAX_SIZE}, got {_show(s)}"
                )
            size = s
        loop = obj.get("loop", False)
        if not isinstance(loop, bool):
            raise self.fail("loop", f"must be true or false, got {_show(loop)}")
        easing = self.choice(obj, "easing", "", tuple(EASINGS), "linear")
        interpolation = self.choice(obj, "interpolation", "", INTERPOLATIONS, "slerp")
        hold = self.number(obj, "hold", "", 0.0, MAX_SECONDS, 0.0)
        transition = self.number(obj, "transition", "", 0.0, MAX_SECONDS, 1.0)
        keys = obj.get("keyframes")
        if not isinstance(keys, list) or not keys:
            raise self.fail(
                "keyframes", f"must be a non-empty list of keyframes, got {_show(keys)}"
            )
        frames = [self.keyframe(i, k, hold, transition, easing) for i, k in enumerate(keys)]
        last = frames[-1]
        if last.explicit_transition and not loop and len(frames) > 0:
            raise self.fail(
                f"{last.where}.transition",
                'the last keyframe has no next keyframe to move to (set "loop": true to '
                "morph back to the first)",
            )
        script = MorphScript(
            model=model,  # type: ignore[arg-type]
            output=None if output is None else os.path.join(self.base, output),
            keyframes=frames,
            fps=fps,
            size=size,
            loop=loop,
            interpolation=interpolation,
            path=Path(self.source) if self.source is not None else None,
            base=self.base,
            comment=obj.get("comment"),
        )
        n = script.n_frames
        if n > MAX_FRAMES:
            raise self.fail(
                "keyframes",
                f"the script makes {n} frames; at most {MAX_FRAMES} are allowed",
            )
        return script

    def keyframe(self, i: int, obj: Any, hold: float, transition: float, easing: str) -> Keyframe:
        where = f"keyframes[{i}]"
        if not isinstance(obj, dict):
            raise self.fail(where, f"a keyframe is a JSON object, got {_show(obj)}")
        self.fields(obj, KEY_FIELDS, where)
        has_image, has_seed = "image" in obj, "seed" in obj
        if has_image == has_seed:
            raise self.fail(where, 'give exactly one of "image" (a file) or "seed" (a sample)')
        k = Keyframe(index=i)
        if has_image:
            k.image = self.base / str(self.text(obj, "image", where))
            if "temperature" in obj:
                raise self.fail(f"{where}.temperature", "applies to seed keyframes only")
        else:
            s = obj["seed"]
            if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= MAX_SEED:
                raise self.fail(
                    f"{where}.seed", f"must be a whole number from 0 to 2**64 - 1, got {_show(s)}"
                )
            k.seed = s
            k.temperature = self.number(obj, "temperature", where, 0.0, MAX_TEMPERATURE, 1.0)
        k.concepts = self.text(obj, "concepts", where)
        if k.concepts is not None:
            from .concepts.expressions import parse_expression

            try:
                parse_expression(k.concepts)
            except ConceptVAEError as exc:
                raise self.fail(f"{where}.concepts", exc.raw) from None
        k.hold = self.number(obj, "hold", where, 0.0, MAX_SECONDS, hold)
        k.transition = self.number(obj, "transition", where, 0.0, MAX_SECONDS, transition)
        k.explicit_transition = "transition" in obj
        k.easing = self.choice(obj, "easing", where, tuple(EASINGS), easing)
        return k


def _show(x: Any) -> str:
    text = repr(x) if not isinstance(x, (dict, list)) else type(x).__name__
    return text if len(text) <= 60 else text[:57] + "..."


# -- checking against files and the model ---------------------------------------------


@dataclass
class Prepared:
    """A script checked against its files, model and concept library: ready to render."""

    script: MorphScript
    model: VAEModel
    library: Any = None  # the model's ConceptLibrary, when a keyframe has concepts

    @property
    def size(self) -> int:
        return self.script.size or self.model.config.image_size


def prepare_script(script: MorphScript | str | os.PathLike, backend: str = "auto") -> Prepared:
    """Check everything a render needs but its output, rendering nothing: the
    keyframe images, the model, and every keyframe's concepts against its library."""
    if not isinstance(script, MorphScript):
        script = load_script(script)
    fail = script_error(script)
    from .images import load_pil

    for k in script.keyframes:
        if k.image is not None:
            try:
                load_pil(k.image).close()
            except ConceptVAEError as exc:
                raise fail(f"{k.where}.image", exc) from None
    model_spec = _model_spec(script)
    concepts = [k.concepts for k in script.keyframes if k.concepts is not None]
    try:
        model = resolve_model(model_spec, concepts, backend)
    except ConceptVAEError as exc:
        raise fail("model", exc) from None
    prepared = Prepared(script, model)
    with_concepts = [k for k in script.keyframes if k.concepts is not None]
    if with_concepts:
        from .concepts import open_library

        try:
            lib = open_library(model, ignore_fingerprint=None)
        except ConceptVAEError as exc:
            raise fail(f"{with_concepts[0].where}.concepts", exc) from None
        for k in with_concepts:
            try:
                lib.parse(k.concepts)
            except ConceptVAEError as exc:
                raise fail(f"{k.where}.concepts", exc.raw) from None
        prepared.library = lib
    return prepared


def script_error(script: MorphScript) -> Callable[[str, ConceptVAEError | str], ConceptVAEError]:
    """``fail(field, problem)``: an error naming the script file and the field at fault."""

    def fail(where: str, exc: ConceptVAEError | str) -> ConceptVAEError:
        text = exc.marked if isinstance(exc, ConceptVAEError) else exc
        return ConceptVAEError(f"{where}: {as_fields(text)}", script.path)

    return fail


def as_fields(text: str) -> str:
    """``text`` with the parameters a script sets itself named as its fields
    (``"size"``, ``"model"``); the others (``overwrite``: the run command's own
    options) stay marked for the front end to name."""
    return render(text, lambda name: f'"{name}"' if name in TOP_FIELDS else param(name))


def _model_spec(script: MorphScript) -> str | None:
    """A model path relative to the script's folder if it exists there, else a model name."""
    if script.model is None:
        return None
    local = script.base / script.model
    return str(local) if local.exists() else script.model


# -- latents and rendering ------------------------------------------------------------


def key_latents(prepared: Prepared) -> np.ndarray:
    """Keyframe latents (K, D): images encoded in one batch, seeds drawn, concepts added."""
    script, model = prepared.script, prepared.model
    keys = script.keyframes
    z = np.zeros((len(keys), model.latent_dim), np.float32)
    with_image = [k for k in keys if k.image is not None]
    if with_image:
        from .faces.inputs import model_views

        # A photograph keyframe of a face model is its largest face, aligned.
        cfg = model.config
        views = model_views([k.image for k in with_image], model.meta, cfg.image_size,
                            cfg.channels)  # fmt: skip
        z[[k.index for k in with_image]] = model.encode(views)
    for k in keys:
        if k.seed is not None:
            z[k.index] = seed_latent(k.seed, model.latent_dim, k.temperature, model.prior)
        if k.concepts is not None:
            z[k.index] = z[k.index] + prepared.library.direction(k.concepts, z[k.index])
    return z


def script_latents(prepared: Prepared) -> np.ndarray:
    """Every frame's latent (N, D), following the timing rules in the module docstring."""
    script = prepared.script
    keys = key_latents(prepared)
    interp = slerp if script.interpolation == "slerp" else lerp
    out: list[np.ndarray] = []
    for k, (hold, moves) in zip(script.keyframes, script.frame_counts()):
        out.append(np.repeat(keys[k.index][None], hold, axis=0))
        if moves:
            nxt = keys[(k.index + 1) % len(keys)]
            t = ease(k.easing)(np.arange(1, moves + 1) / (moves + 1))
            out.append(np.asarray(interp(keys[k.index], nxt, t), np.float32).reshape(moves, -1))
    return np.concatenate(out).astype(np.float32)


def script_frames(script: MorphScript | str | os.PathLike, backend: str = "auto") -> np.ndarray:
    """The script's frames (N, S, S, C), float32 in [0, 1], without writing anything."""
    prepared = prepare_script(script, backend=backend)
    return prepared.model.decode(script_latents(prepared))
