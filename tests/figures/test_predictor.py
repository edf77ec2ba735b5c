"""Figures of one prediction (:mod:`ser_core.figures.predictor`)."""

from __future__ import annotations

import numpy as np
import pytest

from ser_core import features
from ser_core.config import DEFAULT_CONFIG, EMOTIONS
from ser_core.figures import predictor
from ser_core.figures.style import EMOTION_COLORS


def test_probability_figure_bars_in_emotion_colours():
    probs = np.array([0.5, 0.1, 0.1, 0.1, 0.1, 0.1])
    fig = predictor.probability_figure(probs, unsure_below=0.4)
    (bars,) = fig.data
    assert list(bars.y) == list(EMOTIONS) and list(bars.x) == [50.0, 10.0, 10.0, 10.0, 10.0, 10.0]
    assert list(bars.marker.color) == [EMOTION_COLORS[e] for e in EMOTIONS]
    assert bars.text[0] == "50 %" and bars.orientation == "h"
    (line,) = fig.layout.shapes
    assert line.x0 == 40 and fig.layout.annotations[0].text == "unsure below 40 %"
    assert fig.layout.xaxis.title.text == "probability (%)"
    assert not predictor.probability_figure(probs).layout.shapes


def test_timeline_figure_one_line_per_emotion():
    probs = np.tile([0.7, 0.1, 0.05, 0.05, 0.05, 0.05], (3, 1))
    fig = predictor.timeline_figure(probs, times=np.array([0.6, 1.2, 1.8]), x_title="seconds")
    assert [t.name for t in fig.data] == list(EMOTIONS)
    assert [t.line.color for t in fig.data] == [EMOTION_COLORS[e] for e in EMOTIONS]
    assert list(fig.data[0].x) == [0.6, 1.2, 1.8] and list(fig.data[0].y) == [70.0] * 3
    assert fig.data[0].mode == "lines+markers" and fig.layout.xaxis.title.text == "seconds"
    assert list(fig.layout.yaxis.range) == [0, 100]


def test_a_3_minute_timeline_is_smoothed_stacked_and_has_a_dominant_emotion_strip():
    """Issue #28: 178 windows drawn as raw lines tangle; a long timeline is smoothed, stacked
    to 100 % and topped by a strip of each window's most likely emotion (pale when unsure)."""
    rng = np.random.default_rng(0)
    n = 178  # a 3-minute upload, 3-s windows 1 s apart
    probs = rng.dirichlet(np.full(6, 0.3), size=n)
    probs[:60] = [0.7, 0.1, 0.05, 0.05, 0.05, 0.05]  # a first minute of sure anger
    probs[60:62] = [0.3, 0.25, 0.2, 0.1, 0.1, 0.05]  # two unsure windows
    times = np.arange(n) + 1.5
    fig = predictor.timeline_figure(probs, times=times, unsure_below=0.4)
    lines, band = fig.data[:6], fig.data[6]
    assert [t.name for t in lines] == list(EMOTIONS) and len(fig.data) == 7
    assert all(t.stackgroup == "probs" and t.mode == "lines" for t in lines)
    width = predictor.smoothing_width(n)
    assert width == 7
    y = np.array([t.y for t in lines]).T
    assert np.allclose(y.sum(axis=1), 100, atol=0.1)  # stacked to 100 %
    assert np.allclose(y / 100, predictor.smooth(probs, width=width), atol=1e-3)
    raw_jumps = np.abs(np.diff(100 * probs, axis=0)).mean()
    assert np.abs(np.diff(y, axis=0)).mean() < raw_jumps / 2  # calmer than the raw lines
    # the strip: one bar per run of equal windows, covering the whole clip, emotion colours
    assert band.type == "bar" and band.yaxis == "y2" and band.name == "most likely"
    assert band.marker.color[0] == EMOTION_COLORS["anger"] and band.marker.opacity[0] == 1.0
    assert band.customdata[0][2] == "1–61 s" and band.marker.opacity[1] == 0.35  # unsure: pale
    left = np.array(band.x) - np.array(band.width) / 2
    right = np.array(band.x) + np.array(band.width) / 2
    assert left[0] == pytest.approx(1.0) and right[-1] == pytest.approx(n + 1.0)
    assert np.allclose(left[1:], right[:-1])  # no gaps, no overlaps
    labels = probs.argmax(axis=1)
    assert len(band.x) == 1 + np.count_nonzero(
        (labels[1:] != labels[:-1]) | ((probs.max(1) < 0.4)[1:] != (probs.max(1) < 0.4)[:-1])
    )
    assert fig.layout.yaxis.domain[1] < fig.layout.yaxis2.domain[0]  # the strip sits above


