"""Figures of the corpus and of a clip's representations."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ser_core import eda, features
from ser_core.config import DEFAULT_CONFIG, EMOTIONS
from ser_core.figures.style import (
    DISPLAY_PER_BIN,
    EMOTION_COLORS,
    emotion_colors,
    frame_times,
    gender_colors,
    gender_name,
    is_curve,
    minmax,
    row_title,
    stack_channels,
    standardise_bins,
)
from ser_core.i18n import N_, _, display_name, emotion_name, emotion_names

#: Legend titles of the projection's colourings, in English (translated where shown).
_LEGEND_TITLES = {"emotion": N_("emotion"), "speaker": N_("speaker")}
#: Axis titles of the columns :func:`counts_bar` counts by, in English.
_COLUMN_NAMES = {"gender": N_("gender"), "age": N_("age")}


def _display_labels(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with its ``emotion`` and ``gender`` labels as display names in the language
    of this run (the plots' categories, legends and hover texts)."""
    out = {}
    if "emotion" in table:
        out["emotion"] = table["emotion"].map(emotion_name)
    if "gender" in table:
        out["gender"] = table["gender"].map(gender_name)
    return table.assign(**out)


def _category_orders() -> dict[str, list[str]]:
    """The fixed order of emotions and genders, by their display names."""
    return {"emotion": emotion_names(), "gender": [gender_name("female"), gender_name("male")]}


def _hpss_separator(fig: go.Figure, bins: int, row: int | None = None) -> None:
    """A dotted line between the stacked channels of an HPSS heatmap."""
    kw = {"row": row, "col": 1} if row is not None else {}
    fig.add_hline(y=bins - 0.5, line=dict(color="white", width=1.5, dash="dot"), **kw)


def representations_figure(reps: Mapping[str, np.ndarray], *, row_px: int = 150) -> go.Figure:
    """All representations of one clip, one row each, sharing the time axis.

    Heatmaps are min-max scaled per row to 0..1 so that one colour scale serves
    all rows; 1-bin representations (zcr, rms) are lines in their own units.

    Parameters
    ----------
    reps : mapping of representation -> np.ndarray, shape (channels, bins, frames)
        As :func:`ser_core.features.compute_all` returns them.
    row_px : int
        Height of one row in pixels.

    Returns
    -------
    go.Figure
        One subplot per representation, titled by :func:`row_title`.
    """
    names = list(reps)
    n = len(names)
    fig = make_subplots(
        rows=n,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.32 / n,
        subplot_titles=[row_title(k) for k in names],
    )
    for i, representation in enumerate(names, start=1):
        spec, x = features.get(representation), reps[representation]
        title, y_label, scaled = _(spec.title), _(spec.y_label), _("scaled")
        t = frame_times(x.shape[-1])
        if is_curve(x):
            fig.add_trace(
                go.Scatter(
                    x=t,
                    y=x[0, 0],
                    mode="lines",
                    line=dict(width=1.6, color="#4f46e5"),
                    name=title,
                    showlegend=False,
                    hovertemplate=f"%{{x:.2f}} s<br>{y_label} %{{y:.4f}}<extra></extra>",
                ),
                row=i,
                col=1,
            )
        else:
            z = stack_channels(x)
            z = minmax(standardise_bins(z) if representation in DISPLAY_PER_BIN else z)
            fig.add_trace(
                go.Heatmap(
                    z=z,
                    x=t,
                    y=np.arange(z.shape[0]),
                    coloraxis="coloraxis",
                    name=title,
                    hovertemplate=(
                        f"%{{x:.2f}} s<br>{y_label} %{{y}}<br>{scaled} %{{z:.2f}}<extra>{title}</extra>"
                    ),
                ),
                row=i,
                col=1,
            )
            if len(spec.channels) > 1:
                _hpss_separator(fig, x.shape[1], row=i)
        fig.update_yaxes(title_text=y_label, title_font_size=10, tickfont_size=9, row=i, col=1)
    fig.update_xaxes(title_text=_("time (s)"), row=n, col=1)
    fig.update_xaxes(showticklabels=True, tickfont_size=9, ticksuffix=" s")
    fig.update_annotations(font=dict(size=13, color="#1f2937"), xanchor="left", x=0)
    fig.update_layout(
        height=row_px * n + 90,
        margin=dict(l=70, r=20, t=40, b=50),
        coloraxis=dict(colorscale="Viridis", cmin=0, cmax=1, showscale=False),
    )
    return fig


