"""Figures of one prediction: probabilities, their timeline, the waveform, the log-mel."""

from __future__ import annotations

import librosa
import numpy as np
import plotly.graph_objects as go

from ser_core import features
from ser_core.config import DEFAULT_CONFIG, EMOTIONS
from ser_core.figures.style import EMOTION_COLORS


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
            y=list(EMOTIONS),
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
            text=f"unsure below {100 * unsure_below:.0f} %",
            showarrow=False,
            font=dict(size=11, color="#6b7280"),
        )
    fig.update_layout(
        height=height,
        xaxis=dict(range=[0, 108], title="probability (%)"),
        yaxis=dict(autorange="reversed"),
        bargap=0.25,
        margin=dict(l=80, r=30, t=30, b=45),
    )
    return fig


def timeline_figure(
    probs: np.ndarray, *, times: np.ndarray, x_title: str = "time (s)", height: int = 320
) -> go.Figure:
    """The six probabilities over time, one line per emotion in its colour.

    Parameters
    ----------
    probs : np.ndarray, shape (n, 6)
        Probabilities per time point (drawn in per cent).
    times : np.ndarray, shape (n,)
        Time of each row of ``probs`` (s).
    x_title : str
        Title of the time axis.
    height : int
        Height in pixels.
    """
    probs = np.asarray(probs, dtype=float).reshape(-1, len(EMOTIONS))
    fig = go.Figure(
        [
            go.Scatter(
                x=np.round(times, 3).tolist(),
                y=(100 * probs[:, k]).round(2).tolist(),
                mode="lines+markers" if len(times) < 40 else "lines",
                name=e,
                line=dict(color=EMOTION_COLORS[e], width=2),
                marker=dict(size=5),
                hovertemplate=f"{e}<br>%{{x:.1f}} s: %{{y:.0f}} %<extra></extra>",
            )
            for k, e in enumerate(EMOTIONS)
        ]
    )
    fig.update_layout(
        height=height,
        xaxis_title=x_title,
        yaxis=dict(range=[0, 100], title="probability (%)"),
        margin=dict(l=60, r=20, t=20, b=50),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
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
        height=height, xaxis_title="time (s)", yaxis_title="amplitude", margin=dict(l=60, r=20, t=10, b=45)
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
            hovertemplate="%{x:.2f} s<br>mel band %{y}<br>%{z:.1f} dB<extra></extra>",
        )
    )
    fig.update_layout(
        height=height, xaxis_title="time (s)", yaxis_title="mel band", margin=dict(l=60, r=20, t=10, b=45)
    )
    return fig
