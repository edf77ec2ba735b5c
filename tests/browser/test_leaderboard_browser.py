"""The leaderboard page in a real browser, on a synthetic MLflow store.

The session's ``app_server`` runs with the test process's environment, so this
module starts its own ``streamlit run app.py`` with ``$SER_MLFLOW_DB`` pointed
at a synthetic database (tests/tracking_db.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..tracking_db import make_tracking_db
from .conftest import full_screenshot, pick, streamlit_server, wait_for_app, wait_for_plots

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def leaderboard_server(tmp_path_factory) -> Iterator[str]:
    """A second Streamlit server reading a synthetic tracking database; yields its URL."""
    root = tmp_path_factory.mktemp("leaderboard")
    make_tracking_db(root / "mlflow.db", root / "artifacts")
    env = {"SER_MLFLOW_DB": str(root / "mlflow.db"), "SER_MLFLOW_ARTIFACTS": str(root / "mlartifacts")}
    with streamlit_server(root, env) as (url, _log):
        yield url


def wait_for_charts(page, n: int) -> None:
    """Wait until at least ``n`` plotly charts are drawn (and every chart is)."""
    page.wait_for_function(
        "(n) => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n", arg=n, timeout=60_000
    )
    wait_for_plots(page)


def test_leaderboard_renders_and_selects_a_run(leaderboard_server, browser_page, output_dir):
    page = browser_page
    page.goto(f"{leaderboard_server}/leaderboard")  # deep link as the first request
    wait_for_app(page)
    page.get_by_role("heading", name="Leaderboard").wait_for()
    page.get_by_role("heading", name="Compare two runs").wait_for()
    wait_for_app(page)
    # accuracy bars, F1 heatmap, confusion matrix and training curves of the run Inspect opens
    # on (one with curves, #28), ensemble weights, compared F1
    wait_for_charts(page, 6)
    assert not page.locator('[data-testid="stException"]').count()
    assert page.locator('[data-testid="stDataFrame"]').count() >= 2  # ranking + comparison
    assert page.locator(".js-plotly-plot .heatmaplayer").count() >= 2
    # the run left RUNNING by no live process is not shown as training (#28)
    assert not page.get_by_text("Training now", exact=False).count()
    page.get_by_text("Ended without a test result", exact=False).first.wait_for()
    # Compare starts with two different runs (#28: two runs of the same name)
    a, b = (
        page.locator('[data-testid="stSelectbox"]')
        .filter(has=page.get_by_role("combobox", name=name, exact=True))
        .inner_text()
        .splitlines()[-1]
        for name in ("Run A", "Run B")
    )
    assert a.split(" · ")[0] != b.split(" · ")[0], (a, b)

    pick(page, "Run", "resnet18-hpss-seed · 70.0 %")
    page.get_by_text("on hpss", exact=False).first.wait_for()
    wait_for_app(page)
    wait_for_charts(page, 6)  # the training curves appeared
    page.locator(".js-plotly-plot", has_text="cross-entropy").wait_for()  # the curves
    assert not page.locator('[data-testid="stException"]').count()
    full_screenshot(page, output_dir / "leaderboard_page.png")
