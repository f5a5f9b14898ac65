"""Rebuild docs/studio.png: the studio page in headless Chromium, smile moved to +1.5;
with --photo, also docs/studio-photo.png: that photograph, its faces found, smiling.

    python docs/studio_screenshot.py [--out docs/studio.png] [--photo astronaut.png]

The README's photo is scikit-image's ``astronaut`` (Eileen Collins, NASA; public
domain): ``python -c "import skimage.io, skimage.data;
skimage.io.imsave('astronaut.png', skimage.data.astronaut())"``.
Needs the studio extra, selenium, and Debian's chromium + chromium-driver.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="docs/studio.png")
    ap.add_argument("--photo", default=None)
    ap.add_argument("--photo-out", default="docs/studio-photo.png")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    proc = subprocess.Popen(
        [sys.executable, "-m", "conceptvae", "studio", "--no-browser", "--port", "0"],
        stdout=subprocess.PIPE, text=True, cwd=tmp,
    )  # fmt: skip
    url = proc.stdout.readline().split()[3]
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                f"--user-data-dir={tempfile.mkdtemp()}", "--window-size=1280,1000",
                "--hide-scrollbars"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(url)
        time.sleep(2)
        smile = driver.find_element(By.CSS_SELECTOR, 'input[data-concept="smile"]')
        driver.execute_script(
            "arguments[0].value = 1.5; arguments[0].dispatchEvent(new Event('input'))", smile
        )
        driver.find_element(By.ID, "morph-go").click()
        time.sleep(3)
        driver.save_screenshot(args.out)
        if args.photo:
            driver.find_element(By.ID, "file").send_keys(str(Path(args.photo).resolve()))
            time.sleep(4)
            smile = driver.find_element(By.CSS_SELECTOR, 'input[data-concept="smile"]')
            driver.execute_script(
                "arguments[0].value = 1.5; arguments[0].dispatchEvent(new Event('input'))", smile
            )
            time.sleep(4)
            driver.find_element(By.ID, "morph-go").click()  # from the photograph's face
            time.sleep(4)
            driver.save_screenshot(args.photo_out)
    finally:
        driver.quit()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    print(args.out)


if __name__ == "__main__":
    main()
