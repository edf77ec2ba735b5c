"""Why a browser offers no microphone (:mod:`ui.microphone`)."""

from __future__ import annotations

from ui import microphone


def test_plain_http_from_another_machine_is_explained():
    reason = microphone.blocked_reason("http://192.168.1.23:8501/predictor")
    assert reason and "192.168.1.23" in reason and "serve --https" in reason


def test_secure_contexts_need_no_explanation():
    for url in ("https://192.168.1.23:8501/", "http://localhost:8501/", "http://127.0.0.1:8501", None, ""):
        assert microphone.blocked_reason(url) is None, url
