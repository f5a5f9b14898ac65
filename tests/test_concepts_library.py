"""The concept library file, expressions -> directions, model checks, concurrency, export."""

import json
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from conceptvae.commands.concepts import export_library
from conceptvae.concepts.expressions import parse_expression
from conceptvae.concepts.library import (
    ClassSet,
    Concept,
    ConceptLibrary,
    open_library,
    update_library,
)
from conceptvae.concepts.manage import (
    import_library,
    list_concepts,
    remove_concepts,
    rename_concept,
    show_concept,
)
from conceptvae.config import VAEConfig
from conceptvae.errors import ConceptError
from conceptvae.model.identity import ModelRef

D = 4
FP = "sha256:0123456789abcdef"


def fake_model(path, fingerprint=FP, latent_dim=D):
    """A model directory as the library sees it: config.json and meta.json."""
    path.mkdir(parents=True, exist_ok=True)
    VAEConfig(image_size=16, latent_dim=latent_dim, filters=[8, 16]).save(path / "config.json")
    (path / "meta.json").write_text(json.dumps({"fingerprint": fingerprint}))
    return path


def attribute(name, vector, coef=(1.0, 0, 0, 0), intercept=0.0, significant=True):
    info = {"column": name, "n_pos": 10, "n_neg": 12, "metrics": {"significant": significant}}
    return Concept(name, "attribute", "mean", np.asarray(vector, np.float32),
                   np.asarray(coef, np.float32), intercept, info)  # fmt: skip


def digits():
    centroids = np.array([[0, 0, 0, 0], [4, 0, 0, 0], [0, 4, 0, 0]], np.float32)
    coef = centroids.copy()  # logits = c . z: argmax is the most aligned centroid
    return ClassSet("digit", ["3", "8", "1"], centroids, np.array([5, 6, 7]),
                    coef, np.zeros(3), {"column": "digit", "per_class": {"8": {"n": 6}}})  # fmt: skip


def sample_library():
    lib = ConceptLibrary(D, FP)
    lib.add_concept(attribute("smile", [1, 0, 0, 0]))
    lib.add_concept(attribute("thick", [0, 2, 0, 0], significant=False))
    lib.add_concept(attribute("slant", [0, 0, 3, 0]))
    lib.add_class_set(digits())
    return lib


