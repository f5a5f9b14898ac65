"""Property-based tests: whatever bytes arrive, readers answer with a result or a
documented error (DataError / ConceptVAEError), never a crash or a hang.

Each property is bounded (max_examples, deadline) so the file runs in seconds.
"""

from __future__ import annotations

import io
import json
import struct
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conceptvae.cli.main import error_line
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from conceptvae.commands.codec import read_latents
from conceptvae.config import VAEConfig
from conceptvae.data import open_dataset
from conceptvae.errors import ConceptVAEError, DataError
from conceptvae.images import load_image
from conceptvae.model import files

BOUNDED = settings(
    max_examples=60,
    deadline=3000,  # ms per example; a hang or a huge allocation trips it
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif")
MAGICS = (
    b"",
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff\xe0",
    b"GIF89a",
    b"GIF87a",
    b"BM",
    b"RIFF\x00\x01\x00\x00WEBPVP8 ",
    b"II*\x00",
    b"MM\x00*",
)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("props")


def _assert_one_line_error(err: ConceptVAEError, path: Path) -> None:
    """Names the file; the CLI prints it as one line (a key holding a newline, say,
    is escaped there)."""
    assert err.path == str(path) and str(err).startswith(f"{path}: ")
    assert "\n" not in error_line(err)


def _check_image_result(path: Path, size: int, channels: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # animated-image notes, Pillow's EXIF complaints
        try:
            x = load_image(path, size, channels)
        except DataError as err:
            _assert_one_line_error(err, path)
            return
    assert x.shape == (size, size, channels) and x.dtype == np.float32
    assert np.isfinite(x).all() and x.min() >= 0.0 and x.max() <= 1.0


# -- images: hostile bytes ----------------------------------------------------


def _valid_file(fmt: str, frames: int = 1) -> bytes:
    rng = np.random.default_rng(len(fmt) + frames)
    ims = [Image.fromarray(rng.integers(0, 255, (12, 9, 3), np.uint8)) for _ in range(frames)]
    buf = io.BytesIO()
    kwargs = {"save_all": True, "append_images": ims[1:]} if frames > 1 else {}
    if fmt == "JPEG":
        exif = ims[0].getexif()
        exif[0x0112] = 6
        kwargs["exif"] = exif.tobytes()
    ims[0].save(buf, fmt, **kwargs)
    return buf.getvalue()


SEED_FILES = [
    _valid_file(fmt, frames)
    for fmt, frames in [
        ("PNG", 1), ("PNG", 3), ("JPEG", 1), ("GIF", 1), ("GIF", 3),
        ("BMP", 1), ("WEBP", 1), ("TIFF", 1), ("TIFF", 2),
    ]
]  # fmt: skip


@BOUNDED
@given(
    head=st.sampled_from(MAGICS),
    body=st.binary(max_size=2048),
    suffix=st.sampled_from(SUFFIXES),
)
def test_random_bytes_give_an_image_or_a_data_error(scratch, head, body, suffix):
    path = scratch / f"random{suffix}"
    path.write_bytes(head + body)
    _check_image_result(path, 8, 1)


@BOUNDED
@given(
    data=st.sampled_from(SEED_FILES),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=8),
    keep=st.floats(0.05, 1.0),
    suffix=st.sampled_from(SUFFIXES),
    channels=st.sampled_from([1, 3]),
)
def test_damaged_real_files_give_an_image_or_a_data_error(
    scratch, data, edits, keep, suffix, channels
):
    buf = bytearray(data)
    for where, value in edits:
        buf[int(where * len(buf))] = value
    path = scratch / f"damaged{suffix}"
    path.write_bytes(bytes(buf[: max(1, int(keep * len(buf)))]))
    _check_image_result(path, 8, channels)


# -- images: valid but odd ----------------------------------------------------

MODES = ("1", "L", "LA", "P", "P+transparency", "RGB", "RGBA", "CMYK", "I;16", "I", "F")
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
MULTI_FRAME = ("PNG", "GIF", "TIFF", "WEBP")
EXIF_FORMATS = ("JPEG", "PNG", "WEBP")


def _make(mode: str, w: int, h: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    if mode == "P+transparency":
        im = Image.fromarray(rng.integers(0, 8, (h, w), np.uint8), "L").convert("P")
        im.putpalette([int(v) for v in rng.integers(0, 256, 768)])
        im.info["transparency"] = 0
        return im
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (h, w)).astype(np.uint16))
    if mode == "I":
        return Image.fromarray(rng.integers(-1000, 70000, (h, w)).astype(np.int32))
    if mode == "F":
        return Image.fromarray((rng.random((h, w)) * rng.choice([1.0, 255.0])).astype(np.float32))
    rgba = Image.fromarray(rng.integers(0, 256, (h, w, 4), np.uint8), "RGBA")
    return rgba.convert(mode)


