"""The embedded default: without --model a command runs on the pretrained model
that holds the concepts it names (faces when it names none)."""

import shutil

import numpy as np
import pytest
from conftest import invoke

from conceptvae.concepts.library import ClassSet, Concept, ConceptLibrary
from conceptvae.errors import ModelError
from conceptvae.model import registry
from conceptvae.model.identity import model_ref
from conceptvae.resolve import default_model, referenced_names


def _library(model_dir, attributes=(), classes=()):
    ref = model_ref(model_dir)
    lib = ConceptLibrary(ref.latent_dim, ref.fingerprint)
    d = ref.latent_dim
    for name in attributes:
        v = np.eye(d, dtype=np.float32)[0]
        lib.add_concept(Concept(name, "attribute", "mean", v, v, 0.0, {"column": name}))
    if classes:
        k = len(classes)
        centroids = np.zeros((k, d), np.float32)
        centroids[:, 0] = np.arange(k)
        lib.add_class_set(ClassSet("label", list(classes), centroids, np.full(k, 5), centroids,
                                   np.zeros(k), {"column": "label"}))  # fmt: skip
    lib.write(model_dir / "concepts.h5")


@pytest.fixture
def shipped(tmp_path, tiny_model, monkeypatch):
    """A pretrained folder with faces (smile, pc1) and digits (0..9, thick, pc1)."""
    root = tmp_path / "pretrained"
    for name in ("faces", "digits"):
        shutil.copytree(tiny_model, root / name)
    _library(root / "faces", ["smile", "pc1"])
    _library(root / "digits", ["thick", "pc1"], [str(i) for i in range(10)])
    monkeypatch.setattr(registry, "pretrained_dir", lambda: root)
    return root


def test_referenced_names():
    assert referenced_names(["3->8", "smile=1.5", "0.5*thick-slant=-2"]) == {
        "3", "8", "smile", "thick", "slant",
    }  # fmt: skip
    assert referenced_names("'big smile'+8") == {"big smile", "8"}
    assert referenced_names([]) == set()


def test_the_model_holding_the_concepts(shipped):
    assert default_model(["3->8"]) == shipped / "digits"
    assert default_model(["thick=2", "7"]) == shipped / "digits"
    assert default_model(["smile"]) == shipped / "faces"
    assert default_model([]) == shipped / "faces"  # no concept named: faces


def test_ambiguous_and_unknown_concepts_name_the_candidates(shipped):
    with pytest.raises(ModelError, match="several pretrained models hold pc1: digits, faces"):
        default_model(["pc1"])
    with pytest.raises(
        ModelError, match=r"no pretrained model holds glasses \(.*faces: smile, pc1"
    ):
        default_model(["glasses"])
    with pytest.raises(ModelError, match="no pretrained model holds"):
        default_model(["smile", "thick"])  # no single model has both


def test_user_models_are_not_defaults(shipped, tiny_model, monkeypatch, tmp_path):
    user = registry.user_models_dir() / "mine"
    shutil.copytree(tiny_model, user)
    _library(user, ["glasses"])
    with pytest.raises(ModelError, match="no pretrained model holds glasses"):
        default_model(["glasses"])


def test_your_copy_of_a_shipped_model_takes_its_place(shipped):
    # concepts build on the shipped digits copies it to $CONCEPTVAE_HOME (the
    # name now means the copy): a concept built there resolves without --model.
    copy = registry.writable_model(shipped / "digits")
    assert copy == registry.user_models_dir() / "digits"
    _library(copy, ["thick", "pc1", "loopy"], [str(i) for i in range(10)])
    assert default_model(["loopy"]) == copy
    assert default_model(["3->8"]) == copy
    assert default_model(["smile"]) == shipped / "faces"


def test_cli_without_model(shipped, runner, tmp_path):
    from PIL import Image

    img = tmp_path / "in.png"
    Image.fromarray(np.full((16, 16), 128, np.uint8)).save(img)
    out = tmp_path / "out.png"
    r = invoke(runner, "edit", str(img), "-c", "smile", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert out.is_file()
    r = invoke(runner, "edit", str(img), "-c", "pc1", "-o", str(tmp_path / "x.png"))
    assert r.exit_code == 2
    assert "several pretrained models hold pc1" in r.output
    assert not (tmp_path / "x.png").exists()
    r = invoke(runner, "reconstruct", str(img), "-o", str(tmp_path / "r.png"))
    assert r.exit_code == 0, r.output
    r = invoke(runner, "models")
    assert "faces" in r.output and "digits" in r.output


def test_missing_faces_model_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "pretrained_dir", lambda: tmp_path)
    with pytest.raises(ModelError, match="pretrained 'faces' model is not installed"):
        default_model([])
