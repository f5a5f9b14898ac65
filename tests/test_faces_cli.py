"""Faces in photographs through the CLI and the API: found, edited, pasted back."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import invoke, loaded
from facephotos import FACES, TWO_FACES, Placement, scene
from PIL import Image
from test_cli import assert_one_line_error

import conceptvae

TWO = TWO_FACES


def _box_mask(shape, faces, grow: float = 0.15) -> np.ndarray:
    """True within each face's box, grown by ``grow`` of its size on every side."""
    m = np.zeros(shape[:2], bool)
    for f in faces:
        x, y, w, h = f["box"] if isinstance(f, dict) else f.box
        x0, y0 = int(max(0, x - grow * w)), int(max(0, y - grow * h))
        m[y0 : int(y + h + grow * h) + 1, x0 : int(x + w + grow * w) + 1] = True
    return m


def _blend_weights(arr: np.ndarray, faces) -> np.ndarray:
    """The paste-back weights of an edit of ``arr``, as editing computes them."""
    from conceptvae.faces.align import SMILES_ALIGNMENT, align
    from conceptvae.faces.paste import paste_weights

    total = np.zeros(arr.shape[:2])
    for f in faces:
        m = align(arr, f, SMILES_ALIGNMENT).to_crop
        (y0, y1, x0, x1), wt = paste_weights(arr, m, SMILES_ALIGNMENT, f.mesh)
        total[y0:y1, x0:x1] = np.maximum(total[y0:y1, x0:x1], wt)
    return total


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> tuple:
    path = tmp_path_factory.mktemp("photos") / "two.png"
    arr = scene(480, 320, TWO, seed=7)
    Image.fromarray(arr).save(path)
    return path, arr


def test_faces_json_lists_every_face(runner, photo) -> None:
    path, _ = photo
    r = invoke(runner, "faces", path, "--json")
    assert r.exit_code == 0, r.output
    faces = json.loads(r.stdout)
    assert isinstance(faces, list) and len(faces) == 2
    for f, p in zip(sorted(faces, key=lambda f: f["box"][0]), TWO):
        assert set(f) == {"box", "score", "landmarks"}
        x, y, w, h = f["box"]
        assert x <= p.centre[0] <= x + w and y <= p.centre[1] <= y + h
        assert 0.5 <= f["score"] <= 1
        assert set(f["landmarks"]) == {
            "right_eye",
            "left_eye",
            "nose_tip",
            "mouth_right",
            "mouth_left",
        }
        assert all(len(v) == 2 for v in f["landmarks"].values())


def test_faces_overlay_and_plain_listing(runner, photo, tmp_path) -> None:
    path, arr = photo
    out = tmp_path / "overlay.png"
    r = invoke(runner, "faces", path, "-o", out)
    assert r.exit_code == 0 and "2 faces" in r.stdout and str(out) in r.stdout
    drawn = np.asarray(loaded(out))
    assert drawn.shape == arr.shape and not np.array_equal(drawn, arr)


def test_faces_are_drawn_on_a_copy_unless_the_caller_gives_the_image_up(photo) -> None:
    # The command reads each photograph once more for its overlay and has no
    # other use for it: drawing on a copy held a large photograph twice.
    from conceptvae.faces.overlay import draw_faces

    _, arr = photo
    faces = conceptvae.find_faces(arr)
    image = Image.fromarray(arr)
    kept = draw_faces(image, faces)
    assert kept is not image and np.array_equal(np.asarray(image), arr)
    given = draw_faces(image, faces, copy=False)
    assert given is image and np.array_equal(np.asarray(image), np.asarray(kept))
    grey = Image.fromarray(arr[..., 0])
    assert draw_faces(grey, faces, copy=False).mode == "RGB" and grey.mode == "L"