def representation_figure(
    x: np.ndarray, *, representation: str, height: int = 460, zrange: tuple[float, float] | None = None
) -> go.Figure:
    """One representation large, in its real units with a colour bar.

    Parameters
    ----------
    x : np.ndarray, shape (channels, bins, frames)
        The representation of one clip; one heatmap per channel, or a line for
        one-bin representations (zcr, rms).
    representation : str
        Its name (:func:`ser_core.features.names`).
    height : int
        Height in pixels of a one-channel figure (taller with more channels).
    zrange : (float, float), optional
        Colour range ``(low, high)`` in the representation's unit, to draw two figures on
        one scale (default: this representation's own range).
    """
    spec = features.get(representation)
    t = frame_times(x.shape[-1])
    unit, y_label = _(spec.unit), _(spec.y_label)
    if is_curve(x):
        fig = go.Figure(go.Scatter(x=t, y=x[0, 0], mode="lines", line=dict(color="#4f46e5")))
        fig.update_layout(yaxis_title=f"{y_label} ({unit})", xaxis_title=_("time (s)"))
    else:
        ch = x.shape[0]
        fig = make_subplots(
            rows=ch,
            cols=1,
            shared_xaxes=True,
            vertical_spacing=0.08,
            subplot_titles=[_(c) for c in spec.channels] if ch > 1 else None,
        )
        for c in range(ch):
            fig.add_trace(
                go.Heatmap(
                    z=x[c],
                    x=t,
                    y=np.arange(x.shape[1]),
                    coloraxis="coloraxis",
                    hovertemplate=f"%{{x:.2f}} s<br>{y_label} %{{y}}<br>%{{z:.3f}} {unit}<extra></extra>",
                ),
                row=c + 1,
                col=1,
            )
            fig.update_yaxes(title_text=y_label, row=c + 1, col=1)
        height = height * (1 + 0.6 * (ch - 1))
        low, high = zrange if zrange is not None else (None, None)
        fig.update_layout(
            coloraxis=dict(colorscale="Viridis", colorbar=dict(title=dict(text=unit)), cmin=low, cmax=high)
        )
        fig.update_xaxes(title_text=_("time (s)"), row=ch, col=1)
    fig.update_layout(title=dict(text=_(spec.title)), height=int(height), margin=dict(l=70, r=20, t=60, b=50))
    return fig


