"""The edit itself: encode, move along the concepts, render; and reconstruct."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from ..errors import ConceptVAEError
from ..images import array_to_pil
from ..latent import outside_typical_shell
from ..resolve import resolve_library, resolve_model
from .compose import render
from .concepts import ConceptsArg, concept_names, parse_concepts
from .inputs import Input, prepare_inputs
from .options import EditOptions
from .until import amounts_until, solved_index

if TYPE_CHECKING:
    from ..faces.inputs import FaceChoice
    from ..model.prior import GaussianMixture


class ShellWarning(UserWarning):
    """An edit moved a latent far outside the prior's typical shell."""


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

    ``images`` holds one float32 (H, W, C) array in [0, 1] per input (uint8 with
    ``edit(..., as_uint8=True)``): the model's
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
    concepts: ConceptsArg,
    amount: float | None = None,
    *,
    options: EditOptions | None = None,
    as_uint8: bool = False,
    **changes: Any,
) -> EditResult:
    """Move each image along the concepts and render it in the edit's mode.

    ``concepts``: ``"smile"``, ``["smile", "thick=-0.5"]`` or ``{"smile": 1.5}``;
    an expression without its own ``=AMOUNT`` uses ``amount`` (default 1). The
    other options are an :class:`EditOptions` (``options``) or its fields as
    keywords (``mode="detail"``, ``until=0.9``, ...), laid over ``options``.
    With ``until``, exactly one concept must have no ``=AMOUNT``: its amount is
    solved per image. For a face model, ``align`` finds the faces in each input
    (an input of the model's size with no face is used as it is), edits each
    chosen one (``face``: "all", "largest" or a number from 1, in reading order)
    aligned onto the model's template, and pastes it back; ``align=False``
    treats every input as an aligned crop.

    ``as_uint8``: the images come back as uint8 (H, W, C), the values an image
    file holds, not float32: a photograph is never held as floats, four times
    its own size (the command line writes these).
    """
    if amount is not None:
        changes["amount"] = amount
    opts = EditOptions.make(options, **changes)
    model = resolve_model(model, concept_names(concepts), opts.backend)
    mode = opts.mode_for(model)
    lib = resolve_library(model, opts.library, opts.ignore_fingerprint)
    args = parse_concepts(lib, concepts)
    solved = solved_index(args) if opts.until is not None else None
    inputs, slots = prepare_inputs(model, images, align=opts.align, face=opts.face)

    z = model.encode(np.stack([i.x for i in inputs])).astype(np.float64)
    default = opts.amount_or_default
    amounts = np.array([[a.amount if a.amount is not None else default for a in args]] * len(z))
    dirs = [lib.direction(list(a.terms), z, opts.infer).astype(np.float64) for a in args]
    probability = capped = None
    if solved is not None:
        base = z + sum(amounts[:, [k]] * d for k, d in enumerate(dirs) if k != solved)
        amounts[:, solved], probability, capped = amounts_until(
            lib, args[solved], z, base, dirs[solved], opts.until, opts.max_amount
        )
    shift = sum(amounts[:, [k]] * d for k, d in enumerate(dirs))
    z_new = (z + shift).astype(np.float32)
    warn_if_outside_shell(z, z_new, model.prior)
    images_out = render(model, inputs, slots, z.astype(np.float32), z_new, mode, opts.chosen,
                        uint8=as_uint8, consume=True)  # fmt: skip
    names = [a.expr for a in args]
    faces, per_slot = _face_edits(inputs, len(slots), names, amounts, probability, capped)
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


def _face_edits(
    inputs: list[Input],
    n_slots: int,
    names: list[str],
    amounts: np.ndarray,
    probability: np.ndarray | None,
    capped: np.ndarray | None,
) -> tuple[list[list[FaceEdit] | None], list[list[int]]]:
    """Per slot, the faces edited in it (None: not a photograph), and its input rows."""
    faces: list[list[FaceEdit] | None] = [None] * n_slots
    per_slot: list[list[int]] = [[] for _ in range(n_slots)]
    for r, inp in enumerate(inputs):
        per_slot[inp.slot].append(r)
        if inp.face is not None:
            f = inp.face.aligned.face
            faces[inp.slot] = [*(faces[inp.slot] or []), FaceEdit(
                f.box, f.score, dict(zip(names, map(float, amounts[r]))),
                None if probability is None else float(probability[r]),
                bool(capped[r]) if capped is not None else False, inp.face.number,
            )]  # fmt: skip
    return faces, per_slot


def warn_if_outside_shell(
    z: np.ndarray, z_new: np.ndarray, prior: GaussianMixture | None = None
) -> None:
    """Warn when an edit pushes latents far beyond the prior's typical shell.

    Only outward pushes count: posterior means sit inside the shell (a VAE
    leaves unused dimensions near 0), and a latent pulled toward the origin
    decodes to an average-looking image, whereas one far outside it decodes to
    garbage. Under a learned mixture ``prior`` "outward" is "to lower prior
    density", and "far" is below the density almost every draw of the prior
    reaches (:attr:`GaussianMixture.typical_floor`).
    """
    z = np.atleast_2d(np.asarray(z, np.float64))
    z_new = np.atleast_2d(np.asarray(z_new, np.float64))
    if prior is not None:
        before, after = prior.log_prob(z), prior.log_prob(z_new)
        floor = prior.typical_floor
        low = after[(after < floor) & (after < before)]
        if len(low):
            warnings.warn(
                f"the edit moves {len(low)} of {len(z)} latent(s) far from where the "
                f"model's learned prior lies (log density down to {low.min():.0f}, where "
                f"999 in 1,000 of its own draws reach {floor:.0f}); the decoder may "
                "produce garbage there: use a smaller amount",
                ShellWarning,
                stacklevel=3,
            )
        return
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



def reconstruct(
    model: Any,
    images: Any,
    *,
    align: bool = True,
    face: FaceChoice = "all",
    backend: str = "auto",
    skipped: list[ConceptVAEError] | None = None,
    as_uint8: bool = False,
) -> list[np.ndarray]:
    """Each image encoded and decoded: float32 (H, W, C) arrays in [0, 1]
    (uint8 with ``as_uint8``, as in :func:`edit`).

    For a face model (``align``), like an edit with nothing moved in decode
    mode: the faces of a photograph are aligned, encoded, decoded and pasted
    back (the result has the photograph's size); an image of the model's size
    gives the decode of its aligned face. Otherwise the decode of the image.
    With a ``skipped`` list, input files that cannot be used are left out (see
    :func:`prepare_inputs`).
    """
    model = resolve_model(model, (), backend)
    inputs, slots = prepare_inputs(model, images, align=align, face=face, skipped=skipped)
    z = model.encode(np.stack([i.x for i in inputs])).astype(np.float32)
    return render(model, inputs, slots, z, z, "decode", uint8=as_uint8, consume=True)
