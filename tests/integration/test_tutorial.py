"""docs/tutorial.md is executable: every ```python block runs, in order, in one namespace, in a
fresh directory. A tutorial that stops working fails here."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.md"


def blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def test_tutorial_runs(tmp_path, monkeypatch):
    code = blocks(TUTORIAL.read_text("utf-8"))
    assert len(code) >= 5
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "tutorial"}
    for i, block in enumerate(code, start=1):
        exec(compile(block, f"{TUTORIAL.name} block {i}", "exec"), namespace)  # noqa: S102 - our own docs
    import matplotlib.pyplot as plt

    plt.close("all")
    for name in ("grain.png", "death_rate.png", "famine.png", "quick_report.html"):
        assert (tmp_path / name).stat().st_size > 1000, name
    assert namespace["famine"].notna().all().all()
