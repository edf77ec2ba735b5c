"""The adversarial page in a real browser: attack a clip, move the epsilon slider, see it change.

(a) Upload only (no corpus), on a tiny mel model trained at test time, in a server
    of its own: upload a tone, move the slider with the keyboard, the SNR and the
    outcome change; no traceback in the server log.
(b) The shipped ``resnet18_mel`` on a real test clip (skipped, saying which, without
    the model or the corpus): the README's screenshot.
"""

from __future__ import annotations

import pytest
import soundfile as sf

from ser_core import data, models

from .conftest import full_screenshot, tiny_server_without_corpus, wait_for_app, wait_for_plots

pytestmark = pytest.mark.browser
SNR = '[data-testid="stMetric"]:has-text("SNR of the perturbation") [data-testid="stMetricValue"]'
OUTCOME = ".st-key-adversarial-outcome"


@pytest.fixture(scope="module")
def tiny_server(tmp_path_factory):
    """``streamlit run app.py`` on a tiny mel model, without corpus; yields ``(url, log)``."""
    with tiny_server_without_corpus(tmp_path_factory.mktemp("adversarial")) as served:
        yield served


def epsilon_slider(page):
    """The spectrogram epsilon slider's range input (Streamlit 1.67: react-aria)."""
    return page.locator('.st-key-adversarial-epsilon-spectrogram input[type="range"]')


def move_slider_and_wait(page, presses: int) -> tuple[str, str]:
    """Press ArrowRight on the epsilon slider; wait until the SNR shown changes.
    Returns the SNR text before and after."""
    before = page.locator(SNR).inner_text()
    thumb = epsilon_slider(page)
    thumb.focus()
    for _ in range(presses):
        thumb.press("ArrowRight")
    page.wait_for_function(
        """(old) => [...document.querySelectorAll('[data-testid="stMetric"]')].some(
            m => m.innerText.includes('SNR of the perturbation')
                 && !m.innerText.includes(old))""",
        arg=before,
        timeout=60_000,
    )
    wait_for_app(page)
    return before, page.locator(SNR).inner_text()


def test_slider_changes_the_attack(browser_page, tiny_server, tmp_path, tone_fn, output_dir):
    url, log = tiny_server
    page = browser_page
    page.goto(f"{url}/adversarial")
    wait_for_app(page)
    page.get_by_role("heading", name="Adversarial examples").wait_for()
    wav = tmp_path / "tone.wav"
    sf.write(wav, tone_fn(2.5), 16_000)
    page.locator("input[type=file]").set_input_files(str(wav))
    page.locator(SNR).wait_for(timeout=90_000)
    wait_for_app(page)
    assert page.locator(SNR).inner_text().endswith("dB")
    assert epsilon_slider(page).get_attribute("aria-valuetext") == "0.01"
    before, after = move_slider_and_wait(page, 4)  # 0.01 -> 0.05
    assert epsilon_slider(page).get_attribute("aria-valuetext") == "0.05"
    assert before != after and after.endswith("dB")
    assert float(after.split()[0]) < float(before.split()[0])  # a bigger perturbation
    assert "→" in page.locator(OUTCOME).inner_text()  # before -> after, for the new epsilon
    outcome = page.locator(OUTCOME).inner_text()
    assert ("the trip through sound" in outcome) == ("the attack changed the label" in outcome)
    assert "not monotonic in ε" in outcome  # FGSM: one step can overshoot
    delta = page.locator('[data-testid="stMetricDelta"]').first.inner_text()
    assert delta == "unchanged" or delta.startswith("was ")
    assert not page.locator('[data-testid^="stMetricDeltaIcon"]').count()  # a label has no arrow
    wait_for_plots(page)
    assert page.locator("audio").count() == 5  # the clip; the window, original phase; two Griffin-Lim
    assert not page.locator('[data-testid="stException"]').count()
    assert not page.locator('[data-testid="stAlertContentError"]').count()
    full_screenshot(page, output_dir / "adversarial_tiny.png")
    server_log = log.read_text(errors="replace")
    assert "Traceback" not in server_log, server_log[-4000:]


def test_real_model_on_a_test_clip(app_server, browser_page, output_dir):
    if "resnet18_mel" not in models.shipped():
        pytest.skip("resnet18_mel is not shipped in artifacts/models")
    if not data.corpus_available():
        pytest.skip("nEMO corpus not found: set NEMO_DIR (needed for a real clip)")
    page = browser_page
    page.goto(f"{app_server}/adversarial")
    wait_for_app(page)
    page.get_by_role("heading", name="Adversarial examples").wait_for()
    page.locator(SNR).wait_for(timeout=90_000)
    wait_for_app(page)
    before, after = move_slider_and_wait(page, 4)  # 0.01 -> 0.05: FGSM flips most clips
    assert float(after.split()[0]) < float(before.split()[0])
    page.locator('[data-testid="stPlotlyChart"]').last.wait_for()  # the robustness curve
    wait_for_plots(page)
    assert not page.locator('[data-testid="stException"]').count()
    full_screenshot(page, output_dir / "adversarial_page.png")
