"""The batch report (issue #30) opens in Chromium from a file:// URL, offline: its figures are
drawn by the plotly.js inside it and no request leaves the machine."""

from __future__ import annotations

import pytest

from ser_core import report
from ser_core.config import EMOTIONS
from ser_core.i18n import language

pytestmark = pytest.mark.browser

CARD = {
    "metrics": {"seed": {"accuracy": 0.9}, "loso": {"accuracy": 0.66, "accuracy_std": 0.05, "n_folds": 9}}
}
SETTINGS = {"Backend": "onnx", "Unsure below": "33 %"}


def rows() -> list[dict]:
    out = []
    for k, e in enumerate(EMOTIONS):
        probs = {x: (0.5 if x == e else 0.1) for x in EMOTIONS}
        out.append(
            {"file": f"clip{k}.wav", "duration_s": 2.0 + k, "label": e, **probs, "unsure": k % 2 == 1,
             "over_time": "", "error": ""}
        )  # fmt: skip
    out.append({**{c: None for c in report.COLUMNS}, "file": "bad.mp3", "over_time": "", "error": "damaged"})
    return out


def open_offline(browser_page, path) -> list[str]:
    """Open ``path`` with every non-file request refused; return the refused URLs."""
    refused: list[str] = []

    def guard(route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    browser_page.route("**/*", guard)
    browser_page.goto(path.as_uri())
    browser_page.wait_for_function(
        "() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2", timeout=30_000
    )
    return refused


def test_report_opens_offline_with_its_figures(browser_page, tmp_path, output_dir):
    path = tmp_path / "report.html"
    path.write_text(
        report.html_report(rows(), model_name="ensemble_spk", card=CARD, settings=SETTINGS), encoding="utf-8"
    )
    refused = open_offline(browser_page, path)
    assert refused == []
    assert browser_page.locator(".js-plotly-plot").count() == 2
    bars = browser_page.locator(".js-plotly-plot").first.locator("g.point").count()
    assert bars >= 12  # six counts and six means (hidden zero-height bars included)
    assert browser_page.locator("#files tbody tr").count() == 7
    assert "66.0 ± 5.0 %" in browser_page.inner_text("body")
    # sorting by a column title: the duration column, then again descending
    browser_page.locator("#files th").nth(1).click()
    first = browser_page.locator("#files tbody tr").first.inner_text()
    browser_page.locator("#files th").nth(1).click()
    assert browser_page.locator("#files tbody tr").first.inner_text() != first
    browser_page.screenshot(path=str(output_dir / "report_browser.png"), full_page=True)


def test_polish_report(browser_page, tmp_path):
    path = tmp_path / "raport.html"
    with language("pl"):
        page = report.html_report(rows(), model_name="ensemble_spk", card=CARD, settings=SETTINGS)
    path.write_text(page, encoding="utf-8")
    assert open_offline(browser_page, path) == []
    text = browser_page.inner_text("body")
    assert "Raport analizy emocji" in text and "złość" in text
