"""Figures of the defences: naive vs adaptive curves per defence, success against the SNR."""

from __future__ import annotations

import pandas as pd

from ser_core.config import EMOTIONS
from ser_core.figures import defences as fig_def


def curves() -> pd.DataFrame:
    rows = []
    for d, who, attack in (
        ("none", "naive", "pgd_wave"),
        ("mp3", "naive", "pgd_wave"),
        ("mp3", "adaptive", "eot_pgd"),
        ("median", "naive", "fgsm_wave"),
        ("median", "adaptive", "eot_pgd"),
    ):
        for eps, acc in ((0.0, 0.9), (2e-4, 0.6), (5e-4, 0.3)):
            rows.append({"defence": d, "attacker": who, "attack": attack, "epsilon": eps, "accuracy": acc})
    return pd.DataFrame(rows)


def test_one_panel_per_defence_with_the_reference_and_the_clean_line():
    fig = fig_def.defence_curves_figure(curves())
    assert [a.text for a in fig.layout.annotations] == ["mp3", "median"]
    names = [t.name for t in fig.data]
    assert names.count("PGD, no defence") == 2 and names.count("no attack") == 2
    assert names.count("adaptive PGD (EOT + BPDA)") == 2 and "naive FGSM" in names
    adaptive = next(t for t in fig.data if t.name == "adaptive PGD (EOT + BPDA)")
    assert list(adaptive.x) == [2e-4, 5e-4] and list(adaptive.y) == [
        60.0,
        30.0,
    ]  # epsilon 0 is the clean line
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.range == (0, 101)
    assert [t.showlegend for t in fig.data if t.name == "no attack"] == [True, False]


def test_margin_lines_per_emotion_ordered_from_quiet_to_loud():
    rows = [
        {"attack": a, "emotion": e, "snr_bin": b, "snr_lo": lo, "n": 3, "success": s}
        for a in ("fgsm_wave", "imperceptible")
        for e in ("all", *EMOTIONS)
        for b, lo, s in (("≥ 50 dB", 50.0, 0.2), ("40–50 dB", 40.0, 0.5))
    ]
    fig = fig_def.margin_figure(pd.DataFrame(rows))
    assert [a.text for a in fig.layout.annotations] == ["FGSM", "imperceptible"]
    assert len(fig.data) == 2 * 7
    assert list(fig.data[0].x) == ["≥ 50 dB", "40–50 dB"] and list(fig.data[0].y) == [20.0, 50.0]
    assert fig.data[0].name == "all emotions" and fig.data[0].line.width == 4
