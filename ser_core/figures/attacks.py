"""Figures of the adversarial attacks: probabilities, spectrograms, robustness curve."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ser_core.config import EMOTIONS
from ser_core.figures.style import EMOTION_COLORS, frame_times
from ser_core.i18n import _, emotion_name, emotion_names, ngettext

if TYPE_CHECKING:
    from ser_core import attacks as adv


def format_epsilon(eps: float) -> str:
    """``0.0075`` / ``1e-05`` for the slider; ``0`` for none."""
    return "0" if eps == 0 else f"{eps:g}"


def probability_figure(bars: Mapping[str, np.ndarray], *, height: int = 380) -> go.Figure:
    """Grouped horizontal bars: one group per emotion, one bar per entry of ``bars``.

    Parameters
    ----------
    bars : mapping of label -> np.ndarray, shape (6,)
        Probabilities in :data:`~ser_core.config.EMOTIONS` order (drawn in per cent);
        one trace per entry, in a fixed palette (grey, red, indigo, green, amber). The labels
        are shown as given (translated by the caller); the emotions in the run's language.
    height : int
        Height in pixels.
    """
    palette = ["#9ca3af", "#dc2626", "#4f46e5", "#059669", "#d97706"]
    fig = go.Figure(
        [
            go.Bar(
                y=emotion_names(EMOTIONS),
                x=(100 * np.asarray(p, float)).round(2).tolist(),
                name=name,
                orientation="h",
                marker_color=palette[i % len(palette)],
                hovertemplate=f"{name}<br>%{{y}}: %{{x:.1f}} %<extra></extra>",
            )
            for i, (name, p) in enumerate(bars.items())
        ]
    )
    fig.update_layout(
        barmode="group",
        height=height,
        xaxis=dict(range=[0, 100], title=_("probability (%)")),
        yaxis=dict(autorange="reversed"),
        bargap=0.2,
        bargroupgap=0.05,
        margin=dict(l=80, r=20, t=10, b=45),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
    )
    return fig


def spectrogram_figure(res: adv.ClipAttack, *, height: int = 640) -> go.Figure:
    """Original and adversarial log-mel (one colour scale, dB) and their difference.

    Parameters
    ----------
    res : ClipAttack
        An attack's result (:func:`ser_core.attacks.attack_clip`); only its
        ``log_mel``, ``adv_log_mel`` and ``perturbation_db``, each of shape
        (n_mels, frames), are read.
    height : int
        Height in pixels.

    Returns
    -------
    go.Figure
        Three rows: original, adversarial (shared colour axis), perturbation
        (diverging scale, symmetric around 0).
    """
    t = frame_times(res.log_mel.shape[-1])
    bands = np.arange(res.log_mel.shape[0])
    pert = res.perturbation_db
    lim = float(np.max(np.abs(pert))) or 1e-3
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.07,
        subplot_titles=[
            _("original (dB)"),
            _("adversarial (dB)"),
            _("perturbation (dB, up to ±{limit})").format(limit=f"{lim:.2g}"),
        ],
    )
    lo = float(min(res.log_mel.min(), res.adv_log_mel.min()))
    hi = float(max(res.log_mel.max(), res.adv_log_mel.max()))
    band = _("mel band")
    for row, z in ((1, res.log_mel), (2, res.adv_log_mel)):
        fig.add_trace(
            go.Heatmap(
                z=np.round(z, 2),
                x=t,
                y=bands,
                coloraxis="coloraxis",
                hovertemplate="%{x:.2f} s<br>" + band + " %{y}<br>%{z:.1f} dB<extra></extra>",
            ),
            row=row,
            col=1,
        )
    fig.add_trace(
        go.Heatmap(
            z=np.round(pert, 4),
            x=t,
            y=bands,
            coloraxis="coloraxis2",
            hovertemplate="%{x:.2f} s<br>" + band + " %{y}<br>%{z:+.3f} dB<extra></extra>",
        ),
        row=3,
        col=1,
    )
    fig.update_layout(
        height=height,
        margin=dict(l=60, r=20, t=30, b=45),
        coloraxis=dict(
            colorscale="Viridis", cmin=lo, cmax=hi, colorbar=dict(title=dict(text="dB"), len=0.62, y=0.69)
        ),
        coloraxis2=dict(
            colorscale="RdBu_r",
            cmin=-lim,
            cmax=lim,
            cmid=0,
            colorbar=dict(title=dict(text="Δ dB"), len=0.3, y=0.14),
        ),
    )
    fig.update_yaxes(title_text=band)
    fig.update_xaxes(title_text=_("time (s)"), row=3, col=1)
    fig.update_annotations(font=dict(size=13, color="#1f2937"))
    return fig


def _attack_group(attack: str, part: pd.DataFrame) -> str:
    """Legend group title of one attack's rows: ``"FGSM, one step · 897 clips"``."""
    title = attack.removesuffix("_wave").upper()
    if "steps" in part and len(part):
        steps = int(part["steps"].iloc[0])
        title += ", " + ngettext("one step", "{n} steps", steps).format(n=steps)
    if "n" in part and len(part):
        n = int(part["n"].iloc[0])
        title += " · " + ngettext("{n} clip", "{n} clips", n).format(n=n)
    return title


