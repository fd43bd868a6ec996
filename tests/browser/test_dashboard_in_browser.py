"""The dashboard end to end: ``hightide serve`` in a subprocess, driven in headless Chromium. The page
loads without console errors, a short small run starts, shows its progress, and its charts appear
with data; a second scenario is then compared with the historical run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

RUN_TIMEOUT_MS = 120_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dashboard(hightide_exe, chromium, tmp_path_factory):
    """``hightide serve`` on a free port; its URL. Stopped (its whole process group) afterwards."""
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([hightide_exe, "serve", "--port", str(port)], stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, "HOME": str(log.parent)})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"hightide serve did not come up:\n{log.read_text(errors='replace')}")
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_serve_binds_to_localhost_only(dashboard):
    port = int(dashboard.rsplit(":", 1)[1])
    addresses = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    for address in addresses - {"127.0.0.1"}:
        with socket.socket() as s:
            s.settimeout(1)
            assert s.connect_ex((address, port)) != 0, f"dashboard reachable on {address}"


PLOTS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => ({
    names: gd.data.map(t => t.name),
    points: gd.data.map(t => Array.from(t.y || []).filter(v => v !== null && Number.isFinite(Number(v))).length),
}))"""

WATCH_PROGRESS = """() => { window.__progressSeen = false;
    new MutationObserver(() => { if (document.querySelector('[data-testid="stProgress"]')) window.__progressSeen = true; })
        .observe(document.body, {subtree: true, childList: true}); }"""


def _start_run(page, last_year: str) -> None:
    year = page.get_by_role("spinbutton", name="Last year")
    year.fill(last_year)
    year.press("Tab")
    page.evaluate(WATCH_PROGRESS)
    page.get_by_role("button", name="Run").click()


def _wait_for_charts(page, run_label: str) -> list[dict]:
    """Wait until the comparison chart shows the run ``run_label`` (a rerun replaces the old charts)."""
    page.wait_for_function(
        "name => { const p = document.querySelectorAll('.js-plotly-plot');"
        " return p.length >= 2 && p[0].data && p[0].data.some(t => t.name === name); }",
        arg=run_label, timeout=RUN_TIMEOUT_MS)
    page.wait_for_timeout(500)
    return page.evaluate(PLOTS)


def test_dashboard_runs_a_scenario_and_compares_it(open_page, dashboard, shoot):
    w = open_page()
    page = w.page
    page.goto(dashboard)
    page.get_by_role("button", name="Run").wait_for(timeout=60_000)
    page.get_by_role("heading", name="Policy timeline").wait_for()
    page.get_by_role("spinbutton", name="campaign_speed").wait_for()
    page.wait_for_timeout(1000)  # let the form finish drawing
    _, loaded = shoot(page, "dashboard-loaded")
    assert loaded["colours"] > 20 and loaded["non_white"] > 0.05, loaded
    assert w.errors == []

    # the historical scenario over 1952-53, at the default small scale
    _start_run(page, "1953")
    plots = _wait_for_charts(page, "historical")
    assert page.evaluate("window.__progressSeen"), "no progress bar while the run went on"
    assert page.get_by_text("historical: 24 months done").count() >= 1
    comparison, forms = plots[0], plots[1]
    assert "historical" in comparison["names"] and "record" in comparison["names"]
    assert all(n > 0 for n in comparison["points"]), comparison
    assert all(n > 0 for n in forms["points"]), forms
    chart = page.locator(".js-plotly-plot").first
    chart.scroll_into_view_if_needed()
    _, stats = shoot(chart, "dashboard-chart")
    assert stats["height"] > 200 and stats["colours"] > 20, stats
    assert stats["model_blue"] > 0.0005, stats  # the run's lines are drawn
    assert page.locator('[data-testid="stException"]').count() == 0

    # another scenario: it is compared with the historical run of the same window, scale and seed
    page.get_by_role("combobox", name="Scenario").click()
    page.get_by_role("option", name="no_collectivization").click()
    page.get_by_role("spinbutton", name="Last year").wait_for()
    page.wait_for_timeout(1000)
    _start_run(page, "1953")
    page.get_by_text("no_collectivization: 24 months done").wait_for(timeout=RUN_TIMEOUT_MS)
    plots = _wait_for_charts(page, "no_collectivization")
    assert page.get_by_text("historical (for comparison)").count() == 0  # the first run is reused
    names = plots[0]["names"]
    assert "no_collectivization" in names and "historical" in names and "record" in names
    assert all(n > 0 for n in plots[0]["points"]), plots[0]
    _, page_stats = shoot(page, "dashboard-compared")
    assert page_stats["colours"] > 20, page_stats
    assert page.locator('[data-testid="stException"]').count() == 0
    assert w.errors == []
    assert w.remote_requests == []  # the page needs nothing from the network
