"""nnaccel serve in a real browser: Debian's chromium, headless, driven by Playwright.

The test trains a small network on the embedded digits, serves it, draws a 7 with the mouse
and reads the ten bars back from the page: they must be the network's outputs for the
drawing preprocessed in Python. The screenshot is kept in the test's folder and, when
NNACCEL_SCREENSHOT_DIR is set, there too (docs/serve.png came from such a run).
"""

import os
import shutil
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest

from nnaccel.nets.network import load
from nnaccel.tools.serve import preprocess

CHROMIUM = os.environ.get("NNACCEL_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no chromium at {CHROMIUM} (apt-get install chromium)"),
]


def _nnaccel(*args):
    return [sys.executable, "-m", "nnaccel", *args]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(model path, history path) of 5 epochs of [784, 30, 10] on the embedded MNIST digits."""
    folder = tmp_path_factory.mktemp("browser")
    model, history = folder / "digits.npz", folder / "history.jsonl"
    run = subprocess.run(_nnaccel("train", "--epochs", "5", "--seed", "1", "--cost", "cross-entropy",
                                  "--eta", "0.5", "--save", str(model), "--history", str(history)),
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    return model, history


@pytest.fixture
def served(trained):
    model, history = trained
    proc = subprocess.Popen(_nnaccel("serve", str(model), "--history", str(history), "--port", "0"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    line = proc.stdout.readline()
    if " at http://127.0.0.1:" not in line:
        proc.kill()
        pytest.fail(f"nnaccel serve did not start: {line}{proc.stderr.read()}")
    yield line.split(" at ")[1].split()[0]
    proc.terminate()
    proc.wait(timeout=10)


def _draw_seven(page):
    """A 7 on the 280×280 pad: the bar across the top, then the stroke down to the left."""
    box = page.locator("#pad").bounding_box()
    x0, y0 = box["x"], box["y"]
    page.mouse.move(x0 + 80, y0 + 70)
    page.mouse.down()
    page.mouse.move(x0 + 200, y0 + 70, steps=12)
    page.mouse.move(x0 + 125, y0 + 230, steps=16)
    page.mouse.up()


@pytest.fixture
def page(served, tmp_path):
    """A fresh headless chromium profile on the served page, once its first prediction is shown."""
    playwright = pytest.importorskip("playwright.sync_api", reason="Playwright not installed (pip install playwright)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1040, "height": 760})
        try:
            page = browser.new_page()
            page.goto(served)
            page.wait_for_function("window.nnaccel && window.nnaccel.predictions >= 1", timeout=20000)
            yield page
        finally:
            browser.close()


def _settled(page, before):
    """Wait until the page has shown the prediction for its latest drawing."""
    page.wait_for_function(
        f"window.nnaccel.predictions > {before} && !window.nnaccel.inFlight && !window.nnaccel.dirty",
        timeout=20000)


def _check_bars_against_feedforward(page, model):
    """The ten bars are the network's outputs for the page's last drawing, preprocessed in Python."""
    shown = [float(page.get_attribute(f'#bars .bar[data-index="{k}"]', "data-value")) for k in range(10)]
    request = page.evaluate("window.nnaccel.last.request")
    drawing = np.array(request["pixels"], dtype=np.float64).reshape(request["height"], request["width"])
    net = load(model, device="cpu")
    want = net.feedforward(preprocess(drawing / 255.0).reshape(1, -1).astype(np.float32))[0]
    np.testing.assert_allclose(shown, want, rtol=0, atol=1e-6)
    assert page.inner_text("#prediction") == str(int(np.argmax(want)))
    return drawing


def test_drawing_a_digit_shows_the_networks_outputs_for_the_preprocessed_drawing(page, trained, tmp_path):
    before = page.evaluate("window.nnaccel.predictions")
    _draw_seven(page)
    _settled(page, before)
    page.wait_for_selector("#curves svg polyline", timeout=20000)
    drawing = _check_bars_against_feedforward(page, trained[0])
    assert drawing.max() == 255 and (drawing > 0).mean() > 0.02  # the stroke reached the canvas
    shot = tmp_path / "serve.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10000
    if os.environ.get("NNACCEL_SCREENSHOT_DIR"):
        shutil.copy(shot, os.path.join(os.environ["NNACCEL_SCREENSHOT_DIR"], "serve.png"))


def _png(gray):
    """A grayscale 8-bit PNG of the uint8 array ``gray``, written by hand (no imaging library)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    h, w = gray.shape
    raw = b"".join(b"\x00" + row.tobytes() for row in gray.astype(np.uint8))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_an_opened_image_of_dark_ink_on_white_is_inverted_and_classified(page, trained, mnist10k, tmp_path):
    digit = np.kron(mnist10k.test[0][0].reshape(28, 28), np.ones((4, 4), dtype=np.uint8))  # 112×112
    (tmp_path / "digit.png").write_bytes(_png(255 - digit))  # as a scan: black ink on white paper
    before = page.evaluate("window.nnaccel.predictions")
    page.set_input_files("#file", str(tmp_path / "digit.png"))
    _settled(page, before)
    drawing = _check_bars_against_feedforward(page, trained[0])
    assert drawing.max() == 255 and (drawing > 127).mean() < 0.2  # inverted: white ink on black
