"""Morph scripts: timing, rendering, relative paths, identical bytes, whole-script validation."""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke
from PIL import Image

from conceptvae import animate
from conceptvae.commands.scripts import render_script
from conceptvae.concepts.library import Concept, ConceptLibrary
from conceptvae.errors import ConceptVAEError
from conceptvae.model.identity import model_ref
from conceptvae.script import (
    key_latents,
    load_script,
    parse_script,
    prepare_script,
    script_frames,
    script_latents,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "scripts" / "smile.json"


@pytest.fixture
def project(tmp_path, tiny_model):
    """A folder holding a model (with a concept library), two images and a script."""
    root = tmp_path / "project"
    (root / "faces").mkdir(parents=True)
    shutil.copytree(tiny_model, root / "model")
    ref = model_ref(root / "model")
    lib = ConceptLibrary(ref.latent_dim, ref.fingerprint)
    info = {"metrics": {"significant": True}}
    lib.add_concept(Concept("smile", "attribute", "mean", np.array([1.5, 0, 0, 0], np.float32),
                            info=info))  # fmt: skip
    lib.add_concept(Concept("thick", "attribute", "mean", np.array([0, 0, 2, 0], np.float32),
                            info=info))  # fmt: skip
    lib.write(ref.library_path)
    for i in range(2):
        arr = np.zeros((16, 16), np.uint8)
        arr[3 + 5 * i : 9 + 5 * i, 4:11] = 255
        Image.fromarray(arr).save(root / "faces" / f"f{i}.png")
    return root


def script_dict(**top):
    base = {
        "model": "model",
        "output": "anim.gif",
        "fps": 10,
        "hold": 0.2,
        "transition": 0.5,
        "keyframes": [
            {"image": "faces/f0.png", "hold": 0.3},
            {"seed": 5, "temperature": 0.7, "concepts": "smile-0.5*thick", "easing": "cosine"},
            {"image": "faces/f1.png", "concepts": "thick"},
        ],
    }
    base.update(top)
    return base


def write_script(root, obj, name="morph.json"):
    path = root / name
    path.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
    return path


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# -- timing -----------------------------------------------------------------------------


def test_frame_counts_follow_the_timing_rules():
    s = parse_script(script_dict())
    # holds: 3 frames, 2 (default 0.2 s), 2; transitions: 5, 5, and none after the last
    assert s.frame_counts() == [(3, 5), (2, 5), (2, 0)]
    assert s.n_frames == 17
    looped = parse_script(script_dict(loop=True))
    assert looped.frame_counts()[-1] == (2, 5) and looped.n_frames == 22
    # hold 0 still shows the keyframe once; half a frame rounds up
    s = parse_script(script_dict(hold=0, transition=0.25, fps=2))
    assert s.frame_counts() == [(1, 1), (1, 1), (1, 0)]


def test_the_example_script_is_valid():
    s = load_script(EXAMPLE)
    assert s.model is None and s.loop and len(s.keyframes) == 4  # the default model
    assert s.output == str(EXAMPLE.parent / "smile.gif")
    assert s.n_frames == 84


# -- rendering --------------------------------------------------------------------------


def test_run_renders_exact_frames_and_identical_bytes(runner, project, tmp_path, monkeypatch):
    script = write_script(project, script_dict())
    monkeypatch.chdir(tmp_path)  # relative paths resolve against the script, not the cwd
    r = invoke(runner, "run", script)
    assert r.exit_code == 0, r.output
    out = project / "anim.gif"
    assert "17 frames at 10 fps (1.70 s)" in r.output
    assert animate.count_frames(out) == 17
    first = digest(out)
    invoke(runner, "run", script)
    assert digest(out) == first
    # -o overrides the output, relative to the current folder
    r = invoke(runner, "run", script, "-o", "here.webp")
    assert r.exit_code == 0, r.output
    assert animate.count_frames(tmp_path / "here.webp") == 17


def test_run_check_validates_and_writes_nothing(runner, project):
    script = write_script(project, script_dict(output="frames/"))
    r = invoke(runner, "run", script, "--check")
    assert r.exit_code == 0, r.output
    assert "ok: 3 keyframes, 17 frames at 10 fps" in r.output
    assert not (project / "frames").exists()
    r = invoke(runner, "run", script)
    assert sorted(p.name for p in (project / "frames").iterdir())[-1] == "frame_0016.png"


def test_keyframes_hold_exactly_and_concepts_move_them(project):
    s = load_script(write_script(project, script_dict()))
    prepared = prepare_script(s)
    keys = key_latents(prepared)
    z = script_latents(prepared)
    assert z.shape == (17, 4)
    plain = prepared.model.encode([project / "faces" / "f0.png"])[0]
    np.testing.assert_array_equal(z[:3], np.tile(plain, (3, 1)))  # held, then moving
    assert not np.allclose(z[3], plain)
    seed = np.random.default_rng(5).standard_normal(4) * 0.7
    np.testing.assert_allclose(keys[1], seed + [1.5, 0, -1.0, 0], atol=1e-6)
    f1 = prepared.model.encode([project / "faces" / "f1.png"])[0]
    np.testing.assert_allclose(keys[2], f1 + [0, 0, 2, 0], atol=1e-6)
    np.testing.assert_array_equal(z[-2:], np.tile(keys[2], (2, 1)))


def test_script_frames_api_and_progress(project):
    path = write_script(project, script_dict(interpolation="lerp"))
    frames = script_frames(path)
    assert frames.shape == (17, 16, 16, 1) and frames.dtype == np.float32
    assert not (project / "anim.gif").exists()
    seen = []
    result = render_script(path, progress=lambda done, total: seen.append((done, total)))
    assert result.frames == 17 and result.paths == [project / "anim.gif"]
    assert seen[-1] == (34, 34) and all(a[0] < b[0] for a, b in zip(seen, seen[1:]))


def test_model_may_be_a_name(runner, project, monkeypatch, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(project / "model", home / "models" / "squares")
    monkeypatch.setenv("CONCEPTVAE_HOME", str(home))
    script = write_script(project, script_dict(model="squares"))
    r = invoke(runner, "run", script, "--check")
    assert r.exit_code == 0, r.output


# -- validation: every message names the keyframe and field ---------------------------

BAD = [
    ({"fps": float("nan")}, r"fps: must be a finite number from 0.01"),
    ({"fps": 0}, r"fps: must be a finite number from 0.01"),
    ({"fps": "12"}, r"fps: must be a finite number"),
    ({"easing": "bounce"}, r"easing: must be one of linear, cosine, got 'bounce'"),
    ({"interpolation": "cubic"}, r"interpolation: must be one of slerp, lerp"),
    ({"size": 0}, r"size: must be a whole number from 1"),
    ({"loop": "yes"}, r"loop: must be true or false"),
    ({"keyframes": []}, r"keyframes: must be a non-empty list"),
    ({"speed": 2}, r"speed: unknown field"),
    ({"holdd": 2}, r"holdd: unknown field \(did you mean 'hold'\?\)"),
    ({"model": ""}, r"model: must be a non-empty string"),
    ({"version": 2}, r"version: this conceptvae reads version 1"),
    ({"fps": 50, "hold": 3600, "keyframes": [{"seed": 1}] * 3},
     r"keyframes: the script makes \d+ frames; at most 10000"),
]  # fmt: skip

BAD_KEY = [
    ({"seed": 1, "image": "faces/f0.png"}, r"keyframes\[1\]: give exactly one of"),
    ({}, r"keyframes\[1\]: give exactly one of"),
    ({"seed": -1}, r"keyframes\[1\]\.seed: must be a whole number from 0"),
    ({"seed": 1.5}, r"keyframes\[1\]\.seed: must be a whole number from 0"),
    ({"seed": 1, "hold": -1}, r"keyframes\[1\]\.hold: must be a finite number from 0"),
    ({"seed": 1, "transition": float("inf")}, r"keyframes\[1\]\.transition: must be a finite"),
    ({"seed": 1, "easing": "bounce"}, r"keyframes\[1\]\.easing: must be one of linear, cosine"),
    ({"seed": 1, "temperature": 1e9}, r"keyframes\[1\]\.temperature: must be a finite number"),
    ({"image": "faces/f0.png", "temperature": 1}, r"keyframes\[1\]\.temperature: applies to seed"),
    ({"seed": 1, "concepts": "smile+"}, r"keyframes\[1\]\.concepts: "),
    ({"seed": 1, "concepts": 3}, r"keyframes\[1\]\.concepts: must be a non-empty string"),
    ({"seed": 1, "colour": "red"}, r"keyframes\[1\]\.colour: unknown field"),
    ("seed 1", r"keyframes\[1\]: a keyframe is a JSON object"),
]


@pytest.mark.parametrize("top, message", BAD, ids=[m for _, m in BAD])
def test_bad_top_level_fields(top, message):
    with pytest.raises(ConceptVAEError, match=message) as info:
        parse_script(script_dict(**top), source="s.json")
    assert str(info.value).startswith("s.json: ")


@pytest.mark.parametrize("key, message", BAD_KEY, ids=[m for _, m in BAD_KEY])
def test_bad_keyframe_fields(key, message):
    obj = script_dict()
    obj["keyframes"][1] = key
    with pytest.raises(ConceptVAEError, match=message):
        parse_script(obj, source="s.json")


def test_transition_after_the_last_keyframe_needs_loop():
    obj = script_dict()
    obj["keyframes"][-1]["transition"] = 1.0
    with pytest.raises(ConceptVAEError, match=r"keyframes\[2\]\.transition: the last keyframe"):
        parse_script(obj)
    obj["loop"] = True
    assert parse_script(obj).frame_counts()[-1] == (2, 10)


CHECKED = [
    ("missing image", ["keyframes", 2, "image", "faces/nope.png"],
     r"morph\.json: keyframes\[2\]\.image: .*faces/nope\.png: file not found"),
    ("unreadable image", ["keyframes", 0, "image", "faces/bad.png"],
     r"keyframes\[0\]\.image: .*bad\.png: not a readable image"),
    ("unknown concept", ["keyframes", 1, "concepts", "smil+thick"],
     r"keyframes\[1\]\.concepts: unknown concept 'smil'.*smile"),
    ("missing model", ["model", None, None, "nomodel"],
     r"morph\.json: model: .*nomodel: no such model directory or model name"),
    ("bad output suffix", ["output", None, None, "anim.avi"],
     r"output: .*anim\.avi: unsupported output format"),
    ("odd mp4 size", ["size", None, None, 17], r"output: .*even frame size"),
]  # fmt: skip


@pytest.mark.parametrize("what, edit, message", CHECKED, ids=[c[0] for c in CHECKED])
def test_files_model_and_concepts_are_checked_before_rendering(runner, project, what, edit,
                                                               message):  # fmt: skip
    (project / "faces" / "bad.png").write_text("not a png")
    obj = script_dict(output="anim.mp4" if what == "odd mp4 size" else "anim.gif")
    top, index, field, value = edit
    if index is None:
        obj[top] = value
    else:
        obj[top][index][field] = value
    script = write_script(project, obj)
    before = sorted(p.name for p in project.rglob("*"))
    r = invoke(runner, "run", script)
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.stderr
    import re

    assert re.search(message, lines[0]), lines[0]
    assert sorted(p.name for p in project.rglob("*")) == before


def test_concepts_without_a_library_name_the_keyframe(runner, project):
    (project / "model" / "concepts.h5").unlink()
    r = invoke(runner, "run", write_script(project, script_dict()))
    assert r.exit_code == 2
    assert "keyframes[1].concepts: " in r.stderr and "no concept library" in r.stderr


def test_unreadable_scripts(runner, tmp_path):
    r = invoke(runner, "run", tmp_path / "nothere.json")
    assert r.exit_code == 2 and "nothere.json: morph script not found" in r.stderr
    bad = write_script(tmp_path, '{"model": "m",', "bad.json")
    r = invoke(runner, "run", bad)
    assert r.exit_code == 2 and "bad.json: morph script is not valid JSON" in r.stderr
    arr = write_script(tmp_path, "[1, 2]", "list.json")
    r = invoke(runner, "run", arr)
    assert r.exit_code == 2 and "list.json: a morph script is a JSON object, not list" in r.stderr
