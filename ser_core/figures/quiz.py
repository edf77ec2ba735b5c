"""Figures of a class listening quiz (:mod:`ser_core.quiz`): the class against the model.

Both take confusion matrices (rows the true emotion, columns the answer), the class's
counting answers and the model's counting clips, so they draw any quiz's results.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ser_core.config import EMOTIONS
from ser_core.i18n import _, emotion_names, ngettext

__all__ = ["CLASS_COLOR", "MODEL_COLOR", "accuracy_figure", "confusion_pair_figure", "per_emotion_accuracy"]

CLASS_COLOR = "#2ca02c"
MODEL_COLOR = "#7f7f7f"


def _check(cm: np.ndarray) -> np.ndarray:
    counts = np.asarray(cm, dtype=float)
    if counts.shape != (len(EMOTIONS), len(EMOTIONS)):
        raise ValueError(f"a confusion matrix of shape (6, 6) is needed, not {counts.shape}")
    return counts


def _heatmap(counts: np.ndarray, *, colorscale: str, hover: str) -> go.Heatmap:
    rows = counts.sum(axis=1, keepdims=True)
    pct = 100 * counts / np.where(rows > 0, rows, 1)
    names = emotion_names()
    return go.Heatmap(
        z=pct,
        x=names,
        y=names,
        zmin=0,
        zmax=100,
        colorscale=colorscale,
        text=[[f"{int(c)}" if c else "" for c in row] for row in counts],
        texttemplate="%{text}",
        customdata=counts,
        showscale=False,
        hovertemplate=hover,
    )


def confusion_pair_figure(class_cm: np.ndarray, model_cm: np.ndarray, *, height: int = 420) -> go.Figure:
    """The class's confusion matrix next to the model's (colour: % of the true emotion's row).

    Parameters
    ----------
    class_cm : np.ndarray, shape (6, 6)
        The class's answers: rows the true emotion, columns the answer.
    model_cm : np.ndarray, shape (6, 6)
        The model's answers on the quiz's clips.
    height : int
        Pixels.
    """
    class_counts, model_counts = _check(class_cm), _check(model_cm)
    n_answers, n_clips = int(class_counts.sum()), int(model_counts.sum())
    titles = [
        ngettext("The class ({n} answer)", "The class ({n} answers)", n_answers).format(n=n_answers),
        ngettext("The model ({n} clip)", "The model ({n} clips)", n_clips).format(n=n_clips),
    ]
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles, horizontal_spacing=0.14)
    fig.add_trace(
        _heatmap(
            class_counts,
            colorscale="Greens",
            hover=_("true: %{y}<br>the class said: %{x}<br>%{customdata:.0f} answers (%{z:.0f} %)")
            + "<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        _heatmap(
            model_counts,
            colorscale="Greys",
            hover=_("true: %{y}<br>the model said: %{x}<br>%{customdata:.0f} clips (%{z:.0f} %)")
            + "<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.update_yaxes(autorange="reversed", type="category", title_text=_("true emotion"), col=1)
    fig.update_yaxes(autorange="reversed", type="category", showticklabels=False, col=2)
    fig.update_xaxes(type="category", title_text=_("the class's answer"), col=1)
    fig.update_xaxes(type="category", title_text=_("the model's answer"), col=2)
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40, b=60))
    return fig


def per_emotion_accuracy(cm: np.ndarray) -> np.ndarray:
    """Accuracy over all rows, then per true emotion, from a confusion matrix.

    Parameters
    ----------
    cm : np.ndarray, shape (6, 6)

    Returns
    -------
    np.ndarray, shape (7,)
        Fractions: overall, then one per emotion (NaN where nothing was counted).
    """
    counts = _check(cm)
    rows = counts.sum(axis=1)
    total = counts.sum()
    overall = np.trace(counts) / total if total else np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        per = np.where(rows > 0, np.diag(counts) / np.where(rows > 0, rows, 1), np.nan)
    return np.concatenate([[overall], per])


def accuracy_figure(class_cm: np.ndarray, model_cm: np.ndarray, *, height: int = 340) -> go.Figure:
    """Bars of the class's and the model's accuracy: over every clip, then per emotion.

    Parameters
    ----------
    class_cm, model_cm : np.ndarray, shape (6, 6)
        As for :func:`confusion_pair_figure`.
    height : int
        Pixels.
    """
    groups = [_("all clips"), *emotion_names()]
    fig = go.Figure()
    for name, cm, color in ((_("The class"), class_cm, CLASS_COLOR), (_("The model"), model_cm, MODEL_COLOR)):
        pct = 100 * per_emotion_accuracy(cm)
        fig.add_bar(
            x=groups,
            y=pct,
            name=name,
            marker_color=color,
            text=["" if np.isnan(v) else f"{v:.0f} %" for v in pct],
            textposition="outside",
            hovertemplate="%{x}: %{y:.0f} %<extra>" + name + "</extra>",
        )
    fig.update_yaxes(range=[0, 112], title_text=_("accuracy (%)"))
    fig.update_layout(
        barmode="group",
        height=height,
        margin=dict(l=10, r=10, t=20, b=40),
        legend=dict(orientation="h", y=1.08, x=0),
    )
    return fig
