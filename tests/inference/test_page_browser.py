"""The page of `avemotion serve` in a real browser: headless Chromium (Debian's `chromium`, which
`make setup` installs where it can) driven over the Chrome DevTools protocol. A real clip is
uploaded, the answer waited for; the predicted label, the per-class bars and the licence note are
on the page, nothing was fetched from anywhere but the service, and a screenshot is saved
(AVEMOTION_SCREENSHOT=path also writes it there: docs/img/serve_page.png was made so)."""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import shutil
import subprocess
import time
import warnings
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install -e '.[serve]'")
warnings.filterwarnings("ignore", message=".*httpx2.*")

from service_helpers import CREMA, running  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Page:
    """One tab of a headless Chromium, over its DevTools WebSocket."""

    def __init__(self, ws):
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict] = []

    def send(self, method: str, **params):
        i = next(self.ids)
        self.ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=60))
            if msg.get("id") == i:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def eval(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait(self, expression: str, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.eval(expression)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression}")


@pytest.fixture
def browser(tmp_path):
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (make setup installs it with root: apt-get install -y chromium); "
                    "the page's browser test cannot run here")
    proc = subprocess.Popen(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
         f"--user-data-dir={tmp_path / 'profile'}", "--no-first-run", "--no-default-browser-check",
         "--disable-extensions", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=900,1200", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        endpoint = None
        deadline = time.monotonic() + 60
        while endpoint is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            endpoint = found and found.group(1)
        assert endpoint, "chromium did not start its DevTools endpoint"
        port = re.search(r":(\d+)/", endpoint).group(1)
        import httpx

        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=30).json()
        from websockets.sync.client import connect

        with connect(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"], max_size=None) as ws:
            yield Page(ws)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_page_predicts_an_uploaded_clip(browser, tmp_path):
    from avemotion.inference.service import ServiceModel, create_app

    model = ServiceModel.load()  # the shipped voice model, on a real CREMA-D clip (angry)
    expected = model.recognizer.predict(CREMA)
    app = create_app(model, upload_dir=tmp_path)
    with running(app) as url:
        page = browser
        page.send("Network.enable")
        page.send("Emulation.setDeviceMetricsOverride", width=900, height=1000, deviceScaleFactor=1, mobile=False)
        page.send("Page.navigate", url=url + "/")
        page.wait("document.readyState === 'complete' && document.getElementById('licence').textContent.length > 0")
        root = page.send("DOM.getDocument")["root"]["nodeId"]
        node = page.send("DOM.querySelector", nodeId=root, selector="#file")["nodeId"]
        page.send("DOM.setFileInputFiles", nodeId=node, files=[str(CREMA)])
        page.eval("document.getElementById('upload-form').requestSubmit()")
        page.wait("!document.getElementById('result').hidden || !document.getElementById('error-box').hidden")
        assert page.eval("document.getElementById('error-box').hidden"), page.eval("document.getElementById('error').textContent")

        assert page.eval("document.getElementById('emotion').textContent") == expected.emotion
        bars = page.eval("[...document.querySelectorAll('#bars .bar')].map(b => [b.dataset.label, b.querySelector('.fill').style.width])")
        assert [label for label, _ in bars] == list(expected.probabilities)
        for (label, width), p in zip(bars, expected.probabilities.values()):
            assert abs(float(width.rstrip("%")) - 100 * p) < 0.06, label
        assert page.eval("document.querySelector('#bars .bar.top').dataset.label") == expected.emotion
        assert "non-commercial" in page.eval("document.getElementById('licence').textContent")
        assert "sees no faces" in page.eval("document.getElementById('faces-note').textContent")

        png = base64.b64decode(page.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"])
        (tmp_path / "serve_page.png").write_bytes(png)
        if os.environ.get("AVEMOTION_SCREENSHOT"):
            Path(os.environ["AVEMOTION_SCREENSHOT"]).write_bytes(png)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000

        requested = [e["params"]["request"]["url"] for e in page.events if e.get("method") == "Network.requestWillBeSent"]
        assert requested and all(u.startswith(url) or u.startswith("data:") for u in requested), requested
    assert not app.state.upload_dir.exists()  # the upload is gone, and the private folder with it
