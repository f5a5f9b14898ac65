"""The studio page in a real headless Chromium (Debian's chromium + chromium-driver).

No browser is downloaded: Selenium drives the chromium and chromedriver found
on PATH (Debian's /usr/bin, or another layout's names; `.ci/run` installs both
with apt-get). Off CI, a machine without them skips these tests and says which
is missing.
"""

from __future__ import annotations

import io
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from studio_server import start_studio


def find_program(names: tuple[str, ...], also: tuple[str, ...] = ()) -> str | None:
    """The first of ``names`` on PATH, else the first of ``also`` that exists."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return next((p for p in also if Path(p).is_file() and os.access(p, os.X_OK)), None)


# Debian: chromium and chromedriver in /usr/bin; other layouts name them otherwise.
CHROMIUM = find_program(("chromium", "chromium-browser", "google-chrome", "chrome"),
                        ("/usr/bin/chromium", "/usr/lib/chromium/chromium",
                         "/snap/bin/chromium"))  # fmt: skip
CHROMEDRIVER = find_program(("chromedriver", "chromium.chromedriver"),
                            ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"))  # fmt: skip
MISSING = [what for what, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER))
           if path is None]  # fmt: skip

pytestmark = pytest.mark.skipif(
    bool(MISSING) and not os.environ.get("CI"),
    reason=f"{' and '.join(MISSING)} not found on PATH (Debian: apt-get install chromium "
    "chromium-driver)",
)


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    running = start_studio(tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("tmp"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager never looks anything up
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("profile")
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                "--window-size=1280,900"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    downloads = tmp_path_factory.mktemp("downloads")
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    driver.downloads = downloads
    yield driver
    driver.quit()


def wait(driver, condition, timeout: float = 30.0):  # noqa: ANN001, ANN201
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: condition(d))


def idle(driver) -> bool:  # noqa: ANN001
    return driver.execute_script("return document.body.dataset.pending") == "0"


def preview_version(driver) -> int:  # noqa: ANN001
    return int(driver.execute_script("return document.getElementById('preview').dataset.version || 0"))


def preview_pixels(driver) -> np.ndarray:  # noqa: ANN001
    """The preview as the page shows it, read back through a canvas."""
    import base64

    url = driver.execute_script(
        "const img = document.getElementById('preview');"
        "const c = document.createElement('canvas');"
        "c.width = img.naturalWidth; c.height = img.naturalHeight;"
        "c.getContext('2d').drawImage(img, 0, 0);"
        "return c.toDataURL('image/png');"
    )
    data = base64.b64decode(url.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"), np.int16)


def open_page(driver, studio) -> None:  # noqa: ANN001
    driver.get(studio.url)
    # The page opens on the faces model with the first example face.
    wait(driver, lambda d: preview_version(d) >= 1 and idle(d))


def slider(driver, name: str):  # noqa: ANN001, ANN201
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f'input[data-concept="{name}"]')


def move(driver, name: str, steps: int) -> None:  # noqa: ANN001
    """Drag a slider with the keyboard, as a user can: each arrow press is one 0.05 step."""
    from selenium.webdriver.common.keys import Keys

    before = preview_version(driver)
    key = Keys.ARROW_RIGHT if steps > 0 else Keys.ARROW_LEFT
    slider(driver, name).send_keys(*[key] * abs(steps))
    wait(driver, lambda d: preview_version(d) > before and idle(d))


def library_names(model: str) -> tuple[list[str], list[list[str]]]:
    from conceptvae.concepts.library import open_library
    from conceptvae.model.api import load_model

    lib = open_library(load_model(model))
    return list(lib.concepts), [list(s.classes) for s in lib.class_sets.values()]


def test_page_loads_with_a_slider_per_concept(browser, studio) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    open_page(browser, studio)
    assert browser.title == "conceptvae studio"
    names, _ = library_names("faces")
    sliders = browser.find_elements(By.CSS_SELECTOR, "#sliders input[type=range]")
    assert sorted(s.get_attribute("data-concept") for s in sliders) == sorted(names)
    assert all((s.get_attribute("min"), s.get_attribute("max")) == ("-3", "3") for s in sliders)
    # the faces model's default edit mode
    assert browser.find_element(By.CSS_SELECTOR, "input[name=mode][value=detail]").is_selected()
    from conceptvae.options import EDIT_MODES as MODES

    modes = browser.find_elements(By.CSS_SELECTOR, "input[name=mode]")
    assert [m.get_attribute("value") for m in modes] == list(MODES)
    assert browser.find_element(By.ID, "error").text == ""

    # The digits model: its attributes as sliders, its classes as a target picker.
    Select(browser.find_element(By.ID, "model")).select_by_value("digits")
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, '#targets select') and idle(d))
    names, class_sets = library_names("digits")
    sliders = browser.find_elements(By.CSS_SELECTOR, "#sliders input[type=range]")
    assert sorted(s.get_attribute("data-concept") for s in sliders) == sorted(names)
    picker = Select(browser.find_element(By.CSS_SELECTOR, "#targets select"))
    assert [o.get_attribute("value") for o in picker.options] == ["", *class_sets[0]]
    assert browser.find_element(By.CSS_SELECTOR, "input[name=mode][value=decode]").is_selected()


def test_moving_smile_changes_the_preview_and_reset_restores_it(browser, studio) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By

    open_page(browser, studio)
    original = preview_pixels(browser)
    move(browser, "smile", 30)  # +1.5
    assert slider(browser, "smile").get_attribute("value") == "1.5"
    smiling = preview_pixels(browser)
    assert smiling.shape == original.shape == (64, 64)
    assert np.abs(smiling - original).mean() > 2.0
    timing = browser.find_element(By.ID, "timing").text
    assert timing.startswith("(") and timing.endswith(" ms)")
    before = preview_version(browser)
    browser.find_element(By.ID, "reset").click()
    wait(browser, lambda d: preview_version(d) > before and idle(d))
    assert np.array_equal(preview_pixels(browser), original)


def test_downloaded_png_is_the_bytes_of_the_copied_command(browser, studio, tmp_path) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By

    open_page(browser, studio)
    rng = np.random.default_rng(1)
    arr = np.clip(rng.normal(128, 40, (180, 240, 3)), 0, 255).astype(np.uint8)
    photo = tmp_path / "my photo.jpg"
    Image.fromarray(arr).save(photo, quality=90)
    browser.find_element(By.ID, "file").send_keys(str(photo))
    wait(browser, lambda d: d.find_element(By.ID, "image-name").text == "my photo.jpg" and idle(d))
    move(browser, "smile", 24)  # 1.2
    move(browser, "pc1", -10)  # -0.5
    wait(browser, lambda d: "pc1=-0.5" in d.find_element(By.ID, "command").text and idle(d))
    command = browser.find_element(By.ID, "command").text
    browser.find_element(By.ID, "download").click()
    target = browser.downloads / "myphoto_edited.png"
    wait(browser, lambda d: target.exists() and not list(browser.downloads.glob("*.crdownload")))
    time.sleep(0.2)

    argv = shlex.split(command)
    assert argv[:3] == ["conceptvae", "edit", "my photo.jpg"] and "smile=1.2" in argv
    subprocess.run([sys.executable, "-m", "conceptvae", *argv[1:]], cwd=tmp_path, check=True,
                   capture_output=True)  # fmt: skip
    assert (tmp_path / "myphoto_edited.png").read_bytes() == target.read_bytes()
    with Image.open(target) as im:
        assert im.size == (180, 180)  # detail mode: the photo's centre square at full size


def test_oversized_uploads_get_an_error_and_the_server_still_answers(browser, studio, tmp_path) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By
    from test_studio import bomb_png

    open_page(browser, studio)
    big = tmp_path / "big.png"
    big.write_bytes(b"\0" * (20 * 1024 * 1024 + 1))
    browser.find_element(By.ID, "file").send_keys(str(big))
    wait(browser, lambda d: "at most 20,971,520" in d.find_element(By.ID, "error").text)

    bomb = tmp_path / "bomb.png"  # 56 kB of file declaring 48 M pixels: refused by the server
    bomb.write_bytes(bomb_png(8000, 6000))
    browser.find_element(By.ID, "file").send_keys(str(bomb))
    wait(browser, lambda d: "40,000,000" in d.find_element(By.ID, "error").text and idle(d))

    # The server goes on: the example face still edits, and the error clears.
    move(browser, "smile", 10)
    assert browser.find_element(By.ID, "error").text == ""
    assert studio.request("/api/state")[0] == 200


def test_morph_panel_makes_a_downloadable_animation(browser, studio) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    open_page(browser, studio)
    Select(browser.find_element(By.ID, "morph-b")).select_by_value("seed")
    frames = browser.find_element(By.ID, "morph-frames")
    frames.clear()
    frames.send_keys("8")
    browser.find_element(By.ID, "morph-go").click()
    link = browser.find_element(By.ID, "morph-download")
    wait(browser, lambda d: link.is_displayed() and idle(d))
    assert link.get_attribute("download") == "morph.gif"
    data = browser.execute_async_script(
        "const done = arguments[0];"
        "fetch(document.getElementById('morph-download').href).then(r => r.arrayBuffer())"
        ".then(b => done(Array.from(new Uint8Array(b))));"
    )
    with Image.open(io.BytesIO(bytes(data))) as im:
        assert im.format == "GIF" and im.n_frames == 8
    command = browser.find_element(By.ID, "morph-command").text
    assert command.startswith("conceptvae morph ") and "seed:2" in command
    # A changed setting takes the animation and its command away: they no longer match.
    frames.send_keys("0")
    wait(browser, lambda d: d.find_element(By.ID, "morph-command").text == "")
    assert not link.is_displayed()
    assert not browser.find_element(By.ID, "morph-image").is_displayed()


def test_a_dropped_photo_is_edited_and_the_mode_switch_changes_the_output(browser, studio) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By

    open_page(browser, studio)
    rng = np.random.default_rng(2)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(buf, format="PNG")
    browser.execute_script(
        "const bytes = new Uint8Array(arguments[0]);"
        "const dt = new DataTransfer();"
        "dt.items.add(new File([bytes], 'dropped.png', {type: 'image/png'}));"
        "document.getElementById('drop').dispatchEvent("
        "  new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));",
        list(buf.getvalue()),
    )
    wait(browser, lambda d: d.find_element(By.ID, "image-name").text == "dropped.png" and idle(d))
    assert preview_pixels(browser).shape == (120, 120)  # detail: the photo's centre square
    # Every slider at 0: nothing to copy (it used to show -c pc1=0).
    wait(browser, lambda d: "Move a slider" in d.find_element(By.ID, "command-note").text)
    assert browser.find_element(By.ID, "command").text == ""
    move(browser, "smile", 10)
    wait(browser, lambda d: "folder that holds dropped.png" in
         d.find_element(By.ID, "command-note").text and idle(d))  # fmt: skip
    assert "smile=0.5" in browser.find_element(By.ID, "command").text
    before = preview_version(browser)
    browser.find_element(By.CSS_SELECTOR, "input[name=mode][value=decode]").click()
    wait(browser, lambda d: preview_version(d) > before and idle(d))
    assert preview_pixels(browser).shape == (64, 64)  # decode: the model's resolution
    wait(browser, lambda d: "--mode decode" in d.find_element(By.ID, "command").text)


def test_a_face_photo_shows_its_faces_and_edits_the_chosen_one(browser, studio, tmp_path) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    from test_studio import face_photo

    open_page(browser, studio)
    photo = tmp_path / "two faces.png"
    face_photo(seed=1).save(photo)
    browser.find_element(By.ID, "file").send_keys(str(photo))
    wait(browser, lambda d: d.find_element(By.ID, "image-name").text == "two faces.png" and idle(d))
    boxes = browser.find_elements(By.CSS_SELECTOR, "#original-frame .facebox")
    assert [b.get_attribute("data-face") for b in boxes] == ["1", "2"]
    assert browser.find_element(By.ID, "faces-found").text == "2 faces found:"
    # The boxes sit over the faces: face 1 left of the middle, face 2 right of it.
    frame = browser.find_element(By.ID, "original").rect
    centres = [(b.rect["x"] + b.rect["width"] / 2 - frame["x"]) / frame["width"] for b in boxes]
    assert centres[0] < 0.5 < centres[1]

    before = preview_version(browser)
    Select(browser.find_element(By.ID, "face")).select_by_value("2")
    wait(browser, lambda d: preview_version(d) > before and idle(d))
    boxes = browser.find_elements(By.CSS_SELECTOR, "#original-frame .facebox")  # redrawn
    assert "off" in boxes[0].get_attribute("class") and "off" not in boxes[1].get_attribute("class")
    untouched = preview_pixels(browser)
    move(browser, "smile", 30)
    edited = preview_pixels(browser)
    diff = np.abs(edited - untouched)
    half = diff.shape[1] // 2
    assert diff[:, half:].mean() > 0.2 and diff[:, :half].max() == 0  # only face 2 moved

    wait(browser, lambda d: "--face 2" in d.find_element(By.ID, "command").text and idle(d))
    command = browser.find_element(By.ID, "command").text
    browser.find_element(By.ID, "download").click()
    target = browser.downloads / "twofaces_edited.png"
    wait(browser, lambda d: target.exists() and not list(browser.downloads.glob("*.crdownload")))
    time.sleep(0.2)
    argv = shlex.split(command)
    subprocess.run([sys.executable, "-m", "conceptvae", *argv[1:]], cwd=tmp_path, check=True,
                   capture_output=True)  # fmt: skip
    assert (tmp_path / "twofaces_edited.png").read_bytes() == target.read_bytes()
