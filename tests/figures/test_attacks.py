"""Figures of the adversarial attacks (:mod:`ser_core.figures.attacks`)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from ser_core.config import EMOTIONS
from ser_core.figures import attacks
from ser_core.figures.style import EMOTION_COLORS


def test_format_epsilon():
    assert attacks.format_epsilon(0) == "0" and attacks.format_epsilon(0.0075) == "0.0075"
    assert attacks.format_epsilon(1e-5) == "1e-05"


def test_probability_figure_one_bar_group_per_emotion():
    before, after = np.eye(6)[0], np.eye(6)[2]
    fig = attacks.probability_figure({"original": before, "adversarial": after})
    a, b = fig.data
    assert (a.name, b.name) == ("original", "adversarial")
    assert list(a.y) == list(EMOTIONS) and list(a.x) == [100.0, 0, 0, 0, 0, 0] and b.x[2] == 100.0
    assert (a.marker.color, b.marker.color) == ("#9ca3af", "#dc2626")
    assert fig.layout.barmode == "group" and fig.layout.xaxis.title.text == "probability (%)"


def test_spectrogram_figure_three_rows():
    rng = np.random.default_rng(0)
    log_mel = rng.uniform(-80, 0, (64, 188))
    pert = rng.uniform(-0.5, 0.25, (64, 188))
    res = SimpleNamespace(log_mel=log_mel, adv_log_mel=log_mel + pert, perturbation_db=pert)
    fig = attacks.spectrogram_figure(res)
    assert len(fig.data) == 3 and [d.coloraxis for d in fig.data] == ["coloraxis", "coloraxis", "coloraxis2"]
    titles = [a.text for a in fig.layout.annotations]
    assert titles[:2] == ["original (dB)", "adversarial (dB)"] and titles[2].startswith("perturbation")
    lim = np.abs(pert).max()
    assert fig.layout.coloraxis2.cmin == pytest.approx(-lim) and fig.layout.coloraxis2.cmid == 0
    assert fig.layout.coloraxis.cmin == pytest.approx(min(log_mel.min(), (log_mel + pert).min()))
    assert fig.layout.xaxis3.title.text == "time (s)" and fig.layout.yaxis.title.text == "mel band"


def robustness_rows() -> pd.DataFrame:
    eps = [0.0, 0.001, 0.01]
    rows = {
        "epsilon": eps * 2,
        "attack": ["fgsm"] * 3 + ["pgd"] * 3,
        "accuracy": [0.8, 0.5, 0.1, 0.8, 0.4, 0.0],
    }
    rows.update({e: [0.9, 0.5, 0.2] * 2 for e in EMOTIONS})
    return pd.DataFrame(rows)


def test_robustness_figure_lines_and_markers():
    fig = attacks.robustness_figure(robustness_rows(), epsilon=0.01)
    names = [t.name for t in fig.data]
    assert names[:2] == ["no attack: 80.0 %", "all emotions"] and names[2 : 2 + len(EMOTIONS)] == list(
        EMOTIONS
    )
    total = fig.data[1]
    assert list(total.x) == [0.001, 0.01] and list(total.y) == [50.0, 10.0]  # epsilon 0 is the clean line
    assert fig.data[2].line.color == EMOTION_COLORS[EMOTIONS[0]] and fig.data[2].visible is True
    pgd = [t for t in fig.data if t.legendgroup == "pgd"]
    assert [t.name for t in pgd[:2]] == ["no attack: 80.0 %", "all emotions"]
    assert pgd[1].line.dash == "dash" and pgd[2].visible == "legendonly" and pgd[0].visible == "legendonly"
    (marker,) = fig.layout.shapes
    assert marker.x0 == 0.01 and marker.line.color == "#dc2626"
    assert fig.layout.xaxis.type == "log" and list(fig.layout.xaxis.tickvals) == [0.001, 0.002, 0.005, 0.01]
    assert any(a.text == "this clip: ε = 0.01" for a in fig.layout.annotations)
    assert not attacks.robustness_figure(robustness_rows()).layout.shapes


def test_robustness_figure_writes_nothing_inside_the_plot():
    """#28: the "no attack" label overlapped the curve. The clean accuracy is a dotted
    legend entry now, and the only text annotation sits above the plotting area."""
    fig = attacks.robustness_figure(robustness_rows(), epsilon=0.01)
    for a in fig.layout.annotations:
        assert a.yref == "paper" and a.y >= 1.0 and a.yanchor == "bottom", a
    clean = [t for t in fig.data if t.name.startswith("no attack")]
    assert [(t.legendgroup, t.line.dash, list(t.y)) for t in clean] == [
        ("fgsm", "dot", [80.0, 80.0]),
        ("pgd", "dot", [80.0, 80.0]),
    ]
    assert list(clean[0].x) == [0.001, 0.01]  # spans the curve, on the log axis


def test_robustness_figure_one_legend_group_per_attack():
    rows = robustness_rows().assign(steps=[1] * 3 + [5] * 3, n=[897] * 3 + [300] * 3)
    fig = attacks.robustness_figure(rows)
    titles = {t.legendgroup: t.legendgrouptitle.text for t in fig.data}
    assert titles == {"fgsm": "FGSM, one step · 897 clips", "pgd": "PGD, 5 steps · 300 clips"}
    assert fig.layout.legend.groupclick == "toggleitem"


def test_epsilon_ticks_one_two_five():
    assert attacks.epsilon_ticks(0.001, 0.1) == [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1]
    assert attacks.epsilon_ticks(0.0015, 0.03) == [0.002, 0.005, 0.01, 0.02]


def test_figures_in_polish():
    """#30: axis titles, subplot titles, legend names and emotions follow the run's language."""
    from ser_core.i18n import language

    rows = robustness_rows().assign(steps=[1] * 3 + [5] * 3, n=[897] * 3 + [300] * 3)
    res = SimpleNamespace(
        log_mel=np.zeros((8, 10)), adv_log_mel=np.ones((8, 10)), perturbation_db=np.ones((8, 10))
    )
    with language("pl"):
        probs = attacks.probability_figure({"oryginał": np.eye(6)[0]})
        spec = attacks.spectrogram_figure(res)
        curve = attacks.robustness_figure(rows, epsilon=0.01)
    assert probs.layout.xaxis.title.text == "prawdopodobieństwo (%)" and probs.data[0].y[0] == "złość"
    assert [a.text for a in spec.layout.annotations][:2] == ["oryginał (dB)", "adwersarialny (dB)"]
    assert spec.layout.xaxis3.title.text == "czas (s)" and spec.layout.yaxis.title.text == "pasmo melowe"
    assert curve.layout.yaxis.title.text == "dokładność testowa (%)"
    assert curve.layout.xaxis.title.text.startswith("epsilon (jednostki znormalizowanego wejścia")
    names = [t.name for t in curve.data]
    assert names[:3] == ["bez ataku: 80.0 %", "wszystkie emocje", "złość"]
    groups = {t.legendgroup: t.legendgrouptitle.text for t in curve.data}
    assert groups == {"fgsm": "FGSM, jeden krok · 897 nagrań", "pgd": "PGD, 5 kroków · 300 nagrań"}
    assert any(a.text == "to nagranie: ε = 0.01" for a in curve.layout.annotations)