def test_a_3_second_timeline_stays_raw_lines():
    probs = np.tile([0.7, 0.1, 0.05, 0.05, 0.05, 0.05], (3, 1))
    fig = predictor.timeline_figure(probs, times=np.array([1.5, 2.5, 3.5]), unsure_below=0.4)
    assert len(fig.data) == 6 and all(t.stackgroup is None for t in fig.data)
    assert predictor.smoothing_width(29) == 1 and predictor.smoothing_width(30) == 5
    assert np.array_equal(predictor.smooth(probs, width=1), probs)


def test_waveform_figure_envelope_of_long_audio():
    y = np.sin(np.linspace(0, 200, 20_000)).astype(np.float32)
    fig = predictor.waveform_figure(y, sr=16_000, points=1000)
    (trace,) = fig.data
    assert len(trace.x) == 2 * 1000 and max(trace.y) <= 1 and min(trace.y) >= -1
    assert trace.x[-1] == pytest.approx(999 * 20 / 16_000)
    short = predictor.waveform_figure(y[:100], sr=16_000)
    assert np.allclose(short.data[0].y, y[:100]) and short.layout.yaxis.title.text == "amplitude"


def test_display_mel_short_clips_as_the_model_sees_them(tone_fn):
    y = tone_fn(1.0)
    mel, hop = predictor.display_mel(y, sr=16_000)
    assert np.allclose(mel, features.compute(y, "mel")[0])  # padded to 3 s
    assert hop == DEFAULT_CONFIG.hop_length / 16_000
    long_mel, long_hop = predictor.display_mel(tone_fn(30.0), sr=16_000)
    assert long_mel.shape[0] == DEFAULT_CONFIG.n_mels and long_hop > hop
    assert long_mel.shape[1] <= 1501


def test_mel_figure_axes():
    mel = np.arange(8 * 5, dtype=float).reshape(8, 5)
    fig = predictor.mel_figure(mel, hop_seconds=0.5)
    (heat,) = fig.data
    assert np.allclose(heat.z, mel) and list(heat.x) == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert heat.colorbar.title.text == "dB" and fig.layout.yaxis.title.text == "mel band"


def test_the_figures_speak_the_language_of_the_run():
    """Issue #30: under ``language("pl")`` the bars, lines, strip and axes are Polish; the
    colours still follow the emotion identifiers."""
    from ser_core.i18n import language

    polish = ["złość", "strach", "szczęście", "stan neutralny", "smutek", "zaskoczenie"]
    probs = np.array([0.5, 0.1, 0.1, 0.1, 0.1, 0.1])
    with language("pl"):
        bars = predictor.probability_figure(probs, unsure_below=0.4)
        long = predictor.timeline_figure(np.tile(probs, (40, 1)), times=np.arange(40) + 1.5, unsure_below=0.4)
        mel = predictor.mel_figure(np.zeros((4, 3)), hop_seconds=0.5)
    assert list(bars.data[0].y) == polish
    assert list(bars.data[0].marker.color) == [EMOTION_COLORS[e] for e in EMOTIONS]
    assert bars.layout.xaxis.title.text == "prawdopodobieństwo (%)"
    assert bars.layout.annotations[0].text == "niepewnie poniżej 40 %"
    assert [t.name for t in long.data[:6]] == polish and long.data[6].name == "najbardziej prawdopodobna"
    assert long.data[6].customdata[0][0] == "złość" and long.layout.xaxis.title.text == "czas (s)"
    assert "średnia z 5 punktów" in long.data[0].hovertemplate
    assert mel.layout.yaxis.title.text == "pasmo melowe"
    # and English again outside the block
    assert list(predictor.probability_figure(probs).data[0].y) == list(EMOTIONS)