def test_no_face_is_one_line_error_and_nothing_written(runner, tmp_path) -> None:
    blank = tmp_path / "wall.png"
    Image.fromarray(scene(300, 200, [], seed=1)).save(blank)
    out = tmp_path / "edited.png"
    for args in (["edit", blank, "-c", "smile", "-o", out],
                 ["morph", blank, "seed:1", "--frames", "3", "-o", tmp_path / "m.gif"]):  # fmt: skip
        r = invoke(runner, *args)
        assert_one_line_error(r, str(blank), "no face found", "--no-align")
    assert_one_line_error(invoke(runner, "faces", blank, "-o", out), str(blank), "no face found")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wall.png"]
    # --no-align takes the picture as a face crop, as before.
    r = invoke(runner, "edit", blank, "-c", "smile", "--no-align", "-o", out)
    assert r.exit_code == 0 and out.exists()


def test_edit_photo_edits_every_face_and_nothing_else(runner, photo, tmp_path) -> None:
    path, arr = photo
    out = tmp_path / "smile.png"
    r = invoke(runner, "edit", path, "-c", "smile", "-a", "2", "-o", out)
    assert r.exit_code == 0, r.output
    got = np.asarray(loaded(out))
    assert got.shape == arr.shape  # the input's size, in colour
    faces = conceptvae.find_faces(arr)
    changed = (got != arr).any(-1)
    assert not changed[~_box_mask(arr.shape, faces)].any()  # bit-exact beyond the faces
    for f in faces:
        assert changed[_box_mask(arr.shape, [f], 0.0)].sum() > 200  # every face edited
    # Luminance only: R, G and B move together where nothing clipped.
    d = got.astype(int) - arr.astype(int)
    ok = changed & (got.max(-1) < 255) & (got.min(-1) > 0)
    assert np.abs(d[ok] - d[ok].mean(-1, keepdims=True)).max() <= 1
    # Seam-free: the edit fades out; where the blend's weight is small, so is the change.
    weights = _blend_weights(arr, faces)
    change = np.abs(d).max(-1)
    fringe = (weights > 0) & (weights < 0.1)
    assert fringe.sum() > 100 and change[fringe].max() <= 0.15 * change.max() + 2
    assert change[weights == 0].max() == 0
    # Same command, same bytes.
    again = tmp_path / "again.png"
    invoke(runner, "edit", path, "-c", "smile", "-a", "2", "-o", again)
    assert again.read_bytes() == out.read_bytes()


def test_the_paste_back_mask_covers_the_whole_mouth(photo) -> None:
    # A smile opens the mouth and turns up its corners: the band from the upper lip
    # to the lower lip's inner edge must be inside the blend (the first mask
    # stopped above the lower lip and short of the corners: weights 0.2-0.5 on the
    # inner lips, under 0.5 at the corners). Mesh 0/13: the upper lip's outer and
    # inner midpoints, 14: the lower lip's inner midpoint, 88/318 and 78/308:
    # the inner lips towards the corners, 61/291: the corners.
    _, arr = photo
    faces = conceptvae.find_faces(arr)
    weights = _blend_weights(arr, faces)
    for f in faces:
        w = {p: weights[int(f.mesh[p, 1]), int(f.mesh[p, 0])] for p in
             (0, 13, 14, 88, 318, 78, 308, 61, 291)}  # fmt: skip
        assert min(w[p] for p in (0, 13, 14, 88, 318)) > 0.9, w
        assert np.mean(list(w.values())) > 0.85, w


def test_reconstruct_and_encode_use_the_faces_of_a_photograph(runner, photo, tmp_path) -> None:
    path, arr = photo
    out = tmp_path / "recon.png"
    assert invoke(runner, "reconstruct", path, "-o", out).exit_code == 0
    got = np.asarray(loaded(out))
    faces = conceptvae.find_faces(arr)
    assert got.shape == arr.shape  # the photograph, its faces reconstructed in place
    changed = (got != arr).any(-1)
    assert not changed[~_box_mask(arr.shape, faces)].any()
    assert all(changed[_box_mask(arr.shape, [f], 0.0)].sum() > 200 for f in faces)
    # encode: one latent per image, its largest face, as the edit encodes it.
    z = tmp_path / "z.npy"
    assert invoke(runner, "encode", path, "-o", z).exit_code == 0
    r = conceptvae.edit("faces", path, "smile", 0.0, face="largest")
    np.testing.assert_allclose(np.load(z), r.original_latents, atol=1e-5)
    assert invoke(runner, "encode", path, "--face", "all", "-o", z).exit_code == 2


