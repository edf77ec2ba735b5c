"""The predictor page in a real browser.

(a) Upload a real nEMO test clip that the shipped model gets right and see its
    label (needs the corpus and a shipped model; skipped, saying which, without).
(b) The live microphone: Chromium's fake capture device plays a WAV made at
    test time; the page must show a live label and the probability timeline,
    then stop cleanly (no traceback in the server log).  Runs on a tiny model
    trained at test time, in a server of its own (its log is read).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser_core import audio, data, i18n, models
from ser_core.config import EMOTIONS

from .conftest import (
    fake_microphone_page,
    full_screenshot,
    streamlit_server,
    wait_for_app,
    wait_for_plots,
)

pytestmark = pytest.mark.browser
WEBRTC_FRAME = 'iframe[title*="webrtc_streamer"]'


def skip_first_use(page, lang: str = "en") -> None:
    """Click "Skip" in the first-use step (issue #25), shown while a model can adapt and
    no voice is calibrated; test_first_use_browser.py walks the step itself.  ``lang``: the
    language the app is read in (its catalog gives the labels)."""
    with i18n.language(lang):
        skip_label, upload_label = (
            i18n.gettext("Skip — predict without calibrating"),
            i18n.gettext("Upload a file"),
        )
    skip = page.get_by_role("button", name=skip_label)
    skip.or_(page.get_by_text(upload_label, exact=True)).first.wait_for(timeout=90_000)
    if skip.count():
        skip.click()
        skip.wait_for(state="detached")
        wait_for_app(page)


def test_upload_real_clip_shows_its_label(app_server, browser_page, output_dir):
    from ser_core.inference import Predictor

    if not models.shipped():
        pytest.skip(
            "no shipped model in artifacts/models: train one with "
            "`python -m ser_core train --ship resnet18_mel`"
        )
    if not data.corpus_available():
        pytest.skip("nEMO corpus not found: set NEMO_DIR (needed for a real clip)")
    pred = Predictor.load()
    meta = data.load_metadata()
    test = meta.iloc[data.split_indices(meta, "seed").test]
    clip = None
    for row in test.sample(frac=1.0, random_state=0).head(300).itertuples():
        probs = pred.predict(audio.load_audio(row.path))
        top2 = np.sort(probs)[-2:]
        if (
            EMOTIONS[int(np.argmax(probs))] == row.emotion
            and top2[1] >= max(pred.unsure_below, 0.5)
            and top2[1] - top2[0] > 0.2
        ):
            clip = row
            break
    if clip is None:
        pytest.skip(f"{pred.model_name} gets none of 300 seed test clips clearly right")

    page = browser_page
    page.goto(f"{app_server}/predictor")
    wait_for_app(page)
    page.get_by_role("heading", name="Emotion predictor").wait_for()
    skip_first_use(page)
    # the main uploader (the calibration one comes before it, the batch one after it)
    page.locator(".st-key-predictor-uploader input[type=file]").set_input_files(clip.path)
    verdict = page.locator(".st-key-predictor-verdict")
    verdict.get_by_text(f"Prediction: {clip.emotion}").wait_for(timeout=90_000)
    wait_for_app(page)
    wait_for_plots(page)
    assert Path(clip.path).name in verdict.inner_text()
    assert "Prediction took" in verdict.inner_text()
    assert not page.locator('[data-testid="stException"]').count()
    assert not page.locator('[data-testid="stAlertContentError"]').count()
    full_screenshot(page, output_dir / "predictor_upload.png")


# ------------------------------------------------------------------ live microphone
@pytest.fixture(scope="module")
def tiny_server(tmp_path_factory):
    """``streamlit run app.py`` on a tiny model; yields ``(url, log path)``."""
    from tests.tiny_model import ship_tiny_model

    root = tmp_path_factory.mktemp("live")
    artifacts = ship_tiny_model(root)
    env = {
        "SER_ARTIFACTS": str(artifacts),
        "SER_DATA_DIR": str(root / "data"),
        "SER_ONNX_CACHE": str(root / "onnx"),
        "SER_ICE_SERVERS": "[]",
    }
    with streamlit_server(root, env) as (url, log):
        yield url, log


def fake_microphone_wav(path: Path, seconds: float = 12.0) -> Path:
    """A 16-bit 48 kHz mono WAV for Chromium's fake capture device: nEMO clips one
    after another when the corpus is there, else a gliding harmonic tone."""
    if data.corpus_available():
        meta = data.load_metadata()
        ys, total = [], 0
        for p in meta.sample(frac=1.0, random_state=1).path:
            ys.append(audio.load_audio(p))
            total += len(ys[-1])
            if total >= seconds * 16_000:
                break
        y = np.concatenate(ys)
    else:
        t = np.arange(int(seconds * 16_000)) / 16_000
        phase = 2 * np.pi * np.cumsum(150 + 40 * np.sin(2 * np.pi * 0.5 * t)) / 16_000
        y = 0.2 * sum(np.sin(k * phase) / k for k in range(1, 6))
    sf.write(path, audio.resample(y, orig_sr=16_000, sr=48_000), 48_000, subtype="PCM_16")
    return path


def test_live_microphone_label_and_timeline(browser, tiny_server, tmp_path, output_dir):
    """A second Chromium of its own (launched through the ``browser`` fixture's
    Playwright: one sync Playwright per thread) with a fake microphone."""
    url, log = tiny_server
    wav = fake_microphone_wav(tmp_path / "mic.wav")
    with fake_microphone_page(browser, wav, f"{url}/predictor") as page:
        wait_for_app(page)
        page.get_by_text("Live microphone", exact=True).click()
        label = page.locator(".st-key-predictor-live-label")
        label.get_by_text("Press START").wait_for()
        page.frame_locator(WEBRTC_FRAME).get_by_role("button", name="START").click()
        label.get_by_text("Listening: the last 3 s").wait_for(timeout=40_000)
        timeline = page.locator(".st-key-predictor-live-timeline .js-plotly-plot")
        timeline.last.wait_for(timeout=40_000)
        # a few more predictions: the history grows while the stream plays
        page.wait_for_function(
            """() => [...document.querySelectorAll(
                    '.st-key-predictor-live-timeline .js-plotly-plot')].some(
                p => p.textContent.includes('seconds since START')
                     && p.data && p.data.length === 6 && p.data[0].x.length >= 4)""",
            timeout=40_000,
        )
        text = label.inner_text()
        assert any(e in text for e in EMOTIONS), text
        wait_for_plots(page)
        full_screenshot(page, output_dir / "predictor_live.png")
        page.frame_locator(WEBRTC_FRAME).get_by_role("button", name="STOP").click()
        label.get_by_text("Stopped: the last label before STOP").wait_for(timeout=30_000)
        wait_for_app(page)
        assert "Whole session:" in label.inner_text() and "predictions pooled" in label.inner_text()
        assert not page.locator('[data-testid="stException"]').count()
        full_screenshot(page, output_dir / "predictor_live_stopped.png")
    server_log = log.read_text(errors="replace")
    assert "Traceback" not in server_log and "Exception" not in server_log, server_log[-4000:]


# ------------------------------------------------------------------ calibrate to my voice
@pytest.fixture(scope="module")
def spk_server(tmp_path_factory):
    """``streamlit run app.py`` on a tiny speaker-normalised model; yields ``(url, log)``."""
    from tests.tiny_model import ship_tiny_spk_model

    root = tmp_path_factory.mktemp("calibrate")
    artifacts = ship_tiny_spk_model(root)
    env = {
        "SER_ARTIFACTS": str(artifacts),
        "SER_DATA_DIR": str(root / "data"),
        "SER_ONNX_CACHE": str(root / "onnx"),
        "SER_ICE_SERVERS": "[]",
    }
    with streamlit_server(root, env) as (url, log):
        yield url, log


def test_calibrate_then_predict(browser_page, spk_server, tmp_path, output_dir):
    """Upload 24 s of (synthetic) speech under "Calibrate to my voice", press Calibrate,
    then upload a clip: its prediction says it is adapted to the voice, batch norm too."""
    from tests.conftest import tone
    from tests.test_adapt import _speech

    url, log = spk_server
    calib, clip = tmp_path / "my_voice.wav", tmp_path / "clip.wav"
    sf.write(calib, _speech(24.0), 16_000, subtype="PCM_16")
    sf.write(clip, tone(2.0), 16_000, subtype="PCM_16")
    page = browser_page
    page.goto(f"{url}/predictor")
    wait_for_app(page, timeout_ms=90_000)
    skip_first_use(page)
    page.get_by_text("Not adapted to this voice").wait_for(timeout=90_000)
    page.get_by_test_id("stExpander").get_by_text("Calibrate to my voice").click()
    panel = page.locator(".st-key-predictor-calibration")
    panel.locator("input[type=file]").set_input_files(str(calib))
    # the uploader's callback has staged the audio once the button is enabled
    page.wait_for_function(
        """() => [...document.querySelectorAll('.st-key-predictor-calibration button')]
                 .some(b => b.innerText.trim().endsWith('Calibrate') && !b.disabled)""",
        timeout=90_000,
    )
    wait_for_app(page)
    panel.get_by_role("textbox").fill("Ala")
    panel.get_by_role("textbox").press("Enter")
    wait_for_app(page)
    panel.get_by_role("button", name="Calibrate", exact=True).click()
    page.get_by_text("Adapted to the voice 'Ala'").first.wait_for(timeout=90_000)
    wait_for_app(page)
    # issue #28: the expander closes, and the success line shows outside it
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stExpander"] details').open""", timeout=30_000
    )
    assert not panel.is_visible()
    success = page.get_by_test_id("stAlertContentSuccess")
    assert any("Calibrated for 'Ala' from 24 s of speech" in t for t in success.all_inner_texts())
    page.locator(".st-key-predictor-uploader input[type=file]").set_input_files(str(clip))
    verdict = page.locator(".st-key-predictor-verdict")
    verdict.get_by_text("Prediction", exact=False).first.wait_for(timeout=90_000)
    wait_for_app(page)
    wait_for_plots(page)
    # the adaptation is said once, under the model; the verdict carries its badge
    status = page.get_by_test_id("stAlertContentSuccess").first.inner_text()
    assert "Adapted to the voice 'Ala' (24 s of calibration speech, averaged over 9 voice warps" in status
    assert "re-estimated on this speech too (AdaBN)" in status
    assert page.get_by_text("Adapted to the voice 'Ala'").count() == 1
    assert "Adapted to your voice" in verdict.inner_text() and "clip.wav" in verdict.inner_text()
    assert not page.locator('[data-testid="stException"]').count()
    assert not page.locator('[data-testid="stAlertContentError"]').count()
    full_screenshot(page, output_dir / "predictor_calibrated.png")
    server_log = log.read_text(errors="replace")
    assert "Traceback" not in server_log, server_log[-4000:]
