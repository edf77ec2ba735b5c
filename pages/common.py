"""Shared helpers of the Streamlit pages: cached loaders, session keys, errors, plots.

Pages import this module as ``from pages import common`` and stay thin (layout
and calls); everything reusable lives here or in :mod:`ser_core`.  Nothing in
here imports a page.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from ser_core import audio, data, eda, features
from ser_core.config import DEFAULT_CONFIG, EMOTIONS, artifacts_dir
from ser_core.errors import SERError

# --------------------------------------------------------------------- session-state keys
#: Prefix of every widget key of the dataset page.
DATASET = "dataset"
KEY_SOURCE = f"{DATASET}.source"
KEY_EMOTION = f"{DATASET}.emotion"
KEY_SPEAKER = f"{DATASET}.speaker"
KEY_SENTENCE = f"{DATASET}.sentence"
KEY_UPLOAD = f"{DATASET}.upload"
KEY_SINGLE_REP = f"{DATASET}.single_rep"
KEY_MEANS_REP = f"{DATASET}.means_rep"
KEY_MEANS_DIFF = f"{DATASET}.means_diff"
KEY_DESCRIPTOR = f"{DATASET}.descriptor"
KEY_DESCRIPTOR_KIND = f"{DATASET}.descriptor_kind"
KEY_DESCRIPTOR_GENDER = f"{DATASET}.descriptor_gender"
KEY_PROJ_REP = f"{DATASET}.proj_rep"
KEY_PROJ_METHOD = f"{DATASET}.proj_method"
KEY_PROJ_COLOR = f"{DATASET}.proj_color"
#: The clip last shown in the explorer, ``{"label": str, "file_id": str | None}``
#: (later pages can offer it as their default input).
CURRENT_CLIP = "clip.current"

SOURCE_CORPUS = "Corpus clip"
SOURCE_UPLOAD = "Upload a file"
UPLOAD_TYPES = ["wav", "flac", "ogg", "opus", "mp3", "m4a", "webm"]
SUMMARY_HINT = (
    "Corpus summaries are not built yet: `python -m ser_core eda-summary` writes them to "
    "`artifacts/eda/` (needs the corpus; roughly a quarter of an hour on two CPU cores); "
    "this section appears once they exist."
)

#: Fixed colour of each emotion on every plot.
EMOTION_COLORS: dict[str, str] = dict(
    zip(EMOTIONS, ["#d62728", "#8c56b8", "#f2a104", "#7f7f7f", "#1f77b4", "#2ca02c"])
)
#: Colour of each gender where plots are split by it.
GENDER_COLORS: dict[str, str] = {"female": "#e7298a", "male": "#1b9e77"}
#: What the values of each representation are, for colour bars.
#: Representations whose bins are standardised over time before the per-row scaling of
#: the overview (in MFCC and delta-MFCC coefficient 0 dwarfs the others, which would
#: otherwise all get one colour).
DISPLAY_PER_BIN = {"mfcc", "delta_mfcc"}
SUMMARY_FILES = {
    "clips": "clips.csv", "means": "emotion_means.npz", "projections": "projections.npz",
}


# --------------------------------------------------------------------- navigation
def ensure_navigation() -> None:
    """Make sure the page runs inside ``app.py``'s ``st.navigation``; call it first.

    Streamlit (1.4x-1.6x) treats a ``pages/`` folder next to the entry point as
    an old-style (MPA v1) pages directory until ``st.navigation`` has run once
    in the server process.  A deep link (``/dataset``) as the very first request
    of a fresh server would then run the page script alone: no page config, a
    sidebar listing every module.  Here the flag is cleared and the run
    restarted through ``app.py``; the page's url_path keys the same page there.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - internal module moved
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()


# --------------------------------------------------------------------- errors
def show_error(err: BaseException) -> None:
    """Show a :class:`SERError` as a red box with its human-readable message."""
    st.error(str(err), icon=":material/error:")


