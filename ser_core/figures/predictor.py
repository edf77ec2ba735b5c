"""Figures of one prediction: probabilities, their timeline, the waveform, the log-mel."""

from __future__ import annotations

import librosa
import numpy as np
import plotly.graph_objects as go

from ser_core import features
from ser_core.config import DEFAULT_CONFIG, EMOTIONS
from ser_core.figures.style import EMOTION_COLORS
from ser_core.i18n import _, emotion_name, emotion_names, ngettext


def probability_figure(
    probs: np.ndarray, *, unsure_below: float | None = None, height: int = 300
) -> go.Figure:
    """The six calibrated probabilities as horizontal bars in the emotion colours.

    Parameters
    ----------
    probs : np.ndarray, shape (6,)
        Probabilities in :data:`~ser_core.config.EMOTIONS` order (drawn in per cent).
    unsure_below : float, optional
        The model's "unsure" threshold, marked by a dotted line.
    height : int
        Height in pixels.
    """
    pct = 100 * np.asarray(probs, dtype=float)
    fig = go.Figure(
        go.Bar(
            y=emotion_names(),
            x=pct.round(2).tolist(),
            orientation="h",
            marker_color=[EMOTION_COLORS[e] for e in EMOTIONS],
            text=[f"{p:.0f} %" for p in pct],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.1f} %<extra></extra>",
        )
    )
    if unsure_below is not None:
        fig.add_vline(x=100 * unsure_below, line=dict(color="#6b7280", width=1, dash="dot"))
        fig.add_annotation(
            x=100 * unsure_below,
            y=1.0,
            yref="paper",
            yanchor="bottom",
            text=_("unsure below {pct} %").format(pct=f"{100 * unsure_below:.0f}"),
            showarrow=False,
            font=dict(size=11, color="#6b7280"),
        )
    fig.update_layout(
        height=height,
        xaxis=dict(range=[0, 108], title=_("probability (%)")),
        yaxis=dict(autorange="reversed"),
        bargap=0.25,
        margin=dict(l=80, r=30, t=30, b=45),
    )
    return fig


#: From this many time points on, :func:`timeline_figure` smooths its lines and adds a strip
#: of each window's most likely emotion (fewer points are drawn as they are).
LONG_TIMELINE = 30


def smoothing_width(n: int) -> int:
    """Time points averaged by :func:`timeline_figure` for a timeline of ``n`` points: 1 (none)
    below :data:`LONG_TIMELINE`, else an odd number near ``n / 30`` (at least 5)."""
    return 1 if n < LONG_TIMELINE else max(5, round(n / 30)) | 1


def timeline_note(n: int) -> str:
    """How :func:`timeline_figure` draws ``n`` time points, in one sentence for its caption
    ("" for a short timeline, drawn as it is)."""
    width = smoothing_width(n)
    if width == 1:
        return ""
    return _(
        "The strip on top shows each window's own most likely emotion (pale where the model "
        "is unsure); below it, the probabilities averaged over {width} neighbouring windows, "
        "stacked to 100 %."
    ).format(width=width)


