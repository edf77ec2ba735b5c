"""Figures of the training runs: accuracy, per-class F1, confusion, curves, ensembles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ser_core.config import EMOTIONS
from ser_core.i18n import N_, _, display_name, emotion_names

PROTOCOL_TITLES = {"seed": N_("seed split"), "loso": N_("leave-one-speaker-out")}
#: Colours of the two runs of the side-by-side comparison.
COMPARE_COLORS = ("#4f46e5", "#f59e0b")
#: Names (English, translated where drawn) and colours of the training curves.
CURVE_STYLE = {
    "train_loss": dict(name=N_("train loss"), color="#4f46e5"),
    "val_loss": dict(name=N_("validation loss"), color="#f59e0b"),
    "val_accuracy": dict(name=N_("validation accuracy"), color="#059669"),
    "speaker_accuracy": dict(name=N_("speaker adversary (training)"), color="#db2777"),
}


def model_colors(models: list[str]) -> dict[str, str]:
    """One fixed colour per model name (sorted, so every chart agrees)."""
    palette = px.colors.qualitative.Safe
    return {m: palette[i % len(palette)] for i, m in enumerate(sorted(models))}


def _bargap(n_bars: int, *, bar_px: float = 90, plot_px: float = 1000) -> float:
    """A bar gap that keeps bars at most about ``bar_px`` wide when there are few of them."""
    return float(np.clip(1 - bar_px * max(n_bars, 1) / plot_px, 0.15, 0.8))


#: How the accuracy chart names each protocol.
PROTOCOL_MEASURES = {
    "loso": N_("new voices (leave-one-speaker-out mean ± std over the held-out speakers)"),
    "seed": N_("seed split (test clips of the speakers it trained on)"),
    "both_loso": N_("new nEMO voices, RAVDESS added to training (mean ± std over the folds)"),
    "ravdess_lao": N_("RAVDESS, four actors held out per fold (mean ± std over the folds)"),
}
#: Short names of the protocols (pickers, legends); English, translated by :func:`protocol_name`.
PROTOCOL_NAMES = {
    "loso": N_("new voices (LOSO)"),
    "seed": N_("seed split"),
    "both_loso": N_("new voices, + RAVDESS in training"),
    "ravdess_lao": N_("RAVDESS, actors held out"),
}


def protocol_name(protocol: str) -> str:
    """The short name of a protocol in the language of this run (an unknown one as is)."""
    return display_name(PROTOCOL_NAMES, protocol)


def _protocol_measure(protocol: str) -> str:
    return display_name(PROTOCOL_MEASURES, protocol)


def accuracy_figure(summary: pd.DataFrame, *, protocol: str = "seed", bar_px: int = 24) -> go.Figure:
    """Test accuracy of each recipe on one protocol: one horizontal bar per recipe, best on top.

    Parameters
    ----------
    summary : pd.DataFrame
        :func:`ser_core.leaderboard.summarize` rows: ``model, input, protocol, n_folds,
        accuracy, accuracy_std`` (fractions; std NaN for single runs); rows of other
        protocols are left out.
    protocol : str
        Which protocol's rows to draw.
    bar_px : int
        Height of one bar's row in pixels.

    Returns
    -------
    go.Figure
        A bar trace: y the recipe (``model · input``), x the accuracy in per cent, error
        bars the std over LOSO folds, colours :func:`model_colors` (over every model of
        ``summary``); then a text trace writing each value past the end of its error bar.
    """
    colors = model_colors(summary["model"].unique().tolist())
    d = summary[summary["protocol"] == protocol].sort_values("accuracy", ascending=False, kind="stable")
    d = d.iloc[::-1]  # plotly draws the first row at the bottom
    acc, sd = 100 * d["accuracy"].astype(float), 100 * d["accuracy_std"].astype(float)
    err = [None if np.isnan(v) else v for v in sd]
    y = (d["model"] + " · " + d["input"]).tolist()
    fig = go.Figure(
        go.Bar(
            y=y,
            x=acc.round(2).tolist(),
            orientation="h",
            marker_color=[colors[m] for m in d["model"]],
            error_x=dict(
                type="data", array=err, visible=any(e is not None for e in err), thickness=1.5, width=4
            ),
            customdata=d["n_folds"].astype(int).tolist(),
            hovertemplate=_("%{y}<br>test accuracy %{x:.1f} % (%{customdata} run(s))<extra></extra>"),
        )
    )
    fig.add_scatter(  # the values past the error bars (on the bar, the error bar would cross them)
        y=y,
        x=[a + (e or 0) + 1 for a, e in zip(acc, err)],
        mode="text",
        text=[f"{a:.1f} %" + (f" ± {e:.1f}" if e is not None else "") for a, e in zip(acc, err)],
        textposition="middle right",
        cliponaxis=False,
        hoverinfo="skip",
        showlegend=False,
    )
    fig.update_layout(
        height=70 + bar_px * len(d),
        margin=dict(l=10, r=80, t=10, b=50),
        xaxis=dict(
            title=_("test accuracy: {measure}").format(measure=_protocol_measure(protocol)), range=[0, 100]
        ),
        xaxis_ticksuffix=" %",
        yaxis=dict(type="category", automargin=True),
        bargap=0.25,
        showlegend=False,
    )
    return fig


def f1_heatmap(table: pd.DataFrame, *, labels: list[str]) -> go.Figure:
    """Per-class test F1 (%) of each row of ``table`` (runs or summary rows) by emotion.

    Parameters
    ----------
    table : pd.DataFrame, n rows
        With ``f1_<emotion>`` columns (fractions) for the six emotions.
    labels : list of str, length n
        The row labels (y axis, top to bottom).
    """
    z = 100 * table[[f"f1_{e}" for e in EMOTIONS]].to_numpy(dtype=float)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=emotion_names(),
            y=labels,
            zmin=0,
            zmax=100,
            colorscale="RdYlGn",
            text=np.vectorize(lambda v: "" if np.isnan(v) else f"{v:.0f}")(z),
            texttemplate="%{text}",
            textfont=dict(size=12),
            colorbar=dict(title=dict(text="F1 (%)"), thickness=14),
            hovertemplate="%{y}<br>%{x}: F1 %{z:.1f} %<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(side="top", type="category")
    fig.update_layout(height=max(220, 36 * len(labels) + 90), margin=dict(l=10, r=10, t=40, b=10))
    return fig


def confusion_figure(cm: np.ndarray) -> go.Figure:
    """Confusion matrix: colour = % of the true class (row), text = count and %.

    Parameters
    ----------
    cm : np.ndarray, shape (6, 6)
        Counts, rows the true and columns the predicted emotion.
    """
    counts = np.asarray(cm, dtype=float)
    rows = counts.sum(axis=1, keepdims=True)
    pct = 100 * counts / np.where(rows > 0, rows, 1)
    text = [[f"{int(c)}<br>{p:.0f} %" for c, p in zip(rc, rp)] for rc, rp in zip(counts, pct)]
    fig = go.Figure(
        go.Heatmap(
            z=pct,
            x=emotion_names(),
            y=emotion_names(),
            zmin=0,
            zmax=100,
            colorscale="Blues",
            text=text,
            texttemplate="%{text}",
            textfont=dict(size=12),
            customdata=counts,
            showscale=False,
            hovertemplate=_(
                "true %{y}, predicted %{x}<br>%{customdata:.0f} clips (%{z:.1f} % of %{y})<extra></extra>"
            ),
        )
    )
    fig.update_yaxes(autorange="reversed", title_text=_("true emotion"), type="category")
    fig.update_xaxes(title_text=_("predicted emotion"), type="category", side="bottom")
    fig.update_layout(height=440, margin=dict(l=10, r=10, t=20, b=50))
    return fig


def curves_figure(
    df: pd.DataFrame, *, best_epoch: float | None = None, x_title: str | None = None, log_x: bool = False
) -> go.Figure:
    """Training curves: train / validation loss (top) and validation accuracy (bottom, with
    the speaker adversary's accuracy in speaker-adversarial runs).

    Parameters
    ----------
    df : pd.DataFrame
        :func:`ser_core.leaderboard.curves`: long format ``epoch, metric, value``;
        metrics other than those of :data:`CURVE_STYLE` are not drawn.
    best_epoch : float, optional
        Marked by a dashed vertical line (the epoch whose weights were kept).
    x_title : str, optional
        The x axis's title (default "epoch", translated; a closed-form run's steps are its
        L2 strengths).
    log_x : bool
        A logarithmic x axis (for L2 strengths).
    """
    x_title = _("epoch") if x_title is None else x_title
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.14, subplot_titles=[_("Loss"), _("Accuracy")]
    )
    for key, style in CURVE_STYLE.items():
        d = df[df["metric"] == key]
        if d.empty:
            continue
        acc = key.endswith("accuracy")
        name = _(style["name"])
        fig.add_trace(
            go.Scatter(
                x=d["epoch"],
                y=100 * d["value"] if acc else d["value"],
                mode="lines+markers",
                name=name,
                line=dict(color=style["color"], width=2),
                marker=dict(size=5),
                hovertemplate=(
                    f"{x_title} %{{x}}<br>{name} " + ("%{y:.1f} %" if acc else "%{y:.3f}") + "<extra></extra>"
                ),
            ),
            row=2 if acc else 1,
            col=1,
        )
    if best_epoch is not None and np.isfinite(best_epoch):
        fig.add_vline(x=best_epoch, line=dict(color="#6b7280", width=1, dash="dash"))
    fig.update_xaxes(title_text=x_title, row=2, col=1)
    if log_x:
        fig.update_xaxes(type="log")
    fig.update_xaxes(showticklabels=True, row=1, col=1)
    fig.update_yaxes(title_text=_("cross-entropy"), row=1, col=1)
    fig.update_yaxes(title_text=_("accuracy"), ticksuffix=" %", row=2, col=1)
    fig.update_annotations(font=dict(size=13, color="#1f2937"), xanchor="left", x=0)
    fig.update_layout(
        height=440,
        margin=dict(l=60, r=20, t=30, b=40),
        legend=dict(orientation="h", yanchor="bottom", y=1.06, x=1, xanchor="right"),
    )
    return fig


def ensemble_figure(weights: pd.DataFrame) -> go.Figure:
    """Member weights of the ensemble runs (one colour per run).

    Parameters
    ----------
    weights : pd.DataFrame
        :func:`ser_core.leaderboard.ensemble_weights`: ``run_name, representation,
        weight`` (fraction).
    """
    df = weights.assign(pct=100 * weights["weight"])
    fig = px.bar(
        df,
        x="representation",
        y="pct",
        color="run_name",
        barmode="group",
        text="pct",
        labels={"pct": _("weight (%)"), "run_name": _("ensemble run"), "representation": _("representation")},
        color_discrete_sequence=px.colors.qualitative.Safe,
    )
    fig.update_traces(texttemplate="%{y:.0f} %", textposition="outside", cliponaxis=False)
    fig.update_yaxes(range=[0, max(100.0, float(df["pct"].max()) * 1.15)], ticksuffix=" %")
    fig.update_layout(
        height=340,
        margin=dict(l=60, r=20, t=20, b=40),
        showlegend=df["run_name"].nunique() > 1,
        bargap=_bargap(len(df)),
    )
    return fig


def importance_figure(importance: pd.DataFrame) -> go.Figure:
    """Optuna's parameter importance of the ensemble search (horizontal bars).

    Parameters
    ----------
    importance : pd.DataFrame
        ``parameter, importance`` (fraction), most important first.
    """
    fig = go.Figure(
        go.Bar(
            x=(100 * importance["importance"]).round(1).tolist(),
            y=importance["parameter"].tolist(),
            orientation="h",
            marker_color="#4f46e5",
            hovertemplate="%{y}: %{x:.1f} %<extra></extra>",
        )
    )
    fig.update_layout(
        height=60 + 28 * len(importance),
        xaxis=dict(title=_("importance (%)"), ticksuffix=" %"),
        yaxis=dict(autorange="reversed"),
        margin=dict(l=140, r=20, t=10, b=45),
    )
    return fig


def adaptation_figure(curve: pd.DataFrame) -> go.Figure:
    """LOSO accuracy against seconds of the new speaker's audio (mean ± std over speakers).

    Parameters
    ----------
    curve : pd.DataFrame
        :func:`ser_core.leaderboard.adaptation`: ``model, input, label, accuracy,
        std, n_folds``; one line per model and input.
    """
    fig = go.Figure()
    every = _("all")  # the budget "all of the half", the others are seconds
    for i, ((model, inp), g) in enumerate(curve.groupby(["model", "input"], sort=False)):
        fig.add_trace(
            go.Scatter(
                x=[every if s == "all" else s for s in g["label"]],
                y=(100 * g["accuracy"]).round(2).tolist(),
                error_y=dict(type="data", array=(100 * g["std"].fillna(0)).round(2).tolist()),
                mode="lines+markers",
                name=f"{model} · {inp}",
                customdata=g["n_folds"].tolist(),
                line=dict(color=px.colors.qualitative.Safe[i % 10], width=2),
                hovertemplate=_("%{x} s: %{y:.1f} % (%{customdata} speakers)<extra></extra>"),
            )
        )
    fig.update_layout(
        height=340,
        xaxis=dict(title=_("seconds of the new speaker's unlabelled audio"), type="category"),
        yaxis=dict(title=_("LOSO accuracy (%)"), ticksuffix=" %"),
        margin=dict(l=60, r=20, t=20, b=50),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
    )
    return fig


def compare_f1_figure(
    runs: pd.DataFrame, *, run_a: str, run_b: str, labels: tuple[str, str] | None = None
) -> go.Figure:
    """Per-class test F1 of two runs as grouped bars.

    Parameters
    ----------
    runs : pd.DataFrame
        :func:`ser_core.leaderboard.load_runs` rows: ``run_id, run_name, f1_<emotion>``.
    run_a, run_b : str
        Run ids; A and B in :data:`COMPARE_COLORS`.
    labels : (str, str), optional
        The two runs' names in the legend (default: their run names).
    """
    fig = go.Figure()
    for i, (tag, rid, color) in enumerate(zip("AB", (run_a, run_b), COMPARE_COLORS)):
        row = runs.loc[runs["run_id"] == rid].iloc[0]
        name = labels[i] if labels else row["run_name"]
        y = [100 * row[f"f1_{e}"] for e in EMOTIONS]
        fig.add_trace(
            go.Bar(
                x=emotion_names(),
                y=y,
                name=f"{tag}: {name}",
                marker_color=color,
                text=["" if np.isnan(v) else f"{v:.0f}" for v in y],
                textposition="outside",
                cliponaxis=False,
                hovertemplate="%{x}: F1 %{y:.1f} %<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="group",
        height=360,
        yaxis=dict(range=[0, 105], ticksuffix=" %", title=_("test F1 (%)")),
        margin=dict(l=60, r=20, t=20, b=40),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
    )
    return fig


#: The two numbers of a model card: on voices it never heard, and on voices it heard.
NEW_VOICES_COLOR, SEED_COLOR = "#4f46e5", "#cbd5e1"


def new_voices_figure(scores: pd.DataFrame, *, height_per_model: int = 28) -> go.Figure:
    """Each shipped model's accuracy on new voices (LOSO mean ± std) beside its seed-split one.

    Parameters
    ----------
    scores : pd.DataFrame
        One row per model, best first: ``model, loso, loso_std, seed`` (fractions;
        NaN where a card has no such figure).

    Returns
    -------
    go.Figure
        Two horizontal bar traces, "new voices (LOSO)" with error bars and "seed split
        (voices heard in training)", in per cent; a model without a LOSO figure is
        marked "not measured" on that bar's axis position.
    """
    df = scores.iloc[::-1]  # plotly draws the first row at the bottom
    loso, sd, seed = (100 * df[c].astype(float) for c in ("loso", "loso_std", "seed"))
    rows = np.arange(len(df), dtype=float)  # numeric rows: each value sits on its own bar
    half = 0.38  # each bar's thickness, in rows
    fig = go.Figure()
    fig.add_bar(
        y=rows - half / 2,
        x=seed,
        width=half,
        orientation="h",
        name=_("seed split (voices heard in training)"),
        marker_color=SEED_COLOR,
        customdata=df["model"],
        hovertemplate=_("%{customdata}: %{x:.1f} % on the seed split<extra></extra>"),
    )
    fig.add_bar(
        y=rows + half / 2,
        x=loso.fillna(0),
        width=half,
        orientation="h",
        name=_("new voices (LOSO mean ± std)"),
        marker_color=NEW_VOICES_COLOR,
        error_x=dict(type="data", array=[v if v == v else None for v in sd], visible=True),
        customdata=df["model"],
        hovertemplate=_("%{customdata}: %{x:.1f} % on voices it never heard<extra></extra>"),
    )
    # the value past the end of the error bar (a bar's own "outside" text sits under it)
    fig.add_scatter(
        y=rows + half / 2,
        x=(loso + sd.fillna(0)).fillna(0) + 1,
        mode="text",
        text=[f"{v:.1f} %" if v == v else _("not measured") for v in loso],
        textposition="middle right",
        showlegend=False,
        hoverinfo="skip",
    )
    fig.update_layout(
        barmode="overlay",
        height=90 + height_per_model * 2 * len(df),
        margin=dict(l=10, r=10, t=30, b=10),
        xaxis=dict(title=_("accuracy (%)"), range=[0, 105]),
        yaxis=dict(tickvals=rows, ticktext=list(df["model"]), range=[-0.6, len(df) - 0.4]),
        legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0),
    )
    return fig


def conditions_heatmap(table: pd.DataFrame, *, order: list[str] | None = None) -> go.Figure:
    """LOSO accuracy of each model under each recording condition (:mod:`ser_core.conditions`).

    Parameters
    ----------
    table : pd.DataFrame
        One row per (model, condition): ``model, condition, accuracy, drop`` (fractions;
        ``drop`` is the clean accuracy minus this one), optionally ``accuracy_std`` and
        ``worst_speaker`` (:func:`ser_core.leaderboard.condition_runs`).
    order : list of str, optional
        The columns' order (the condition registry's); conditions not in it follow.

    Returns
    -------
    go.Figure
        A heatmap, rows models (as first met in ``table``), columns conditions: colour the
        accuracy in per cent, cell text ``"61.2 %"``, hover the drop against clean in points.
    """
    seen = list(dict.fromkeys(table["condition"]))
    cols = [c for c in (order or []) if c in seen] + [c for c in seen if c not in (order or [])]
    rows = list(dict.fromkeys(table["model"]))
    grid = table.set_index(["model", "condition"])

    def cell(col: str) -> np.ndarray:
        return np.array(
            [[grid[col].get((m, c), np.nan) for c in cols] for m in rows],
            dtype=object if col == "worst_speaker" else float,
        )

    z, drop = 100 * cell("accuracy"), 100 * cell("drop")
    sd = 100 * cell("accuracy_std") if "accuracy_std" in grid else np.full_like(z, np.nan)
    worst = cell("worst_speaker") if "worst_speaker" in grid else np.full(z.shape, None, dtype=object)
    custom = np.dstack([drop, sd, np.vectorize(lambda w: w if isinstance(w, str) else "?")(worst)])
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=cols,
            y=rows,
            zmin=0,
            zmax=100,
            colorscale="RdYlGn",
            text=np.vectorize(lambda v: "" if np.isnan(v) else f"{v:.1f} %")(z),
            texttemplate="%{text}",
            textfont=dict(size=12),
            customdata=custom,
            colorbar=dict(title=dict(text=_("accuracy (%)")), thickness=14),
            hovertemplate=_(
                "%{y} — %{x}<br>accuracy %{z:.1f} % ± %{customdata[1]:.1f}"
                "<br>drop against clean: %{customdata[0]:.1f} points"
                "<br>worst speaker: %{customdata[2]}<extra></extra>"
            ),
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(side="top", type="category", tickangle=-30)
    fig.update_layout(height=max(220, 40 * len(rows) + 120), margin=dict(l=10, r=10, t=80, b=10))
    return fig
