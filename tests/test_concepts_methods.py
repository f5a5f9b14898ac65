"""Concept methods come from one registry: a new estimator is one module plus one entry,
and the build's choices are one checked BuildOptions."""

import dataclasses
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import synthetic_images, write_labelled_folder

from conceptvae.concepts import methods
from conceptvae.concepts.build import BuildOptions, build_concepts
from conceptvae.concepts.library import open_library
from conceptvae.errors import ConceptError

TOY = '''
import numpy as np

from conceptvae.concepts.estimators import DirectionEstimator


class MedianDirection(DirectionEstimator):
    """Median of the positives minus median of the negatives."""

    def __init__(self, shrink=0.0):
        self.shrink = shrink

    def fit(self, Z, y, covariates=None):
        Z, y = self._binary_data(Z, y)
        self._means_of(Z, y)
        d = np.median(Z[y == 1], 0) - np.median(Z[y == 0], 0)
        self.direction_ = d * (1.0 - self.shrink)
        return self.calibrate(self.mean_pos_, self.mean_neg_)
'''


@pytest.fixture
def labeled(tmp_path):
    x, y = synthetic_images(48, size=16, seed=5)
    return write_labelled_folder(tmp_path / "data", x, {"left": y})


@pytest.fixture
def toy_method(tmp_path, monkeypatch):
    """The toy estimator as a module of its own, registered under "median"."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "toy_median.py").write_text(TOY)
    monkeypatch.syspath_prepend(str(plugins))
    monkeypatch.setattr(methods, "ESTIMATORS", dict(methods.ESTIMATORS))
    methods.register_estimator("median", "toy_median:MedianDirection")
    yield "median"
    sys.modules.pop("toy_median", None)


def test_a_new_method_is_one_module_and_one_registry_entry(
    toy_method, tiny_model, labeled, tmp_path
):
    model = shutil.copytree(tiny_model, tmp_path / "model")
    assert "median" in methods.method_names()
    est = methods.make_estimator("median", shrink=0.5)
    assert repr(est) == "MedianDirection(shrink=0.5)" and est.get_params() == {"shrink": 0.5}
    assert not methods.streams("median")

    options = BuildOptions(attributes=("left",), method="median", name="toy", bootstraps=4)
    result = build_concepts(model, labeled, options, permutations=20)
    assert [row["name"] for row in result.concepts] == ["toy"]
    build_concepts(model, labeled, attributes=["left"], bootstraps=4, permutations=20)
    lib = open_library(model)
    toy, mean = lib.concepts["toy"], lib.concepts["left"]
    assert toy.method == "median" and toy.info["n_pos"] + toy.info["n_neg"] == 48
    assert toy.info["metrics"]["bootstraps"] == 4 and toy.info["metrics"]["permutations"] == 20
    # Calibrated like every method: amount 1 moves the average negative onto the positives.
    assert float(np.dot(toy.direction, mean.direction)) > 0.8
    assert 0 < toy.norm < 2 * mean.norm


def test_unknown_methods_are_refused_with_the_registered_names(toy_method):
    with pytest.raises(ConceptError, match="unknown method 'magic'; use one of .*svm, median"):
        BuildOptions(attributes=("a",), method="magic")
    with pytest.raises(ValueError, match="module:Class"):
        methods.register_estimator("other", "no_colon")


def test_the_cli_reads_its_methods_from_the_registry_without_importing_them():
    from conceptvae.cli.concepts import build

    (choice,) = [p.type for p in build.params if p.name == "method"]
    assert tuple(choice.choices) == methods.method_names()
    code = textwrap.dedent("""
        import sys
        import conceptvae.cli.concepts
        print(sorted(m for m in ("sklearn", "conceptvae.concepts.estimators", "h5py", "numpy")
                     if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_build_options_are_checked_where_they_are_made():
    opts = BuildOptions(attributes=["a"], orthogonal_to=[" b ", ""])
    assert opts.attributes == ("a",) and opts.orthogonal_to == ("b",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.seed = 3  # type: ignore[misc]
    with pytest.raises(ConceptError, match="nothing to build"):
        BuildOptions()
    with pytest.raises(ConceptError, match="bootstraps must be at least 2"):
        dataclasses.replace(opts, bootstraps=1)
    with pytest.raises(ConceptError, match="name names a single attribute"):
        BuildOptions(attributes=("a", "b"), name="x")
    assert BuildOptions.given(opts, {"seed": 4}, "f") == dataclasses.replace(opts, seed=4)
    assert BuildOptions.given(None, {"pca": 2}, "f") == BuildOptions(pca=2)
    with pytest.raises(TypeError, match="f\\(\\) got an unexpected keyword argument 'sede'"):
        BuildOptions.given(opts, {"sede": 4}, "f")
