"""Figures of a batch analysis (:mod:`ser_core.figures.report`), tested on what they draw."""

from __future__ import annotations

from ser_core.config import EMOTIONS
from ser_core.figures import report as fr
from ser_core.figures.style import EMOTION_COLORS
from ser_core.i18n import emotion_names, language


def row(name: str, label: str | None, probs: list[float] | None, *, unsure: bool = False) -> dict:
    out = {"file": name, "label": label, "unsure": None if label is None else unsure, "error": ""}
    out.update(dict(zip(EMOTIONS, probs or [None] * 6)))
    if label is None:
        out["error"] = "'x.wav' cannot be read as audio"
    return out


ROWS = [
    row("a.wav", "anger", [0.7, 0.1, 0.05, 0.05, 0.05, 0.05]),
    row("b.wav", "anger", [0.3, 0.25, 0.15, 0.1, 0.1, 0.1], unsure=True),
    row("c.wav", "sadness", [0.1, 0.1, 0.1, 0.1, 0.5, 0.1]),
    row("x.wav", None, None),
]


def test_counts_and_means_leave_failed_files_out():
    sure, unsure = fr.label_counts(ROWS)
    assert sure.tolist() == [1, 0, 0, 0, 1, 0] and unsure.tolist() == [1, 0, 0, 0, 0, 0]
    mean = fr.mean_probabilities(ROWS)
    assert mean.shape == (6,) and abs(mean[0] - (0.7 + 0.3 + 0.1) / 3) < 1e-9
    assert fr.mean_probabilities([ROWS[-1]]).tolist() == [0.0] * 6


def test_summary_figure_draws_counts_and_mean_probabilities():
    fig = fr.summary_figure(ROWS)
    sure, unsure, mean = fig.data
    assert list(sure.x) == emotion_names() and list(sure.y) == [1, 0, 0, 0, 1, 0]
    assert list(unsure.y) == [1, 0, 0, 0, 0, 0] and unsure.marker.pattern.shape == "/"
    assert list(sure.marker.color) == [EMOTION_COLORS[e] for e in EMOTIONS]
    assert mean.xaxis == "x2" and abs(mean.y[0] - 100 * 1.1 / 3) < 0.01
    assert fig.layout.barmode == "stack"
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["Files per predicted emotion", "Mean probability over the files"]


def test_file_probabilities_figure_one_stacked_bar_per_analysed_file():
    fig = fr.file_probabilities_figure(ROWS)
    assert len(fig.data) == 6 and [t.name for t in fig.data] == emotion_names()
    assert list(fig.data[0].y) == ["a.wav", "b.wav", "c.wav"] and list(fig.data[0].x) == [70.0, 30.0, 10.0]
    assert fig.layout.barmode == "stack" and fig.layout.title.text == "The probabilities of each file"
    cut = fr.file_probabilities_figure(ROWS, max_files=2)
    assert list(cut.data[0].y) == ["a.wav", "b.wav"]
    assert cut.layout.title.text == "The probabilities of the first 2 of 3 files"


def test_figures_in_polish():
    with language("pl"):
        fig = fr.summary_figure(ROWS)
        assert fig.data[0].x[0] == "złość"
        assert fig.layout.annotations[0].text != "Files per predicted emotion"
