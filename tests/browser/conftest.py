"""Headless Chromium for the browser tests: Debian's ``chromium`` driven by Playwright (no browser
download: ``executable_path``). Without Chromium or Playwright the tests skip, except in CI
(``CI=true``), where they fail instead: .ci/run installs Chromium before the tests.

Screenshots go to the test's tmp dir, and also to ``$HIGHTIDE_SCREENSHOTS`` when that is set (to
look at them after the run).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("HIGHTIDE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 1000}


def _unavailable() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install '.[test]')"
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set HIGHTIDE_CHROMIUM)"
    return None


@pytest.fixture(scope="session")
def chromium(tmp_path_factory):
    """A persistent headless Chromium context with a fresh user-data dir, for the whole session."""
    reason = _unavailable()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, args=ARGS, headless=True,
            viewport=VIEWPORT)
        try:
            yield context
        finally:
            context.close()


@dataclass
class Watched:
    """A page and what it said: console errors, uncaught exceptions, requests that left the machine."""

    page: object
    errors: list[str] = field(default_factory=list)
    remote_requests: list[str] = field(default_factory=list)


@pytest.fixture
def open_page(chromium):
    """``open_page() -> Watched``: a new tab whose console errors and remote requests are recorded."""
    pages = []

    def make() -> Watched:
        page = chromium.new_page()
        w = Watched(page)
        page.on("console", lambda m: w.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: w.errors.append(f"page error: {e}"))

        def on_request(request):
            url = request.url
            if not url.startswith(("file:", "data:", "blob:", "about:", "http://127.0.0.1", "ws://127.0.0.1",
                                   "http://localhost", "ws://localhost")):
                w.remote_requests.append(url)

        page.on("request", on_request)
        pages.append(page)
        return w

    yield make
    for page in pages:
        page.close()


def image_stats(path: Path) -> dict:
    """How much a screenshot shows: distinct colours, share of non-white pixels, and the share of
    pixels in the model's blue (#0072B2), which only a drawn model line or band has."""
    import numpy as np
    from PIL import Image

    im = np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)
    flat = im.reshape(-1, 3)
    non_white = np.any(flat < 235, axis=1).mean()
    blue = (np.abs(flat - np.array([0, 114, 178])).sum(axis=1) < 60).mean()
    colours = len(np.unique(flat[:: max(1, len(flat) // 200_000)], axis=0))
    return {"colours": colours, "non_white": float(non_white), "model_blue": float(blue),
            "width": im.shape[1], "height": im.shape[0]}


@pytest.fixture
def shoot(tmp_path):
    """``shoot(page_or_element, name, **kw) -> (path, stats)``: a PNG screenshot in the test's tmp dir
    (copied to $HIGHTIDE_SCREENSHOTS when set) and :func:`image_stats` of it."""
    keep = os.environ.get("HIGHTIDE_SCREENSHOTS")

    def take(target, name: str, **kwargs):
        path = tmp_path / f"{name}.png"
        target.screenshot(path=str(path), **kwargs)
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(keep) / path.name)
        return path, image_stats(path)

    return take
