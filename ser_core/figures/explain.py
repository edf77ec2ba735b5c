"""Figures of the explanations: relevance maps over the log-mel and deletion curves."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ser_core import explain
from ser_core.errors import ConfigError
from ser_core.figures.style import frame_times
from ser_core.i18n import N_, _

METHOD_COLORS = {
    "gradcam": "#e6550d",
    "lrp": "#3182bd",
    "smoothgrad": "#31a354",
    "lime": "#756bb1",
    "lmac": "#d6336c",
    "random": "#6b7280",
}
#: The unit of each method's map (English, marked: shown as ``_(UNITS[method])``).
UNITS = {
    "gradcam": N_("CAM (a.u.)"),
    "lrp": N_("logit share"),
    "smoothgrad": "|∂ logit / ∂ x|",
    "lime": N_("Δ probability"),
    "lmac": N_("mask gain (0..1)"),
}
#: Transparent at 0, blue for negative, red for positive relevance.
SIGNED_SCALE = [
    [0.0, "rgba(5,48,97,1)"],
    [0.25, "rgba(67,147,195,0.85)"],
    [0.5, "rgba(247,247,247,0)"],
    [0.75, "rgba(214,96,77,0.85)"],
    [1.0, "rgba(103,0,13,1)"],
]
POSITIVE_SCALE = [
    [0.0, "rgba(255,237,160,0)"],
    [0.35, "rgba(254,178,76,0.7)"],
    [0.7, "rgba(240,59,32,0.9)"],
    [1.0, "rgba(128,0,38,1)"],
]
#: Colour scales end at this percentile of |relevance| (a few extreme bins would
#: otherwise wash out the rest of a map); the hover shows the value.
DISPLAY_PERCENTILE = 99.5


def display_map(relevance: np.ndarray) -> np.ndarray:
    """A relevance map as one image (channels summed).

    Parameters
    ----------
    relevance : np.ndarray, shape (C, F, T)

    Returns
    -------
    np.ndarray, shape (F, T), float32
    """
    return np.asarray(relevance, dtype=np.float32).sum(0)


def maps_figure(
    maps: Mapping[str, np.ndarray],
    *,
    mel: np.ndarray,
    shared: bool = True,
    opacity: float = 0.8,
    height: int = 340,
    y_label: str | None = None,
) -> go.Figure:
    """The maps side by side over the model's input, in grey.

    Parameters
    ----------
    maps : mapping of method -> np.ndarray, shape (F, T)
        One map per explainer (:data:`ser_core.explain.EXPLAINERS` names), e.g. from
        :func:`display_map`; one subplot each, titled by the explainer.
    mel : np.ndarray, shape (F, T)
        The representation the maps explain (the log-mel spectrogram in dB for a
        mel model), drawn in grey underneath, bin for bin with the maps.
    shared : bool
        One colour scale for all: each map divided by its largest magnitude (-1..1);
        otherwise each map in its own units and range.
    opacity : float
        Opacity of the relevance layer.
    height : int
        Height in pixels (70 more with one colour bar per map).
    y_label : str, optional
        What the bin axis means, as shown (``"MFCC coefficient"``, ...); default "mel
        band" in the language of the run.

    Raises
    ------
    ConfigError
        If a map's shape differs from ``mel``'s (it would be drawn over the wrong bins).
    """
    names = list(maps)
    for m in names:
        if np.shape(maps[m]) != np.shape(mel):
            raise ConfigError(f"the {m} map has shape {np.shape(maps[m])}, its background {np.shape(mel)}")
    n = len(names)
    y_label = _("mel band") if y_label is None else y_label
    t = np.round(frame_times(mel.shape[1]), 4)
    bins = np.arange(mel.shape[0])
    fig = make_subplots(
        rows=1,
        cols=n,
        shared_yaxes=True,
        horizontal_spacing=0.025,
        subplot_titles=[method_title(m) for m in names],
    )
    for i, method in enumerate(names, start=1):
        fig.add_trace(
            go.Heatmap(
                z=mel, x=t, y=bins, colorscale="gray", showscale=False, hoverinfo="skip", name="log-mel"
            ),
            row=1,
            col=i,
        )
        raw = maps[method]
        signed = explain.get_explainer(method).signed
        if shared:
            z, axis, unit = (
                explain.normalise(raw, percentile=DISPLAY_PERCENTILE),
                "coloraxis",
                _("scaled relevance"),
            )
        else:
            z, axis, unit = raw, f"coloraxis{i + 1}", _(UNITS[method]) if method in UNITS else _("relevance")
            peak = float(np.percentile(np.abs(raw), DISPLAY_PERCENTILE)) or float(np.max(np.abs(raw))) or 1.0
            dom = fig.layout[f"xaxis{'' if i == 1 else i}"].domain
            fig.update_layout(
                {
                    axis: dict(
                        colorscale=SIGNED_SCALE if signed else POSITIVE_SCALE,
                        cmin=-peak if signed else 0.0,
                        cmax=peak,
                        colorbar=dict(
                            orientation="h",
                            x=(dom[0] + dom[1]) / 2,
                            xanchor="center",
                            y=-0.3,
                            len=(dom[1] - dom[0]) * 0.9,
                            thickness=10,
                            title=dict(text=unit, side="top"),
                            tickfont=dict(size=9),
                        ),
                    )
                }
            )
        fig.add_trace(
            go.Heatmap(
                z=z,
                x=t,
                y=bins,
                coloraxis=axis,
                opacity=opacity,
                name=method,
                hovertemplate=(
                    f"{method_title(method)}<br>%{{x:.2f}} s, {y_label} %{{y}}"
                    f"<br>{unit}: %{{z:.3g}}<extra></extra>"
                ),
            ),
            row=1,
            col=i,
        )
    if shared:
        fig.update_layout(
            coloraxis=dict(
                colorscale=SIGNED_SCALE,
                cmin=-1,
                cmax=1,
                colorbar=dict(title=dict(text=_("relevance<br>(scaled)")), thickness=12),
            )
        )
    fig.update_xaxes(title_text=_("time (s)"))
    fig.update_yaxes(title_text=y_label, col=1)
    fig.update_annotations(font=dict(size=14, color="#1f2937"))
    fig.update_layout(
        height=height + (0 if shared else 70), margin=dict(l=60, r=20, t=40, b=50 if shared else 130)
    )
    return fig


def deletion_figure(
    curves: Mapping[str, explain.DeletionCurve], *, n_classes: int | None = None, height: int = 380
) -> go.Figure:
    """Class probability against the fraction of bins removed, one line per method.

    Parameters
    ----------
    curves : mapping of method -> DeletionCurve
        Each with ``fractions`` and ``probs``, shape (steps,), and ``auc``
        (:func:`ser_core.explain.deletion_curve`); ``"random"`` is drawn dashed.
    n_classes : int, optional
        The model's number of classes: when given, curves starting below the chance
        level (:func:`ser_core.explain.scorable`) get "AUC n/a" in the legend and the
        chart says why in a note.
    height : int
        Height in pixels.
    """
    fig = _curves_figure(curves, starts=curves, n_classes=n_classes, insertion=False)
    for f in explain.DROP_AT:
        fig.add_vline(
            x=100 * f,
            line=dict(color="#9ca3af", width=1, dash="dot"),
            annotation=dict(text=f"{100 * f:.0f} %", font=dict(size=10, color="#6b7280")),
            annotation_position="bottom right",
        )
    fig.update_layout(
        height=height,
        xaxis=dict(title=_("bins removed, most relevant first (%)"), range=[0, 100]),
        yaxis=dict(title=_("probability of the explained class (%)"), range=[0, 102]),
        margin=dict(l=60, r=20, t=20, b=50),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
    )
    return fig


def insertion_figure(
    curves: Mapping[str, explain.InsertionCurve],
    *,
    starts: Mapping[str, explain.DeletionCurve] | None = None,
    n_classes: int | None = None,
    height: int = 380,
) -> go.Figure:
    """Class probability against the fraction of bins inserted onto the baseline (the
    training mean), most relevant first, one line per method (higher is better).

    Parameters
    ----------
    curves : mapping of method -> InsertionCurve
        Each with ``fractions``, ``probs``, shape (steps,), and ``auc``
        (:func:`ser_core.explain.insertion_curve`); ``"random"`` is drawn dashed.
    starts : mapping of method -> DeletionCurve, optional
        The same methods' deletion curves: their first point is the clip's own
        probability, which decides whether the scores mean anything.
    n_classes : int, optional
        With ``starts``: a class below chance gets "AUC n/a" and a note, as in
        :func:`deletion_figure`.
    height : int
        Height in pixels.
    """
    fig = _curves_figure(curves, starts=starts, n_classes=n_classes, insertion=True)
    fig.update_layout(
        height=height,
        xaxis=dict(title=_("bins inserted onto the training mean, most relevant first (%)"), range=[0, 100]),
        yaxis=dict(title=_("probability of the explained class (%)"), range=[0, 102]),
        margin=dict(l=60, r=20, t=20, b=50),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
    )
    return fig


def _curves_figure(
    curves: Mapping, *, starts: Mapping | None, n_classes: int | None, insertion: bool
) -> go.Figure:
    """One line per method (``random`` dashed), the legend with each AUC or "AUC n/a"
    below chance (the start read from ``starts``), and a note saying why."""
    fig = go.Figure()
    unscored = []
    for method, c in curves.items():
        title = method_title(method)
        p0 = float(starts[method].probs[0]) if starts is not None and method in starts else None
        scored = n_classes is None or p0 is None or explain.scorable(p0, n_classes=n_classes)
        if not scored:
            unscored.append(p0)
        hover = (
            _("{method}<br>{inserted} % inserted: {probability} %").format(
                method=title, inserted="%{x:.0f}", probability="%{y:.1f}"
            )
            if insertion
            else _("{method}<br>{removed} % removed: {probability} %").format(
                method=title, removed="%{x:.0f}", probability="%{y:.1f}"
            )
        )
        fig.add_trace(
            go.Scatter(
                x=np.round(100 * c.fractions.astype(float), 2).tolist(),
                y=np.round(100 * c.probs.astype(float), 3).tolist(),
                mode="lines+markers",
                name=(
                    _("{method} (AUC {auc})").format(method=title, auc=f"{c.auc:.3f}")
                    if scored
                    else _("{method} (AUC n/a)").format(method=title)
                ),
                line=dict(
                    color=METHOD_COLORS.get(method, "#111827"),
                    width=2.5 if method != "random" else 2,
                    dash="dash" if method == "random" else "solid",
                ),
                marker=dict(size=5),
                hovertemplate=hover + "<extra></extra>",
            )
        )
    if unscored and n_classes is not None:
        fig.add_annotation(
            text=_(
                "The class starts at {start}, below chance ({chance} %):<br>nothing to remove, "
                "so these scores say nothing about the maps"
            ).format(start=_pct(max(unscored)), chance=f"{100 * explain.chance_level(n_classes):.1f}"),
            x=50,
            y=88,
            showarrow=False,
            font=dict(size=13, color="#92400e"),
            bgcolor="rgba(254,243,199,0.9)",
            bordercolor="#f59e0b",
            borderpad=6,
        )
    return fig


def _pct(p: float) -> str:
    """``"0.3 %"``; ``"< 0.1 %"`` below 0.05 %, so a tiny probability never reads as 0."""
    return f"{100 * p:.1f} %" if 100 * p >= 0.05 else "< 0.1 %"


def method_title(method: str) -> str:
    """Display title of an explainer name (a method's name, as is); ``"random order"``, in
    the language of the run, for the reference ordering."""
    return (
        _("random order")
        if method == "random"
        else (explain.get_explainer(method).title if method in explain.EXPLAINERS else method)
    )