def smooth(probs: np.ndarray, *, width: int) -> np.ndarray:
    """Centred moving average over ``width`` time points (fewer at both ends).

    Parameters
    ----------
    probs : np.ndarray, shape (n, k)
        Probabilities per time point.
    width : int
        Points averaged (1: unchanged).

    Returns
    -------
    np.ndarray, shape (n, k), float
        Rows still sum to what they summed to.
    """
    probs = np.asarray(probs, dtype=float)
    if width <= 1 or len(probs) < 2:
        return probs
    csum = np.vstack([np.zeros((1, probs.shape[1])), np.cumsum(probs, axis=0)])
    i = np.arange(len(probs))
    lo, hi = np.maximum(i - width // 2, 0), np.minimum(i + width // 2 + 1, len(probs))
    return (csum[hi] - csum[lo]) / (hi - lo)[:, None]


def _runs(labels: np.ndarray, unsure: np.ndarray) -> list[tuple[int, int]]:
    """``[(first, last)]`` index ranges of consecutive points with the same label and
    unsure flag."""
    cut = np.flatnonzero((labels[1:] != labels[:-1]) | (unsure[1:] != unsure[:-1])) + 1
    edges = [0, *cut.tolist(), len(labels)]
    return [(a, b - 1) for a, b in zip(edges[:-1], edges[1:])]


def _dominant_band(probs: np.ndarray, times: np.ndarray, unsure_below: float | None) -> go.Bar:
    """A strip of each point's most likely emotion (pale where below ``unsure_below``), one bar
    per run of equal points, on the second y axis."""
    labels = probs.argmax(axis=1)
    conf = probs.max(axis=1)
    unsure = conf < unsure_below if unsure_below is not None else np.zeros(len(labels), bool)
    step = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    # each point reaches halfway to its neighbours: no gaps where points came irregularly (live)
    edges = np.concatenate([[times[0] - step / 2], (times[1:] + times[:-1]) / 2, [times[-1] + step / 2]])
    runs = _runs(labels, unsure)
    lo = np.array([edges[a] for a, _b in runs])
    hi = np.array([edges[b + 1] for _a, b in runs])
    names = [EMOTIONS[labels[a]] for a, _b in runs]
    unsure_word, most_likely = _("unsure: "), _("most likely")
    return go.Bar(
        x=((lo + hi) / 2).round(3).tolist(),
        y=[1.0] * len(runs),
        width=(hi - lo).round(3).tolist(),
        yaxis="y2",
        marker=dict(
            color=[EMOTION_COLORS[e] for e in names],
            opacity=[0.35 if unsure[a] else 1.0 for a, _b in runs],
            line=dict(width=0),
        ),
        customdata=[
            [emotion_name(e), unsure_word if unsure[a] else "", f"{max(x0, 0):.0f}–{x1:.0f} s"]
            for e, (a, _b), x0, x1 in zip(names, runs, lo, hi)
        ],
        hovertemplate=f"%{{customdata[2]}}: %{{customdata[1]}}%{{customdata[0]}}<extra>{most_likely}</extra>",
        name=most_likely,
        showlegend=False,
    )


def _smoothed(width: int) -> str:
    return ngettext("mean of {n} point", "mean of {n} points", width).format(n=width) if width > 1 else ""


def timeline_figure(
    probs: np.ndarray,
    *,
    times: np.ndarray,
    x_title: str | None = None,
    height: int = 320,
    unsure_below: float | None = None,
    x_range: tuple[float, float] | None = None,
) -> go.Figure:
    """The six probabilities over time, one line per emotion in its colour.

    Short timelines (under :data:`LONG_TIMELINE` points) are lines, drawn as they are.
    Longer ones (a 3-minute upload has 178 windows) would tangle: they are smoothed over
    :func:`smoothing_width` points and stacked to 100 % (areas never cross), and a strip
    above them shows each point's own most likely emotion (pale where the model is
    unsure), so the dominant emotion reads at a glance.

    Parameters
    ----------
    probs : np.ndarray, shape (n, 6)
        Probabilities per time point (drawn in per cent).
    times : np.ndarray, shape (n,)
        Time of each row of ``probs`` (s).
    x_title : str, optional
        Title of the time axis (default: "time (s)", in the language of this run).
    height : int
        Height in pixels.
    unsure_below : float, optional
        The model's "unsure" threshold: the strip is pale where the top probability is lower.
    x_range : (float, float), optional
        The time axis' range (e.g. ``(0, duration)``, to line up with the waveform's).
    """
    probs = np.asarray(probs, dtype=float).reshape(-1, len(EMOTIONS))
    times = np.asarray(times, dtype=float)
    width = smoothing_width(len(times))
    shown = smooth(probs, width=width)
    long = width > 1
    fig = go.Figure(
        [
            go.Scatter(
                x=np.round(times, 3).tolist(),
                y=(100 * shown[:, k]).round(2).tolist(),
                mode="lines" if long else "lines+markers",
                name=name,
                line=dict(color=EMOTION_COLORS[e], width=0.5 if long else 2),
                marker=dict(size=5),
                stackgroup="probs" if long else None,
                hovertemplate=f"{name}<br>%{{x:.1f}} s: %{{y:.0f}} %<extra>{_smoothed(width)}</extra>",
            )
            for k, (e, name) in enumerate(zip(EMOTIONS, emotion_names()))
        ]
    )
    fig.update_layout(
        height=height,
        xaxis=dict(title=x_title or _("time (s)"), range=list(x_range) if x_range is not None else None),
        yaxis=dict(range=[0, 100], title=_("probability (%)")),
        margin=dict(l=60, r=20, t=20, b=50),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
    )
    if long:
        fig.add_trace(_dominant_band(probs, times, unsure_below))
        fig.update_layout(
            height=height + 40,
            bargap=0,
            legend=dict(traceorder="normal"),  # stacked areas would list bottom-up
            yaxis=dict(domain=[0, 0.84]),
            yaxis2=dict(
                domain=[0.88, 1.0], range=[0, 1], tickvals=[0.5], ticktext=[_("most likely")], fixedrange=True
            ),
            margin=dict(l=90),
        )
    return fig


def waveform_figure(y: np.ndarray, *, sr: int, points: int = 3000, height: int = 180) -> go.Figure:
    """The waveform (a min/max envelope for long audio).

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono audio.
    sr : int
        Its sample rate (Hz).
    points : int
        Audio longer than ``2 * points`` samples is drawn as the minimum and maximum
        of about ``points`` blocks.
    height : int
        Height in pixels.
    """
    n = len(y)
    if n > 2 * points:
        step = int(np.ceil(n / points))
        m = y[: n // step * step].reshape(-1, step)
        t = np.repeat(np.arange(m.shape[0]) * step / sr, 2)
        v = np.column_stack([m.min(1), m.max(1)]).ravel()
    else:
        t, v = np.arange(n) / sr, y
    fig = go.Figure(
        go.Scattergl(x=t, y=v, mode="lines", line=dict(color="#4f46e5", width=1), hoverinfo="skip")
    )
    fig.update_layout(
        height=height,
        xaxis_title=_("time (s)"),
        yaxis_title=_("amplitude"),
        margin=dict(l=60, r=20, t=10, b=45),
    )
    return fig


def display_mel(y: np.ndarray, *, sr: int) -> tuple[np.ndarray, float]:
    """The log-mel spectrogram to show for a whole clip.

    Clips up to 3 s get the model's own log-mel (padded to 3 s, exactly as the model
    sees them); longer clips a coarser hop, so that about 1500 frames cover them.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono audio.
    sr : int
        Its sample rate (Hz).

    Returns
    -------
    mel : np.ndarray, shape (n_mels, frames)
        Log-mel spectrogram (dB).
    hop_seconds : float
        Seconds between frames.
    """
    n_samples = DEFAULT_CONFIG.n_samples
    if len(y) <= n_samples:  # what the model sees: padded to 3 s
        return features.compute(y, "mel")[0], DEFAULT_CONFIG.hop_length / sr
    hop = max(DEFAULT_CONFIG.hop_length, int(np.ceil(len(y) / 1500)))
    n_fft = max(DEFAULT_CONFIG.n_fft, 1 << int(np.ceil(np.log2(hop))))
    mel = librosa.feature.melspectrogram(
        y=y, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=DEFAULT_CONFIG.n_mels
    )
    return librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=DEFAULT_CONFIG.top_db), hop / sr


def mel_figure(mel: np.ndarray, *, hop_seconds: float, height: int = 260) -> go.Figure:
    """A log-mel spectrogram (dB) as a heatmap over time (s).

    Parameters
    ----------
    mel : np.ndarray, shape (n_mels, frames)
        Log-mel spectrogram (dB), e.g. from :func:`display_mel`.
    hop_seconds : float
        Seconds between frames.
    height : int
        Height in pixels.
    """
    fig = go.Figure(
        go.Heatmap(
            z=mel,
            x=np.arange(mel.shape[1]) * hop_seconds,
            y=np.arange(mel.shape[0]),
            colorscale="Viridis",
            colorbar=dict(title=dict(text="dB")),
            hovertemplate="%{x:.2f} s<br>"
            + _("mel band {band}").format(band="%{y}")
            + "<br>%{z:.1f} dB<extra></extra>",
        )
    )
    fig.update_layout(
        height=height,
        xaxis_title=_("time (s)"),
        yaxis_title=_("mel band"),
        margin=dict(l=60, r=20, t=10, b=45),
    )
    return fig