def emotion_means_figure(means: np.ndarray, *, representation: str, difference: bool = False) -> go.Figure:
    """The per-emotion averages of a representation (2x3 heatmaps, one colour scale).

    Parameters
    ----------
    means : np.ndarray, shape (6, channels, bins, frames)
        One average per emotion, in :data:`~ser_core.config.EMOTIONS` order.
    representation : str
        Its name (:func:`ser_core.features.names`).
    difference : bool
        Show each emotion minus the mean over the six emotions (diverging scale).

    Returns
    -------
    go.Figure
        Six heatmaps titled by emotion, or six lines in the emotion colours for
        one-bin representations.
    """
    spec = features.get(representation)
    unit, y_label = _(spec.unit), _(spec.y_label)
    m = means - means.mean(axis=0, keepdims=True) if difference else means
    t = frame_times(m.shape[-1])
    if is_curve(m[0]):
        fig = go.Figure(
            [
                go.Scatter(
                    x=t, y=m[k, 0, 0], mode="lines", name=emotion_name(e), line=dict(color=EMOTION_COLORS[e])
                )
                for k, e in enumerate(EMOTIONS)
            ]
        )
        ylab = f"{'Δ ' if difference else ''}{y_label} ({unit})"
        fig.update_layout(
            height=420, xaxis_title=_("time (s)"), yaxis_title=ylab, margin=dict(l=70, r=20, t=30, b=50)
        )
        return fig
    fig = make_subplots(
        rows=2,
        cols=3,
        shared_xaxes=True,
        shared_yaxes=True,
        subplot_titles=emotion_names(),
        horizontal_spacing=0.03,
        vertical_spacing=0.12,
    )
    for k, e in enumerate(EMOTIONS):
        z = stack_channels(m[k])
        fig.add_trace(
            go.Heatmap(
                z=z,
                x=t,
                y=np.arange(z.shape[0]),
                coloraxis="coloraxis",
                name=emotion_name(e),
                hovertemplate=(
                    f"{emotion_name(e)}<br>%{{x:.2f}} s<br>{y_label} %{{y}}<br>%{{z:.3f}} {unit}<extra></extra>"
                ),
            ),
            row=k // 3 + 1,
            col=k % 3 + 1,
        )
        if len(spec.channels) > 1:
            fig.add_hline(
                y=m.shape[2] - 0.5,
                line=dict(color="white", width=1, dash="dot"),
                row=k // 3 + 1,
                col=k % 3 + 1,
            )
    if difference:
        lim = float(np.percentile(np.abs(m), 99.5)) or 1.0
        axis = dict(colorscale="RdBu_r", cmid=0, cmin=-lim, cmax=lim)
    else:
        axis = dict(colorscale="Viridis", cmin=float(m.min()), cmax=float(m.max()))
    axis["colorbar"] = dict(title=dict(text=f"{'Δ ' if difference else ''}{unit}"))
    fig.update_layout(coloraxis=axis, height=560, margin=dict(l=70, r=20, t=40, b=50))
    fig.update_annotations(font=dict(size=14, color="#1f2937"))
    fig.update_xaxes(title_text=_("time (s)"), row=2)
    fig.update_yaxes(title_text=y_label, col=1)
    return fig


def descriptor_label(column: str) -> str:
    """``"Pitch (median F0, pyin) [Hz]"`` for a descriptor column, in the language of this run."""
    label, unit = eda.DESCRIPTORS[column]
    return f"{_(label)} [{_(unit)}]"


def descriptor_figure(
    clips: pd.DataFrame, *, column: str, kind: str = "box", by_gender: bool = False
) -> go.Figure:
    """Distribution of a scalar descriptor per emotion.

    Parameters
    ----------
    clips : pd.DataFrame
        One row per clip (:func:`ser_core.eda.load_clips`): ``file_id, emotion,
        speaker, gender`` and the descriptor ``column``.
    column : str
        A key of :data:`ser_core.eda.DESCRIPTORS`.
    kind : {"box", "violin"}
    by_gender : bool
        One box per gender and emotion, in the gender colours (else the emotion colours).
    """
    plot = px.violin if kind == "violin" else px.box
    color = "gender" if by_gender else "emotion"
    kw = dict(box=True, points=False) if kind == "violin" else dict(points="outliers")
    fig = plot(
        _display_labels(clips),
        x="emotion",
        y=column,
        color=color,
        hover_data=["file_id", "speaker"],
        category_orders=_category_orders(),
        color_discrete_map=gender_colors() if by_gender else emotion_colors(),
        labels={
            column: descriptor_label(column),
            "emotion": "",
            "gender": _("gender"),
            "speaker": _("speaker"),
        },
        **kw,
    )
    fig.update_layout(height=460, showlegend=by_gender, margin=dict(l=70, r=20, t=30, b=40))
    return fig


