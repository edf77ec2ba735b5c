"""Figures of a batch analysis (:mod:`ser_core.report`): what the files were judged, on average
and one by one.

Each function takes the report's rows (dicts with ``label``, ``unsure`` and one probability
per emotion under its label, ``None`` for a file that failed; see
:func:`ser_core.report.to_rows`) and returns a plotly figure in the language of this run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ser_core.config import EMOTIONS
from ser_core.figures.style import EMOTION_COLORS
from ser_core.i18n import _, emotion_names

__all__ = ["analysed", "file_probabilities_figure", "label_counts", "mean_probabilities", "summary_figure"]

Row = Mapping[str, object]
#: Files drawn one by one at most by :func:`file_probabilities_figure` (the table has them all).
MAX_FILE_BARS = 200


def analysed(rows: Sequence[Row]) -> list[Row]:
    """The rows of files that were analysed (a label, no error)."""
    return [r for r in rows if r.get("label") in EMOTIONS]


def label_counts(rows: Sequence[Row]) -> tuple[np.ndarray, np.ndarray]:
    """How many files got each label, sure and unsure.

    Returns
    -------
    sure, unsure : np.ndarray, shape (6,), int
        Counts in :data:`~ser_core.config.EMOTIONS` order.
    """
    sure, unsure = np.zeros(len(EMOTIONS), int), np.zeros(len(EMOTIONS), int)
    for r in analysed(rows):
        (unsure if r.get("unsure") else sure)[EMOTIONS.index(str(r["label"]))] += 1
    return sure, unsure


def mean_probabilities(rows: Sequence[Row]) -> np.ndarray:
    """The mean probability of each emotion over the analysed files.

    Returns
    -------
    np.ndarray, shape (6,), float
        In :data:`~ser_core.config.EMOTIONS` order; zeros when no file was analysed.
    """
    probs = _probabilities(analysed(rows))
    return probs.mean(axis=0) if len(probs) else np.zeros(len(EMOTIONS))


def _probabilities(rows: Sequence[Row]) -> np.ndarray:
    """``(n_rows, 6)`` probabilities of analysed rows."""
    return np.array([[float(r[e]) for e in EMOTIONS] for r in rows], dtype=float).reshape(-1, len(EMOTIONS))


def summary_figure(rows: Sequence[Row], *, height: int = 360) -> go.Figure:
    """Two panels: how many files got each emotion (unsure ones hatched on top), and the mean
    probability of each emotion over the files.

    Parameters
    ----------
    rows : sequence of dict
        The report's rows; failed files are left out.
    height : int
        Height in pixels.
    """
    names = emotion_names()
    colors = [EMOTION_COLORS[e] for e in EMOTIONS]
    sure, unsure = label_counts(rows)
    mean = 100 * mean_probabilities(rows)
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=(_("Files per predicted emotion"), _("Mean probability over the files")),
        horizontal_spacing=0.12,
    )
    fig.add_trace(
        go.Bar(x=names, y=sure.tolist(), marker_color=colors, name=_("sure"), hovertemplate="%{x}: %{y}"),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=names,
            y=unsure.tolist(),
            marker=dict(color=colors, opacity=0.45, pattern=dict(shape="/")),
            name=_("unsure"),
            hovertemplate="%{x}: %{y}",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=names,
            y=mean.round(2).tolist(),
            marker_color=colors,
            text=[f"{m:.0f} %" for m in mean],
            textposition="outside",
            cliponaxis=False,
            name=_("mean probability"),
            showlegend=False,
            hovertemplate="%{x}: %{y:.1f} %",
        ),
        row=1,
        col=2,
    )
    fig.update_layout(
        barmode="stack",
        height=height,
        margin=dict(l=60, r=20, t=60, b=60),
        legend=dict(orientation="h", yanchor="bottom", y=1.08, x=0, traceorder="normal"),
    )
    most = int((sure + unsure).max(initial=0))
    fig.update_yaxes(
        title_text=_("files"), rangemode="tozero", tick0=0, dtick=max(1, -(-most // 5)), row=1, col=1
    )
    fig.update_yaxes(
        title_text=_("probability (%)"), range=[0, max(100.0, float(mean.max(initial=0)) + 10)], row=1, col=2
    )
    return fig


def file_probabilities_figure(rows: Sequence[Row], *, max_files: int = MAX_FILE_BARS) -> go.Figure:
    """The six probabilities of each analysed file as one stacked horizontal bar (files in
    the order of the rows, top to bottom; at most ``max_files`` of them).

    Parameters
    ----------
    rows : sequence of dict
        The report's rows; failed files are left out.
    max_files : int
        Files drawn at most (the title says when there were more).
    """
    done = analysed(rows)
    shown = done[:max_files]
    files = [str(r["file"]) for r in shown]
    probs = 100 * _probabilities(shown)
    fig = go.Figure(
        [
            go.Bar(
                y=files,
                x=probs[:, k].round(2).tolist(),
                orientation="h",
                name=name,
                marker_color=EMOTION_COLORS[e],
                hovertemplate=f"%{{y}}<br>{name}: %{{x:.1f}} %<extra></extra>",
            )
            for k, (e, name) in enumerate(zip(EMOTIONS, emotion_names()))
        ]
    )
    title = (
        _("The probabilities of each file")
        if len(done) <= max_files
        else _("The probabilities of the first {shown} of {total} files").format(
            shown=len(shown), total=len(done)
        )
    )
    fig.update_layout(
        title=dict(text=title),
        barmode="stack",
        height=140 + 24 * max(len(shown), 1),
        xaxis=dict(range=[0, 100], title=_("probability (%)")),
        yaxis=dict(autorange="reversed", automargin=True),
        margin=dict(l=20, r=20, t=80, b=50),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0, traceorder="normal"),
    )
    return fig