def test_face_selection(runner, photo, tmp_path) -> None:
    path, arr = photo
    faces = conceptvae.find_faces(arr)
    results = {}
    for choice in ("1", "2", "largest"):
        out = tmp_path / f"face{choice}.png"
        assert invoke(runner, "edit", path, "-c", "smile", "-a", "2", "--face", choice,
                      "-o", out).exit_code == 0  # fmt: skip
        results[choice] = (np.asarray(loaded(out)) != arr).any(-1)
    for k, f in enumerate(faces, 1):
        inside = _box_mask(arr.shape, [f])
        assert results[str(k)][inside].any() and not results[str(k)][~inside].any()
    largest = max(range(2), key=lambda i: faces[i].area)
    assert np.array_equal(results["largest"], results[str(largest + 1)])
    r = invoke(runner, "edit", path, "-c", "smile", "--face", "3", "-o", tmp_path / "x.png")
    assert_one_line_error(r, "face 3 asked for, but 2 faces found")
    assert not (tmp_path / "x.png").exists()
    r = invoke(runner, "edit", path, "-c", "smile", "--face", "one")
    assert r.exit_code == 2 and "all, largest or a face number" in r.output


def test_crops_of_the_model_size_are_aligned_too(runner, tmp_path) -> None:
    # The same face framed off the template (shrunk and shifted inside a 64x64
    # crop): aligned first, the model sees the face as it sees the well-framed
    # one, and redraws it nearly the same; taken as it is, it draws another face.
    face = Image.open(FACES[0]).convert("L")
    off = Image.new("L", (64, 64), int(np.median(np.asarray(face))))
    off.paste(face.resize((54, 54), Image.LANCZOS), (8, 2))
    src = tmp_path / "off.png"
    off.save(src)
    ref, a, b = tmp_path / "ref.png", tmp_path / "a.png", tmp_path / "b.png"
    assert invoke(runner, "reconstruct", FACES[0], "-o", ref).exit_code == 0
    assert invoke(runner, "reconstruct", src, "-o", a).exit_code == 0
    assert invoke(runner, "reconstruct", src, "--no-align", "-o", b).exit_code == 0
    grey = lambda p: np.asarray(loaded(p).convert("L"), np.float64) / 255  # noqa: E731
    err = {k: float(((grey(p) - grey(ref)) ** 2).mean()) for k, p in (("aligned", a), ("as is", b))}
    assert loaded(a).size == (64, 64)
    assert err["aligned"] < 0.2 * err["as is"], err
    # Photo-keeping modes put the edit back in the crop's own framing: outside
    # the aligned crop's reach (the corner the shrunk face leaves), the input.
    out = tmp_path / "d.png"
    assert invoke(runner, "edit", src, "-c", "smile", "--mode", "detail", "-o", out).exit_code == 0
    assert np.array_equal(np.asarray(loaded(out).convert("L"))[58:, :4], np.asarray(off)[58:, :4])
    # --face N picks among a photograph's faces; a crop is one face whatever it says.
    assert invoke(runner, "edit", src, "-c", "smile", "--face", "3", "-o", a).exit_code == 0


def test_a_model_size_image_without_a_face_is_used_as_it_is(runner, tmp_path) -> None:
    src = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8)).save(src)
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    invoke(runner, "edit", src, "-c", "smile", "-a", "1.5", "-o", a)
    invoke(runner, "edit", src, "-c", "smile", "-a", "1.5", "--no-align", "-o", b)
    assert a.read_bytes() == b.read_bytes()
    assert loaded(a).size == (64, 64)


