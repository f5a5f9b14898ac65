"""Issue 26: bad input on the newer surfaces (align-faces, multi-output commands,
TF_CONFIG, the studio, huge photographs, model metadata)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke
from facephotos import FACES, TWO_FACES, Placement, scene
from PIL import Image
from test_cli import assert_one_line_error

TWO = TWO_FACES
ONE = [Placement(FACES[1], (120, 110), 1.6, 0)]


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("scenes")
    two, one = d / "two.png", d / "one.png"
    Image.fromarray(scene(480, 320, TWO, seed=7)).save(two)
    Image.fromarray(scene(240, 220, ONE, seed=5)).save(one)
    return {"two": two.read_bytes(), "one": one.read_bytes()}


def _digest(folder) -> dict:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# 1. align-faces never loses a file -------------------------------------------------


def test_align_faces_never_replaces_a_photograph(runner, photos, tmp_path) -> None:
    # The crops mirror FOLDER's layout under OUT: with OUT the photos' parent,
    # the crop of src/src/two.png lands on src/two.png, one of the photographs.
    src = tmp_path / "src"
    (src / "src").mkdir(parents=True)
    (src / "two.png").write_bytes(photos["two"])
    (src / "src" / "two.png").write_bytes(photos["one"])
    before = _digest(tmp_path)
    for extra in ([], ["--overwrite"]):
        r = invoke(runner, "align-faces", src, "-o", tmp_path, *extra)
        assert_one_line_error(r, "two.png", "photographs")
        assert _digest(tmp_path) == before


def test_align_faces_refuses_to_replace_existing_outputs(runner, photos, tmp_path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    (src / "two.png").write_bytes(photos["two"])
    (src / "labels.csv").write_text("file,smile\ntwo.png,1\n")
    for name in ("two.png", "labels.csv", "face_alignment.json"):
        out.mkdir()
        (out / name).write_bytes(b"mine")
        r = invoke(runner, "align-faces", src, "-o", out)
        assert_one_line_error(r, name, "--overwrite")
        assert _digest(out) == {name: hashlib.sha256(b"mine").hexdigest()}
        shutil.rmtree(out)
    out.mkdir()
    (out / "two.png").write_bytes(b"mine")
    r = invoke(runner, "align-faces", src, "-o", out, "--overwrite")
    assert r.exit_code == 0, r.output
    assert Image.open(out / "two.png").size == (64, 64)


@pytest.mark.parametrize("face", ["largest", "all"])
def test_align_faces_outputs_never_collide(runner, photos, tmp_path, face) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    (src / "a.png").write_bytes(photos["two"])
    Image.open(src / "a.png").save(src / "a.gif")  # same stem: a.png's crop name
    r = invoke(runner, "align-faces", src, "-o", out, "--face", face)
    assert_one_line_error(r, "a.png", "a.gif", "both")
    assert not out.exists()


def test_align_faces_summary_counts_what_was_written(runner, photos, tmp_path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    (src / "a.png").write_bytes(photos["two"])
    (src / "b.png").write_bytes(photos["one"])
    r = invoke(runner, "align-faces", src, "-o", out, "--face", "all")
    assert r.exit_code == 0, r.output
    crops = sorted(p.name for p in out.glob("*.png"))
    assert crops == ["a-1.png", "a-2.png", "b-1.png"]
    assert r.stdout.startswith(f"{out}: 3 crops from 3 faces")


# 2. no partial output ----------------------------------------------------------------


def test_align_faces_a_missing_face_number_is_reported_and_the_rest_done(
    runner, photos, tmp_path
) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    (src / "a.png").write_bytes(photos["one"])  # one face: no face 2
    (src / "b.png").write_bytes(photos["two"])
    r = invoke(runner, "align-faces", src, "-o", out, "--face", "2")
    assert r.exit_code == 1, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "a.png" in lines[0]
    assert "Traceback" not in r.output
    assert sorted(p.name for p in out.iterdir()) == ["b.png", "face_alignment.json"]
    assert "1 crops" in r.stdout


@pytest.mark.parametrize("face", ["²", "٣", "1" * 40])
def test_face_numbers_are_ascii_digits(runner, photos, tmp_path, face) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.png").write_bytes(photos["one"])
    r = invoke(runner, "align-faces", src, "-o", tmp_path / "out", "--face", face)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "--face" in r.stderr
    from conceptvae.errors import ConceptVAEError
    from conceptvae.faces.inputs import check_face_choice

    with pytest.raises(ConceptVAEError, match="face"):
        check_face_choice(face)


def _squares(tmp_path, n: int = 2) -> list:
    from conftest import synthetic_images

    x, _ = synthetic_images(n)
    paths = []
    for i, img in enumerate(x):
        paths.append(tmp_path / f"in{i}.png")
        Image.fromarray(img).save(paths[-1])
    return paths


@pytest.mark.parametrize("command", ["sample", "reconstruct", "decode", "interpolate", "faces"])
def test_multi_output_commands_check_every_output_before_writing(
    runner, tiny_model, photos, tmp_path, command
) -> None:
    import numpy as np

    d = tmp_path / "d"
    a, b = _squares(tmp_path)
    if command == "sample":
        args, blocked = ["sample", "-m", tiny_model, "-n", "3", "--no-grid"], "sample_0001.png"
    elif command == "reconstruct":
        args, blocked = ["reconstruct", a, b, "-m", tiny_model], "in1.png"
    elif command == "decode":
        np.save(tmp_path / "z.npy", np.zeros((3, 4), np.float32))
        args, blocked = ["decode", tmp_path / "z.npy", "-m", tiny_model], "0001.png"
    elif command == "interpolate":
        args, blocked = ["interpolate", a, b, "-m", tiny_model, "-n", "3"], "frame_0001.png"
    else:
        (tmp_path / "a.png").write_bytes(photos["one"])
        (tmp_path / "b.png").write_bytes(photos["one"])
        args, blocked = ["faces", tmp_path / "a.png", tmp_path / "b.png"], "b.png"
    (d / blocked).mkdir(parents=True)
    r = invoke(runner, *args, "-o", f"{d}/")
    assert_one_line_error(r, blocked, "directory")
    assert [p.name for p in d.iterdir()] == [blocked]



# 3. the studio: stalled clients lock nobody out ---------------------------------------


def test_connections_sending_half_a_header_lock_nobody_out(tmp_path) -> None:
    import socket

    from studio_server import start_studio

    running = start_studio(tmp_path / "home", tmp_path / "tmp")
    try:
        host, port = running.url.split("//")[1].rstrip("/").rsplit(":", 1)
        stalled = []
        for _ in range(40):  # more than the 32 requests served at once
            s = socket.create_connection((host, int(port)))
            s.sendall(b"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            stalled.append(s)
        status, _, _ = running.request("/api/state")
        assert status == 200
        for s in stalled:
            s.close()
    finally:
        code, _, err = running.stop()
    assert "Traceback" not in err


def test_a_connection_whose_headers_never_end_is_closed() -> None:
    import asyncio
    import socket
    import threading

    import uvicorn

    from conceptvae.studio.server import header_timeout_protocol, limit_requests

    async def app(scope, receive, send):  # noqa: ANN001, ANN202
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sock = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(limit_requests(app, 2), lifespan="off",
                                           log_level="warning", http=header_timeout_protocol(0.5)))  # fmt: skip
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    try:
        port = sock.getsockname()[1]
        slow = socket.create_connection(("127.0.0.1", port), timeout=20)
        slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        assert slow.recv(100) == b""  # closed by the server, not by the 20 s timeout
        fine = socket.create_connection(("127.0.0.1", port), timeout=20)
        fine.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert fine.recv(100).startswith(b"HTTP/1.1 200")
        fine.close()
    finally:
        server.should_exit = True
        thread.join(10)


# 4. memory in proportion --------------------------------------------------------------


@pytest.mark.parametrize(("item", "words"), [("[]", "lists and objects"), ("0", "values")])
def test_json_bounds_decoded_objects_not_only_bytes(tmp_path, item, words) -> None:
    from conceptvae.errors import ConceptVAEError
    from conceptvae.readers import MAX_JSON_CONTAINERS, MAX_JSON_ITEMS, read_json

    n = (MAX_JSON_CONTAINERS if item == "[]" else MAX_JSON_ITEMS) + 2
    path = tmp_path / "meta.json"
    path.write_text('{"junk": [' + ",".join([item] * n) + "]}")  # a few MB, far below the cap
    with pytest.raises(ConceptVAEError, match=words):
        read_json(path, "model metadata")
    path.write_text('{"ok": [' + ",".join(["[]"] * 1000) + "]}")
    assert len(read_json(path)["ok"]) == 1000


def test_an_intact_image_is_never_called_corrupt_when_memory_runs_out(
    tmp_path, monkeypatch
) -> None:
    from PIL import ImageFile

    from conceptvae.errors import ConceptVAEError
    from conceptvae.images import load_pil

    path = tmp_path / "big.png"
    Image.new("RGB", (64, 48), (10, 20, 30)).save(path)

    def no_memory(self):  # noqa: ANN001, ANN202
        raise MemoryError

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_memory)
    with pytest.raises(ConceptVAEError) as exc:
        load_pil(path)
    assert "corrupt" not in str(exc.value) and "memory" in str(exc.value)
    assert str(exc.value).startswith(str(path))


def test_studio_decodes_large_uploads_one_at_a_time(tmp_path, monkeypatch) -> None:
    import io
    import threading
    import time

    import conceptvae.images
    from conceptvae.studio.engine import HEAVY_DECODE_PIXELS, Studio

    buf = io.BytesIO()
    Image.new("L", (2100, HEAVY_DECODE_PIXELS // 2100 + 10)).save(buf, "PNG")
    data = buf.getvalue()
    real, busy, most = conceptvae.images.load_pil, [0], [0]
    lock = threading.Lock()

    def counting(path):  # noqa: ANN001, ANN202
        with lock:
            busy[0] += 1
            most[0] = max(most[0], busy[0])
        try:
            time.sleep(0.05)  # widen the window in which two decodes could overlap
            return real(path)
        finally:
            with lock:
                busy[0] -= 1

    monkeypatch.setattr(conceptvae.images, "load_pil", counting)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    studio = Studio()
    try:
        threads = [threading.Thread(target=studio.add_upload, args=(data, "a.png")) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        studio.close()
    assert most[0] == 1


def test_studio_json_nested_deep_or_with_huge_numbers_is_a_400(tmp_path) -> None:
    from studio_server import start_studio

    running = start_studio(tmp_path / "home", tmp_path / "tmp")
    try:
        deep = b'{"a": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
        huge = b'{"image": "x", "amounts": {"smile": ' + b"9" * 400 + b'}, "fps": ' + b"9" * 400 + b"}"
        for body in (deep, huge):
            for path in ("/api/preview", "/api/render", "/api/morph"):
                status, _, raw = running.request(path, body, {"Content-Type": "application/json"})
                assert status == 400, (path, status, raw[:200])
        assert running.request("/api/state")[0] == 200
    finally:
        code, _, err = running.stop()
    assert "Traceback" not in err


def _flat_photo(width: int, height: int, places: list[tuple[int, int]], face: int = 0,
                scale: float = 1.6) -> np.ndarray:  # fmt: skip
    """A flat field with 300x300 scenes of one face (tests/facephotos.py) pasted at ``places``."""
    canvas = np.full((height, width, 3), (118, 124, 131), np.uint8)
    one = scene(300, 300, [Placement(FACES[face], (150, 150), scale, 0)], seed=face)
    for x, y in places:
        canvas[y : y + 300, x : x + 300] = one
    return canvas


def test_faces_of_100_pixels_are_found_in_a_very_large_photo(runner, tmp_path) -> None:
    # Three ~95-pixel faces in a 6000-pixel-wide photograph: the tiles sized to the
    # photo alone (1000 pixels and up) saw none of them; the fine grid sees all three.
    places = [(1000, 350), (1700, 350), (3100, 350)]
    path = tmp_path / "wide.png"
    Image.fromarray(_flat_photo(6000, 1000, places, face=1, scale=1.5)).save(path)
    result = invoke(runner, "faces", path, "--json")
    assert result.exit_code == 0, result.output
    faces = json.loads(result.stdout)
    assert len(faces) == 3
    for f, (x, y) in zip(faces, places):
        bx, by, bw, bh = f["box"]
        assert bx <= x + 150 <= bx + bw and by <= y + 150 <= by + bh
        assert 0.6 < bw / (64 * 1.5) < 1.4


def test_the_fine_grid_is_bounded_and_only_for_large_photos() -> None:
    from conceptvae.faces.detect import FINE_TILE, MAX_FINE_TILES, fine_tiles

    assert fine_tiles(4000, 3000) == [] and fine_tiles(1280, 886) == []
    for w, h in [(4500, 3000), (9000, 9000), (10000, 10000), (100_000, 1000), (30000, 30000)]:
        grid = fine_tiles(w, h)
        assert 0 < len(grid) <= MAX_FINE_TILES
        xs = {x for x, _, side, _ in grid}
        side = grid[0][2]
        assert side == FINE_TILE or (w, h) == (30000, 30000)
        assert min(xs) == 0 and max(xs) + side == w  # the whole width is covered


def test_a_photo_edit_holds_the_photograph_in_8_bits(tmp_path) -> None:
    # The file path (edit_files) never makes a float copy of a photograph (4 bytes
    # a channel) or a copy per face: traced memory stays near the photo's own size.
    import tracemalloc

    from conceptvae.commands.edit import edit_files
    from conceptvae.resolve import resolve_model

    photo = _flat_photo(3000, 3000, [(1200, 1400)])
    path = tmp_path / "big.png"
    Image.fromarray(photo).save(path)
    model = resolve_model("faces", ["smile"])  # loading it reads tens of MB of files
    edit_files(model, [path], ["smile"], tmp_path / "warm.png", amount=1.5)  # face models loaded
    tracemalloc.start()
    try:
        batch = edit_files(model, [path], ["smile"], tmp_path / "out.png", amount=1.5)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(batch.written) == 1 and batch.written[0].faces
    # Before: the photo's bytes, a copy per face, a float32 copy (4x): over 6x.
    assert peak < 1.5 * photo.nbytes, peak / photo.nbytes
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert out.shape == photo.shape and (out != photo).any(axis=-1).sum() < 300 * 300
    assert np.array_equal(out, np.asarray(Image.open(tmp_path / "warm.png")))


def test_a_strip_of_a_photograph_holds_it_once_or_twice_whatever_the_steps(tmp_path) -> None:
    # traverse / edit --sweep kept every cell as a full-size float32 photograph
    # (4 bytes a channel, one per amount): a 6000x6000 JPEG took 3.2 GB at
    # --steps 5, more with each step. Each cell is now kept at the strip's cell size.
    import tracemalloc

    from conceptvae.commands.edit import edit_files, traverse_file
    from conceptvae.resolve import resolve_model

    photo = _flat_photo(2400, 2000, [(900, 800)])
    path = tmp_path / "big.png"
    Image.fromarray(photo).save(path)
    model = resolve_model("faces", ["smile"])
    traverse_file(model, [path], ["smile"], (-2.0, 2.0), 3, tmp_path / "warm.png")
    runs = {
        "traverse": (traverse_file, ([path], ["smile"], (-2.0, 2.0), 9, tmp_path / "t.png"), {}),
        "sweep": (edit_files, ([path], ["smile"], tmp_path / "s.png"),
                  {"sweep": np.linspace(-2, 2, 9)}),
    }  # fmt: skip
    peaks = {}
    for name, (command, args, keywords) in runs.items():
        tracemalloc.start()
        try:
            batch = command(model, *args, **keywords)
            peaks[name] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert len(batch.written) == 1
    # Before: nine float32 copies and more (over 40x the photograph's bytes).
    assert max(peaks.values()) < 3.5 * photo.nbytes, {k: v / photo.nbytes for k, v in peaks.items()}
    assert (tmp_path / "t.png").read_bytes() == (tmp_path / "s.png").read_bytes()


def test_a_strip_of_many_photographs_reads_each_only_when_its_row_is_made(
    tmp_path, monkeypatch
) -> None:
    # A strip decoded every photograph before encoding any: forty 4000x3000
    # photos held 1.9 GB. Each photograph is now read, edited and reduced to its
    # row of cells before the next is read.
    import conceptvae.editing.inputs as inputs_module
    import conceptvae.editing.traversal as traversal_module
    from conceptvae.commands.edit import traverse_file

    paths = []
    for k in range(3):
        paths.append(tmp_path / f"p{k}.png")
        Image.fromarray(_flat_photo(700, 560, [(60 + 150 * k, 100)])).save(paths[-1])
    read, rendered_after = [], []
    real_load, real_render = inputs_module.load_pil, traversal_module.render

    def load(path, *args, **kwargs):
        read.append(Path(path).name)
        return real_load(path, *args, **kwargs)

    def render(*args, **kwargs):
        rendered_after.append(len(read))
        return real_render(*args, **kwargs)

    monkeypatch.setattr(inputs_module, "load_pil", load)
    monkeypatch.setattr(traversal_module, "render", render)
    batch = traverse_file("faces", paths, ["smile"], (-1.0, 1.0), 3, tmp_path / "t.png")
    assert len(batch.written) == 1 and not batch.skipped
    assert read == ["p0.png", "p1.png", "p2.png"]
    assert rendered_after == [1, 2, 3]  # before: [3], every photo read first


def test_a_strip_is_the_same_whatever_the_order_of_its_photographs(tmp_path) -> None:
    # The smallest photograph sets the strip's cell. When it comes last, the rows
    # before it were kept reduced to a larger cell, and are made again at the
    # strip's: reducing the reduction would change their pixels.
    from conceptvae.editing import traverse

    big = tmp_path / "big.png"
    small = tmp_path / "small.png"
    Image.fromarray(_flat_photo(900, 700, [(300, 200)])).save(big)
    Image.fromarray(_flat_photo(380, 330, [(40, 15)])).save(small)
    first = traverse("faces", [big, small], "smile", steps=2)
    last = traverse("faces", [small, big], "smile", steps=2)
    assert first.names == ["big", "small"] and last.names == ["small", "big"]
    assert first.cells[0][0].shape == (380, 380, 3)
    for a, b in [(0, 1), (1, 0)]:
        assert np.array_equal(first.inputs[a], last.inputs[b])
        for x, y in zip(first.cells[a], last.cells[b]):
            assert x.dtype == y.dtype and np.array_equal(x, y)


def test_a_strip_cell_kept_small_tiles_to_the_same_bytes() -> None:
    from conceptvae.editing import traverse
    from conceptvae.editing.traversal import _to_cell
    from conceptvae.render import tile

    rng = np.random.default_rng(0)
    for shape, cell in [((700, 500, 3), 512), ((300, 900, 1), 128), ((600, 600, 3), 512)]:
        photo = rng.integers(0, 256, shape, dtype=np.uint8)
        small = _to_cell(photo, cell)
        assert small.dtype == np.uint8 and small.shape == (cell, cell, shape[-1])
        for rgb in (True, False):
            want = tile(photo.astype(np.float32) / 255, cell, rgb)
            assert np.array_equal(tile(small, cell, rgb), want)
    tiny = rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)
    assert np.array_equal(_to_cell(tiny, 64), tiny.astype(np.float32) / 255)
    # The caller's photograph is never the one the last column is pasted into.
    photo = _flat_photo(700, 600, [(200, 150)])
    before = photo.copy()
    result = traverse("faces", photo, "smile", steps=3)
    assert np.array_equal(photo, before)
    assert all(c.shape == (512, 512, 3) for c in result.cells[0]) and len(result.cells[0]) == 3


def test_decoding_a_photograph_makes_no_copy_of_it(tmp_path, monkeypatch) -> None:
    from conceptvae.images import load_pil

    path = tmp_path / "p.jpg"
    Image.fromarray(_flat_photo(400, 300, [])).save(path)
    copies = []
    real = Image.Image.copy
    monkeypatch.setattr(Image.Image, "copy", lambda im: copies.append(im.size) or real(im))
    im = load_pil(path)
    assert im.size == (400, 300) and im.mode == "RGB" and copies == []
    assert np.array_equal(np.asarray(im), np.asarray(Image.open(path).convert("RGB")))


@pytest.mark.parametrize("mode", ["I;16", "F"])
def test_a_16_bit_or_float_photograph_is_decoded_a_band_at_a_time(tmp_path, mode) -> None:
    # 16-bit and float pixels become 8-bit a band of rows at a time: a 9000x9000
    # 16-bit PNG took 2.09 GB to decode as one float64 array (8 bytes a pixel).
    import tracemalloc

    from conceptvae.images import load_pil

    w, h = 3000, 2000
    ramp = np.add.outer(np.arange(h), np.arange(w)) / (w + h)
    if mode == "I;16":
        path = tmp_path / "deep.png"
        Image.fromarray((ramp * 65535).astype(np.uint16)).save(path)
    else:
        path = tmp_path / "float.tif"
        Image.fromarray(ramp.astype(np.float32), "F").save(path)
    want = np.clip(ramp * 255 + 0.5, 0, 255).astype(np.uint8)
    tracemalloc.start()
    try:
        im = load_pil(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert im.mode == "L" and peak < 4 * w * h, peak / (w * h)
    assert np.abs(np.asarray(im).astype(int) - want).max() <= 1


def test_the_edit_pastes_into_its_own_copy_never_the_callers_photo() -> None:
    from conceptvae.editing import edit

    photo = _flat_photo(700, 600, [(200, 150)])
    before = photo.copy()
    result = edit("faces", photo, "smile", 1.5)
    assert np.array_equal(photo, before)
    assert result.images[0].dtype == np.float32 and result.images[0].shape == photo.shape
    as8 = edit("faces", photo, "smile", 1.5, as_uint8=True).images[0]
    assert as8.dtype == np.uint8 and np.array_equal(photo, before)
    assert np.array_equal(as8, np.rint(result.images[0] * 255).astype(np.uint8))


# 5. Model metadata and concept libraries: refused where they are read ------------

ROOT = Path(__file__).resolve().parents[1]
BAD_ALIGNMENTS = [
    ("image_size", 0), ("image_size", 1e39), ("image_size", "64"), ("image_size", 63.5),
    ("detect_padding", float("nan")), ("detect_padding", float("inf")), ("detect_padding", -1),
    ("template", [[32, 32]] * 5), ("template", [[10, 10], [20, 20], [30, 30], [40, 40], [50, 50]]),
    ("template", [[1e30, 1], [2, 2], [3, 3], [4, 4], [5, 5]]), ("mask", "x"),
    ("mask.centre", "middle"), ("mask.centre", [0.5, 0.5, 0.5]), ("mask.centre", [float("nan"), 0.5]),
    ("mask.radii", [0, 0]), ("mask.radii", [-0.4, 0.4]), ("mask.feather", 2),
]  # fmt: skip


def _with(entry: dict, field: str, value) -> dict:  # noqa: ANN001
    entry = json.loads(json.dumps(entry))
    if field.startswith("mask."):
        entry["mask"][field.split(".", 1)[1]] = value
    else:
        entry[field] = value
    return entry


def _faces_model(tmp_path: Path, change) -> Path:  # noqa: ANN001
    model = tmp_path / "model"
    shutil.copytree(ROOT / "pretrained" / "faces", model)
    meta = json.loads((model / "meta.json").read_text())
    change(meta)
    # json.dumps writes NaN and Infinity, as a careless writer would; 1e999 reads as inf.
    (model / "meta.json").write_text(json.dumps(meta))
    return model


@pytest.mark.parametrize(("field", "value"), BAD_ALIGNMENTS, ids=[f"{f}={v!r}"[:40] for f, v in BAD_ALIGNMENTS])
def test_bad_face_alignment_in_meta_json_is_one_line_naming_the_field(runner, tmp_path, field, value):
    model = _faces_model(
        tmp_path, lambda m: m.update(face_alignment=_with(m["face_alignment"], field, value))
    )
    r = invoke(runner, "info", model)
    assert_one_line_error(r, "meta.json", f"face_alignment.{field}")


def test_a_bad_face_alignment_stops_an_edit_before_anything_is_written(runner, tmp_path, photos):
    (tmp_path / "two.png").write_bytes(photos["two"])
    for field, value in (("image_size", 0), ("template", [[32, 32]] * 5), ("mask.centre", "x")):
        model = _faces_model(
            tmp_path / field,
            lambda m, f=field, v=value: m.update(face_alignment=_with(m["face_alignment"], f, v)),
        )
        out = tmp_path / f"{field}.png"
        r = invoke(runner, "edit", tmp_path / "two.png", "-c", "smile", "-m", model, "-o", out)
        assert_one_line_error(r, "meta.json", f"face_alignment.{field}")
        assert not out.exists()


def test_image_size_1e999_reads_as_infinite_and_is_refused(runner, tmp_path):
    model = _faces_model(tmp_path, lambda m: None)
    text = (model / "meta.json").read_text().replace('"image_size": 64', '"image_size": 1e999')
    (model / "meta.json").write_text(text)
    assert_one_line_error(invoke(runner, "info", model), "face_alignment.image_size", "inf")


@pytest.mark.parametrize(
    ("entry", "knob"),
    [("blend", "full_change"), ("detail", "full_change"), ("photo_detail", "full_change"),
     ("blend", "gain"), ("detail", "rel_high")],
)  # fmt: skip
def test_bad_edit_defaults_are_refused_when_the_model_is_loaded(runner, tmp_path, photos, entry, knob):
    bad = {"full_change": 0, "gain": 1e300, "rel_high": 5}[knob]
    model = _faces_model(
        tmp_path, lambda m: m["edit_defaults"].setdefault(entry, {}).update({knob: bad})
    )
    assert_one_line_error(invoke(runner, "info", model), "meta.json", f"edit_defaults.{entry}", knob)
    (tmp_path / "two.png").write_bytes(photos["two"])
    for mode in ("blend", "detail"):
        out = tmp_path / f"{mode}.png"
        r = invoke(runner, "edit", tmp_path / "two.png", "-c", "smile", "--mode", mode, "-m", model,
                   "-o", out)  # fmt: skip
        assert_one_line_error(r, "meta.json", f"edit_defaults.{entry}")
        assert not out.exists()


@pytest.mark.parametrize(("field", "value"), BAD_ALIGNMENTS[:9], ids=[f"{f}={v!r}"[:40] for f, v in BAD_ALIGNMENTS[:9]])
def test_bad_face_alignment_json_of_a_training_folder_is_refused_before_training(
    runner, tmp_path, field, value
):
    from conceptvae.faces.align import SMILES_ALIGNMENT

    data = tmp_path / "crops"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 255, (16, 16), np.uint8)).save(data / f"{i}.png")
    entry = _with(SMILES_ALIGNMENT.to_meta(), field, value)
    (data / "face_alignment.json").write_text(json.dumps({"face_alignment": entry}))
    r = invoke(runner, "train", data, "--out", tmp_path / "run", "--latent-dim", "2",
               "--filters", "4", "--epochs", "1", "--batch-size", "4")  # fmt: skip
    assert_one_line_error(r, "face_alignment.json", f"face_alignment.{field}")
    assert not (tmp_path / "run").exists()


def _export_of_digits(tmp_path: Path, change) -> tuple[Path, Path]:  # noqa: ANN001
    """The digits model without its library, and an export of that library after ``change``."""
    from conceptvae.concepts.manage import library_to_dict, read_export

    model = tmp_path / "model"
    shutil.copytree(ROOT / "pretrained" / "digits", model)
    d = json.loads(json.dumps(library_to_dict(read_export(model / "concepts.h5"))))
    change(d)
    export = tmp_path / "export.json"
    export.write_text(json.dumps(d))
    (model / "concepts.h5").unlink()
    return model, export


def _first_concept(d: dict) -> dict:
    return d["concepts"][sorted(d["concepts"])[0]]


@pytest.mark.parametrize("value", ["high", True, [0.9]])
def test_a_metric_that_is_not_a_number_is_refused_by_import(runner, tmp_path, value):
    def change(d: dict) -> None:
        _first_concept(d)["info"].setdefault("metrics", {})["probe_accuracy"] = value

    model, export = _export_of_digits(tmp_path, change)
    r = invoke(runner, "concepts", "import", model, export)
    assert_one_line_error(r, "export.json", "metrics")
    assert not (model / "concepts.h5").exists()
    # Nothing imported, so listing has nothing to trip over.
    assert "Traceback" not in invoke(runner, "concepts", "list", model).output


def test_a_library_holding_a_text_metric_is_one_line_on_read(runner, tmp_path):
    import h5py

    model = tmp_path / "model"
    shutil.copytree(ROOT / "pretrained" / "digits", model)
    with h5py.File(model / "concepts.h5", "a") as f:
        name = sorted(f["concepts"])[0]
        g = f["concepts"][name]
        info = json.loads(g["info"].asstr()[()])
        info.setdefault("metrics", {})["probe_accuracy"] = "high"
        del g["info"]
        g.create_dataset("info", data=json.dumps(info), dtype=h5py.string_dtype("utf-8"))
    r = invoke(runner, "concepts", "list", model)
    assert_one_line_error(r, "concepts.h5", "probe_accuracy")


@pytest.mark.parametrize("value", [3.4e38, 1e5])
def test_a_concept_vector_far_beyond_any_latent_scale_is_refused_naming_it(runner, tmp_path, value):
    names = []

    def change(d: dict) -> None:
        names.append(sorted(d["concepts"])[0])
        _first_concept(d)["vector"][0] = value

    model, export = _export_of_digits(tmp_path, change)
    r = invoke(runner, "concepts", "import", model, export)
    assert_one_line_error(r, "export.json", repr(names[0]), "beyond any latent scale")
    assert not (model / "concepts.h5").exists()


def test_directions_of_the_shipped_libraries_are_well_within_the_bound():
    from conceptvae.concepts.library import ConceptLibrary
    from conceptvae.concepts.validation import MAX_DIRECTION_COMPONENT

    for name in ("digits", "faces"):
        lib = ConceptLibrary.read(ROOT / "pretrained" / name / "concepts.h5")
        top = max(float(np.abs(c.vector).max()) for c in lib.concepts.values())
        assert 0 < top < MAX_DIRECTION_COMPONENT / 1000
