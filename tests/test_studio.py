"""conceptvae studio over HTTP: routes, refusals, reproducible downloads, clean exit.

The server runs as `conceptvae studio --no-browser --port 0` in a subprocess, as a
user runs it. The page itself is tested in a real browser in test_studio_browser.py.
"""

from __future__ import annotations

import io
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from studio_server import private_dirs, start_studio


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CONCEPTVAE_HOME holding one user model (a copy of the pretrained digits)."""
    from conceptvae.model.registry import list_models

    home = tmp_path_factory.mktemp("studio-home")
    digits = next(e.path for e in list_models() if e.name == "digits")
    shutil.copytree(digits, home / "models" / "mydigits")
    return home


@pytest.fixture(scope="module")
def studio(home: Path, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    running = start_studio(home, tmp_path_factory.mktemp("studio-tmp"))
    yield running
    running.stop()


def png_bytes(im: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


def photo(w: int = 300, h: int = 200, seed: int = 0) -> Image.Image:
    """A colour picture with structure (gradients and noise), not a flat square."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    arr = np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], -1).astype(np.int32)
    arr = np.clip(arr + rng.integers(-30, 30, arr.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(arr, "RGB")


def bomb_png(w: int, h: int) -> bytes:
    """A valid PNG header declaring w x h pixels, with a tiny (truncated) body."""
    import struct

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def upload(studio, data: bytes, name: str = "photo.png") -> tuple[int, dict]:  # noqa: ANN001
    import json

    status, _, raw = studio.request("/api/images", data, {"X-Filename": name})
    return status, json.loads(raw)


def test_state_lists_models_examples_and_limits(studio) -> None:  # noqa: ANN001
    status, state = studio.json("/api/state")
    assert status == 200
    models = {m["name"]: m["source"] for m in state["models"]}
    assert models == {"faces": "pretrained", "digits": "pretrained", "mydigits": "user"}
    assert state["default_model"] == "faces"
    assert {e["name"] for e in state["examples"]} >= {"face-1.png", "digit-3.png"}
    status, info = studio.json("/api/models/mydigits")
    assert status == 200 and info["class_sets"][0]["classes"] == [str(d) for d in range(10)]
    assert {a["name"] for a in info["attributes"]} >= {"thick", "slant", "pc1"}


def test_page_and_static_files_are_served(studio) -> None:  # noqa: ANN001
    status, headers, body = studio.request("/")
    assert status == 200 and b'<script src="/static/studio.js">' in body
    for name in ("studio.js", "studio.css"):
        status, _, body = studio.request(f"/static/{name}")
        assert status == 200 and len(body) > 500
    # Nothing on the page comes from another host: it works offline.
    for name in ("/", "/static/studio.js", "/static/studio.css"):
        text = studio.request(name)[2].decode()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text


def test_preview_moves_with_the_amount_and_render_is_the_cli_bytes(studio, tmp_path) -> None:  # noqa: ANN001
    im = photo()
    (tmp_path / "my photo.png").write_bytes(png_bytes(im))
    status, info = upload(studio, png_bytes(im), "C:\\Users\\me\\my photo.png")
    assert status == 200 and info["name"] == "my photo.png" and (info["width"], info["height"]) == (300, 200)
    # A picture with no face, taken as a crop (the faces model would look for faces).
    body = {"model": "faces", "image": info["id"], "mode": "detail", "amounts": {"smile": 0},
            "align": False}  # fmt: skip
    still = studio.request("/api/preview", body)
    body["amounts"] = {"smile": 1.25, "pc2": -0.5}
    status, headers, moved = studio.request("/api/preview", body)
    assert status == 200 and "edit;dur=" in headers["server-timing"]
    a = np.asarray(Image.open(io.BytesIO(still[2])), np.int16)
    b = np.asarray(Image.open(io.BytesIO(moved)), np.int16)
    assert a.shape == b.shape == (200, 200, 3)  # detail mode: the photo's centre square
    assert np.abs(a - b).mean() > 0.5
    # The zero edit in detail mode is the photo's centre crop itself.
    assert np.array_equal(a, np.asarray(im.crop((50, 0, 250, 200)), np.int16))

    status, headers, rendered = studio.request("/api/render", body)
    assert status == 200 and 'filename="myphoto_edited.png"' in headers["content-disposition"]
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(rendered))), b)
    status, cmd = studio.json("/api/command", body)
    argv = shlex.split(cmd["command"])
    assert argv[:3] == ["conceptvae", "edit", "my photo.png"]
    assert "smile=1.25" in argv and "pc2=-0.5" in argv and argv[-2:] == ["-o", "myphoto_edited.png"]
    assert "--no-align" in argv
    subprocess.run([sys.executable, "-m", "conceptvae", *argv[1:]], cwd=tmp_path, check=True,
                   capture_output=True)  # fmt: skip
    assert (tmp_path / "myphoto_edited.png").read_bytes() == rendered
    # Every slider at 0: no command to copy (it used to show -c pc1=0).
    status, cmd = studio.json("/api/command", {**body, "amounts": {"smile": 0, "pc2": 0}})
    assert status == 200 and cmd["command"] == ""
    status, cmd = studio.json("/api/command", {**body, "amounts": {}})
    assert status == 200 and cmd["command"] == ""