def test_exif_rotated_rgba_and_sixteen_bit_photos(runner, photo, tmp_path) -> None:
    _, arr = photo
    # Stored on its side with an EXIF tag that turns it upright.
    rotated = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(np.rot90(arr, 1).copy()).save(rotated, exif=exif, quality=95)
    out = tmp_path / "rotated_out.png"
    assert invoke(runner, "edit", rotated, "-c", "smile", "-o", out).exit_code == 0
    assert loaded(out).size == (480, 320)
    # Transparent pixels and 16-bit grey still work, at the input's size.
    rgba = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([arr, np.full(arr.shape[:2], 200, np.uint8)]), "RGBA").save(rgba)
    deep = tmp_path / "deep.png"
    grey = (np.asarray(Image.fromarray(arr).convert("L"), np.uint16) * 257).astype(np.uint16)
    Image.fromarray(grey).save(deep)
    for src in (rgba, deep):
        out = tmp_path / f"{src.stem}_out.png"
        r = invoke(runner, "edit", src, "-c", "smile", "-o", out)
        assert r.exit_code == 0, r.output
        assert loaded(out).size == (480, 320)


def test_traverse_and_morph_use_the_faces(runner, photo, tmp_path) -> None:
    path, _ = photo
    strip = tmp_path / "strip.png"
    r = invoke(runner, "traverse", path, "-c", "smile", "--steps", "3", "-o", strip)
    assert r.exit_code == 0 and loaded(strip).size[0] > 3 * 64
    gif = tmp_path / "m.gif"
    r = invoke(runner, "morph", path, FACES[1], "--face", "2", "--frames", "4", "-o", gif)
    assert r.exit_code == 0, r.output
    assert loaded(gif).size == (64, 64)


def test_api_mirrors_the_cli(photo) -> None:
    _, arr = photo
    faces = conceptvae.find_faces(arr)
    assert len(faces) == 2
    res = conceptvae.edit("faces", arr, "smile", 2.0, face="largest")
    assert res.images[0].shape == (320, 480, 3)
    assert len(res.faces[0]) == 1
    crop = conceptvae.edit("faces", arr, "smile", 2.0, align=False)
    assert crop.images[0].shape[0] == crop.images[0].shape[1]  # the old whole-image path


def test_a_face_in_a_photograph_gets_the_models_photo_knobs(photo, tmp_path) -> None:
    # edit_defaults.photo_detail is laid over edit_defaults.detail for faces found
    # in a larger photograph, and only there: a 64x64 crop keeps the crop knobs.
    import shutil

    from conceptvae import load_model
    from conceptvae.editing import blend_settings
    from conceptvae.errors import ModelError
    from conceptvae.model import files

    _, arr = photo
    shipped = load_model("faces")
    d = tmp_path / "faces"
    shutil.copytree(shipped.path, d, ignore=shutil.ignore_patterns("*.png", "*.jpg"))
    meta = files.read_meta(d)
    defaults = meta["edit_defaults"]
    crop_knobs = blend_settings(shipped, "detail")
    photo_knobs = blend_settings(shipped, "detail", in_photo=True)
    assert photo_knobs != crop_knobs
    assert photo_knobs.gain == defaults["photo_detail"]["gain"]
    # Knobs photo_detail does not name come from detail.
    files.write_meta(d, {**meta, "edit_defaults": {**defaults, "photo_detail": {"gain": 0.5}}})
    half = load_model(d)
    knobs = blend_settings(half, "detail", in_photo=True)
    assert knobs.gain == 0.5 and knobs.rel_low == crop_knobs.rel_low
    weak = conceptvae.edit(half, arr, "smile", 2.0).images[0]
    strong = conceptvae.edit(shipped, arr, "smile", 2.0).images[0]
    before = arr.astype(np.float32) / 255
    assert np.abs(weak - before).sum() < 0.8 * np.abs(strong - before).sum()
    face = np.asarray(Image.open(FACES[0]).convert("L"))
    np.testing.assert_array_equal(  # a crop: photo_detail plays no part
        conceptvae.edit(half, face, "smile", 2.0).images[0],
        conceptvae.edit(shipped, face, "smile", 2.0).images[0],
    )
    files.write_meta(d, {**meta, "edit_defaults": {**defaults, "photo_detail": {"gian": 1}}})
    with pytest.raises(ModelError, match="edit_defaults.photo_detail"):
        conceptvae.edit(load_model(d), arr, "smile", 2.0)


