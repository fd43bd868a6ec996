"""The HTML report of a small run, opened in headless Chromium: it renders offline with no console
errors, every chart holds data and draws it, and the screenshots show charts, not blank space."""

from __future__ import annotations

import pytest

from hightide.report import charts

CHART_DATA = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => ({
    id: gd.id,
    traces: gd.data.length,
    points: gd.data.map(t => Array.from(t.y || []).filter(v => v !== null && Number.isFinite(Number(v))).length),
    drawn: gd.querySelectorAll('.scatterlayer .trace').length,
    paths: Array.from(gd.querySelectorAll('.scatterlayer path.js-line, .scatterlayer path.js-fill, .scatterlayer .point'))
                .filter(p => (p.getAttribute('d') || '').length > 2).length,
}))"""


@pytest.fixture(scope="module")
def report_file(tiny_results, tmp_path_factory):
    return tiny_results.report(tmp_path_factory.mktemp("browser-report") / "report.html")


def test_report_renders_every_chart_with_data(open_page, report_file, shoot):
    w = open_page()
    w.page.goto(report_file.as_uri())
    w.page.wait_for_function("document.body.dataset.rendered !== undefined", timeout=60_000)
    figures = w.page.evaluate(CHART_DATA)
    assert {f["id"] for f in figures} == {f"fig-{n}" for n in charts.FIGURES}
    assert int(w.page.evaluate("document.body.dataset.rendered")) == len(figures)
    for f in figures:
        assert f["traces"] > 0, f
        assert all(n > 0 for n in f["points"]), f  # no trace without a finite value
        assert f["drawn"] == f["traces"], f  # plotly drew every trace ...
        assert f["paths"] > 0, f  # ... as lines, fills or points with geometry
    assert w.errors == []
    assert w.remote_requests == []  # self-contained: nothing fetched from the network

    _, top = shoot(w.page, "report-top")
    assert top["colours"] > 50 and top["non_white"] > 0.1 and top["model_blue"] > 0.001, top
    for name in ("targets", "grain", "provinces"):
        element = w.page.locator(f"#fig-{name}")
        element.scroll_into_view_if_needed()
        _, stats = shoot(element, f"report-{name}")
        assert stats["height"] > 200 and stats["colours"] > 20, (name, stats)
        assert stats["model_blue"] > 0.0005, (name, stats)  # model lines, not just a legend swatch

    # the validation table and its chart show the same checks
    rows = w.page.locator("#validation tbody tr").count()
    points = w.page.evaluate("document.getElementById('fig-validation').data[1].x.length")
    assert rows == points > 0
    assert w.errors == []
