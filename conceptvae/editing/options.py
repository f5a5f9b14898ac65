"""Every option of an edit in one frozen object, validated once where it is made."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ..checks import check_amount, check_max_amount, check_probability, check_steps, choice
from ..errors import ConceptVAEError, ModelError, param
from ..options import DEFAULT_AMOUNT, DEFAULT_MAX_AMOUNT, EDIT_MODES

if TYPE_CHECKING:
    from ..faces.inputs import FaceChoice
    from ..model.loaded import VAEModel


def check_mode(mode: str) -> str:
    return choice(mode, param("mode"), tuple(EDIT_MODES))


@dataclass(frozen=True)
class EditOptions:
    """How :func:`~conceptvae.editing.edit` (and ``traverse``) move and render images.

    ``amount`` is the amount of every concept without its own ``=AMOUNT``
    (None: not given, which means :data:`~conceptvae.options.DEFAULT_AMOUNT`;
    the file side tells "not given" from 1 to refuse conflicting options).
    ``mode`` None is the model's own default mode. ``until=P`` solves one
    concept's amount per image, capped at ``max_amount`` in size. ``library`` is a
    ConceptLibrary, a concepts.h5 path or None (the model's own), and
    ``ignore_fingerprint`` accepts one built for other weights. ``align`` finds
    faces in the inputs of a face model; ``face`` chooses which ("all",
    "largest" or a number from 1). ``infer`` is how a class concept's source
    class is read ("probe"); ``backend`` which runtime loads a named model.

    The checks run here, in the order a user reads them, so a typo is reported
    before any file is read or model loaded.
    """

    amount: float | None = None
    mode: str | None = None
    until: float | None = None
    max_amount: float = DEFAULT_MAX_AMOUNT
    library: Any = None
    ignore_fingerprint: bool = False
    infer: str = "probe"
    backend: str = "auto"
    align: bool = True
    face: FaceChoice = "all"

    def __post_init__(self) -> None:
        if self.amount is not None:
            object.__setattr__(self, "amount", check_amount(self.amount))
        object.__setattr__(self, "max_amount", check_max_amount(self.max_amount))
        if self.until is not None:
            check_probability(self.until)
        if self.mode is not None:
            check_mode(self.mode)

    @classmethod
    def make(cls, options: EditOptions | None = None, **changes: Any) -> EditOptions:
        """``options`` (or the defaults) with ``changes`` laid over it; a name that is
        not an option is a TypeError, as for any keyword."""
        unknown = sorted(set(changes) - {f.name for f in fields(cls)})
        if unknown:
            raise TypeError(f"unexpected edit option(s): {', '.join(unknown)}")
        base = options if options is not None else cls()
        return replace(base, **changes) if changes else base

    @property
    def amount_or_default(self) -> float:
        return DEFAULT_AMOUNT if self.amount is None else float(self.amount)

    @property
    def chosen(self) -> bool:
        """Faces chosen by number, as the face finder reads ``face`` (a mode then edits
        them even where it would leave a face it cannot edit well)."""
        from ..faces.inputs import check_face_choice

        try:
            return isinstance(check_face_choice(self.face), int)
        except ConceptVAEError:  # not a face choice at all: refused where faces are chosen
            return False

    def mode_for(self, model: VAEModel) -> str:
        return self.mode if self.mode is not None else default_mode(model)


def default_mode(model: VAEModel) -> str:
    """meta.json ``{"edit_defaults": {"mode": ...}}`` when the model sets it, else decode."""
    defaults = model.meta.get("edit_defaults") or {}
    mode = defaults.get("mode", "decode") if isinstance(defaults, dict) else "decode"
    if mode not in EDIT_MODES:
        where = model.meta_path
        raise ModelError(f"edit_defaults.mode must be one of {', '.join(EDIT_MODES)}", where)
    return mode


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


__all__ = ["EditOptions", "amounts_between", "check_mode", "default_mode", "format_amount"]