@contextlib.contextmanager
def report_errors() -> Iterator[None]:
    """Run a block; a :class:`SERError` raised in it is shown with :func:`show_error`.

    The rest of the block is skipped, the rest of the page still runs.
    """
    try:
        yield
    except SERError as err:
        show_error(err)


# --------------------------------------------------------------------- corpus and summaries
def corpus_dir() -> Path | None:
    """The corpus folder, or None when it is absent (cheap: a few ``stat`` calls)."""
    try:
        return data.find_corpus()
    except SERError:
        return None


@st.cache_data(show_spinner="Reading the corpus metadata…")
def _metadata(root: str) -> pd.DataFrame:
    return data.load_metadata(root)


def metadata() -> pd.DataFrame | None:
    """Corpus metadata (:func:`ser_core.data.load_metadata`), or None without corpus.

    Cached per corpus folder, so pointing ``NEMO_DIR`` elsewhere takes effect.
    """
    root = corpus_dir()
    return None if root is None else _metadata(str(root))


def how_to_get_corpus() -> None:
    """An info box saying how to get the corpus."""
    st.info(f"No nEMO corpus found. {data.HOW_TO_GET}", icon=":material/info:")


def summary_stamp(kind: str) -> tuple[str, float] | None:
    """``(path, mtime)`` of a summary file (``"clips"``, ``"means"``, ``"projections"``).

    None when the file does not exist.  The mtime keys the caches, so summaries
    rebuilt while the app runs are picked up.
    """
    p = eda.eda_dir() / SUMMARY_FILES[kind]
    try:
        return str(p), p.stat().st_mtime
    except OSError:
        return None


def summaries_info() -> None:
    """An info box saying how to build the corpus summaries."""
    st.info(SUMMARY_HINT, icon=":material/info:")


@st.cache_data(show_spinner=False)
def _clips(path: str, mtime: float) -> pd.DataFrame:
    return eda.load_clips(Path(path).parent)


def clips_table() -> pd.DataFrame | None:
    """The per-clip summary table (:func:`ser_core.eda.load_clips`), or None when not built."""
    stamp = summary_stamp("clips")
    return None if stamp is None else _clips(*stamp)


def overview_table() -> tuple[pd.DataFrame | None, bool]:
    """Clips for the corpus overview: the summary table, else the corpus metadata.

    Returns
    -------
    table : DataFrame or None
        One row per clip with at least ``file_id, emotion, speaker, gender, age,
        sentence_id``; None when neither summaries nor corpus exist.
    has_descriptors : bool
        Whether the descriptor columns (duration, pitch, ...) are present.
    """
    clips = clips_table()
    if clips is not None:
        return clips, True
    meta = metadata()
    return meta, False


@st.cache_data(show_spinner=False, max_entries=32)
def _emotion_means(name: str, path: str, mtime: float) -> np.ndarray:
    return eda.load_emotion_means(name, Path(path).parent)


def emotion_means(name: str) -> np.ndarray | None:
    """Per-emotion average of a representation, ``(6, channels, bins, frames)``, or None."""
    stamp = summary_stamp("means")
    return None if stamp is None else _emotion_means(name, *stamp)


@st.cache_data(show_spinner=False, max_entries=32)
def _projections(name: str, path: str, mtime: float) -> dict[str, np.ndarray]:
    return eda.load_projections(name, Path(path).parent)


def projections(name: str) -> dict[str, np.ndarray] | None:
    """``{"pca", "tsne", "pca_var"}`` arrays of a representation, or None when not built."""
    stamp = summary_stamp("projections")
    return None if stamp is None else _projections(name, *stamp)


def model_files() -> list[str]:
    """Names of the trained models shipped under ``artifacts/models/`` (``*.safetensors``)."""
    d = artifacts_dir() / "models"
    return sorted(p.name for p in d.glob("*.safetensors")) if d.is_dir() else []


