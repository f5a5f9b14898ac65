"""``until=P``: the amount, per image, at which a concept's probe reaches probability P.

For an attribute concept the closed form (the probe's logit is linear along the
direction); for a class target (``8`` or ``3->8``), the smallest amount in
``[0, max_amount]`` at which the class probe's probability of the target class
reaches P (a scan then bisection). Amounts are capped at ``max_amount`` in size.

An attribute target P above one half raises the probe's probability and one
below lowers it; a latent already past P gets amount 0 (an edit towards a smile
never takes one away from a face that already laughs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConceptError, param

if TYPE_CHECKING:
    from ..concepts.library import ConceptLibrary
    from .concepts import ConceptArg

# The class-target search: a coarse scan finds the first amount past P, then
# bisection pins it down far below the 1e-4 anyone could see.
_SCAN_POINTS = 65
_BISECT_STEPS = 60


def solved_index(args: list[ConceptArg]) -> int:
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
        # P above one half raises the probability, below lowers it: a latent
        # already past P is left where it is, never moved the other way.
        now = np.asarray(probe.predict_proba(base), np.float64)
        past = now >= p if p >= 0.5 else now <= p
        raw = np.where(past, 0.0, raw)
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


