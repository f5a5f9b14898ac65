"""The table of edit modes: a new mode is one module plus one entry, and the warp mode."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
from facephotos import FACES, Placement, scene

import conceptvae.options
from conceptvae.editing import edit
from conceptvae.editing.modes import Mode, get_mode
from conceptvae.faces.colour import lab_to_rgb, rgb_to_lab
from conceptvae.faces.deform import dense_field, remap, tps_field

TWO = [Placement(FACES[0], (150, 160), 2.2, 8.0), Placement(FACES[1], (390, 170), 1.8, -5.0)]


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return scene(520, 340, TWO, seed=3)


def test_a_new_mode_is_one_module_and_one_table_entry(monkeypatch, photo):
    module = types.ModuleType("conceptvae.editing.modes.toy")
    seen = []

    def render(case):  # inverts each whole input's decode; leaves a photo's faces alone
        seen.append(case.face is not None)
        return case.photo if case.face is not None else 1.0 - case.edited

    module.MODE = Mode(render, needs_start=False, own_resolution=False)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(conceptvae.options.EDIT_MODES, "toy", "inverted decodes")
    assert get_mode("toy") is module.MODE
    r = edit("faces", [photo], "smile", 1.5, mode="toy")
    assert r.mode == "toy" and seen == [True, True]
    np.testing.assert_array_equal(np.rint(r.images[0] * 255).astype(np.uint8), photo)
    flat = np.full((64, 64, 1), 0.25, np.float32)
    r = edit("faces", [flat], "smile", 0.0, mode="toy", align=False)
    np.testing.assert_allclose(r.images[0], 1.0 - edit("faces", [flat], "smile", 0.0,
                               mode="decode", align=False).images[0], atol=1e-6)  # fmt: skip


def test_an_unknown_mode_is_refused_before_any_work():
    with pytest.raises(Exception, match="mode must be one of decode, detail, blend, warp"):
        edit("faces", ["does-not-exist.png"], "smile", mode="nope")


def test_the_thin_plate_spline_passes_through_its_points():
    rng = np.random.default_rng(0)
    pts = rng.uniform(0, 100, (30, 2))
    vals = rng.normal(0, 3, (30, 2))
    np.testing.assert_allclose(tps_field(pts, vals, pts), vals, atol=0.05)
    # Zero values everywhere: no motion anywhere.
    assert np.abs(dense_field(pts, np.zeros_like(vals), (0, 50, 0, 70))).max() < 1e-9


def test_remap_at_pixel_centres_returns_the_pixels_exactly():
    im = np.random.default_rng(1).integers(0, 256, (20, 30, 3)).astype(np.uint8)
    ys, xs = np.mgrid[0:20, 0:30].astype(np.float64)
    np.testing.assert_array_equal(remap(im, xs + 0.5, ys + 0.5), im.astype(np.float32))
    shifted = remap(im, xs + 1.5, ys + 0.5)  # one pixel to the right
    np.testing.assert_array_equal(shifted[:, :-1], im[:, 1:].astype(np.float32))


def test_lab_round_trip():
    rgb = np.random.default_rng(2).uniform(0, 1, (500, 3))
    np.testing.assert_allclose(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=1e-6)
    white = rgb_to_lab(np.ones(3))
    np.testing.assert_allclose(white, [100, 0, 0], atol=1e-3)


def _chroma(rgb: np.ndarray) -> np.ndarray:
    lab = rgb_to_lab(rgb.astype(np.float64) / 255)
    return np.hypot(lab[..., 1], lab[..., 2])


def test_warp_moves_the_faces_and_nothing_else(photo):
    same = edit("faces", [photo], "smile", 0.0, mode="warp")
    np.testing.assert_array_equal(np.rint(same.images[0] * 255).astype(np.uint8), photo)
    r = edit("faces", [photo], "smile", 1.5, mode="warp")
    out = np.rint(r.images[0] * 255).astype(np.uint8)
    assert out.shape == photo.shape and len(r.faces[0]) == 2
    changed = np.abs(out.astype(int) - photo).max(-1) > 0
    assert changed.any()
    # Every changed pixel lies near a found face (within twice its box about its centre).
    near = np.zeros_like(changed)
    for f in r.faces[0]:
        x, y, w, h = f.box
        cx, cy = x + w / 2, y + h / 2
        near[max(0, int(cy - h)) : int(cy + h), max(0, int(cx - w)) : int(cx + w)] = True
    assert not (changed & ~near).any()
    # Colour: pixels are moved and relit, never tinted: on the changed pixels the
    # chroma of the output stays within the range the photo's own face pixels span.
    assert np.percentile(_chroma(out[changed]), 99) <= np.percentile(_chroma(photo[near]), 99) + 2


def test_warp_on_an_input_without_a_found_face_is_detail():
    flat = np.full((64, 64, 1), 0.5, np.float32)
    a = edit("faces", [flat], "smile", 1.0, mode="warp", align=False).images[0]
    b = edit("faces", [flat], "smile", 1.0, mode="detail", align=False).images[0]
    np.testing.assert_array_equal(a, b)


def test_warp_leaves_turned_and_tiny_faces_with_a_warning(photo):
    from conceptvae.faces import find_faces
    from conceptvae.faces.reshape import MIN_FACE_WIDTH, frontal, unsuitable

    face = find_faces(photo)[0]
    assert frontal(face.mesh) > 0.8 and unsuitable(face) is None
    turned = face.mesh.copy()
    nose = turned[1, :2]
    turned[454, :2] = nose + (turned[454, :2] - nose) * 0.2  # the far cheek behind the nose
    assert frontal(turned) < 0.35
    assert "turned too far" in unsuitable(type(face)(face.box, face.score, face.landmarks, turned))
    small = type(face)((0.0, 0.0, MIN_FACE_WIDTH - 1.0, 40.0), face.score, face.landmarks, face.mesh)
    assert "too small" in unsuitable(small)


def test_a_skipped_face_is_named_once_and_left_exactly(monkeypatch, photo):
    import conceptvae.faces.reshape as reshape

    monkeypatch.setattr(reshape, "MIN_FRONTAL", 2.0)  # every face counts as turned
    with pytest.warns(UserWarning, match=r"face 1 is turned too far from frontal"):
        r = edit("faces", [photo], "smile", 1.5, mode="warp")
    np.testing.assert_array_equal(np.rint(r.images[0] * 255).astype(np.uint8), photo)
    # Chosen by number, it is edited all the same.
    chosen = edit("faces", [photo], "smile", 1.5, mode="warp", face=1)
    assert (np.rint(chosen.images[0] * 255).astype(np.uint8) != photo).any()
