"""Analysing one clip on the predictor page (:mod:`ui.predictor`): captions."""

from __future__ import annotations

import numpy as np

from ser_core.inference import Verdict
from ui import predictor


def result(elapsed_ms: float, seconds: float) -> predictor.ClipResult:
    verdict = Verdict(np.full(6, 1 / 6, np.float32), None, elapsed_ms, seconds)
    return predictor.ClipResult("id", "a.wav", "upload", "m", "onnx", np.zeros(1), verdict, 3.0)


def test_timing_in_ms_then_in_seconds():
    assert "Prediction took **92 ms** (features + model, one 3-s window, ONNX Runtime)" in (
        predictor.timing_caption(result(92.4, 2.0))
    )
    assert "Prediction took **17.4 s**" in predictor.timing_caption(result(17_412.0, 180.0))


def test_a_short_clip_says_how_it_is_padded():
    """The waveform of a 2-s clip runs 0-2 s, the model's log-mel 0-3 s with the speech
    0.5 s later: the caption says so (a lecturer would otherwise compare the times)."""
    assert predictor.padding_caption(2.0) == (
        "Log-mel spectrogram exactly as the model sees it: the 2.0-s clip padded with silence "
        "to 3 s, 0.5 s on each side, so its times run 0.5 s later than the waveform's."
    )
    assert predictor.padding_caption(3.0).startswith("Log-mel spectrogram of the 3-s window")