def test_class_target_on_a_user_model_reproduces_through_the_command(studio, home, tmp_path) -> None:  # noqa: ANN001
    body = {"model": "mydigits", "image": "example:digit-3", "mode": "decode",
            "amounts": {"8": 1.0, "thick": 0.5}}  # fmt: skip
    status, _, rendered = studio.request("/api/render", body)
    assert status == 200
    status, cmd = studio.json("/api/command", body)
    argv = shlex.split(cmd["command"])
    assert argv[argv.index("--model") + 1] == "mydigits" and "8=1" in argv
    subprocess.run([sys.executable, "-m", "conceptvae", *argv[1:]], cwd=tmp_path, check=True,
                   capture_output=True, env={**os.environ, "CONCEPTVAE_HOME": str(home)})  # fmt: skip
    assert (tmp_path / "digit-3_edited.png").read_bytes() == rendered
    # Two targets of one class set at once is not a picker state.
    status, err = studio.json("/api/preview", {**body, "amounts": {"8": 1, "2": 1}})
    assert status == 400 and "one target class" in err["error"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"model": "../../etc", "image": "example:face-1", "mode": "detail"}, 404, "unknown model"),
        ({"model": "/tmp", "image": "example:face-1", "mode": "detail"}, 404, "unknown model"),
        ({"model": "faces", "image": "../x.png", "mode": "detail"}, 404, "unknown image"),
        ({"model": "faces", "image": "example:face-1", "mode": "sharp"}, 400, "mode must be one of"),
        ({"model": "faces", "image": "example:face-1", "mode": "decode",
          "amounts": {"smiel": 1}}, 400, "unknown concept"),
        ({"model": "faces", "image": "example:face-1", "mode": "decode",
          "amounts": {"smile": 4}}, 400, "from -3 to 3"),
        ({"model": "faces", "image": "example:face-1", "mode": "decode",
          "amounts": {"smile": "1"}}, 400, "must be a number"),
        ({"model": "faces", "image": "example:face-1", "mode": "decode",
          "amounts": ["smile"]}, 400, "amounts"),
        ({"model": 3, "image": "example:face-1", "mode": "decode"}, 400, "'model'"),
    ],
)
def test_bad_edit_requests_get_a_4xx_with_one_line(studio, body, status, words) -> None:  # noqa: ANN001
    got, err = studio.json("/api/preview", body)
    assert got == status and words in err["error"] and "\n" not in err["error"]


def test_bad_bodies_and_uploads_are_refused_and_the_server_keeps_serving(studio) -> None:  # noqa: ANN001
    assert studio.request("/api/preview", b"{not json")[0] == 400
    assert studio.request("/api/preview", b"NaN")[0] == 400
    assert studio.request("/api/preview", b'{"model":"faces","image":"example:face-1",'
                          b'"mode":"decode","amounts":{"smile":NaN}}')[0] == 400  # fmt: skip
    assert studio.request("/api/preview", b"x" * 100_000)[0] == 413
    assert upload(studio, b"")[0] == 400
    status, err = upload(studio, b"not an image at all")
    assert status == 400 and "not a readable image" in err["error"]
    status, err = upload(studio, png_bytes(photo())[:300])  # truncated
    assert status == 400 and "truncated or corrupt" in err["error"]
    status, err = upload(studio, bomb_png(30000, 30000))  # decompression bomb: 900 M pixels
    assert status == 413 and "too large" in err["error"]
    status, err = upload(studio, bomb_png(8000, 6000))  # 48 M pixels: over the studio's cap
    assert status == 413 and "40,000,000" in err["error"]
    status, err = upload(studio, png_bytes(photo(), "TIFF"))
    assert status == 400 and "TIFF" in err["error"]
    status, err = upload(studio, b"\0" * (20 * 1024 * 1024 + 1))
    assert status == 413 and "at most 20,971,520" in err["error"]
    assert studio.request("/api/nothing")[0] == 404
    assert studio.request("/api/images/../../etc/passwd/original")[0] == 404
    assert studio.request("/api/state")[0] == 200


