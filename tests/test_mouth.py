"""How far the warp parts or closes a photographed mouth, and what it draws inside."""

from __future__ import annotations

import numpy as np
import pytest
from facephotos import FACES, Placement, scene
from PIL import Image, ImageDraw

from conceptvae.editing import edit
from conceptvae.faces import find_faces
from conceptvae.faces.mouth import (
    CHIN,
    INNER_LIPS,
    LOWER_INNER,
    MEET_GAP,
    NOSE_BASE,
    UPPER_INNER,
    lip_motion,
    teeth_heights,
    teeth_pattern,
)
from conceptvae.faces.paste import MOUTH


def _mouth(gap: float) -> np.ndarray:
    """A (468, 2) point set with a level mouth 24 px wide centred at (32, 42), its
    inner lips ``gap`` apart, the nose's base 10 px above, the chin 14 px below,
    and every other point far to the side."""
    pts = np.tile([[200.0, 42.0]], (468, 1))
    pts[61], pts[291] = (20.0, 42.0), (44.0, 42.0)
    pts[78], pts[308] = (21.0, 42.0), (43.0, 42.0)
    xs = np.linspace(23.0, 41.0, len(UPPER_INNER))
    for x, u, lo in zip(xs, UPPER_INNER, LOWER_INNER):
        pts[u] = (x, 42.0 - gap / 2)
        pts[lo] = (x, 42.0 + gap / 2)
    pts[1], pts[NOSE_BASE], pts[CHIN] = (32.0, 28.0), (32.0, 32.0), (32.0, 56.0)
    return pts


def _gaps(pts: np.ndarray) -> np.ndarray:
    return pts[list(LOWER_INNER), 1] - pts[list(UPPER_INNER), 1]


def test_teeth_heights_reads_the_bright_band_between_the_lips():
    pts = _mouth(2.0)
    decode = np.full((64, 64, 1), 0.5, np.float32)
    assert np.all(teeth_heights(decode, pts) == 0)
    decode[40:45, 22:43] = 0.9  # a band 5 px tall
    h = teeth_heights(decode, pts)
    assert np.all(np.abs(h[2:-2] - 5.0) <= 1.0)


def test_lip_motion_parts_the_lips_and_moves_nothing_past_the_corners():
    pts = _mouth(0.0)
    change = np.full(len(UPPER_INNER), 6.0)
    moved = pts + lip_motion(pts, change, np.ones_like(change))
    np.testing.assert_allclose(_gaps(moved), 6.0, atol=1e-6)
    # The upper lip rises more than the lower drops; the nose's base and everything
    # beyond the corners (by more than the reach) stay put.
    assert moved[13, 1] < 42.0 - 3.0 < 42.0 + 2.0 < moved[14, 1]
    for i in (NOSE_BASE, 61 + 0, 291):
        np.testing.assert_allclose(moved[i], pts[i], atol=1e-9)
    far = [i for i in range(468) if pts[i, 0] == 200.0]
    np.testing.assert_allclose(moved[far], pts[far])
    # The chin goes along a little.
    assert 42.0 < moved[CHIN, 1] - 56.0 + 42.0 < 42.0 + 3.0


def test_closing_lips_stop_short_of_meeting_and_never_cross():
    pts = _mouth(8.0)
    change = np.full(len(UPPER_INNER), -30.0)
    gaps = _gaps(pts + lip_motion(pts, change, np.zeros_like(change)))
    np.testing.assert_allclose(gaps, MEET_GAP * 24.0, atol=1e-6)
    # Keeping half of the decode's teeth closes half the gap, when that is the nearer.
    half = _gaps(pts + lip_motion(pts, np.full_like(change, -1.0), np.full_like(change, 0.5)))
    np.testing.assert_allclose(half, 4.0, atol=1e-6)


def test_teeth_pattern_is_teeth_under_the_upper_lip_and_dark_at_the_corners():
    pts = _mouth(10.0)
    t = teeth_pattern(pts, (0, 64, 0, 64))
    assert t.min() >= 0.0 and t.max() <= 1.0
    assert t[40, 32] > 0.9  # the upper teeth, a little below the upper lip
    assert t[45, 32] < 0.3  # the dark gap above the lower lip
    assert t[39, 42] < t[39, 32]  # toward a corner: the dark corridor


@pytest.fixture(scope="module")
def closed() -> np.ndarray:
    return scene(300, 260, [Placement(FACES[0], (150, 130), 3.0, 0.0)], seed=3)


@pytest.fixture(scope="module")
def open_mouth() -> np.ndarray:
    """A smiling face whose mouth is painted open: teeth between the inner lips."""
    photo = scene(300, 260, [Placement(FACES[1], (150, 130), 3.0, 0.0)], seed=3)
    inner = find_faces(photo)[0].mesh[list(INNER_LIPS), :2]
    c = inner.mean(0)
    im = Image.fromarray(photo)
    ImageDraw.Draw(im).polygon([tuple(c + (p - c) * [1.0, 2.5]) for p in inner],
                               fill=(235, 230, 220))  # fmt: skip
    return np.asarray(im)


def _mouth_box(photo: np.ndarray) -> tuple[slice, slice]:
    lips = find_faces(photo)[0].mesh[list(MOUTH), :2]
    (x0, y0), (x1, y1) = lips.min(0) - 10, lips.max(0) + 10
    return slice(int(y0), int(y1)), slice(int(x0), int(x1))


def _bright(a: np.ndarray) -> int:
    return int((a.astype(int).sum(-1) > 600).sum())


def test_warp_opens_a_closed_mouth_and_draws_teeth_in_it(closed):
    box = _mouth_box(closed)
    out = np.rint(edit("faces", [closed], "smile", 1.5, mode="warp").images[0] * 255)
    # Teeth: lighter than the face's lightest skin, where the lips were.
    rose = out[box].mean(-1) - closed[box].astype(float).mean(-1)
    assert (rose > 30).sum() > 100
    assert out[box].mean(-1).max() > closed[box].mean(-1).max() + 10


def test_warp_closes_an_open_mouth_over_its_teeth(open_mouth):
    box = _mouth_box(open_mouth)
    assert _bright(open_mouth[box]) > 200
    out = np.rint(edit("faces", [open_mouth], "smile", -1.5, mode="warp").images[0] * 255)
    assert _bright(out.astype(np.uint8)[box]) < 0.1 * _bright(open_mouth[box])
