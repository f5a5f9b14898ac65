import io
import warnings

import numpy as np
import pytest
from conftest import loaded
from PIL import Image

from conceptvae.errors import DataError
from conceptvae.images import ImageNote, load_image, save_image


def test_conversion_crops_center_and_scales(tmp_path):
    arr = np.zeros((20, 40), np.uint8)
    arr[:, 10:30] = 255  # the centre square is all white
    Image.fromarray(arr).save(tmp_path / "wide.png")
    x = load_image(tmp_path / "wide.png", 8, 1)
    assert x.shape == (8, 8, 1) and x.dtype == np.float32
    assert x.min() > 0.95


def test_odd_but_valid_images(tmp_path):
    Image.fromarray(np.full((10, 10), 40000, np.uint16)).save(tmp_path / "deep.png")
    assert abs(load_image(tmp_path / "deep.png", 8, 1).mean() - 40000 / 65535) < 0.01
    pal = Image.new("P", (10, 10), 1)
    pal.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    pal.info["transparency"] = 0
    pal.save(tmp_path / "pal.png", transparency=0)
    assert load_image(tmp_path / "pal.png", 8, 3).min() > 0.95
    Image.new("RGBA", (10, 10), (255, 255, 255, 0)).save(tmp_path / "clear.png")
    assert load_image(tmp_path / "clear.png", 8, 1).max() == 0.0  # transparent -> black
    Image.new("CMYK", (10, 10), (0, 0, 0, 0)).save(tmp_path / "cmyk.jpg")
    assert load_image(tmp_path / "cmyk.jpg", 8, 3).min() > 0.9


def test_exif_orientation_is_honoured(tmp_path):
    arr = np.zeros((10, 20), np.uint8)
    arr[:, :10] = 255  # left half white
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 CW on display: white ends up on top
    im.save(tmp_path / "rot.jpg", exif=exif.tobytes(), quality=100)
    x = load_image(tmp_path / "rot.jpg", 10, 1)[..., 0]
    assert x[:3].mean() > 0.8 and x[-3:].mean() < 0.2


def test_animated_gif_uses_first_frame_with_a_note(tmp_path):
    frames = [Image.new("L", (8, 8), v) for v in (255, 0)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    with pytest.warns(ImageNote, match="first frame"):
        x = load_image(tmp_path / "anim.gif", 8, 1)
    assert x.mean() > 0.9


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("hello, not a png"), "not a readable image"),
        (lambda p: Image.new("L", (1, 1)).save(p), "1x1 pixels"),
    ],
)
def test_bad_images_give_one_line(tmp_path, make, message):
    p = tmp_path / "bad.png"
    make(p)
    with pytest.raises(DataError, match=message) as err:
        load_image(p, 8, 1)
    assert err.value.path == str(p) and "\n" not in str(err.value)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files_are_refused(tmp_path, fmt):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8)).save(buf, fmt)
    p = tmp_path / f"cut.{fmt.lower()}"
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(DataError, match="truncated|corrupt|not a readable"):
        load_image(p, 8, 1)


def test_decompression_bomb_refused_before_decoding(tmp_path):
    # A tiny PNG whose header declares 30000x30000: never allocated.
    import struct
    import zlib

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 100))
        + chunk(b"IEND", b"")
    )
    p = tmp_path / "bomb.png"
    p.write_bytes(png)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match="refused"):
            load_image(p, 8, 1)


def test_save_is_atomic_and_deterministic(tmp_path):
    img = np.random.default_rng(1).random((8, 8, 1)).astype(np.float32)
    save_image(img, tmp_path / "a.png", size=16)
    save_image(img, tmp_path / "b.png", size=16)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert loaded(tmp_path / "a.png").size == (16, 16)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.png"]


def test_to_uint8_in_chunks_gives_what_the_whole_array_would():
    from conceptvae.images import to_uint8

    rng = np.random.default_rng(0)
    big = rng.uniform(-0.2, 1.2, (2100, 700, 3)).astype(np.float32)  # several chunks of rows
    big[5, 5] = np.nan
    big[7, 7] = np.inf
    whole = (np.clip(np.nan_to_num(big, nan=0.0), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(to_uint8(big), whole)
    np.testing.assert_array_equal(to_uint8(big.astype(np.float64)[:3]), whole[:3])
    assert to_uint8(np.float32(0.5)) == 128