def test_write_read_round_trip(tmp_path):
    lib = sample_library()
    path = tmp_path / "concepts.h5"
    lib.write(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["concepts.h5"]  # no temp left behind
    back = ConceptLibrary.read(path)
    assert back.names() == ["slant", "smile", "thick", "3", "8", "1"]
    assert back.latent_dim == D and back.model_fingerprint == FP
    c = back.concepts["thick"]
    assert c.vector.dtype == np.float32 and c.significant is False and c.info["n_pos"] == 10
    np.testing.assert_array_equal(c.vector, [0, 2, 0, 0])
    s = back.class_sets["digit"]
    assert s.classes == ["3", "8", "1"] and s.class_info("8") == {"n": 6}
    np.testing.assert_array_equal(s.centroids, digits().centroids)
    with h5py.File(path) as f:
        assert f["concepts/smile/vector"].dtype == np.float32
        assert f.attrs["format"] == "conceptvae-concepts" and f.attrs["latent_dim"] == D


def test_expressions_to_directions():
    lib = sample_library()
    np.testing.assert_allclose(lib.direction("smile+0.5*thick-slant"), [1, 1, -3, 0])
    np.testing.assert_allclose(lib.direction("-smile"), [-1, 0, 0, 0])
    np.testing.assert_allclose(lib.direction("3->8"), [4, 0, 0, 0])
    np.testing.assert_allclose(lib.direction("2*8->1"), [-8, 8, 0, 0])
    assert lib.direction("smile").dtype == np.float32
    z = np.array([[3.0, 0, 0, 0], [0, 3.0, 0, 0], [-1.0, -1.0, 0, 0]])
    toward8 = lib.direction("8", z)  # current classes: 8, 1, 3
    np.testing.assert_allclose(toward8, [[0, 0, 0, 0], [4, -4, 0, 0], [4, 0, 0, 0]])
    np.testing.assert_allclose(lib.direction("8", z, infer="centroid"), toward8)
    assert lib.direction("smile+8", z[0]).shape == (D,)


def test_transition_with_latents_moves_class_coordinates_and_keeps_style():
    lib = sample_library()  # class subspace: the first two axes
    z = np.array([[0.0, 0, 0, 0], [1.0, 2.0, 5.0, -1.0]])
    step = lib.direction("3->8", z)
    np.testing.assert_allclose(step[0], [4, 0, 0, 0], atol=1e-6)  # at centroid 3: the plain step
    np.testing.assert_allclose(z[1] + step[1], [4, 0, 5, -1], atol=1e-6)  # style kept
    np.testing.assert_allclose(z[1] + 0.5 * step[1], [2.5, 1, 5, -1], atol=1e-6)
    np.testing.assert_allclose(lib.direction("1->3", z)[0], [0, 0, 0, 0], atol=1e-6)
    assert lib.needs_latents("smile+8") and not lib.needs_latents("3->8-smile")


@pytest.mark.parametrize(
    "expr, words",
    [
        ("smiel", ["unknown concept 'smiel'", "closest: smile"]),
        ("zzz", ["known: 1, 3, 8, slant, smile, thick"]),
        ("8", ["is a class", "3->8"]),
        ("digit", ["is a class column"]),
        ("smile->8", ["joins two classes"]),
        ("smile+", ["bad concept expression"]),
        ("0.5*", ["expected a concept name"]),
    ],
)
def test_expression_errors_are_one_line(expr, words):
    with pytest.raises(ConceptError) as err:
        sample_library().direction(expr)
    msg = str(err.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg


def test_parse_grammar():
    terms = parse_expression("smile+0.5*thick-slant")
    assert [(t.coef, t.ref.name) for t in terms] == [(1, "smile"), (0.5, "thick"), (-1, "slant")]
    (t,) = parse_expression("'t shirt'->coat*2")
    assert (t.coef, t.ref.source, t.ref.name) == (2.0, "t shirt", "coat")


def test_probe_reaches_the_target_probability_in_closed_form():
    lib = sample_library()
    probe = lib.probe("smile")
    z = np.array([[-2.0, 0, 0, 0], [1.0, 3, 0, 0]])
    d = lib.direction("smile+thick")
    a = probe.amount_to_reach(z, d, 0.9)
    np.testing.assert_allclose(probe.predict_proba(z + a[:, None] * d), 0.9)
    assert np.isnan(probe.amount_to_reach(z, lib.direction("thick"), 0.9)).all()
    assert lib.probe("8").predict_proba(z).shape == (2, 3)
    with pytest.raises(ConceptError, match="between 0 and 1"):
        probe.amount_to_reach(z, d, 1.0)


def test_library_refused_by_another_model(tmp_path):
    model = fake_model(tmp_path / "m")
    sample_library().write(model / "concepts.h5")
    assert len(open_library(model)) == 6
    other = fake_model(tmp_path / "other", fingerprint="sha256:ffffffffffffffff")
    (other / "concepts.h5").write_bytes((model / "concepts.h5").read_bytes())
    with pytest.raises(ConceptError) as err:
        open_library(other)
    assert "ignore_fingerprint" in str(err.value) and "sha256:ffffffffffffffff" in str(err.value)
    assert len(open_library(other, ignore_fingerprint=True)) == 6
    wide = fake_model(tmp_path / "wide", latent_dim=8)
    (wide / "concepts.h5").write_bytes((model / "concepts.h5").read_bytes())
    with pytest.raises(ConceptError, match="latent size 4"):
        open_library(wide, ignore_fingerprint=True)
    with pytest.raises(ConceptError, match="no concept library yet"):
        open_library(fake_model(tmp_path / "empty"))


def _corruptions(path):
    good = path.read_bytes()
    yield "truncated", lambda: path.write_bytes(good[: len(good) // 2])
    yield "garbage", lambda: path.write_bytes(b"not hdf5 at all" * 10)
    yield "empty", lambda: path.write_bytes(b"")

    def edit(fn):
        def run():
            path.write_bytes(good)
            with h5py.File(path, "r+") as f:
                fn(f)

        return run

    yield "extra object", edit(lambda f: f.create_dataset("payload", data=np.zeros(3)))
    yield "external link", edit(lambda f: f["concepts"].__setitem__(
        "evil", h5py.ExternalLink("/etc/passwd", "/")))  # fmt: skip
    yield "soft link", edit(lambda f: f["concepts"].__setitem__("alias", h5py.SoftLink("/x")))

    def string_vector(f):
        del f["concepts/smile/vector"]
        f["concepts/smile"].create_dataset("vector", data=np.array([b"a", b"b", b"c", b"d"]))

    yield "string vector", edit(string_vector)

    def wrong_shape(f):
        del f["concepts/smile/vector"]
        f["concepts/smile"].create_dataset("vector", data=np.zeros(7, np.float32))

    yield "wrong shape", edit(wrong_shape)

    def nan_vector(f):
        f["concepts/smile/vector"][0] = np.nan

    yield "nan", edit(nan_vector)

    def bad_json(f):
        del f["concepts/smile/info"]
        f["concepts/smile"].create_dataset("info", data="{nope", dtype=h5py.string_dtype())

    yield "bad json", edit(bad_json)

    def numeric_info(f):
        del f["concepts/smile/info"]
        f["concepts/smile"].create_dataset("info", data=np.zeros(3))

    yield "numeric info", edit(numeric_info)
    yield "bad kind", edit(lambda f: f["concepts/smile"].attrs.__setitem__("kind", "lambda"))
    yield "newer", edit(lambda f: f.attrs.__setitem__("format_version", 99))
    yield "not ours", edit(lambda f: f.attrs.__setitem__("format", "keras"))

    def no_classes(f):
        del f["class_sets/digit/info"]
        f["class_sets/digit"].create_dataset("info", data="{}", dtype=h5py.string_dtype())

    yield "classes", edit(no_classes)


def test_corrupt_or_unexpected_files_are_one_line_errors(tmp_path):
    path = tmp_path / "concepts.h5"
    sample_library().write(path)
    for what, corrupt in _corruptions(path):
        corrupt()
        with pytest.raises(ConceptError) as err:
            ConceptLibrary.read(path)
        msg = str(err.value)
        assert "\n" not in msg and str(path) in msg, (what, msg)
    with pytest.raises(ConceptError, match="newer"):
        path.write_bytes(b"")
        lib = sample_library()
        lib.write(path)
        with h5py.File(path, "r+") as f:
            f.attrs["format_version"] = 99
        ConceptLibrary.read(path)


WRITER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from conceptvae.concepts.library import Concept, update_library
    model, tag = sys.argv[1], sys.argv[2]
    for i in range(3):
        with update_library(model) as lib:
            time.sleep(0.01)  # widen the read-modify-write window
            v = np.full(4, float(i), np.float32)
            lib.add_concept(Concept(f"{tag}{i}", "attribute", "mean", v))
    """
)


def test_concurrent_writers_lose_nothing(tmp_path):
    model = fake_model(tmp_path / "m")
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(model), tag], stderr=subprocess.PIPE)
        for tag in "abcdefgh"  # eight processes at once
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    names = open_library(model).names()
    assert sorted(names) == sorted(f"{t}{i}" for t in "abcdefgh" for i in range(3))
    leftovers = {p.name for p in model.iterdir()} - {"config.json", "meta.json", "concepts.h5"}
    assert leftovers == set()  # no temp files, no lock file left behind


def test_update_is_all_or_nothing(tmp_path):
    model = fake_model(tmp_path / "m")
    sample_library().write(model / "concepts.h5")
    before = (model / "concepts.h5").read_bytes()
    with pytest.raises(ConceptError, match="already has 'smile'"):
        with update_library(model) as lib:
            lib.add_concept(attribute("new", [0, 0, 0, 1]))
            lib.add_concept(attribute("smile", [0, 0, 0, 1]))
    assert (model / "concepts.h5").read_bytes() == before
    with update_library(model) as lib:
        lib.add_concept(attribute("smile", [0, 0, 0, 1]), replace=True)
    np.testing.assert_array_equal(open_library(model).concepts["smile"].vector, [0, 0, 0, 1])
    with pytest.raises(ConceptError, match="another kind"):
        with update_library(model) as lib:
            lib.add_concept(attribute("8", [0, 0, 0, 1]), replace=True)


def test_remove_rename_list_show(tmp_path):
    model = fake_model(tmp_path / "m")
    sample_library().write(model / "concepts.h5")
    rows = list_concepts(model)["concepts"]
    assert [r["name"] for r in rows] == ["slant", "smile", "thick", "3", "8", "1"]
    assert rows[2]["significant"] is False and rows[3]["kind"] == "class:digit"
    assert show_concept(model, "8")["class_set"] == "digit"
    assert show_concept(model, "digit")["kind"] == "class set"
    with pytest.raises(ConceptError, match="one class of 'digit'"):
        remove_concepts(model, ["8"])
    rename_concept(model, "8", "eight")
    rename_concept(model, "smile", "grin")
    lib = open_library(model)
    assert "eight" in lib.names() and "grin" in lib.names() and "smile" not in lib.names()
    np.testing.assert_allclose(lib.direction("3->eight"), [4, 0, 0, 0])
    with pytest.raises(ConceptError, match="already has"):
        rename_concept(model, "grin", "thick")
    with pytest.raises(ConceptError, match="closest: grin"):
        rename_concept(model, "grn", "x")
    assert remove_concepts(model, ["digit", "thick"]) == ["digit", "3", "eight", "1", "thick"]
    assert open_library(model).names() == ["grin", "slant"]


@pytest.mark.parametrize("fmt", ["json", "npz"])
def test_export_import_round_trip(tmp_path, fmt):
    model = fake_model(tmp_path / "m")
    sample_library().write(model / "concepts.h5")
    out = tmp_path / f"lib.{fmt}"
    path, count = export_library(model, out)
    assert path == out and count == 6
    twin = fake_model(tmp_path / "twin")
    added = import_library(twin, out)
    assert sorted(added) == ["1", "3", "8", "slant", "smile", "thick"]
    a, b = open_library(model), open_library(twin)
    for n in a.concepts:
        np.testing.assert_array_equal(a.concepts[n].vector, b.concepts[n].vector)
        assert a.concepts[n].info == b.concepts[n].info
        assert a.concepts[n].probe_intercept == b.concepts[n].probe_intercept
    np.testing.assert_array_equal(
        a.class_sets["digit"].probe_coef, b.class_sets["digit"].probe_coef
    )
    with pytest.raises(ConceptError, match="already has"):
        import_library(twin, out)
    assert import_library(twin, out, replace=True)
    stranger = fake_model(tmp_path / "stranger", fingerprint="sha256:ffffffffffffffff")
    with pytest.raises(ConceptError, match="ignore_fingerprint"):
        import_library(stranger, out)
    assert import_library(stranger, out, names=["smile"], ignore_fingerprint=True) == ["smile"]


def test_bad_exports_are_refused(tmp_path):
    model = fake_model(tmp_path / "m")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "conceptvae-concepts", "format_version": 1,
                               "latent_dim": D, "model_fingerprint": FP,
                               "concepts": {"x": {"kind": "attribute", "method": "mean",
                                                  "vector": [1, 2]}}}))  # fmt: skip
    with pytest.raises(ConceptError, match="shape"):
        import_library(model, bad)
    np.savez(tmp_path / "bad.npz", a=np.zeros(3))
    with pytest.raises(ConceptError, match="library_json"):
        import_library(model, tmp_path / "bad.npz")
    (tmp_path / "lib.txt").write_text("smile")
    with pytest.raises(ConceptError, match="json or .npz"):
        import_library(model, tmp_path / "lib.txt")


def test_model_ref_reads_no_weights(tmp_path):
    model = fake_model(tmp_path / "m")
    ref = ModelRef(model, D, FP)
    assert ref.library_path == model / "concepts.h5"
    assert open_library(model, missing_ok=True).names() == []