# --------------------------------------------------------------------- models
# Trained models are loaded with ``@st.cache_resource`` (one shared instance per
# process, never copied), added here together with the predictor page.


# --------------------------------------------------------------------- audio
@st.cache_data(show_spinner=False, max_entries=64)
def clip_waveform(path: str) -> np.ndarray:
    """Waveform of an audio file on disk at 16 kHz (cached per path)."""
    return audio.load_audio(path, sr=DEFAULT_CONFIG.sr)


@st.cache_data(show_spinner=False, max_entries=16)
def _decode_upload(blob: bytes, name: str) -> np.ndarray:
    return audio.load_audio(blob, name=name, sr=DEFAULT_CONFIG.sr)


def waveform_from_upload(uploaded) -> np.ndarray:
    """Decode a ``st.file_uploader`` file into a mono 16 kHz float32 waveform.

    Raises
    ------
    SERError
        When the file is empty, not audio, too short or too long.
    """
    return _decode_upload(uploaded.getvalue(), uploaded.name)


@st.cache_data(show_spinner=False, max_entries=32)
def wav_bytes(y: np.ndarray) -> bytes:
    """WAV encoding of a 16 kHz waveform for ``st.audio``."""
    return audio.encode_wav(y, sr=DEFAULT_CONFIG.sr)


@st.cache_data(show_spinner="Computing the 13 representations…", max_entries=32)
def representations(y: np.ndarray) -> dict[str, np.ndarray]:
    """All 13 representations of a waveform (its centre 3 s), cached by content."""
    return features.compute_all(y)


def clip_options(meta: pd.DataFrame, emotion: str, speaker: str) -> pd.DataFrame:
    """Rows of ``meta`` for one emotion and speaker, sorted by sentence."""
    sel = meta[(meta["emotion"] == emotion) & (meta["speaker"] == speaker)]
    return sel.sort_values("sentence_id")


def speaker_label(meta: pd.DataFrame, speaker: str) -> str:
    """``"EB0 (female, 27)"`` for a speaker id."""
    row = meta.loc[meta["speaker"] == speaker].iloc[0]
    return f"{speaker} ({row['gender']}, {row['age']})"


def random_clip(meta: pd.DataFrame) -> None:
    """Button callback: point the clip pickers at a random corpus clip."""
    row = meta.sample(1).iloc[0]
    st.session_state[KEY_EMOTION] = row["emotion"]
    st.session_state[KEY_SPEAKER] = row["speaker"]
    st.session_state[KEY_SENTENCE] = int(row["sentence_id"])


# --------------------------------------------------------------------- plots
def frame_times(n_frames: int) -> np.ndarray:
    """Time (s) of each feature frame: ``index * hop_length / sr``."""
    return np.arange(n_frames) * DEFAULT_CONFIG.hop_length / DEFAULT_CONFIG.sr


def stack_channels(x: np.ndarray) -> np.ndarray:
    """``(channels, bins, frames)`` -> ``(channels * bins, frames)``, channel 0 lowest."""
    return x.reshape(-1, x.shape[-1])


