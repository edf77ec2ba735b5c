"""The adversarial page's "An attack you cannot hear" in a real browser (issue #29).

Upload only (no corpus), on a tiny mel model trained at test time, in a server of its
own: upload a tone, run the imperceptible attack with its default budget, read the
masking margin, answer the A/B/X trial, start a new one; no traceback in the server log.
"""

from __future__ import annotations

import re

import pytest
import soundfile as sf

from .conftest import full_screenshot, tiny_server_without_corpus, wait_for_app, wait_for_plots

pytestmark = pytest.mark.browser
SNR = '[data-testid="stMetric"]:has-text("SNR of the perturbation") [data-testid="stMetricValue"]'
EXCESS = (
    '[data-testid="stMetric"]:has-text("Largest excess over the threshold") [data-testid="stMetricValue"]'
)
VERDICT = ".st-key-inaudible-verdict"


@pytest.fixture(scope="module")
def tiny_server(tmp_path_factory):
    """``streamlit run app.py`` on a tiny mel model, without corpus; yields ``(url, log)``."""
    with tiny_server_without_corpus(tmp_path_factory.mktemp("inaudible")) as served:
        yield served


def test_inaudible_attack_and_abx_trial(browser_page, tiny_server, tmp_path, tone_fn, output_dir):
    url, log = tiny_server
    page = browser_page
    page.goto(f"{url}/adversarial")
    wait_for_app(page)
    wav = tmp_path / "tone.wav"
    sf.write(wav, tone_fn(2.5), 16_000)
    page.locator("input[type=file]").set_input_files(str(wav))
    page.locator(SNR).first.wait_for(timeout=90_000)
    wait_for_app(page)
    page.get_by_role("heading", name="An attack you cannot hear").wait_for()
    assert not page.locator(EXCESS).count()  # nothing runs before the button
    page.get_by_role("button", name="Run the inaudible attack").click()
    page.locator(EXCESS).wait_for(timeout=180_000)
    wait_for_app(page)
    excess = page.locator(EXCESS).inner_text()
    assert re.fullmatch(r"[+-]\d+\.\d\d dB", excess) and float(excess.split()[0]) <= 0
    page.get_by_role("heading", name="Can you hear it? An A/B/X trial").wait_for()
    page.get_by_role("button", name="X is A").click()
    page.locator(VERDICT).get_by_text(re.compile(r"(Right|Wrong): X was [AB]\.")).wait_for(timeout=30_000)
    wait_for_app(page)
    verdict = page.locator(VERDICT).inner_text()
    assert "was the attacked clip" in verdict
    assert (
        "Your score this session: 1 of 1 right" in verdict
        or "Your score this session: 0 of 1 right" in verdict
    )
    assert page.get_by_role("button", name="X is B").is_disabled()
    wait_for_plots(page)
    assert not page.locator('[data-testid="stException"]').count()
    assert not page.locator('[data-testid="stAlertContentError"]').count()
    full_screenshot(page, output_dir / "adversarial_inaudible_tiny.png")
    page.get_by_role("button", name="New trial").click()
    page.locator(VERDICT).get_by_text("was the attacked clip").wait_for(state="detached", timeout=30_000)
    assert page.get_by_role("button", name="X is B").is_enabled()
    server_log = log.read_text(errors="replace")
    assert "Traceback" not in server_log, server_log[-4000:]