def test_uploads_live_in_a_private_folder_under_names_the_server_chose(studio) -> None:  # noqa: ANN001
    status, info = upload(studio, png_bytes(photo(64, 64)), "../../../../tmp/evil.png")
    assert status == 200 and info["name"] == "evil.png"
    (folder,) = private_dirs(studio.tmpdir)
    assert folder.stat().st_mode & 0o077 == 0
    names = [p.name for p in folder.iterdir()]
    assert f"{info['id']}.png" in names and "evil.png" not in names


def test_morph_download_is_the_morph_command_bytes(studio, tmp_path) -> None:  # noqa: ANN001
    body = {"model": "faces", "keys": ["example:face-1", "seed:3"], "frames": 6, "fps": 12,
            "size": 128, "format": "gif"}  # fmt: skip
    status, headers, gif = studio.request("/api/morph", body)
    assert status == 200 and headers["content-type"] == "image/gif" and gif[:6] == b"GIF89a"
    with Image.open(io.BytesIO(gif)) as im:
        assert im.n_frames == 6 and im.size == (128, 128)
    status, cmd = studio.json("/api/morph/command", body)
    argv = shlex.split(cmd["command"])
    subprocess.run([sys.executable, "-m", "conceptvae", *argv[1:]], cwd=tmp_path, check=True,
                   capture_output=True)  # fmt: skip
    assert (tmp_path / "morph.gif").read_bytes() == gif
    for bad, words in [({"format": "avi"}, "format"), ({"frames": 1000}, "frames"),
                       ({"keys": ["seed:1"]}, "2 to 8"), ({"keys": ["seed:x", "seed:1"]}, "seed"),
                       ({"size": 300}, "size")]:  # fmt: skip
        status, err = studio.json("/api/morph", {**body, **bad})
        assert status == 400 and words in err["error"], (bad, err)


def test_ctrl_c_stops_cleanly_and_removes_the_uploads(home, tmp_path) -> None:  # noqa: ANN001
    running = start_studio(home, tmp_path / "tmp")
    assert upload(running, png_bytes(photo(64, 64)))[0] == 200
    assert len(private_dirs(running.tmpdir)) == 1
    code, out, err = running.stop()
    assert code == 0 and "studio stopped" in out and "Traceback" not in err
    assert private_dirs(running.tmpdir) == []


def test_sigterm_also_removes_the_uploads(home, tmp_path) -> None:  # noqa: ANN001
    running = start_studio(home, tmp_path / "tmp")
    assert upload(running, png_bytes(photo(64, 64)))[0] == 200
    running.proc.send_signal(signal.SIGTERM)
    running.proc.communicate(timeout=30)
    assert private_dirs(running.tmpdir) == []


def test_host_other_than_loopback_warns(home, tmp_path) -> None:  # noqa: ANN001
    from conceptvae.studio.server import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    running = start_studio(home, tmp_path / "tmp", "--host", "0.0.0.0")
    code, _, err = running.stop()
    assert code == 0 and "warning: --host 0.0.0.0 makes the studio reachable" in err


