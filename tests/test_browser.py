"""The analyst site in a real browser: every page of the demo run's ``site/`` opened from disk in
headless Chromium with the network off. No console errors, no failed or remote requests, every
image decoded, charts and the interactive map drawn in the DOM, every local link resolving; a
full-page screenshot of each page is kept under ``<rootdir>/test-artifacts/screenshots/``.

Chromium is driven over the DevTools protocol on ``--remote-debugging-pipe`` (stdlib only: no
websocket client, no Playwright/Selenium). Skipped when no Chromium/Chrome binary is on PATH.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests.conftest import demo_run_dir

pytestmark = pytest.mark.browser

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
BINARY = next((path for path in map(shutil.which, BROWSERS) if path), None)
if BINARY is None:
    pytest.skip(f"no headless browser: none of {', '.join(BROWSERS)} is on PATH "
                "(Debian/Ubuntu: apt-get install chromium)", allow_module_level=True)

WIDTH, HEIGHT = 1280, 900
PAGE_TIMEOUT_S = 20.0
# Chromium's own noise that says nothing about the page (software GL on a headless machine).
BENIGN_LOG = ("GPU stall due to ReadPixels", "Automatic fallback to software WebGL")


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe (fds 3 and 4 in the child,
    messages are JSON terminated by NUL)."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()

        def child_fds() -> None:  # runs in the child before exec
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 3)  # dup2 leaves 3 and 4 inheritable
            os.dup2(b, 4)

        args = [binary, "--headless", "--remote-debugging-pipe", f"--user-data-dir={profile}",
                "--no-sandbox", "--disable-gpu", "--disable-extensions", "--disable-sync",
                "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--no-default-browser-check", "--hide-scrollbars", "--mute-audio",
                # Network off: every host fails to resolve and any proxied request is refused.
                "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
                f"--window-size={WIDTH},{HEIGHT}", "about:blank"]
        self.proc = subprocess.Popen(args, preexec_fn=child_fds, close_fds=False,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._w, self._r = to_chrome_w, from_chrome_r
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []

    def _read(self, timeout: float) -> dict:
        while b"\0" not in self._buf:
            ready, _, _ = select.select([self._r], [], [], max(timeout, 0.0))
            if not ready:
                raise TimeoutError("no message from Chromium")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise EOFError(f"Chromium closed the DevTools pipe (exit code {self.proc.poll()})")
            self._buf += chunk
        message, self._buf = self._buf.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict:
        self._id += 1
        message: dict = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._w, json.dumps(message).encode("utf-8") + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline - time.monotonic())
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, event: str, timeout: float = PAGE_TIMEOUT_S) -> dict:
        for i, message in enumerate(self.events):
            if message.get("method") == event:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            message = self._read(deadline - time.monotonic())
            if message.get("method") == event:
                return message
            self.events.append(message)

    def evaluate(self, expression: str, session: str, timeout: float = PAGE_TIMEOUT_S):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, session, timeout + 5)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (OSError, EOFError, TimeoutError, RuntimeError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._w)
        os.close(self._r)


# Resolves once the document, its images and every plotly chart are drawn (or after a timeout),
# then describes what is on the page.
SETTLE_AND_DESCRIBE = """
(async () => {
  const deadline = Date.now() + %d;
  const drawn = () => {
    if (document.readyState !== 'complete') return false;
    if (![...document.images].every(img => img.complete)) return false;
    return [...document.querySelectorAll('.plotly-graph-div')].every(gd =>
      gd.querySelector('.main-svg') &&
      (!gd.querySelector('.geo') || gd.querySelector('.choroplethlocation')));
  };
  while (!drawn() && Date.now() < deadline) await new Promise(r => setTimeout(r, 50));
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const fills = [...document.querySelectorAll('path.choroplethlocation')]
    .map(p => getComputedStyle(p).fill);
  return {
    settled: drawn(),
    title: document.title,
    h1: [...document.querySelectorAll('h1')].map(h => h.textContent.trim()),
    nav: document.querySelectorAll('nav a').length,
    text: document.body ? document.body.innerText : '',
    images: [...document.images].map(img => ({src: img.getAttribute('src'), ok: img.naturalWidth > 0})),
    links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')),
    plots: document.querySelectorAll('.plotly-graph-div .main-svg').length,
    geo: document.querySelectorAll('.plotly-graph-div .geo').length,
    webgl_maps: document.querySelectorAll('.maplibregl-map, .mapboxgl-map').length,
    map_paths: fills.length,
    map_fills: [...new Set(fills)],
    tables: document.querySelectorAll('table').length,
  };
})()
""" % int(PAGE_TIMEOUT_S * 1000)


@dataclass
class Visit:
    """What one page did in the browser."""

    page: str
    dom: dict
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    screenshot: Path | None = None


def _problems(events: list[dict]) -> tuple[list[str], list[str], list[str]]:
    """Console errors, requested URLs and failed requests from the DevTools events of one page."""
    errors, requests, failed = [], [], []
    by_id: dict[str, str] = {}
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = [a.get("value", a.get("description", "")) for a in params.get("args", [])]
            errors.append("console." + params["type"] + ": " + " ".join(map(str, args)))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            errors.append("uncaught: " + details.get("exception", {}).get("description",
                                                                         details.get("text", "")))
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            if entry.get("level") == "error" and not any(b in entry.get("text", "") for b in BENIGN_LOG):
                errors.append(f"log: {entry.get('text')} ({entry.get('url', '')})")
        elif method == "Network.requestWillBeSent":
            by_id[params["requestId"]] = params["request"]["url"]
            requests.append(params["request"]["url"])
        elif method == "Network.loadingFailed":
            failed.append(f"{by_id.get(params.get('requestId'), '?')}: {params.get('errorText')} "
                          f"{params.get('blockedReason') or ''}".strip())
        elif method == "Network.responseReceived":
            status = params.get("response", {}).get("status", 0)
            if status >= 400:
                failed.append(f"{params['response']['url']}: HTTP {status}")
    return errors, requests, failed


def _screenshot(browser: Chromium, session: str, path: Path) -> Path:
    metrics = browser.send("Page.getLayoutMetrics", session=session)
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    height = min(int(size["height"]), 8000)
    shot = browser.send("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1}}, session, 60)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


@pytest.fixture(scope="module")
def site(demo) -> Path:
    return demo_run_dir(demo) / "site"


@pytest.fixture(scope="module")
def visits(site, request, tmp_path_factory) -> dict[str, Visit]:
    """Open every page of the site once, in one browser tab; page path -> Visit."""
    shots = Path(request.config.rootpath) / "test-artifacts" / "screenshots"
    for stale in shots.glob("*.png"):  # only this run's pages
        stale.unlink()
    browser = Chromium(BINARY, tmp_path_factory.mktemp("chromium-profile"))
    out: dict[str, Visit] = {}
    try:
        target = next(t for t in browser.send("Target.getTargets")["targetInfos"] if t["type"] == "page")
        session = browser.send("Target.attachToTarget", {"targetId": target["targetId"],
                                                         "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Emulation.setDeviceMetricsOverride", {"width": WIDTH, "height": HEIGHT,
                                                            "deviceScaleFactor": 1, "mobile": False}, session)
        for page in sorted(site.rglob("*.html")):
            rel = page.relative_to(site).as_posix()
            browser.events.clear()
            browser.send("Page.navigate", {"url": page.as_uri()}, session)
            browser.wait_for("Page.loadEventFired")
            dom = browser.evaluate(SETTLE_AND_DESCRIBE, session)
            screenshot = _screenshot(browser, session, shots / (rel.replace("/", "__")[:-5] + ".png"))
            # Collected after the screenshot, so late failures count too.
            out[rel] = Visit(rel, dom, *_problems(browser.events), screenshot=screenshot)
    finally:
        browser.close()
    return out


def test_every_page_opened(site, visits):
    pages = {p.relative_to(site).as_posix() for p in site.rglob("*.html")}
    assert set(visits) == pages
    assert {"index.html", "segments.html", "drivers.html", "geography.html", "data-quality.html",
            "methodology.html"} <= pages
    assert any(p.startswith("segments/") for p in pages), "no persona page"
    for visit in visits.values():
        assert visit.dom["settled"], f"{visit.page}: charts/images not drawn within {PAGE_TIMEOUT_S:.0f} s"
        assert visit.dom["h1"] and visit.dom["title"], visit.page
        assert visit.dom["nav"] >= 5, f"{visit.page}: navigation missing"
        for marker in ("Traceback", "{{", "{%"):
            assert marker not in visit.dom["text"], f"{visit.page}: {marker!r} in the page text"


def test_no_console_errors(visits):
    problems = {v.page: v.errors for v in visits.values() if v.errors}
    assert not problems, json.dumps(problems, indent=1)


def test_no_failed_or_remote_requests(visits):
    failed = {v.page: v.failed for v in visits.values() if v.failed}
    assert not failed, json.dumps(failed, indent=1)
    remote = {v.page: [u for u in v.requests if urlsplit(u).scheme not in ("file", "data", "blob", "about")]
              for v in visits.values()}
    remote = {page: urls for page, urls in remote.items() if urls}
    assert not remote, f"the site must work offline; remote requests: {json.dumps(remote, indent=1)}"


def test_images_decode_and_local_links_resolve(site, visits):
    for visit in visits.values():
        broken = [img["src"] for img in visit.dom["images"] if not img["ok"]]
        assert not broken, f"{visit.page}: images that did not load: {broken}"
        base = (site / visit.page).parent
        for href in visit.dom["links"]:
            parts = urlsplit(href)
            if parts.scheme or href.startswith("#") or not parts.path:
                continue
            target = (base / unquote(parts.path)).resolve()
            assert target.exists(), f"{visit.page}: link to missing {href}"


def test_charts_present(visits):
    drivers = visits["drivers.html"].dom
    figures = [img["src"] for img in drivers["images"] if img["src"].startswith("figures/drivers_")]
    assert len(figures) >= 3, drivers["images"]
    assert any("segments_map" in img["src"] for img in visits["segments.html"].dom["images"])
    assert any("states_map" in img["src"] for img in visits["geography.html"].dom["images"])
    persona_pages = [v for p, v in visits.items() if p.startswith("segments/")]
    for visit in persona_pages:
        assert visit.dom["tables"] >= 1, f"{visit.page}: no profile table"


def test_interactive_map_draws_offline(site, visits):
    geo = {k: v for k, v in visits["geography.html"].dom.items() if k not in ("text", "links")}
    assert geo["plots"] >= 1 and geo["geo"] == 1, geo
    assert geo["webgl_maps"] == 0, "WebGL/MapLibre map: blank when opened from file://"
    states = json.loads((site.parent / "results" / "states.json").read_text(encoding="utf-8"))
    assert geo["map_paths"] >= len(states["states"]), "not every state was drawn"
    # Filled, not just outlined: the grey of insufficient data plus the colour scale, which has
    # as many distinct colours as the shrunk estimates have (all one when nothing varies).
    fills = [f for f in geo["map_fills"] if f not in ("none", "rgba(0, 0, 0, 0)", "transparent")]
    estimates = {round(st["shrunk_positive_prob"], 3) for st in states["states"]
                 if not st["insufficient_data"] and st["shrunk_positive_prob"] is not None}
    grey = any(st["insufficient_data"] for st in states["states"])
    assert len(fills) >= min(len(estimates), 3) + grey, (fills, sorted(estimates))


def test_screenshots_saved(visits):
    from PIL import Image

    for visit in visits.values():
        assert visit.screenshot and visit.screenshot.exists(), visit.page
        with Image.open(visit.screenshot) as image:
            assert image.width == WIDTH and image.height >= 300, (visit.page, image.size)
            colours = image.convert("RGB").resize((64, 64)).getcolors(64 * 64)
            assert colours is None or len(colours) > 8, f"{visit.page}: screenshot is blank"
