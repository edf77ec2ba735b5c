"""Figure of the imperceptible attack: the perturbation's PSD against the masking threshold."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ser_core.i18n import _

__all__ = ["masking_figure"]


def masking_figure(
    theta: np.ndarray,
    psd_delta: np.ndarray,
    *,
    sr: int = 16000,
    hop_length: int = 256,
    frame: int | None = None,
    height: int = 620,
) -> go.Figure:
    """The perturbation's excess over the threshold in time and frequency, and one frame.

    Parameters
    ----------
    theta, psd_delta : np.ndarray, shape (frames, bins)
        The clip's masking threshold and the perturbation's PSD, dB
        (:class:`ser_core.attacks.ImperceptibleResult`).
    sr, hop_length : int
        Sample rate and hop of the analysis (for the axes).
    frame : int, optional
        The frame drawn below; default the one where the perturbation comes closest to
        (or goes furthest above) the threshold.
    height : int
        Height in pixels.

    Returns
    -------
    go.Figure
        Row 1: ``psd_delta - theta`` (dB; diverging scale, 0 = at the threshold) over
        time and frequency.  Row 2: the threshold and the perturbation's PSD of ``frame``.
    """
    excess = np.asarray(psd_delta, np.float64) - np.asarray(theta, np.float64)
    n_frames, n_bins = excess.shape
    t = np.arange(n_frames) * hop_length / sr
    f = np.linspace(0.0, sr / 2, n_bins)
    k = int(np.argmax(excess.max(axis=1))) if frame is None else int(frame)
    lim = float(max(np.abs(excess).max(), 1.0))
    fig = make_subplots(
        rows=2,
        cols=1,
        vertical_spacing=0.2,
        row_heights=[0.55, 0.45],
        subplot_titles=[
            _("Perturbation minus masking threshold (dB; blue: masked, red: above)"),
            _("Frame at {time} s: the threshold and the perturbation").format(time=f"{t[k]:.2f}"),
        ],
    )
    fig.add_trace(
        go.Heatmap(
            z=np.round(excess.T, 1),
            x=t,
            y=f,
            zmin=-lim,
            zmax=lim,
            colorscale="RdBu_r",
            colorbar={"title": {"text": "dB"}, "len": 0.5, "y": 0.78},
            hovertemplate="%{x:.2f} s<br>%{y:.0f} Hz<br>%{z:.1f} dB<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_vline(x=float(t[k]), line={"color": "#111827", "dash": "dot"}, row=1, col=1)
    for z, name, color in (
        (theta[k], _("masking threshold"), "#2563eb"),
        (psd_delta[k], _("perturbation"), "#dc2626"),
    ):
        fig.add_trace(
            go.Scatter(x=f, y=np.round(z, 2), name=name, mode="lines", line={"color": color}),
            row=2,
            col=1,
        )
    fig.update_xaxes(title_text=_("time (s)"), row=1, col=1)
    fig.update_yaxes(title_text=_("frequency (Hz)"), row=1, col=1)
    fig.update_xaxes(title_text=_("frequency (Hz)"), row=2, col=1)
    fig.update_yaxes(title_text=_("level (dB, 96 dB = the clip's loudest bin)"), row=2, col=1)
    fig.update_layout(height=height, margin={"t": 40, "b": 10}, legend={"orientation": "h", "y": -0.12})
    return fig