def _encode(im: Image.Image, fmt: str, frames: int = 1, orientation: int = 1) -> bytes:
    buf = io.BytesIO()
    kwargs: dict = {}
    if "transparency" in im.info and fmt in ("PNG", "GIF"):
        kwargs["transparency"] = im.info["transparency"]
    if frames > 1:
        rest = [im.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for _ in range(frames - 1)]
        kwargs.update(save_all=True, append_images=rest)
    if orientation != 1:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kwargs["exif"] = exif.tobytes()
    im.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _writable_pairs() -> list[tuple[str, str]]:
    """(format, mode) pairs this Pillow can write: the odd inputs users can have."""
    pairs = []
    for fmt in FORMATS:
        for mode in MODES:
            try:
                _encode(_make(mode, 5, 4, 0), fmt)
            except (OSError, ValueError, KeyError, TypeError):
                continue
            pairs.append((fmt, mode))
    return pairs


WRITABLE = _writable_pairs()


def test_the_odd_inputs_named_in_the_issue_are_covered():
    for pair in [("PNG", "I;16"), ("PNG", "P+transparency"), ("PNG", "RGBA"), ("JPEG", "CMYK"),
                 ("TIFF", "I"), ("TIFF", "F"), ("GIF", "P"), ("PNG", "LA"), ("BMP", "1")]:  # fmt: skip
        assert pair in WRITABLE


@st.composite
def odd_images(draw: st.DrawFn) -> tuple[bytes, str]:
    fmt, mode = draw(st.sampled_from(WRITABLE))
    im = _make(mode, draw(st.integers(4, 64)), draw(st.integers(4, 64)), draw(st.integers(0, 999)))
    frames = draw(st.integers(1, 3)) if fmt in MULTI_FRAME else 1
    orientation = draw(st.integers(1, 8)) if fmt in EXIF_FORMATS else 1
    # Any name: the content decides the decoder (a TIFF renamed .png still loads).
    return _encode(im, fmt, frames, orientation), draw(st.sampled_from(SUFFIXES))


@BOUNDED
@given(image=odd_images(), size=st.integers(4, 32), channels=st.sampled_from([1, 3]))
def test_valid_odd_images_load_at_the_requested_shape(scratch, image, size, channels):
    data, suffix = image
    path = scratch / f"odd{suffix}"
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x = load_image(path, size, channels)
    assert x.shape == (size, size, channels) and x.dtype == np.float32
    assert np.isfinite(x).all() and x.min() >= 0.0 and x.max() <= 1.0


@BOUNDED
@given(
    fmt=st.sampled_from(["PNG", "BMP", "TIFF", "WEBP", "GIF"]),
    value=st.integers(0, 255),
    w=st.integers(4, 40),
    h=st.integers(4, 40),
)
def test_lossless_gray_images_keep_their_level(scratch, fmt, value, w, h):
    path = scratch / "flat.img"
    im = Image.new("L", (w, h), value)
    path.write_bytes(_encode(im, fmt))
    x = load_image(path, 4, 1)
    assert np.all(np.abs(x * 255.0 - value) <= 1.0)


# -- model-directory files and latents ---------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
CONFIG_KEYS = ("image_size", "channels", "latent_dim", "arch", "filters", "hidden",
               "activation", "beta", "recon_loss", "format_version")  # fmt: skip
config_like = st.fixed_dictionaries(
    {},
    optional={k: json_values | st.sampled_from([4, 16, 28, 1, 3, "conv", "dense", [8, 16], 0.5])
              for k in CONFIG_KEYS},
)  # fmt: skip


@BOUNDED
@given(body=st.binary(max_size=512) | json_values.map(lambda v: json.dumps(v).encode()))
def test_random_config_json_is_refused_as_a_user_error(scratch, body):
    path = scratch / files.CONFIG
    path.write_bytes(body)
    try:
        cfg = VAEConfig.load(path)
    except ConceptVAEError as err:
        _assert_one_line_error(err, path)
    else:
        cfg.validate()


