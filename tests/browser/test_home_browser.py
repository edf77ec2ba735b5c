"""The home page in a real browser: which model for what, both numbers, the model cards."""

from __future__ import annotations

import pytest

from ser_core.inference import best_model_name, scores_table

from .conftest import full_screenshot, wait_for_app, wait_for_plots

pytestmark = pytest.mark.browser


def test_home_says_which_model_for_what(app_server, browser_page, output_dir):
    table = scores_table()
    if table.empty:
        pytest.skip("no shipped models in artifacts/models")
    page = browser_page
    page.goto(app_server)
    wait_for_app(page)
    page.get_by_role("heading", name="Which model for what").wait_for()
    best = best_model_name()
    page.get_by_text("Predicting a new voice (yours, a student's)").wait_for()
    assert page.locator("li", has_text="Predicting a new voice").first.inner_text().count(best) >= 1
    wait_for_plots(page, at_least=1)
    assert page.locator(".js-plotly-plot").count() >= 1
    page.get_by_text(f"All {len(table)} shipped models, best on new voices first").click()
    if table["loso"].isna().any():
        page.get_by_text("New voices: not measured").first.wait_for()
    cards = page.get_by_text("Seed split:")  # one line of every card
    cards.first.wait_for()
    assert cards.count() == table["seed"].notna().sum()
    full_screenshot(page, output_dir / "home.png")
    assert not page.locator('[data-testid="stException"]').count()
