"""Driving the player in headless Chromium (software WebGL2), for the tests and the benchmark.

Needs the ``playwright`` Python package and a Chromium binary (Debian's ``chromium``
package at /usr/bin/chromium; ``playwright install`` is not needed). The page's test hook,
``window.gscc``, makes every step deterministic: set the time, camera and mode, then wait
until a frame drawn with a depth order for exactly that state is on screen.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

CHROMIUM_ARGS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]
URL = re.compile(r"http://[0-9.]+:[0-9]+/")


def chromium_path() -> Optional[str]:
    """Debian's Chromium, or whatever ``chromium`` is on the PATH (None when there is none)."""
    for candidate in (os.environ.get("GSCC_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@contextmanager
def browser() -> Iterator[object]:
    """A headless Chromium rendering WebGL2 with SwiftShader."""
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    if path is None:
        raise RuntimeError("no Chromium found (apt-get install chromium)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@contextmanager
def view_server(path: Path, *options: str) -> Iterator[str]:
    """Run ``gscc view --no-open --port 0 PATH`` and give its URL; stop it afterwards."""
    command = [sys.executable, "-m", "gscc.cli", "view", "--no-open", "--port", "0", *options, str(path)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        match = URL.search(line)
        if match is None:
            process.kill()
            _, err = process.communicate()
            raise RuntimeError(f"gscc view printed no URL: {line!r} {err!r}")
        yield match.group(0)
    finally:
        process.terminate()
        process.wait(timeout=10)


class PlayerPage:
    """One page of the player, failing on any page or console error."""

    def __init__(self, browser, url: str, width: int, height: int, hash: str = "") -> None:
        self.errors: list[str] = []
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(f"console error: {m.text}"))
        self.page.goto(url + hash)
        self.page.wait_for_function("window.gscc && (window.gscc.ready || window.gscc.error)", timeout=120_000)
        self.check()

    def check(self) -> None:
        error = self.page.evaluate("window.gscc.error")
        if error or self.errors:
            raise AssertionError("; ".join(([error] if error else []) + self.errors))

    def call(self, expression: str, *args):
        return self.page.evaluate(expression, *args) if args else self.page.evaluate(expression)

    def settle(self) -> dict:
        """Wait until the frame on screen shows the current state; return the state."""
        self.page.evaluate("""() => Promise.race([window.gscc.settled(), new Promise((_, reject) =>
            setTimeout(() => reject(new Error("the player did not settle in 120 s")), 120000))])""")
        self.check()
        return self.state()

    def state(self) -> dict:
        return self.page.evaluate("window.gscc.getState()")

    def set_camera(self, camera) -> None:
        """A :class:`gscc.cameras.Camera` (the viewport should have its size)."""
        self.page.evaluate("c => window.gscc.setCamera(c)", {
            "world_to_camera": camera.world_to_camera.tolist(), "fx": camera.fx, "fy": camera.fy,
            "cx": camera.cx, "cy": camera.cy, "width": camera.width, "height": camera.height,
        })

    def image(self) -> np.ndarray:
        """(H, W, 3) uint8: the canvas as shown, without the control panel."""
        from PIL import Image

        self.page.evaluate("window.gscc.setUi(false)")
        self.settle()
        png = self.page.screenshot(type="png")
        self.page.evaluate("window.gscc.setUi(true)")
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))

    def close(self) -> None:
        self.page.close()
