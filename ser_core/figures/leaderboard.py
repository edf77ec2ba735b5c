"""Figures of the training runs: accuracy, per-class F1, confusion, curves, ensembles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ser_core.config import EMOTIONS

PROTOCOL_TITLES = {"seed": "seed split", "loso": "leave-one-speaker-out"}
#: Colours of the two runs of the side-by-side comparison.
COMPARE_COLORS = ("#4f46e5", "#f59e0b")
CURVE_STYLE = {
    "train_loss": dict(name="train loss", color="#4f46e5"),
    "val_loss": dict(name="validation loss", color="#f59e0b"),
    "val_accuracy": dict(name="validation accuracy", color="#059669"),
    "speaker_accuracy": dict(name="speaker adversary (training)", color="#db2777"),
}


def model_colors(models: list[str]) -> dict[str, str]:
    """One fixed colour per model name (sorted, so every chart agrees)."""
    palette = px.colors.qualitative.Safe
    return {m: palette[i % len(palette)] for i, m in enumerate(sorted(models))}


def _bargap(n_bars: int, *, bar_px: float = 90, plot_px: float = 1000) -> float:
    """A bar gap that keeps bars at most about ``bar_px`` wide when there are few of them."""
    return float(np.clip(1 - bar_px * max(n_bars, 1) / plot_px, 0.15, 0.8))


def accuracy_figure(summary: pd.DataFrame) -> go.Figure:
    """Test accuracy by representation, coloured by model; error bars = std over LOSO folds.

    One panel per protocol (widths proportional to their bars); the x axis
    names the representation and, under each bar, the model.

    Parameters
    ----------
    summary : pd.DataFrame
        :func:`ser_core.leaderboard.summarize` rows: ``model, input, protocol,
        n_folds, accuracy, accuracy_std`` (fractions; std NaN for single runs).

    Returns
    -------
    go.Figure
        One bar trace per protocol panel, bars in :func:`model_colors`, in per cent.
    """
    df = summary.assign(acc=100 * summary["accuracy"], sd=100 * summary["accuracy_std"])
    best = df.groupby("input")["acc"].max()
    protocols = [p for p in ("seed", "loso") if p in set(df["protocol"])]
    protocols += sorted(set(df["protocol"]) - set(protocols))
    colors = model_colors(df["model"].unique().tolist())
    panels = [
        df[df["protocol"] == p]
        .assign(best=lambda d: d["input"].map(best))
        .sort_values(["best", "input", "acc"], ascending=[False, True, False])
        for p in protocols
    ]
    sizes = [len(d) for d in panels]
    fig = make_subplots(
        rows=1,
        cols=len(panels),
        shared_yaxes=True,
        column_widths=[n / sum(sizes) for n in sizes],
        subplot_titles=[PROTOCOL_TITLES.get(p, p) for p in protocols],
        horizontal_spacing=0.04,
    )
    for i, d in enumerate(panels, start=1):
        sd = [None if np.isnan(v) else v for v in d["sd"]]
        hover = [
            f"{m} on {r}<br>test accuracy {a:.1f} %"
            + (f" ± {e:.1f} pp over {int(k)} folds" if e is not None else "")
            for m, r, a, e, k in zip(d["model"], d["input"], d["acc"], sd, d["n_folds"])
        ]
        fig.add_trace(
            go.Bar(
                x=[d["input"].tolist(), d["model"].tolist()],
                y=d["acc"],
                marker_color=[colors[m] for m in d["model"]],
                error_y=dict(
                    type="data",
                    array=sd,
                    visible=any(e is not None for e in sd),
                    thickness=1.5,
                    width=6,
                    color="#111827",
                ),
                text=[f"{v:.1f}" for v in d["acc"]],
                textposition="inside",
                insidetextanchor="middle",
                textfont=dict(color="white"),
                hovertext=hover,
                hoverinfo="text",
                showlegend=False,
            ),
            row=1,
            col=i,
        )
    fig.update_yaxes(range=[0, 100], ticksuffix=" %")
    fig.update_yaxes(title_text="test accuracy", col=1)
    fig.update_xaxes(tickfont=dict(size=11))
    fig.update_annotations(font=dict(size=13, color="#1f2937"))
    fig.update_layout(height=400, margin=dict(l=60, r=20, t=40, b=40), bargap=_bargap(sum(sizes)))
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
            x=list(EMOTIONS),
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
            x=list(EMOTIONS),
            y=list(EMOTIONS),
            zmin=0,
            zmax=100,
            colorscale="Blues",
            text=text,
            texttemplate="%{text}",
            textfont=dict(size=12),
            customdata=counts,
            showscale=False,
            hovertemplate=(
                "true %{y}, predicted %{x}<br>%{customdata:.0f} clips (%{z:.1f} % of %{y})<extra></extra>"
            ),
        )
    )
    fig.update_yaxes(autorange="reversed", title_text="true emotion", type="category")
    fig.update_xaxes(title_text="predicted emotion", type="category", side="bottom")
    fig.update_layout(height=440, margin=dict(l=10, r=10, t=20, b=50))
    return fig


def curves_figure(df: pd.DataFrame, *, best_epoch: float | None = None) -> go.Figure:
    """Training curves: train / validation loss (top) and validation accuracy (bottom, with
    the speaker adversary's accuracy in speaker-adversarial runs).

    Parameters
    ----------
    df : pd.DataFrame
        :func:`ser_core.leaderboard.curves`: long format ``epoch, metric, value``;
        metrics other than those of :data:`CURVE_STYLE` are not drawn.
    best_epoch : float, optional
        Marked by a dashed vertical line (the epoch whose weights were kept).
    """
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.14, subplot_titles=["Loss", "Accuracy"]
    )
    for key, style in CURVE_STYLE.items():
        d = df[df["metric"] == key]
        if d.empty:
            continue
        acc = key.endswith("accuracy")
        fig.add_trace(
            go.Scatter(
                x=d["epoch"],
                y=100 * d["value"] if acc else d["value"],
                mode="lines+markers",
                name=style["name"],
                line=dict(color=style["color"], width=2),
                marker=dict(size=5),
                hovertemplate=(
                    f"epoch %{{x}}<br>{style['name']} "
                    + ("%{y:.1f} %" if acc else "%{y:.3f}")
                    + "<extra></extra>"
                ),
            ),
            row=2 if acc else 1,
            col=1,
        )
    if best_epoch is not None and np.isfinite(best_epoch):
        fig.add_vline(x=best_epoch, line=dict(color="#6b7280", width=1, dash="dash"))
    fig.update_xaxes(title_text="epoch", row=2, col=1)
    fig.update_xaxes(showticklabels=True, row=1, col=1)
    fig.update_yaxes(title_text="cross-entropy", row=1, col=1)
    fig.update_yaxes(title_text="accuracy", ticksuffix=" %", row=2, col=1)
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
        labels={"pct": "weight (%)", "run_name": "ensemble run"},
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
        xaxis=dict(title="importance (%)", ticksuffix=" %"),
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
    for i, ((model, inp), g) in enumerate(curve.groupby(["model", "input"], sort=False)):
        fig.add_trace(
            go.Scatter(
                x=g["label"].tolist(),
                y=(100 * g["accuracy"]).round(2).tolist(),
                error_y=dict(type="data", array=(100 * g["std"].fillna(0)).round(2).tolist()),
                mode="lines+markers",
                name=f"{model} · {inp}",
                customdata=g["n_folds"].tolist(),
                line=dict(color=px.colors.qualitative.Safe[i % 10], width=2),
                hovertemplate="%{x} s: %{y:.1f} % (%{customdata} speakers)<extra></extra>",
            )
        )
    fig.update_layout(
        height=340,
        xaxis=dict(title="seconds of the new speaker's unlabelled audio", type="category"),
        yaxis=dict(title="LOSO accuracy (%)", ticksuffix=" %"),
        margin=dict(l=60, r=20, t=20, b=50),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
    )
    return fig


def compare_f1_figure(runs: pd.DataFrame, *, run_a: str, run_b: str) -> go.Figure:
    """Per-class test F1 of two runs as grouped bars.

    Parameters
    ----------
    runs : pd.DataFrame
        :func:`ser_core.leaderboard.load_runs` rows: ``run_id, run_name, f1_<emotion>``.
    run_a, run_b : str
        Run ids; A and B in :data:`COMPARE_COLORS`.
    """
    fig = go.Figure()
    for tag, rid, color in zip("AB", (run_a, run_b), COMPARE_COLORS):
        row = runs.loc[runs["run_id"] == rid].iloc[0]
        y = [100 * row[f"f1_{e}"] for e in EMOTIONS]
        fig.add_trace(
            go.Bar(
                x=list(EMOTIONS),
                y=y,
                name=f"{tag}: {row['run_name']}",
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
        yaxis=dict(range=[0, 105], ticksuffix=" %", title="test F1 (%)"),
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
    fig = go.Figure()
    fig.add_bar(
        y=df["model"],
        x=seed,
        orientation="h",
        name="seed split (voices heard in training)",
        marker_color=SEED_COLOR,
        hovertemplate="%{y}: %{x:.1f} % on the seed split<extra></extra>",
    )
    fig.add_bar(
        y=df["model"],
        x=loso.fillna(0),
        orientation="h",
        name="new voices (LOSO mean ± std)",
        marker_color=NEW_VOICES_COLOR,
        error_x=dict(type="data", array=sd.fillna(0).tolist(), visible=True),
        text=[f"{v:.1f} %" if v == v else "not measured" for v in loso],
        textposition="outside",
        hovertemplate="%{y}: %{x:.1f} % on voices it never heard<extra></extra>",
    )
    fig.update_layout(
        barmode="group",
        height=90 + height_per_model * 2 * len(df),
        margin=dict(l=10, r=10, t=30, b=10),
        xaxis=dict(title="accuracy (%)", range=[0, 105]),
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
            colorbar=dict(title=dict(text="accuracy (%)"), thickness=14),
            hovertemplate="%{y} — %{x}<br>accuracy %{z:.1f} % ± %{customdata[1]:.1f}"
            "<br>drop against clean: %{customdata[0]:.1f} points"
            "<br>worst speaker: %{customdata[2]}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(side="top", type="category", tickangle=-30)
    fig.update_layout(height=max(220, 40 * len(rows) + 120), margin=dict(l=10, r=10, t=80, b=10))
    return fig