def test_align_faces_folder_for_training(runner, photo, tmp_path) -> None:
    path, _ = photo
    src = tmp_path / "photos"
    src.mkdir()
    (src / "two.png").write_bytes(path.read_bytes())
    Image.fromarray(scene(200, 200, [], seed=3)).save(src / "empty.png")
    (src / "labels.csv").write_text("file,smile\ntwo.png,1\nempty.png,0\n")
    out = tmp_path / "crops"
    r = invoke(runner, "align-faces", src, "-o", out, "--size", "32")
    assert r.exit_code == 0, r.output
    assert "1 crops" in r.stdout and "empty.png" in r.stdout
    assert loaded(out / "two.png").size == (32, 32)
    assert (out / "labels.csv").read_text().startswith("file,smile")
    entry = json.loads((out / "face_alignment.json").read_text())["face_alignment"]
    assert entry["image_size"] == 32 and len(entry["template"]) == 5
    from conceptvae.training.results import face_alignment as _face_alignment

    assert _face_alignment(out, 64)["image_size"] == 64
    assert _face_alignment(src, 64) is None


def test_the_photo_path_never_imports_tensorflow(photo, tmp_path) -> None:
    from conftest import run_cli_reporting_imports

    path, _ = photo
    commands = [
        ["faces", str(path), "--json"],
        ["edit", str(path), "-c", "smile", "-m", "faces", "-o", str(tmp_path / "e.png")],
    ]
    proc, codes, heavy = run_cli_reporting_imports(commands, ("tensorflow", "keras"))
    assert codes == [0, 0], proc.stderr
    assert heavy == [], "the face path imported " + ", ".join(heavy[:5])
    assert "XNNPACK" not in proc.stderr  # the runtime's INFO line is kept off the terminal
    assert (tmp_path / "e.png").is_file()


def test_a_model_trained_on_aligned_crops_is_a_face_model(runner, tmp_path) -> None:
    """align-faces -> train -> the model finds, aligns and pastes back faces itself."""
    from conceptvae.training import train

    src = tmp_path / "photos"
    src.mkdir()
    for k in range(12):
        p = Placement(FACES[k % 2], (100 + 5 * (k % 3), 90), 1.6 + 0.1 * (k % 4), 4 * (k % 3) - 4)
        Image.fromarray(scene(220, 180, [p], seed=k)).save(src / f"p{k:02d}.png")
    crops = tmp_path / "crops"
    assert invoke(runner, "align-faces", src, "-o", crops, "--size", "16",
                  "--grayscale").exit_code == 0  # fmt: skip
    model = tmp_path / "mine"
    train(crops, model, latent_dim=4, filters=[8], epochs=1, batch_size=8, seed=0, verbose=0)
    meta = json.loads((model / "meta.json").read_text())
    assert meta["face_alignment"]["image_size"] == 16
    assert len(meta["face_alignment"]["template"]) == 5
    photo = src / "p00.png"
    out = tmp_path / "edited.png"
    r = invoke(runner, "reconstruct", photo, "-m", model, "-o", tmp_path / "r.png")
    assert r.exit_code == 0, r.output
    # A user model edits photographs through its own alignment (pc1 from --pca).
    assert invoke(runner, "concepts", "build", model, crops, "--pca", "1").exit_code == 0
    r = invoke(runner, "edit", photo, "-c", "pc1", "-a", "3", "-m", model, "-o", out)
    assert r.exit_code == 0, r.output
    assert loaded(out).size == (220, 180)


def test_face_runtime_refuses_an_absurd_thread_count(photo, tmp_path) -> None:
    # The face models read CONCEPTVAE_THREADS through the VAE runtime's check: an
    # absurd count crashes the native runtime, so it must be one line before that.
    # A fresh process, because the face graphs are loaded once per process.
    import os
    import subprocess
    import sys

    path, _ = photo
    env = {**os.environ, "CONCEPTVAE_THREADS": "100000"}
    r = subprocess.run(
        [sys.executable, "-m", "conceptvae", "faces", str(path), "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "CONCEPTVAE_THREADS" in lines[0]
    assert r.stdout == ""