def projection_figure(
    clips: pd.DataFrame, *, proj: Mapping[str, np.ndarray], method: str = "pca", color: str = "emotion"
) -> go.Figure:
    """Scatter of the 2-D projection of every clip, coloured by emotion or speaker.

    Parameters
    ----------
    clips : pd.DataFrame, n_clips rows
        ``file_id, emotion, speaker`` of every clip, in the projection's order.
    proj : mapping
        ``{"pca": (n_clips, 2), "tsne": (n_clips, 2), "pca_var": (2,)}``
        (:func:`ser_core.eda.load_projections`); ``pca_var`` labels the PCA axes.
    method : {"pca", "tsne"}
    color : {"emotion", "speaker"}
        One trace per value, emotions in their fixed colours.
    """
    xy = proj[method]
    df = _display_labels(clips[["file_id", "emotion", "speaker"]]).assign(x=xy[:, 0], y=xy[:, 1])
    if method == "pca":
        var = proj.get("pca_var", np.full(2, np.nan))
        axes = [
            _("PC{n} ({percent:.1f} % of variance)").format(n=i + 1, percent=100 * v)
            for i, v in enumerate(var)
        ]
    else:
        axes = ["t-SNE 1", "t-SNE 2"]
    fig = px.scatter(
        df,
        x="x",
        y="y",
        color=color,
        hover_name="file_id",
        hover_data={"emotion": True, "speaker": True, "x": False, "y": False},
        category_orders={"emotion": emotion_names(), "speaker": sorted(df["speaker"].unique())},
        color_discrete_map=emotion_colors() if color == "emotion" else None,
        color_discrete_sequence=px.colors.qualitative.T10,  # nine clearly distinct speakers
        labels={"x": axes[0], "y": axes[1], "emotion": _("emotion"), "speaker": _("speaker")},
        render_mode="svg",
        opacity=0.7,
    )
    fig.update_traces(marker=dict(size=5))
    fig.update_layout(
        height=560, margin=dict(l=70, r=20, t=30, b=50), legend_title_text=_(_LEGEND_TITLES[color])
    )
    return fig


def counts_heatmap(table: pd.DataFrame) -> go.Figure:
    """Clip counts by emotion (rows) and speaker (columns), with the numbers.

    Parameters
    ----------
    table : pd.DataFrame
        One row per clip with ``emotion`` and ``speaker`` columns.
    """
    counts = pd.crosstab(table["emotion"], table["speaker"]).reindex(list(EMOTIONS), fill_value=0)
    counts.index = emotion_names()
    fig = px.imshow(
        counts,
        text_auto=True,
        aspect="auto",
        color_continuous_scale="Blues",
        zmin=0,
        labels=dict(x=_("speaker"), y=_("emotion"), color=_("clips")),
    )
    fig.update_layout(height=330, margin=dict(l=70, r=20, t=20, b=40))
    return fig


def counts_bar(table: pd.DataFrame, *, column: str) -> go.Figure:
    """Clip counts by ``column`` (gender, age), stacked by emotion.

    Parameters
    ----------
    table : pd.DataFrame
        One row per clip with ``emotion`` and ``column``.
    column : str
        Its values become categories on the x axis (one bar per value present).
    """
    df = _display_labels(table)
    df = df.assign(**{column: df[column].astype(str)})
    fig = px.histogram(
        df,
        x=column,
        color="emotion",
        color_discrete_map=emotion_colors(),
        category_orders={"emotion": emotion_names()},
        labels={
            column: display_name(_COLUMN_NAMES, column),
            "emotion": _("emotion"),
        },
    )
    fig.update_layout(height=330, yaxis_title=_("clips"), bargap=0.25, margin=dict(l=60, r=10, t=20, b=40))
    # numbers as categories: one bar per age, no gaps for the ages nobody has
    fig.update_xaxes(type="category", categoryorder="category ascending")
    return fig


def duration_figure(clips: pd.DataFrame) -> go.Figure:
    """Histograms of clip duration, one panel per emotion; a line marks the 3-s model input.

    Parameters
    ----------
    clips : pd.DataFrame
        One row per clip with ``emotion`` and ``duration`` (s).
    """
    fig = px.histogram(
        _display_labels(clips),
        x="duration",
        color="emotion",
        facet_col="emotion",
        facet_col_wrap=3,
        nbins=60,
        color_discrete_map=emotion_colors(),
        category_orders={"emotion": emotion_names()},
        labels={"duration": _("duration (s)")},
    )
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    fig.add_vline(
        x=DEFAULT_CONFIG.duration,
        y1=0.85,  # below the panel titles
        line=dict(color="#111827", width=1, dash="dash"),
    )
    fig.update_layout(height=460, showlegend=False, margin=dict(l=60, r=10, t=30, b=40))
    fig.update_yaxes(title_text=_("clips"), col=1)
    return fig