def epsilon_ticks(lo: float, hi: float) -> list[float]:
    """The 1-2-5 values between ``lo`` and ``hi`` (both > 0), for a log axis's labels."""
    out = []
    for e in range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1):
        out += [m * 10.0**e for m in (1, 2, 5)]
    return [float(f"{v:.3g}") for v in out if lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9)]


def robustness_figure(df: pd.DataFrame, *, epsilon: float | None = None, height: int = 480) -> go.Figure:
    """Test accuracy against epsilon (log axis), overall and per emotion, one legend group
    per attack; each attack's clean accuracy a dotted legend entry ("no attack: 95.1 %")
    and ``epsilon`` a vertical marker labelled above the plot (nothing written inside it).

    Parameters
    ----------
    df : pd.DataFrame
        The rows of one model (:func:`ser_core.attacks.robustness` columns, plus
        ``attack`` and optionally ``steps`` and ``n``): ``epsilon, accuracy`` and one
        column per emotion (fractions); the ``epsilon == 0`` row is the clean accuracy.
        The first attack draws solid lines, the others dashed, their per-emotion and
        clean lines hidden until clicked in the legend.
    epsilon : float, optional
        Marked by a red dashed line when positive.
    height : int
        Height in pixels.
    """
    fig = go.Figure()
    positive = df.loc[df["epsilon"] > 0, "epsilon"]
    for i, (attack, part) in enumerate(df.groupby("attack", sort=False)):
        _attack_traces(fig, part.sort_values("epsilon"), attack=attack, first=i == 0, span=positive)
    if epsilon is not None and epsilon > 0:
        # on a log axis shapes take data values, annotations log10 of them
        fig.add_vline(x=epsilon, line=dict(color="#dc2626", width=2, dash="dash"))
        fig.add_annotation(
            x=np.log10(epsilon),
            y=1.0,
            yref="paper",
            yanchor="bottom",
            text=_("this clip: ε = {epsilon}").format(epsilon=format_epsilon(epsilon)),
            showarrow=False,
            font=dict(color="#dc2626", size=12),
        )
    ticks = epsilon_ticks(float(positive.min()), float(positive.max())) if len(positive) else None
    fig.update_layout(
        height=height,
        xaxis=dict(
            type="log",
            title=_("epsilon (normalised input units, log scale)"),
            tickvals=ticks,
            ticktext=[format_epsilon(t) for t in ticks] if ticks else None,
        ),
        yaxis=dict(range=[0, 101], title=_("test accuracy (%)")),
        margin=dict(l=60, r=20, t=30, b=50),
        legend=dict(font=dict(size=11), groupclick="toggleitem", tracegroupgap=12),
    )
    return fig


def _attack_traces(fig: go.Figure, part: pd.DataFrame, *, attack: str, first: bool, span: pd.Series) -> None:
    """One attack's lines: overall, per emotion and the clean accuracy (one legend group)."""
    pos = part[part["epsilon"] > 0]
    dash = "solid" if first else "dash"
    group = dict(legendgroup=attack, legendgrouptitle=dict(text=_attack_group(attack, part)))
    hidden = True if first else "legendonly"  # click the legend to add
    clean = part.loc[part["epsilon"] == 0, "accuracy"]
    if len(clean) and len(span):
        acc = round(100 * float(clean.iloc[0]), 2)
        no_attack = _("no attack: {accuracy} %").format(accuracy=f"{acc:.1f}")
        fig.add_trace(
            go.Scatter(
                x=[float(span.min()), float(span.max())],
                y=[acc, acc],
                mode="lines",
                name=no_attack,
                line=dict(color="#6b7280", width=1.5, dash="dot"),
                visible=hidden,
                hovertemplate=f"{no_attack}<extra>{attack}</extra>",
                **group,
            )
        )
    everything = _("all emotions")
    fig.add_trace(
        go.Scatter(
            x=pos["epsilon"],
            y=(100 * pos["accuracy"]).round(2),
            mode="lines+markers",
            name=everything,
            line=dict(color="#111827", width=4, dash=dash),
            hovertemplate=f"ε %{{x:g}}: %{{y:.1f}} %<extra>{everything}, {attack}</extra>",
            **group,
        )
    )
    for e in EMOTIONS:
        if e in pos:
            fig.add_trace(
                go.Scatter(
                    x=pos["epsilon"],
                    y=(100 * pos[e]).round(2),
                    mode="lines",
                    name=emotion_name(e),
                    line=dict(color=EMOTION_COLORS[e], width=1.8, dash=dash),
                    visible=hidden,
                    hovertemplate=f"ε %{{x:g}}: %{{y:.1f}} %<extra>{emotion_name(e)}, {attack}</extra>",
                    **group,
                )
            )
