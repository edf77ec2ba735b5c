"""Figures of the training runs (:mod:`ser_core.figures.leaderboard`), on hand-made tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ser_core.config import EMOTIONS
from ser_core.figures import leaderboard as lbf


def summary_table() -> pd.DataFrame:
    """Three summary rows: two seed runs, one LOSO average over 3 folds."""
    return pd.DataFrame(
        {
            "model": ["resnet18", "small_cnn", "resnet18"],
            "input": ["mel", "mel", "hpss"],
            "protocol": ["seed", "seed", "loso"],
            "n_folds": [1, 1, 3],
            "accuracy": [0.8, 0.6, 0.5],
            "accuracy_std": [np.nan, np.nan, 0.1],
        }
    )


def runs_table() -> pd.DataFrame:
    f1 = {f"f1_{e}": [0.1 * (k + 1), 0.05 * (k + 1)] for k, e in enumerate(EMOTIONS)}
    return pd.DataFrame({"run_id": ["a1", "b2"], "run_name": ["run A", "run B"], **f1})


def test_accuracy_figure_one_horizontal_bar_per_recipe_best_on_top():
    # issue #28: ~31 vertical bars with two-line labels; now one protocol at a time, one
    # horizontal bar per recipe with a one-line label, best on top
    fig = lbf.accuracy_figure(summary_table(), protocol="seed")
    seed, values = fig.data
    assert seed.orientation == "h" and values.mode == "text" and list(values.y) == list(seed.y)
    assert list(seed.y) == ["small_cnn · mel", "resnet18 · mel"]  # plotly draws bottom-up
    assert list(seed.x) == [60.0, 80.0]  # per cent
    colors = lbf.model_colors(["resnet18", "small_cnn"])
    assert list(seed.marker.color) == [colors["small_cnn"], colors["resnet18"]]
    assert not seed.error_x.visible and list(values.text) == ["60.0 %", "80.0 %"]
    assert list(fig.layout.xaxis.range) == [0, 100] and "seed split" in fig.layout.xaxis.title.text
    assert fig.layout.showlegend is False  # the colours are the models, named on each bar
    loso, values = lbf.accuracy_figure(summary_table(), protocol="loso").data
    assert list(loso.y) == ["resnet18 · hpss"] and loso.marker.color[0] == colors["resnet18"]
    assert loso.error_x.visible and list(loso.error_x.array) == pytest.approx([10.0])
    assert list(values.text) == ["50.0 % ± 10.0"] and values.x[0] > 50 + 10  # past the error bar


def test_model_colors_are_stable_and_distinct():
    a = lbf.model_colors(["vgg16", "resnet18", "small_cnn"])
    assert a == lbf.model_colors(["small_cnn", "vgg16", "resnet18"])
    assert len(set(a.values())) == 3


def test_f1_heatmap_in_per_cent():
    fig = lbf.f1_heatmap(runs_table(), labels=["A", "B"])
    (heat,) = fig.data
    assert list(heat.x) == list(EMOTIONS) and list(heat.y) == ["A", "B"]
    assert np.allclose(np.asarray(heat.z)[0], [10, 20, 30, 40, 50, 60])
    assert heat.text[1][0] == "5" and (heat.zmin, heat.zmax) == (0, 100)
    assert heat.colorbar.title.text == "F1 (%)"


def test_confusion_figure_row_percentages():
    cm = np.diag([10, 20, 30, 40, 50, 60])
    cm[0, 1] = 10  # half of the first class predicted as the second
    fig = lbf.confusion_figure(cm)
    (heat,) = fig.data
    z = np.asarray(heat.z)
    assert z[0, 0] == z[0, 1] == 50 and z[1, 1] == 100 and z[1, 0] == 0
    assert heat.text[0][1] == "10<br>50 %"
    assert (
        fig.layout.yaxis.title.text == "true emotion" and fig.layout.xaxis.title.text == "predicted emotion"
    )


def test_curves_figure_puts_accuracies_below_losses():
    rows = [
        (e, k, v)
        for e in (1, 2)
        for k, v in (
            ("train_loss", 1.5),
            ("val_loss", 1.4),
            ("val_accuracy", 0.5),
            ("lr", 1e-3),
            ("speaker_accuracy", 0.2),
        )
    ]
    fig = lbf.curves_figure(pd.DataFrame(rows, columns=["epoch", "metric", "value"]), best_epoch=2)
    by_name = {t.name: t for t in fig.data}
    assert set(by_name) == {
        "train loss",
        "validation loss",
        "validation accuracy",
        "speaker adversary (training)",
    }  # the learning rate is not drawn
    assert by_name["speaker adversary (training)"].yaxis == by_name["validation accuracy"].yaxis == "y2"
    assert list(by_name["speaker adversary (training)"].y) == [20.0, 20.0]  # in per cent


def test_curves_figure_colours_and_best_epoch():
    rows = [(e, "val_loss", 1.0 / e) for e in (1, 2, 3)]
    fig = lbf.curves_figure(pd.DataFrame(rows, columns=["epoch", "metric", "value"]), best_epoch=3)
    (trace,) = fig.data
    assert trace.line.color == lbf.CURVE_STYLE["val_loss"]["color"] and trace.yaxis == "y"
    (line,) = fig.layout.shapes
    assert line.x0 == line.x1 == 3 and line.line.dash == "dash"
    assert not lbf.curves_figure(pd.DataFrame(rows, columns=["epoch", "metric", "value"])).layout.shapes


def test_ensemble_and_importance_figures():
    weights = pd.DataFrame(
        {"run_name": ["ens", "ens"], "representation": ["mel", "hpss"], "weight": [0.75, 0.25]}
    )
    fig = lbf.ensemble_figure(weights)
    (bars,) = fig.data
    assert list(bars.x) == ["mel", "hpss"] and list(bars.y) == [75.0, 25.0]
    assert fig.layout.yaxis.title.text == "weight (%)" and not fig.layout.showlegend
    imp = lbf.importance_figure(pd.DataFrame({"parameter": ["w_mel", "w_hpss"], "importance": [0.9, 0.1]}))
    assert list(imp.data[0].x) == [90.0, 10.0] and list(imp.data[0].y) == ["w_mel", "w_hpss"]
    assert imp.data[0].orientation == "h" and imp.layout.xaxis.title.text == "importance (%)"


def test_adaptation_figure_one_line_per_model():
    curve = pd.DataFrame(
        {
            "model": ["resnet18"] * 2 + ["vgg16"] * 2,
            "input": ["mel"] * 4,
            "label": ["0", "30"] * 2,
            "accuracy": [0.5, 0.6, 0.4, 0.45],
            "std": [0.1, np.nan, 0.05, 0.05],
            "n_folds": [9, 9, 9, 9],
        }
    )
    fig = lbf.adaptation_figure(curve)
    assert [t.name for t in fig.data] == ["resnet18 · mel", "vgg16 · mel"]
    assert list(fig.data[0].y) == [50.0, 60.0] and list(fig.data[0].error_y.array) == [10.0, 0.0]
    assert fig.data[0].line.color != fig.data[1].line.color
    assert fig.layout.yaxis.title.text == "LOSO accuracy (%)" and fig.layout.xaxis.type == "category"


def test_compare_f1_figure_two_runs_in_their_colours():
    fig = lbf.compare_f1_figure(runs_table(), run_a="b2", run_b="a1")
    a, b = fig.data
    assert a.name == "A: run B" and b.name == "B: run A"
    assert (a.marker.color, b.marker.color) == lbf.COMPARE_COLORS
    assert list(b.y) == pytest.approx([10, 20, 30, 40, 50, 60]) and list(a.x) == list(EMOTIONS)
    assert fig.layout.barmode == "group" and fig.layout.yaxis.title.text == "test F1 (%)"


def test_new_voices_figure_draws_both_numbers_best_on_top():
    scores = pd.DataFrame(
        {
            "model": ["ensemble_spk", "ensemble"],
            "loso": [0.663, np.nan],
            "loso_std": [0.134, np.nan],
            "seed": [0.909, 0.971],
        }
    )
    fig = lbf.new_voices_figure(scores)
    seed, new, values = fig.data
    assert seed.name.startswith("seed split") and new.name.startswith("new voices")
    # plotly's bottom row first: the best on top
    assert list(fig.layout.yaxis.ticktext) == ["ensemble", "ensemble_spk"]
    assert list(new.customdata) == ["ensemble", "ensemble_spk"]
    assert new.x[1] == pytest.approx(66.3) and new.error_x.array[1] == pytest.approx(13.4)
    assert new.error_x.array[0] is None  # no error bar where nothing was measured
    assert list(seed.x) == pytest.approx([97.1, 90.9])
    # each value is written past the end of its error bar, on the new-voices bar's row
    assert list(values.text) == ["not measured", "66.3 %"] and list(values.y) == list(new.y)
    assert values.x[1] > 66.3 + 13.4
    assert fig.layout.xaxis.title.text == "accuracy (%)"


def test_conditions_heatmap_models_by_conditions_in_registry_order():
    table = pd.DataFrame(
        {
            "model": ["logreg_egemaps_spk"] * 3 + ["resnet18_mfcc_spk"] * 2,
            "condition": ["telephone", "clean", "babble_10db", "clean", "babble_10db"],
            "accuracy": [0.55, 0.612, 0.50, 0.58, 0.45],
            "accuracy_std": [0.1, 0.12, 0.09, 0.11, 0.1],
            "drop": [0.062, 0.0, 0.112, 0.0, 0.13],
            "worst_speaker": ["SM0", "SM0", "SK0", "SM0", "SM0"],
        }
    )
    fig = lbf.conditions_heatmap(table, order=["clean", "reverb_medium", "babble_10db", "telephone"])
    (hm,) = fig.data
    assert list(hm.x) == ["clean", "babble_10db", "telephone"]  # registry order, measured ones only
    assert list(hm.y) == ["logreg_egemaps_spk", "resnet18_mfcc_spk"]
    assert hm.text[0][0] == "61.2 %" and hm.text[1][2] == ""  # not measured: an empty cell
    assert np.asarray(hm.z, float)[1, 1] == pytest.approx(45.0) and np.isnan(np.asarray(hm.z, float)[1, 2])
    assert float(hm.customdata[0][1][0]) == pytest.approx(11.2)  # the drop, in points, on hover
    assert "drop against clean" in hm.hovertemplate and (hm.zmin, hm.zmax) == (0, 100)


def test_figures_in_polish_translate_titles_legends_and_emotions():
    """Issue #30: axis titles, trace names and emotion labels in the run's language."""
    from ser_core.i18n import emotion_names, language

    curves = pd.DataFrame(
        {
            "epoch": [0, 1, 0, 1],
            "metric": ["train_loss"] * 2 + ["val_accuracy"] * 2,
            "value": [1.0, 0.8, 0.4, 0.5],
        }
    )
    with language("pl"):
        acc = lbf.accuracy_figure(summary_table(), protocol="loso")
        cm = lbf.confusion_figure(np.eye(6, dtype=int))
        fig = lbf.curves_figure(curves, best_epoch=1)
        names = emotion_names()
        protocol = lbf.protocol_name("seed")
    assert acc.layout.xaxis.title.text.startswith("dokładność (test): nowe głosy")
    assert (
        cm.layout.yaxis.title.text == "prawdziwa emocja"
        and cm.layout.xaxis.title.text == "przewidziana emocja"
    )
    assert list(cm.data[0].x) == names and "złość" in names
    assert [t.name for t in fig.data] == ["strata (trening)", "dokładność (walidacja)"]
    assert fig.layout.xaxis2.title.text == "epoka" and fig.layout.yaxis.title.text == "entropia krzyżowa"
    assert protocol == "podział losowy (seed)"
    # English again outside the block
    assert lbf.confusion_figure(np.eye(6, dtype=int)).layout.xaxis.title.text == "predicted emotion"
