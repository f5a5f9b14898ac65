"""How far an edit opens or closes a photographed mouth, and what shows inside it.

The decoder draws a smile's teeth as a bright band and a relaxed mouth as lips
that meet. The face mesh, run on its blurry 64-pixel drawings, places the inner
lips poorly over that band, so read from the mesh alone the lips part by a
pixel or two and a smile reads as a closed-mouth smirk. Here the *height of the
teeth* the decode shows is read instead, along the mouth at each pair of inner
lip points, and the change between the start and edited decode becomes how far
the photo's lips part (or meet) there. The inside that opens is drawn from this
face (:func:`teeth_pattern`, used by :mod:`.reshape`): upper teeth below the
upper lip, a dark gap, the lower teeth's edges, a darker corridor at the
corners; a mouth that closes has its teeth covered by its own lips.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .deform import smoothstep
from .landmarks import NOSE_TIP

# The inner lips' upper and lower points in pairs across the opening, corner to
# corner (the mesh's order).
UPPER_INNER = (191, 80, 81, 82, 13, 312, 311, 310, 415)
LOWER_INNER = (95, 88, 178, 87, 14, 317, 402, 318, 324)
CORNERS = (61, 291)
# The inner lips, in order around the mouth's opening.
INNER_LIPS = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178,
              88, 95)  # fmt: skip
INNER_CORNERS = (78, 308)
# Along each pair's line, the decode is read this far either side of the lips'
# middle (a fraction of the mouth's width), a quarter pixel at a time; a pixel is
# teeth where it is TEETH_ABOVE brighter than the decode's skin beside the nose.
READ_REACH = 0.2
TEETH_ABOVE = 0.1
# An opening lip moves this share of the way (the upper lip rises more than the
# jaw drops in a smile). The skin above goes with the upper lip less and less, to
# nothing at the nose's base; the skin below with the lower lip, to CHIN_FOLLOWS
# of it at the chin; neither beyond SIDE_REACH of the mouth's width past a corner.
UPPER_SHARE = 0.6
NOSE_BASE = 2
CHIN = 152
CHIN_FOLLOWS = 0.3
SIDE_REACH = 0.3
# Closing, the lips meet CLOSE_SHARE of the way down the opening and the chin rises
# JAW_FOLLOWS as far as the lower lip; they stop MEET_GAP of the mouth's width apart
# (the spline cannot bring two points with different motions onto one; the rest is
# drawn shut). A mouth open OPEN_WIDE of its width opens no further.
CLOSE_SHARE = 0.3
JAW_FOLLOWS = 0.7
MEET_GAP = 0.05
OPEN_WIDE = 0.25
# The teeth drawn into an opening: upper teeth over this share of its height,
# the lower teeth's edges below LOWER_FROM, dimmer by LOWER_DIM; toward the
# corners (beyond CORRIDOR of the mouth's half-width) the inside darkens, and the
# upper lip shades the teeth's top by LIP_SHADE, the mouth the teeth toward the
# corners by up to BACK_SHADE.
UPPER_TEETH = 0.75
LOWER_FROM = 0.9
LOWER_DIM = 0.7
CORRIDOR = 0.6
LIP_SHADE = 0.35
BACK_SHADE = 0.3


def _bilinear(g: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    h, w = g.shape
    x = np.clip(x - 0.5, 0.0, w - 1.001)
    y = np.clip(y - 0.5, 0.0, h - 1.001)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    return (g[y0, x0] * (1 - fx) * (1 - fy) + g[y0, x0 + 1] * fx * (1 - fy)
            + g[y0 + 1, x0] * (1 - fx) * fy + g[y0 + 1, x0 + 1] * fx * fy)  # fmt: skip


class _Frame(NamedTuple):
    """The mouth's own axes: its centre, the unit vector along it (the line through
    the corners), the downward unit normal across it, and its width."""

    centre: np.ndarray
    axis: np.ndarray
    normal: np.ndarray
    width: float

    def coords(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(along, across) of points (..., 2) in this frame."""
        rel = pts - self.centre
        return rel @ self.axis, rel @ self.normal

    def pixels(self, window: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(along, across) of every pixel centre of the window (y0, y1, x0, x1)."""
        y0, y1, x0, x1 = window
        ys, xs = np.mgrid[y0:y1, x0:x1]
        return self.coords(np.stack([xs + 0.5, ys + 0.5], -1))

    def curve(self, pts: np.ndarray, u: np.ndarray) -> np.ndarray:
        """How far across the mouth the polyline through ``pts`` lies at each ``u``
        along it."""
        along, across = self.coords(pts)
        order = np.argsort(along)
        return np.interp(u, along[order], across[order])


def _frame(points: np.ndarray) -> _Frame:
    a, b = points[CORNERS[0]], points[CORNERS[1]]
    width = float(np.linalg.norm(b - a))
    unit = (b - a) / max(width, 1e-6)
    normal = np.array([-unit[1], unit[0]])
    if normal[1] < 0:
        normal = -normal
    return _Frame((a + b) / 2, np.array([normal[1], -normal[0]]), normal, width)


def teeth_heights(decode: np.ndarray, points: np.ndarray) -> np.ndarray:
    """How tall the teeth the decode shows are at each inner-lip pair (crop pixels):
    the length, along the line across the lips there, that is clearly brighter
    than the skin beside the nose."""
    grey = np.asarray(decode, np.float64).mean(-1)
    pts = np.asarray(points, np.float64)
    frame = _frame(pts)
    normal, width = frame.normal, frame.width
    # The skin's level: the cheeks on the nose tip's row, between the corners.
    nose_y = pts[NOSE_TIP, 1]
    xs = np.linspace(pts[CORNERS[0], 0], pts[CORNERS[1], 0], 9)
    skin = float(np.median(_bilinear(grey, xs, np.full_like(xs, nose_y))))
    step = 0.25
    t = np.arange(-READ_REACH * width, READ_REACH * width + 1e-9, step)
    out = np.empty(len(UPPER_INNER))
    for k, (u, lo) in enumerate(zip(UPPER_INNER, LOWER_INNER)):
        mid = (pts[u] + pts[lo]) / 2
        line = _bilinear(grey, mid[0] + t * normal[0], mid[1] + t * normal[1])
        out[k] = float((line > skin + TEETH_ABOVE).sum()) * step
    return out


def _along(values: np.ndarray) -> np.ndarray:
    padded = np.pad(values, 1, mode="edge")
    return 0.25 * padded[:-2] + 0.5 * padded[1:-1] + 0.25 * padded[2:]


def parting(
    start: np.ndarray, edited: np.ndarray, p0: np.ndarray, p1: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per inner-lip pair, smoothed along the mouth: how much taller the decode's
    teeth get from ``start`` to ``edited`` (crop pixels; negative where they are
    covered), and what share of the start's teeth still shows (1 where it showed
    none)."""
    before, after = teeth_heights(start, p0), teeth_heights(edited, p1)
    kept = np.where(before > 0.5, np.clip(after / np.maximum(before, 1e-6), 0.0, 1.0), 1.0)
    return _along(after - before), _along(kept)


def lip_motion(moved: np.ndarray, change: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """(468, 2) extra motion (photo pixels) that parts the lips by ``change`` at each
    inner-lip pair, or brings them together (by ``change``, or to the share ``kept``
    of their gap if that is closer; never past meeting), from the mesh's points as
    already ``moved``. The skin goes with the lips, less and less toward
    the nose's base above and the chin below, and not at all past the corners, so no
    point is overtaken by a lip (which would fold the skin between)."""
    pts = np.asarray(moved, np.float64)
    frame = _frame(pts)
    width = frame.width
    up, lo = pts[list(UPPER_INNER)], pts[list(LOWER_INNER)]
    u_pair, _ = frame.coords((up + lo) / 2)
    top, bottom = frame.coords(up)[1], frame.coords(lo)[1]
    gap = np.maximum(bottom - top, 0.0)
    # A mouth already open wide shows its own teeth: it opens no further (stretched
    # teeth look long, not happy).
    wide = np.clip(gap / (OPEN_WIDE * width), 0.0, 1.0)
    floor = np.minimum(gap, MEET_GAP * width)
    closer = np.minimum(gap + change, gap * kept)
    new_gap = np.maximum(np.where(change > 0, gap + change * (1 - wide), closer), floor)
    # Opening: the upper lip rises UPPER_SHARE of the way. Closing: the lips meet on
    # a smooth line nearer the upper lip (the jaw does most of the work), the more
    # so the more they close.
    share = np.where(new_gap > gap, UPPER_SHARE, CLOSE_SHARE)
    meet = top + share * gap
    if (new_gap < gap).any():
        fit = np.polyval(np.polyfit(u_pair, meet, 2), u_pair)
        closed = np.clip(1.0 - new_gap / np.maximum(gap, 1e-6), 0.0, 1.0)
        meet = np.where(new_gap < gap, meet + closed * (fit - meet), meet)
    rise_k = top - (meet - share * new_gap)
    drop_k = (meet + (1 - share) * new_gap) - bottom
    follows = np.where(new_gap < gap, JAW_FOLLOWS, CHIN_FOLLOWS)
    # The lips meet at the inner corners: nothing parts there, nor beyond.
    u_end, v_end = frame.coords(pts[list(INNER_CORNERS)])
    u_k = np.append(u_pair, u_end)
    order = np.argsort(u_k)
    u, v = frame.coords(pts)

    def along(values: np.ndarray, at_ends: np.ndarray) -> np.ndarray:
        return np.interp(u, u_k[order], np.append(values, at_ends)[order], left=0.0, right=0.0)

    zero = np.zeros(2)
    rise, drop, chin_share = along(rise_k, zero), along(drop_k, zero), along(follows, zero)
    top, bottom = along(top, v_end), along(bottom, v_end)
    nose, chin = (float(c) for c in frame.coords(pts[[NOSE_BASE, CHIN]])[1])
    above = smoothstep((v - nose) / np.maximum(top - nose, 1e-6))
    below = 1.0 - (1.0 - chin_share) * smoothstep((v - bottom) / np.maximum(chin - bottom, 1e-6))
    mid = (top + bottom) / 2
    side = 1.0 - smoothstep((np.abs(u) - width / 2) / (SIDE_REACH * width))
    upper = v < mid
    # A closed mouth's inner lips lie on one line: which lip they are comes from the mesh.
    upper[list(UPPER_INNER)], upper[list(LOWER_INNER)] = True, False
    amount = np.where(upper, -rise * above, drop * below) * side
    return amount[:, None] * frame.normal


def teeth_pattern(points: np.ndarray, window: tuple[int, int, int, int]) -> np.ndarray:
    """Over the window (y0, y1, x0, x1), what shows in the mouth's opening between
    the (moved) inner lips: 1 for the upper teeth, ``LOWER_DIM`` for the lower
    teeth's edges, 0 for the dark inside; darker toward the corners."""
    pts = np.asarray(points, np.float64)
    frame = _frame(pts)
    u, v = frame.pixels(window)
    top, bottom = frame.curve(pts[list(UPPER_INNER)], u), frame.curve(pts[list(LOWER_INNER)], u)
    depth = (v - top) / np.maximum(bottom - top, 1e-3)  # 0 at the upper lip, 1 at the lower

    def step(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
        return smoothstep((x - lo) / (hi - lo))

    upper = 1.0 - step(depth, UPPER_TEETH - 0.08, UPPER_TEETH + 0.04)
    lower = LOWER_DIM * step(depth, LOWER_FROM - 0.04, LOWER_FROM + 0.06)
    across = np.abs(u) / max(frame.width / 2, 1e-6)
    side = 1.0 - step(across, CORRIDOR, 1.0)
    # The upper lip shades the top of the teeth; the teeth further back, toward the
    # corners, are in the mouth's shade.
    shade = (1.0 - LIP_SHADE * (1.0 - step(depth, 0.0, 0.18))) * (1.0 - BACK_SHADE * across**2)
    return np.clip(np.maximum(upper * shade, lower) * side, 0.0, 1.0)


def seam_line(points: np.ndarray, window: tuple[int, int, int, int], sigma: float) -> np.ndarray:
    """Over the window, a line (1 on it, Gaussian of ``sigma`` photo pixels across)
    midway between the (moved) inner lips, from corner to corner: where closed lips
    meet."""
    pts = np.asarray(points, np.float64)
    frame = _frame(pts)
    u, v = frame.pixels(window)
    line = frame.curve((pts[list(UPPER_INNER)] + pts[list(LOWER_INNER)]) / 2, u)
    along = np.clip(1.0 - np.abs(u) / max(frame.width / 2, 1e-6), 0.0, 1.0)
    return np.exp(-0.5 * ((v - line) / max(sigma, 0.5)) ** 2) * np.minimum(1.0, 4.0 * along)
