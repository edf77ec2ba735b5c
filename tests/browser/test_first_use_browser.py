"""The predictor's first use in a real browser (issue #25): speak 20 s into a fake
microphone, see the calibration succeed, then see an adapted prediction.

Chromium's fake capture device plays (and loops) a WAV of about 22 s made at test time
from nEMO clips of one speaker (in ``tmp_path``); ``st.audio_input`` records 21 s of it.
The shipped models are used (the default, or the best adaptable one the step offers);
skipped, saying why, without the corpus or an adaptable shipped model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser_core import audio, data
from ser_core.config import EMOTIONS

from .conftest import fake_microphone_page, full_screenshot, streamlit_server, wait_for_app, wait_for_plots

pytestmark = pytest.mark.browser
CALIBRATION_S = 22.0
RECORD_S = 21.0
SLOW_MS = 300_000  # calibrating and adapting the ensemble on two busy CPU cores


def one_speaker_wav(path: Path, seconds: float = CALIBRATION_S) -> tuple[Path, str, str]:
    """nEMO clips of one speaker one after another (about ``seconds``), as a 48 kHz WAV for
    the fake microphone; returns ``(wav, speaker, path of a further clip of theirs)``."""
    meta = data.load_metadata()
    speaker = sorted(meta.speaker.unique())[0]
    rows = meta[meta.speaker == speaker].sample(frac=1.0, random_state=0)
    ys, total, used = [], 0, 0
    for p in rows.path:
        ys.append(audio.load_audio(p))
        total, used = total + len(ys[-1]), used + 1
        if total >= seconds * 16_000:
            break
    sf.write(path, audio.resample(np.concatenate(ys), orig_sr=16_000, sr=48_000), 48_000, subtype="PCM_16")
    return path, speaker, str(rows.path.iloc[used])


@pytest.fixture(scope="module")
def shipped_server(tmp_path_factory):
    """``streamlit run app.py`` on the shipped models; yields ``(url, log path)``."""
    from ser_core.errors import UnknownNameError
    from ser_core.inference import best_adaptable_model

    try:
        best_adaptable_model()
    except UnknownNameError as err:
        pytest.skip(f"no shipped model can adapt to a voice: {err}")
    root = tmp_path_factory.mktemp("first_use")
    with streamlit_server(root, {"SER_DATA_DIR": str(root / "data"), "SER_ICE_SERVERS": "[]"}) as served:
        yield served


def test_talk_20_s_then_the_first_prediction_is_adapted(browser, shipped_server, tmp_path, output_dir):
    if not data.corpus_available():
        pytest.skip("nEMO corpus not found: set NEMO_DIR (the fake microphone plays its speech)")
    url, log = shipped_server
    wav, speaker, clip = one_speaker_wav(tmp_path / "mic.wav")
    with fake_microphone_page(browser, wav, f"{url}/predictor") as page:
        wait_for_app(page, timeout_ms=SLOW_MS)
        step = page.locator(".st-key-predictor-first-use")
        step.get_by_text("Before your first prediction: talk for 20 s").wait_for(timeout=SLOW_MS)
        switch = step.get_by_role("button", name="Switch to")
        if switch.count():  # the default model cannot adapt: take the one the step offers
            switch.click()
            wait_for_app(page, timeout_ms=SLOW_MS)
        assert page.get_by_text("Upload a file", exact=True).count() == 0  # inputs come after
        full_screenshot(page, output_dir / "predictor_first_use.png")

        step.get_by_role("button", name="Record", exact=True).click()
        page.wait_for_timeout(RECORD_S * 1000)
        step.get_by_role("button", name="Stop recording").click()
        adapted = page.get_by_test_id("stAlertContentSuccess").get_by_text(
            "Adapted to the voice (", exact=False
        )
        adapted.first.wait_for(timeout=SLOW_MS)
        wait_for_app(page, timeout_ms=SLOW_MS)
        assert not page.locator(".st-key-predictor-first-use").count()
        note = page.get_by_test_id("stAlertContentSuccess").first.inner_text()
        assert "Adapted to the voice (" in note and "s of calibration speech" in note, note
        assert page.get_by_text("Adapted to the voice (", exact=False).count() == 1  # said once
        full_screenshot(page, output_dir / "predictor_first_use_calibrated.png")

        page.locator(".st-key-predictor-uploader input[type=file]").set_input_files(
            clip
        )  # a further clip of theirs
        verdict = page.locator(".st-key-predictor-verdict")
        verdict.get_by_text("Adapted to your voice", exact=False).wait_for(timeout=SLOW_MS)
        wait_for_app(page, timeout_ms=SLOW_MS)
        wait_for_plots(page)
        text = verdict.inner_text()
        assert "Adapted to your voice" in text and Path(clip).name in text, text
        assert "Prediction" in text and any(e in text for e in EMOTIONS), text
        assert not page.locator('[data-testid="stException"]').count()
        assert not page.locator('[data-testid="stAlertContentError"]').count()
        full_screenshot(page, output_dir / "predictor_first_use_prediction.png")
    server_log = log.read_text(errors="replace")
    assert "Traceback" not in server_log, server_log[-4000:]