@BOUNDED
@given(data=config_like)
def test_config_dicts_are_valid_or_refused(scratch, data):
    path = scratch / files.CONFIG
    path.write_text(json.dumps(data))
    try:
        cfg = VAEConfig.load(path)
    except ConceptVAEError as err:
        _assert_one_line_error(err, path)
    else:
        assert VAEConfig.from_dict(cfg.to_dict()) == cfg


@BOUNDED
@given(body=st.binary(max_size=512) | json_values.map(lambda v: json.dumps(v).encode()))
def test_random_meta_json_is_refused_as_a_user_error(scratch, body):
    model_dir = scratch / "meta_model"
    model_dir.mkdir(exist_ok=True)
    (model_dir / files.META).write_bytes(body)
    try:
        meta = files.read_meta(model_dir)
    except ConceptVAEError as err:
        _assert_one_line_error(err, model_dir / files.META)
    else:
        assert isinstance(meta, dict)


def _zip_of(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def _npy_header(descr: str, shape: tuple[int, ...], fortran: bool) -> bytes:
    header = repr({"descr": descr, "fortran_order": fortran, "shape": shape}).encode()
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


npy_headers = st.builds(
    _npy_header,
    descr=st.sampled_from(["<f4", ">f8", "<i8", "|u1", "|b1", "<c8", "|O", "<U3", "|V8", "<f2"]),
    shape=st.lists(st.integers(0, 2**40), max_size=3).map(tuple),
    fortran=st.booleans(),
)
hostile_arrays = (
    st.binary(max_size=1024)
    | st.tuples(npy_headers, st.binary(max_size=256)).map(lambda t: t[0] + t[1])
    | st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "z.npy",
                    "files.npy",
                    "state.npy",
                    "w0.npy",
                    "x.npy",
                    "x_train.npy",
                    "y_train.npy",
                    "z",
                    "junk",
                ]
            ),
            st.binary(max_size=128) | npy_headers,
        ),
        max_size=3,
        unique_by=lambda member: member[0],
    ).map(_zip_of)
)


@BOUNDED
@given(body=hostile_arrays, suffix=st.sampled_from([".npy", ".npz"]))
def test_random_latents_files_are_refused_as_data_errors(scratch, body, suffix):
    path = scratch / f"latents{suffix}"
    path.write_bytes(body)
    try:
        z, names = read_latents(path, 4)
    except DataError as err:
        _assert_one_line_error(err, path)
    else:
        assert z.ndim == 2 and z.shape[1] == 4 and z.dtype == np.float32
        assert np.isfinite(z).all() and (names is None or len(names) == len(z))


@BOUNDED
@given(body=hostile_arrays)
def test_random_training_npz_files_are_refused_as_data_errors(scratch, body):
    path = scratch / "data.npz"
    path.write_bytes(body)
    try:
        dataset = open_dataset(path)
    except DataError as err:
        _assert_one_line_error(err, path)
    else:
        assert len(dataset) > 0 and dataset.load([0]).dtype == np.uint8


@BOUNDED
@given(
    array=hnp.arrays(
        dtype=hnp.scalar_dtypes(),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5),
    )
)
def test_valid_arrays_of_any_dtype_and_shape_load_or_are_refused(scratch, array):
    path = scratch / "arr.npy"
    np.save(path, array, allow_pickle=False)
    try:
        z, _ = read_latents(path, 4)
    except DataError as err:
        _assert_one_line_error(err, path)
    else:
        assert z.shape == (len(z), 4) and np.isfinite(z).all()


@pytest.fixture(scope="module")
def read_checkpoint_state():  # noqa: ANN201
    # Imported once, outside the timed examples: conceptvae.training loads TensorFlow.
    import conceptvae.model.network  # noqa: F401 - imports TensorFlow quietly first
    from conceptvae.training import read_checkpoint_state

    return read_checkpoint_state


@BOUNDED
@given(body=hostile_arrays)
def test_random_checkpoint_files_are_refused_as_user_errors(scratch, read_checkpoint_state, body):
    path = scratch / files.CHECKPOINT
    path.write_bytes(body)
    with pytest.raises(ConceptVAEError) as err:
        read_checkpoint_state(path)
    _assert_one_line_error(err.value, path)
