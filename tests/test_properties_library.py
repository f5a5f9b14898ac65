"""Random files fed to the concept-library reader: only ConceptError, never a crash."""

from __future__ import annotations

import h5py
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conceptvae.concepts.library import ConceptLibrary
from conceptvae.errors import ConceptError

SETTINGS = settings(
    max_examples=60,
    deadline=3000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _read(path) -> None:
    try:
        ConceptLibrary.read(path)
    except ConceptError as exc:
        assert "\n" not in str(exc)


@SETTINGS
@given(data=st.binary(max_size=4096), keep_signature=st.booleans())
def test_random_bytes(tmp_path_factory, data, keep_signature):
    path = tmp_path_factory.mktemp("lib") / "concepts.h5"
    head = b"\x89HDF\r\n\x1a\n" if keep_signature else b""
    path.write_bytes(head + data)
    _read(path)


_values = st.one_of(
    st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.lists(st.floats(-3, 3), max_size=6),
)


@SETTINGS
@given(
    attrs=st.dictionaries(
        st.sampled_from(["format", "format_version", "latent_dim", "model_fingerprint", "x"]),
        _values,
        max_size=5,
    ),
    entries=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "concepts/a",
                    "concepts/a/vector",
                    "concepts/a/info",
                    "class_sets/d",
                    "class_sets/d/centroids",
                    "class_sets/d/info",
                    "concepts/b/probe_coef",
                    "other",
                ]
            ),  # fmt: skip
            st.sampled_from(["group", "float", "text", "int2d", "softlink"]),
        ),
        max_size=6,
    ),
    real_marker=st.booleans(),
)
def test_odd_but_valid_hdf5(tmp_path_factory, attrs, entries, real_marker):
    path = tmp_path_factory.mktemp("lib") / "concepts.h5"
    with h5py.File(path, "w") as f:
        for k, v in attrs.items():
            try:
                f.attrs[k] = v
            except (TypeError, ValueError):
                pass
        if real_marker:
            f.attrs["format"] = "conceptvae-concepts"
            f.attrs["format_version"] = 1
            f.attrs["latent_dim"] = 4
        for name, kind in entries:
            if name in f:
                continue
            try:
                if kind == "group":
                    f.create_group(name)
                elif kind == "float":
                    f[name] = np.arange(4, dtype=np.float32)
                elif kind == "text":
                    f[name] = "{not json"
                elif kind == "int2d":
                    f[name] = np.zeros((2, 3), np.int64)
                else:
                    f[name] = h5py.SoftLink("/nowhere")
            except (TypeError, ValueError, KeyError, OSError):
                pass
    _read(path)