def test_port_in_use_is_one_line_and_exit_2(studio, home, tmp_path) -> None:  # noqa: ANN001
    port = studio.url.rsplit(":", 1)[1].strip("/")
    proc = subprocess.run(
        [sys.executable, "-m", "conceptvae", "studio", "--no-browser", "--port", port],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.startswith("Error: cannot listen on 127.0.0.1:") and proc.stderr.count("\n") == 1


def test_without_the_extra_studio_names_it(tmp_path) -> None:
    hide = (
        "import sys, importlib.abc\n"
        "class Hide(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('starlette', 'uvicorn'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Hide())\n"
        "from conceptvae.cli.main import main\n"
        "sys.argv = ['conceptvae', 'studio', '--no-browser']\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", hide], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == (
        "Error: the studio needs the 'studio' extra: pip install \"conceptvae[studio]\"\n"
    )


def test_a_large_photo_previews_on_a_copy_and_downloads_at_full_size(studio) -> None:  # noqa: ANN001
    status, info = upload(studio, png_bytes(photo(1600, 1200, seed=2)), "big.png")
    assert status == 200
    body = {"model": "faces", "image": info["id"], "mode": "detail", "amounts": {"smile": 2},
            "align": False}  # fmt: skip
    status, _, preview = studio.request("/api/preview", body)
    status2, _, full = studio.request("/api/render", body)
    assert status == status2 == 200
    small = Image.open(io.BytesIO(preview))
    big = Image.open(io.BytesIO(full))
    assert small.size == (512, 512) and big.size == (1200, 1200)
    # The same edit of the same region: the full-size result, shrunk, is the preview.
    shrunk = np.asarray(big.resize((512, 512), Image.LANCZOS), np.float64)
    assert np.abs(shrunk - np.asarray(small, np.float64)).mean() < 8


def test_other_sites_cannot_use_the_studio(studio) -> None:  # noqa: ANN001
    body = {"model": "faces", "image": "example:face-1", "mode": "decode", "amounts": {"smile": 1}}
    # DNS rebinding: a name that points at 127.0.0.1 but is not this server's.
    assert studio.request("/api/state", headers={"Host": "evil.example:8765"})[0] == 400
    status, err = studio.json_with("/api/preview", body, {"Origin": "http://evil.example"})
    assert status == 403 and "cross-origin" in err["error"]
    # What a form on another page can send without asking: refused by its media type.
    status, err = studio.json_with("/api/preview", body, {"Content-Type": "text/plain"})
    assert status == 415 and "application/json" in err["error"]
    status, _, raw = studio.request("/api/images", png_bytes(photo(64, 64)),
                                    {"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert status == 415
    # The page itself sends its own origin, which is fine.
    origin = studio.url.rstrip("/")
    assert studio.json_with("/api/preview", body, {"Origin": origin})[0] == 200


def test_a_model_named_by_path_on_the_command_line_is_the_default(home, tmp_path) -> None:  # noqa: ANN001
    model_dir = tmp_path / "runs" / "digits-copy"
    shutil.copytree(home / "models" / "mydigits", model_dir)
    running = start_studio(home, tmp_path / "tmp", "--model", str(model_dir))
    try:
        status, state = running.json("/api/state")
        assert state["default_model"] == "digits-copy"
        assert {m["name"]: m["source"] for m in state["models"]}["digits-copy"] == "path"
        body = {"model": "digits-copy", "image": "example:digit-7", "mode": "decode",
                "amounts": {"slant": -1}}  # fmt: skip
        status, cmd = running.json("/api/command", body)
        argv = shlex.split(cmd["command"])
        assert argv[argv.index("--model") + 1] == str(model_dir.resolve())
    finally:
        running.stop()
    # A path the operator did not name is never a model, not even a model folder in the
    # server's working directory under a bare name: the client only picks registry names.
    shutil.copytree(model_dir, tmp_path / "tmp2" / "localmodel")
    running = start_studio(home, tmp_path / "tmp2")
    try:
        status, err = running.json("/api/models/localmodel")
        assert status == 404 and "unknown model 'localmodel'" in err["error"]
        status, err = running.json("/api/preview", {"model": str(model_dir), "mode": "decode",
                                                    "image": "example:digit-7"})  # fmt: skip
        assert status == 404 and "unknown model" in err["error"]
    finally:
        running.stop()


def test_the_browser_opens_on_the_url_unless_told_not_to(home, tmp_path) -> None:  # noqa: ANN001
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf "%s" "$1" > "{opened}"\n')
    browser.chmod(0o755)
    env = {**os.environ, "CONCEPTVAE_HOME": str(home), "BROWSER": str(browser),
           "TMPDIR": str(tmp_path)}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "conceptvae", "studio", "--port", "0"],
                            stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path)  # fmt: skip
    try:
        url = proc.stdout.readline().split()[3]
        for _ in range(200):
            if opened.exists() and opened.read_text():
                break
            time.sleep(0.05)
        assert opened.read_text() == url
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


@pytest.mark.parametrize("mode", ["decode", "blend"])
def test_every_mode_downloads_the_bytes_of_its_command(studio, tmp_path, mode) -> None:  # noqa: ANN001
    im = photo(160, 120, seed=3)
    (tmp_path / "p.png").write_bytes(png_bytes(im))
    status, info = upload(studio, png_bytes(im), "p.png")
    body = {"model": "faces", "image": info["id"], "mode": mode, "amounts": {"smile": -1.5},
            "align": False}  # fmt: skip
    status, _, rendered = studio.request("/api/render", body)
    assert status == 200
    argv = shlex.split(studio.json("/api/command", body)[1]["command"])
    assert argv[argv.index("--mode") + 1] == mode
    subprocess.run([sys.executable, "-m", "conceptvae", *argv[1:]], cwd=tmp_path, check=True,
                   capture_output=True)  # fmt: skip
    assert (tmp_path / "p_edited.png").read_bytes() == rendered


def face_photo(seed: int = 0) -> Image.Image:
    """A colour picture with the two example faces set into it (as tests/facephotos.py
    makes them for the faces tests): face-1 on the left, face-2 larger on the right."""
    from facephotos import FACES, Placement, scene

    return Image.fromarray(scene(640, 400, [Placement(FACES[0], (170, 200), 2.0, 0.0),
                                            Placement(FACES[1], (450, 190), 2.6, 0.0)], seed))


def test_faces_in_a_photo_are_found_shown_and_edited_as_the_cli_does(studio, tmp_path) -> None:  # noqa: ANN001
    im = face_photo()
    im.save(tmp_path / "two.png")
    status, info = upload(studio, png_bytes(im), "two.png")
    assert status == 200
    status, found = studio.json(f"/api/images/{info['id']}/faces?model=faces")
    assert status == 200 and found["photo"] and [f["number"] for f in found["faces"]] == [1, 2]
    (x1, y1, w1, h1), (x2, _, w2, _) = (f["box"] for f in found["faces"])
    assert x1 < 170 / 640 < x1 + w1 and y1 < 200 / 400 < y1 + h1 and x2 < 450 / 640 < x2 + w2
    assert w2 > w1  # face-2 was set in larger
    # The digits model finds no faces: it is no face model.
    assert studio.json(f"/api/images/{info['id']}/faces?model=digits")[1] == {
        "face_model": False, "photo": False, "faces": []}

    body = {"model": "faces", "image": info["id"], "mode": "detail", "amounts": {"smile": 2}}
    base = np.asarray(im, np.int16)
    for face, changed_left, changed_right in [("all", True, True), ("1", True, False),
                                              ("largest", False, True)]:  # fmt: skip
        status, _, raw = studio.request("/api/preview", {**body, "face": face})
        assert status == 200
        out = np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"), np.int16)
        assert out.shape == base.shape  # the whole photograph comes back (at most 512 px short side)
        diff = np.abs(out - base).sum(-1)
        assert (diff[:, :320].max() > 0) == changed_left and (diff[:, 320:].max() > 0) == changed_right, face

    status, _, rendered = studio.request("/api/render", {**body, "face": "2"})
    argv = shlex.split(studio.json("/api/command", {**body, "face": "2"})[1]["command"])
    assert argv[argv.index("--face") + 1] == "2"
    subprocess.run([sys.executable, "-m", "conceptvae", *argv[1:]], cwd=tmp_path, check=True,
                   capture_output=True)  # fmt: skip
    assert (tmp_path / "two_edited.png").read_bytes() == rendered

    # A morph from the photograph starts at its largest face, as `conceptvae morph` does.
    morph = {"model": "faces", "keys": [info["id"], "seed:1"], "frames": 4, "format": "gif"}
    status, _, gif = studio.request("/api/morph", morph)
    assert status == 200 and gif[:6] == b"GIF89a"

    # What the page can get wrong is refused in one line.
    status, err = studio.json("/api/preview", {**body, "face": "3"})
    assert status == 400 and "face 3 asked for, but 2 faces found" in err["error"]
    status, err = studio.json("/api/preview", {**body, "face": "left"})
    assert status == 400 and "face must be all, largest or a face number" in err["error"]


def test_a_photo_without_faces_needs_the_whole_image_choice(studio) -> None:  # noqa: ANN001
    status, info = upload(studio, png_bytes(photo(200, 200, seed=5)), "wall.png")
    status, found = studio.json(f"/api/images/{info['id']}/faces?model=faces")
    assert found == {"face_model": True, "photo": True, "faces": []}
    body = {"model": "faces", "image": info["id"], "mode": "detail", "amounts": {"smile": 1}}
    status, err = studio.json("/api/preview", body)
    assert status == 400 and "no face found" in err["error"]
    assert studio.request("/api/preview", {**body, "align": False})[0] == 200


@pytest.mark.parametrize(("fmt", "media", "magic"), [("webp", "image/webp", b"WEBP"),
                                                     ("mp4", "video/mp4", b"ftyp")])  # fmt: skip
def test_morph_webp_and_mp4(studio, fmt, media, magic) -> None:  # noqa: ANN001
    body = {"model": "digits", "keys": ["example:digit-3", "example:digit-7"], "frames": 6,
            "fps": 12, "size": 128, "format": fmt}  # fmt: skip
    status, headers, data = studio.request("/api/morph", body)
    assert status == 200 and headers["content-type"] == media and magic in data[:16]
    assert f'filename="morph.{fmt}"' in headers["content-disposition"]
