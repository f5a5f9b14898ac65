"""The shipped pretrained models: complete folders, the embedded default, the
README's second set-up command, and their LiteRT copies matching Keras."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke, loaded

from conceptvae import load_model
from conceptvae.concepts import open_library
from conceptvae.model import files
from conceptvae.model.registry import list_models

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
PRETRAINED = {e.name: e.path for e in list_models() if e.source == "pretrained"}


def test_both_models_ship_complete_and_small():
    assert set(PRETRAINED) == {"digits", "faces"}
    for name, path in PRETRAINED.items():
        for f in (files.CONFIG, files.WEIGHTS, files.META, files.ENCODER_TFLITE,
                  files.DECODER_TFLITE, files.CONCEPTS, "README.md"):  # fmt: skip
            assert (path / f).is_file(), f"{name}: {f}"
        assert not (path / files.CHECKPOINT).exists()
        size = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
        assert size <= 15 * 1024 * 1024, f"{name}: {size} bytes"
        card = (path / "README.md").read_text()
        meta = json.loads((path / files.META).read_text())
        assert meta["command"] in card and meta["data"]["fingerprint"] in card
        for picture in [line.rsplit("](", 1)[1].rstrip(")") for line in card.splitlines()
                        if line.startswith("![")]:  # fmt: skip
            assert (path / picture).is_file(), picture


def test_concepts_the_issue_names():
    digits = open_library(load_model("digits"))
    assert {str(i) for i in range(10)} <= set(digits.class_sets["label"].classes)
    assert {"thick", "slant"} <= set(digits.names())
    faces = open_library(load_model("faces"))
    assert "smile" in faces.names() and faces.concept("smile").significant
    # The faces card's default: detail mode with the model's own knobs (redraw
    # where the change is strongest, the change's shading elsewhere).
    from conceptvae.editing import blend_settings

    model = load_model("faces")
    assert model.meta["edit_defaults"]["mode"] == "detail"
    tuned = blend_settings(model, "detail")
    assert tuned is not None and tuned.outside_sigma > 0 and tuned.rel_low < 1


def test_second_setup_command_edits_an_example_face(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = invoke(runner, "edit", str(EXAMPLES / "face-1.png"), "--concept", "smile",
               "--amount", "1.5")  # fmt: skip
    assert r.exit_code == 0, r.output
    out = tmp_path / "face-1_smile1.5.png"
    first = hashlib.sha256(out.read_bytes()).hexdigest()
    im = loaded(out)
    assert im.size == (64, 64)
    before = np.asarray(loaded(EXAMPLES / "face-1.png"), np.float32)
    changed = np.abs(np.asarray(im, np.float32) - before)
    assert changed.mean() > 1.0  # the edit did something
    out.unlink()
    assert (
        invoke(runner, "edit", str(EXAMPLES / "face-1.png"), "-c", "smile", "-a", "1.5").exit_code
        == 0
    )
    assert hashlib.sha256(out.read_bytes()).hexdigest() == first


def test_class_edit_picks_the_digits_model_and_lands(runner, tmp_path):
    out = tmp_path / "eight.png"
    r = invoke(runner, "edit", str(EXAMPLES / "digit-3.png"), "-c", "3->8", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert loaded(out).size == (28, 28)
    digits = load_model("digits")
    z = digits.encode(digits.decode(digits.encode([str(out)])))  # the edited digit, re-read
    label = open_library(digits).class_sets["label"]
    assert label.classes[int(label.infer(z)[0])] == "8"


def test_the_example_morph_script_runs_on_the_default_model(runner, tmp_path):
    # example:smile, not the checkout's file: its output goes to this (temporary)
    # folder, so a smile.gif the README's command left in the clone changes nothing.
    r = invoke(runner, "run", "example:smile", "--check")
    assert r.exit_code == 0, r.output
    assert "84 frames" in r.output and r.output.strip().endswith("-> smile.gif")


@pytest.mark.parametrize("name", ["digits", "faces"])
def test_litert_copies_match_keras(name):
    keras_model = load_model(name, backend="keras")
    lite = load_model(name, backend="litert")
    x = np.random.default_rng(0).random((8, *keras_model.image_shape), dtype=np.float32)
    np.testing.assert_allclose(lite.encode(x), keras_model.encode(x), atol=1e-4)
    z = np.random.default_rng(1).standard_normal((8, keras_model.latent_dim)).astype(np.float32)
    np.testing.assert_allclose(lite.decode(z), keras_model.decode(z), atol=1e-4)
