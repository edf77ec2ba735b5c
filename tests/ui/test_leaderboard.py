"""Tables of the leaderboard page (:mod:`ui.leaderboard`)."""

from __future__ import annotations

import pandas as pd

from ui import leaderboard


def test_unique_labels_marks_repeated_labels_with_the_run_id():
    labels = pd.Series(["mel", "mel", "hpss"])
    ids = pd.Series(["abcdef123", "123456abc", "zzz"])
    assert leaderboard.unique_labels(labels, ids) == ["mel (abcdef)", "mel (123456)", "hpss"]


def test_compare_styler_highlights_rows_that_differ():
    table = pd.DataFrame(
        {"field": ["model", "epochs"], "A": ["x", 1], "B": ["x", 2], "differs": [False, True]}
    )
    styled = leaderboard.compare_styler(table)
    assert list(styled.data.columns) == ["field", "A", "B"]
    css = styled.to_html().split("</style>")[0]
    assert "background-color: #fef3c7" in css
    assert all(f"row1_col{c}" in css for c in range(3)) and "row0" not in css


def test_compact_parameter_counts_never_show_none():
    # issue #28: a literal "None" in the weights column
    assert [leaderboard.compact(v) for v in (2_797_286, 38_244, 534, float("nan"))] == [
        "2.8 M",
        "38.2 k",
        "534",
        "—",
    ]


def test_closed_form_steps_are_put_on_their_l2_strength():
    curves = pd.DataFrame(
        {
            "epoch": [0, 1, 2, 0, 1, 2],
            "metric": ["C"] * 3 + ["val_accuracy"] * 3,
            "value": [0.001, 0.01, 0.1, 0.5, 0.6, 0.55],
        }
    )
    out, kept = leaderboard.closed_form_curves(curves, 1.0)
    assert out["epoch"].tolist() == [0.001, 0.01, 0.1] and set(out["metric"]) == {"val_accuracy"}
    assert kept == 0.01


def test_loso_ensemble_rule_reads_the_newest_loso_ensemble():
    runs = pd.DataFrame(
        {
            "model": ["ensemble", "ensemble", "resnet18"],
            "protocol": ["loso", "loso", "loso"],
            "start_time": pd.to_datetime([1, 2, 3], unit="s", utc=True),
            "params": [{}, {"search_rule": "equal weights"}, {}],
        }
    )
    assert leaderboard.loso_ensemble_rule(runs) == "equal weights"
    assert leaderboard.loso_ensemble_rule(runs.iloc[[0, 2]]) is None


def test_durations_read_in_their_unit():
    # a 2-second fit was shown as "0.0 min"
    assert [leaderboard.duration(v) for v in (1.6, 204.0, 9000.0, float("nan"))] == [
        "2 s",
        "3.4 min",
        "2.5 h",
        "—",
    ]


def test_a_loso_fold_names_its_held_out_speaker(monkeypatch):
    monkeypatch.setattr(leaderboard, "loso_speakers", lambda: {7: "TP0"})
    assert leaderboard.fold_text("loso", 7.0) == " · fold 7 (speaker TP0 held out)"
    assert leaderboard.fold_text("ravdess_lao", 2.0) == " · fold 2"
    assert leaderboard.fold_text("seed", 0.0) == ""
