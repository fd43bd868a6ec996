"""Reports and figures: the self-contained HTML run report, static figures for papers, the
dashboard, and the generated reference docs.

``write_report(DIR)`` (re)builds ``DIR/report.html``; ``charts.FIGURES`` names the figures that
``hightide plot`` and ``Results.plot`` draw.
"""

from hightide.report.data import ReportData
from hightide.report.html import REPORT, render, write_report

__all__ = ["REPORT", "ReportData", "render", "write_report"]