def standardise_bins(z: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance along time for every bin (rows of ``z``)."""
    sd = z.std(axis=-1, keepdims=True)
    return (z - z.mean(axis=-1, keepdims=True)) / np.where(sd > 0, sd, 1.0)


def minmax(z: np.ndarray) -> np.ndarray:
    """Scale to 0..1 (a constant array becomes zeros), float32."""
    lo, hi = float(np.min(z)), float(np.max(z))
    return ((z - lo) / (hi - lo) if hi > lo else np.zeros_like(z)).astype(np.float32)


def is_curve(x: np.ndarray) -> bool:
    """True for one-channel one-bin representations (zcr, rms): drawn as lines."""
    return x.shape[0] * x.shape[1] == 1


def row_title(name: str) -> str:
    """Subplot title of a representation (HPSS says how its channels are stacked)."""
    rep = features.get(name)
    if name in DISPLAY_PER_BIN:
        return f"{rep.title} (each {rep.y_label} standardised over time)"
    if len(rep.channels) > 1:
        low, high = rep.channels[0], rep.channels[-1]
        return f"{rep.title}: {low} in the lower half, {high} in the upper half (stacked bins)"
    return rep.title


def _hpss_separator(fig: go.Figure, bins: int, row: int | None = None) -> None:
    kw = {"row": row, "col": 1} if row is not None else {}
    fig.add_hline(y=bins - 0.5, line=dict(color="white", width=1.5, dash="dot"), **kw)


def representations_figure(reps: Mapping[str, np.ndarray], *, row_px: int = 150) -> go.Figure:
    """All representations of one clip, one row each, sharing the time axis.

    Heatmaps are min-max scaled per row to 0..1 so that one colour scale serves
    all rows; 1-bin representations (zcr, rms) are lines in their own units.
    """
    names = list(reps)
    n = len(names)
    fig = make_subplots(
        rows=n, cols=1, shared_xaxes=True, vertical_spacing=0.32 / n,
        subplot_titles=[row_title(k) for k in names],
    )
    for i, name in enumerate(names, start=1):
        rep, x = features.get(name), reps[name]
        t = frame_times(x.shape[-1])
        if is_curve(x):
            fig.add_trace(go.Scatter(
                x=t, y=x[0, 0], mode="lines", line=dict(width=1.6, color="#4f46e5"),
                name=rep.title, showlegend=False,
                hovertemplate=f"%{{x:.2f}} s<br>{rep.y_label} %{{y:.4f}}<extra></extra>",
            ), row=i, col=1)
        else:
            z = stack_channels(x)
            z = minmax(standardise_bins(z) if name in DISPLAY_PER_BIN else z)
            fig.add_trace(go.Heatmap(
                z=z, x=t, y=np.arange(z.shape[0]), coloraxis="coloraxis", name=rep.title,
                hovertemplate=(f"%{{x:.2f}} s<br>{rep.y_label} %{{y}}<br>scaled %{{z:.2f}}"
                               f"<extra>{rep.title}</extra>"),
            ), row=i, col=1)
            if len(rep.channels) > 1:
                _hpss_separator(fig, x.shape[1], row=i)
        fig.update_yaxes(title_text=rep.y_label, title_font_size=10, tickfont_size=9,
                         row=i, col=1)
    fig.update_xaxes(title_text="time (s)", row=n, col=1)
    fig.update_xaxes(showticklabels=True, tickfont_size=9, ticksuffix=" s")
    fig.update_annotations(font=dict(size=13, color="#1f2937"), xanchor="left", x=0)
    fig.update_layout(
        height=row_px * n + 90, margin=dict(l=70, r=20, t=40, b=50),
        coloraxis=dict(colorscale="Viridis", cmin=0, cmax=1, showscale=False),
    )
    return fig


def representation_figure(x: np.ndarray, name: str, *, height: int = 460) -> go.Figure:
    """One representation large, in its real units with a colour bar."""
    rep = features.get(name)
    t = frame_times(x.shape[-1])
    unit = rep.unit
    if is_curve(x):
        fig = go.Figure(go.Scatter(x=t, y=x[0, 0], mode="lines", line=dict(color="#4f46e5")))
        fig.update_layout(yaxis_title=f"{rep.y_label} ({unit})", xaxis_title="time (s)")
    else:
        ch = x.shape[0]
        fig = make_subplots(rows=ch, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                            subplot_titles=list(rep.channels) if ch > 1 else None)
        for c in range(ch):
            fig.add_trace(go.Heatmap(
                z=x[c], x=t, y=np.arange(x.shape[1]), coloraxis="coloraxis",
                hovertemplate=(f"%{{x:.2f}} s<br>{rep.y_label} %{{y}}<br>%{{z:.3f}} {unit}"
                               "<extra></extra>"),
            ), row=c + 1, col=1)
            fig.update_yaxes(title_text=rep.y_label, row=c + 1, col=1)
        height = height * (1 + 0.6 * (ch - 1))
        fig.update_layout(coloraxis=dict(colorscale="Viridis",
                                         colorbar=dict(title=dict(text=unit))))
        fig.update_xaxes(title_text="time (s)", row=ch, col=1)
    fig.update_layout(title=dict(text=rep.title), height=int(height),
                      margin=dict(l=70, r=20, t=60, b=50))
    return fig


def emotion_means_figure(means: np.ndarray, name: str, *, difference: bool = False) -> go.Figure:
    """The per-emotion averages of a representation (2x3 heatmaps, one colour scale).

    Parameters
    ----------
    means : np.ndarray, shape (6, channels, bins, frames)
    difference : bool
        Show each emotion minus the mean over the six emotions (diverging scale).
    """
    rep = features.get(name)
    unit = rep.unit
    m = means - means.mean(axis=0, keepdims=True) if difference else means
    t = frame_times(m.shape[-1])
    if is_curve(m[0]):
        fig = go.Figure([
            go.Scatter(x=t, y=m[k, 0, 0], mode="lines", name=e, line=dict(color=EMOTION_COLORS[e]))
            for k, e in enumerate(EMOTIONS)
        ])
        ylab = f"{'Δ ' if difference else ''}{rep.y_label} ({unit})"
        fig.update_layout(height=420, xaxis_title="time (s)", yaxis_title=ylab,
                          margin=dict(l=70, r=20, t=30, b=50))
        return fig
    fig = make_subplots(rows=2, cols=3, shared_xaxes=True, shared_yaxes=True,
                        subplot_titles=list(EMOTIONS), horizontal_spacing=0.03,
                        vertical_spacing=0.12)
    for k, e in enumerate(EMOTIONS):
        z = stack_channels(m[k])
        fig.add_trace(go.Heatmap(
            z=z, x=t, y=np.arange(z.shape[0]), coloraxis="coloraxis", name=e,
            hovertemplate=(f"{e}<br>%{{x:.2f}} s<br>{rep.y_label} %{{y}}<br>%{{z:.3f}} {unit}"
                           "<extra></extra>"),
        ), row=k // 3 + 1, col=k % 3 + 1)
        if len(rep.channels) > 1:
            fig.add_hline(y=m.shape[2] - 0.5, line=dict(color="white", width=1, dash="dot"),
                          row=k // 3 + 1, col=k % 3 + 1)
    if difference:
        lim = float(np.percentile(np.abs(m), 99.5)) or 1.0
        axis = dict(colorscale="RdBu_r", cmid=0, cmin=-lim, cmax=lim)
    else:
        axis = dict(colorscale="Viridis", cmin=float(m.min()), cmax=float(m.max()))
    axis["colorbar"] = dict(title=dict(text=f"{'Δ ' if difference else ''}{unit}"))
    fig.update_layout(coloraxis=axis, height=560, margin=dict(l=70, r=20, t=40, b=50))
    fig.update_annotations(font=dict(size=14, color="#1f2937"))
    fig.update_xaxes(title_text="time (s)", row=2)
    fig.update_yaxes(title_text=rep.y_label, col=1)
    return fig


def descriptor_label(column: str) -> str:
    """``"Pitch (median F0, pyin) [Hz]"`` for a descriptor column."""
    label, unit = eda.DESCRIPTORS[column]
    return f"{label} [{unit}]"


def descriptor_figure(clips: pd.DataFrame, column: str, *, kind: str = "box",
                      by_gender: bool = False) -> go.Figure:
    """Distribution of a scalar descriptor per emotion (``kind`` "box" or "violin")."""
    plot = px.violin if kind == "violin" else px.box
    color = "gender" if by_gender else "emotion"
    kw = dict(box=True, points=False) if kind == "violin" else dict(points="outliers")
    fig = plot(
        clips, x="emotion", y=column, color=color, hover_data=["file_id", "speaker"],
        category_orders={"emotion": list(EMOTIONS), "gender": ["female", "male"]},
        color_discrete_map=GENDER_COLORS if by_gender else EMOTION_COLORS,
        labels={column: descriptor_label(column), "emotion": ""}, **kw,
    )
    fig.update_layout(height=460, showlegend=by_gender, margin=dict(l=70, r=20, t=30, b=40))
    return fig


def projection_figure(clips: pd.DataFrame, proj: Mapping[str, np.ndarray], *,
                      method: str = "pca", color: str = "emotion") -> go.Figure:
    """Scatter of the 2-D projection of every clip, coloured by emotion or speaker."""
    xy = proj[method]
    df = clips[["file_id", "emotion", "speaker"]].assign(x=xy[:, 0], y=xy[:, 1])
    if method == "pca":
        var = proj.get("pca_var", np.full(2, np.nan))
        axes = [f"PC{i + 1} ({100 * v:.1f} % of variance)" for i, v in enumerate(var)]
    else:
        axes = ["t-SNE 1", "t-SNE 2"]
    fig = px.scatter(
        df, x="x", y="y", color=color, hover_name="file_id",
        hover_data={"emotion": True, "speaker": True, "x": False, "y": False},
        category_orders={"emotion": list(EMOTIONS), "speaker": sorted(df["speaker"].unique())},
        color_discrete_map=EMOTION_COLORS if color == "emotion" else None,
        color_discrete_sequence=px.colors.qualitative.T10,  # nine clearly distinct speakers
        labels={"x": axes[0], "y": axes[1]}, render_mode="svg", opacity=0.7,
    )
    fig.update_traces(marker=dict(size=5))
    fig.update_layout(height=560, margin=dict(l=70, r=20, t=30, b=50), legend_title_text=color)
    return fig


def counts_heatmap(table: pd.DataFrame) -> go.Figure:
    """Clip counts by emotion (rows) and speaker (columns), with the numbers."""
    counts = pd.crosstab(table["emotion"], table["speaker"]).reindex(list(EMOTIONS), fill_value=0)
    fig = px.imshow(counts, text_auto=True, aspect="auto", color_continuous_scale="Blues",
                    zmin=0, labels=dict(x="speaker", y="emotion", color="clips"))
    fig.update_layout(height=330, margin=dict(l=70, r=20, t=20, b=40))
    return fig


def counts_bar(table: pd.DataFrame, column: str) -> go.Figure:
    """Clip counts by ``column`` (gender, age), stacked by emotion."""
    df = table.assign(**{column: table[column].astype(str)})
    fig = px.histogram(df, x=column, color="emotion", color_discrete_map=EMOTION_COLORS,
                       category_orders={"emotion": list(EMOTIONS)}, labels={column: column})
    fig.update_layout(height=330, yaxis_title="clips", bargap=0.25,
                      margin=dict(l=60, r=10, t=20, b=40))
    # numbers as categories: one bar per age, no gaps for the ages nobody has
    fig.update_xaxes(type="category", categoryorder="category ascending")
    return fig


def duration_figure(clips: pd.DataFrame) -> go.Figure:
    """Histograms of clip duration, one panel per emotion; a line marks the 3-s model input."""
    fig = px.histogram(clips, x="duration", color="emotion", facet_col="emotion",
                       facet_col_wrap=3, nbins=60, color_discrete_map=EMOTION_COLORS,
                       category_orders={"emotion": list(EMOTIONS)},
                       labels={"duration": "duration (s)"})
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    fig.add_vline(x=DEFAULT_CONFIG.duration, y1=0.85,  # below the panel titles
                  line=dict(color="#111827", width=1, dash="dash"))
    fig.update_layout(height=460, showlegend=False, margin=dict(l=60, r=10, t=30, b=40))
    fig.update_yaxes(title_text="clips", col=1)
    return fig
