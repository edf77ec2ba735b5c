"""Why a browser offers no microphone (:mod:`ui.microphone`)."""

from __future__ import annotations

from ui import microphone


def test_plain_http_from_another_machine_is_explained():
    reason = microphone.blocked_reason("http://192.168.1.23:8501/predictor")
    assert reason and "192.168.1.23" in reason and "serve --https" in reason


def test_secure_contexts_need_no_explanation():
    for url in ("https://192.168.1.23:8501/", "http://localhost:8501/", "http://127.0.0.1:8501", None, ""):
        assert microphone.blocked_reason(url) is None, url


def test_the_live_microphone_words_follow_the_language():
    """streamlit-webrtc's own words (its ``translations``): Polish in a Polish session; START
    and STOP keep their names, which the page's sentences use (#30)."""
    from ser_core.i18n import language

    english = microphone.webrtc_words()
    assert english["start"] == "Start" and english["select_device"] == "Select Device"
    with language("pl"):
        polish = microphone.webrtc_words()
    assert polish["start"] == "Start" and polish["stop"] == "Stop"
    assert polish["select_device"] == "Wybierz urządzenie"
    assert all(polish[k] != english[k] for k in english if k not in ("start", "stop"))
