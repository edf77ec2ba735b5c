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
