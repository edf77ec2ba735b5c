"""Figures of the input-transformation defences: accuracy of each defended model against
the naive and the adaptive attacker, and the attacks' success against their SNR per emotion."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ser_core.config import EMOTIONS
from ser_core.figures.attacks import epsilon_ticks, format_epsilon
from ser_core.figures.style import EMOTION_COLORS
from ser_core.i18n import _, emotion_name

__all__ = ["attacker_name", "defence_curves_figure", "margin_figure"]

#: Line styles of the attackers: (colour, dash).
_STYLES = {
    ("naive", "fgsm_wave"): ("#9ca3af", "dot"),
    ("naive", "pgd_wave"): ("#2563eb", "dash"),
    ("adaptive", "eot_pgd"): ("#dc2626", "solid"),
}


def attacker_name(attacker: str, attack: str) -> str:
    """The legend name of an attacker: ``"naive FGSM"``, ``"naive PGD"``, ``"adaptive (EOT + BPDA)"``."""
    if attacker == "adaptive":
        return _("adaptive PGD (EOT + BPDA)")
    return _("naive {attack}").format(attack=attack.removesuffix("_wave").upper())


def defence_curves_figure(
    df: pd.DataFrame, *, defences: list[str] | None = None, height: int = 420
) -> go.Figure:
    """Accuracy against the waveform epsilon, one panel per defence: the naive attackers
    (FGSM, PGD on the undefended model, then the defence) and the adaptive one (through it).

    Parameters
    ----------
    df : pd.DataFrame
        One model's rows of ``artifacts/attacks/defences.csv``
        (:func:`ser_core.attacks.defence_eval.defence_curves`): ``defence, attacker,
        attack, epsilon, accuracy``; the ``epsilon == 0`` rows are the clean accuracy,
        the ``defence == "none"`` rows the undefended model (grey in every panel).
    defences : list of str, optional
        The panels, in order (default every defence but ``"none"``).
    height : int
        Height in pixels.
    """
    names = defences or [d for d in dict.fromkeys(df["defence"]) if d != "none"]
    cols = min(3, max(len(names), 1))
    rows = int(np.ceil(len(names) / cols)) or 1
    fig = make_subplots(
        rows=rows, cols=cols, subplot_titles=names, shared_yaxes=True, vertical_spacing=0.3 / rows
    )
    pos = df.loc[df["epsilon"] > 0, "epsilon"]
    ref = df[(df["defence"] == "none") & (df["attack"] == "pgd_wave") & (df["epsilon"] > 0)].sort_values(
        "epsilon"
    )
    for i, name in enumerate(names):
        r, c = i // cols + 1, i % cols + 1
        part = df[df["defence"] == name]
        first = i == 0
        if len(ref):
            label = _("PGD, no defence")
            fig.add_trace(
                go.Scatter(
                    x=ref["epsilon"], y=(100 * ref["accuracy"]).round(1), mode="lines", name=label,
                    line=dict(color="#111827", width=1, dash="dot"), legendgroup="ref", showlegend=first,
                    hovertemplate=f"ε %{{x:g}}: %{{y:.1f}} %<extra>{label}</extra>",
                ),
                row=r, col=c,
            )  # fmt: skip
        clean = part.loc[part["epsilon"] == 0, "accuracy"]
        if len(clean) and len(pos):
            acc = round(100 * float(clean.iloc[0]), 1)
            label = _("no attack")
            fig.add_trace(
                go.Scatter(
                    x=[float(pos.min()), float(pos.max())], y=[acc, acc], mode="lines", name=label,
                    line=dict(color="#16a34a", width=1.5, dash="dashdot"), legendgroup="clean", showlegend=first,
                    hovertemplate=f"{label}: {acc:.1f} %<extra>{name}</extra>",
                ),
                row=r, col=c,
            )  # fmt: skip
        for (who, attack), (color, dash) in _STYLES.items():
            line = part[(part["attacker"] == who) & (part["attack"] == attack) & (part["epsilon"] > 0)]
            if line.empty:
                continue
            label = attacker_name(who, attack)
            line = line.sort_values("epsilon")
            fig.add_trace(
                go.Scatter(
                    x=line["epsilon"], y=(100 * line["accuracy"]).round(1), mode="lines+markers", name=label,
                    line=dict(color=color, width=3 if who == "adaptive" else 2, dash=dash),
                    legendgroup=f"{who}.{attack}", showlegend=first,
                    hovertemplate=f"ε %{{x:g}}: %{{y:.1f}} %<extra>{label}, {name}</extra>",
                ),
                row=r, col=c,
            )  # fmt: skip
    ticks = epsilon_ticks(float(pos.min()), float(pos.max())) if len(pos) else None
    fig.update_xaxes(
        type="log", tickvals=ticks, ticktext=[format_epsilon(t) for t in ticks] if ticks else None
    )
    for i in range(len(names)):  # the lowest panel of each column
        if i + cols >= len(names):
            fig.update_xaxes(
                title_text=_("epsilon (sample amplitude, log scale)"), row=i // cols + 1, col=i % cols + 1
            )
    fig.update_yaxes(range=[0, 101])
    fig.update_yaxes(title_text=_("test accuracy (%)"), col=1)
    fig.update_layout(
        height=height + 300 * (rows - 1),
        margin=dict(l=60, r=20, t=40, b=50),
        legend=dict(orientation="h", y=-0.18 if rows == 1 else -0.08, font=dict(size=12)),
    )
    return fig


def margin_figure(df: pd.DataFrame, *, height: int = 380) -> go.Figure:
    """Success rate against the SNR of the perturbation, one panel per attack, one line per
    emotion and a thick line for all of them.

    Parameters
    ----------
    df : pd.DataFrame
        One model's rows of ``artifacts/attacks/margin.csv``
        (:func:`ser_core.attacks.defence_eval.summarise_margin`): ``attack, emotion,
        snr_bin, snr_lo, n, success``.
    height : int
        Height in pixels.
    """
    attacks = list(dict.fromkeys(df["attack"]))
    titles = [
        a.removesuffix("_wave").upper() if a != "imperceptible" else _("imperceptible") for a in attacks
    ]
    fig = make_subplots(rows=1, cols=max(len(attacks), 1), subplot_titles=titles, shared_yaxes=True)
    order = df.sort_values("snr_lo", ascending=False)["snr_bin"].drop_duplicates().tolist()
    for i, attack in enumerate(attacks):
        part = df[df["attack"] == attack]
        for emo in ("all", *EMOTIONS):
            line = part[part["emotion"] == emo].sort_values("snr_lo", ascending=False)
            if line.empty:
                continue
            name = _("all emotions") if emo == "all" else emotion_name(emo)
            color = "#111827" if emo == "all" else EMOTION_COLORS[emo]
            fig.add_trace(
                go.Scatter(
                    x=line["snr_bin"], y=(100 * line["success"]).round(1), mode="lines+markers", name=name,
                    line=dict(color=color, width=4 if emo == "all" else 1.8), legendgroup=emo, showlegend=i == 0,
                    customdata=line["n"],
                    hovertemplate=f"%{{x}}: %{{y:.0f}} % (n = %{{customdata}})<extra>{name}</extra>",
                ),
                row=1, col=i + 1,
            )  # fmt: skip
    fig.update_xaxes(categoryorder="array", categoryarray=order, title_text=_("SNR of the perturbation"))
    fig.update_yaxes(range=[0, 101])
    fig.update_yaxes(title_text=_("success rate (%)"), col=1)
    fig.update_layout(height=height, margin=dict(l=60, r=20, t=40, b=50), legend=dict(font=dict(size=11)))
    return fig
