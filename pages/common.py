"""Shared helpers of the Streamlit pages: cached loaders, session keys, errors, plots.

Pages import this module as ``from pages import common`` and stay thin (layout
and calls); everything reusable lives here or in :mod:`ser_core`.  Nothing in
here imports a page.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from ser_core import audio, data, eda, features
from ser_core import leaderboard as lb
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
    "clips": "clips.csv",
    "means": "emotion_means.npz",
    "projections": "projections.npz",
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
        rows=n,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.32 / n,
        subplot_titles=[row_title(k) for k in names],
    )
    for i, name in enumerate(names, start=1):
        rep, x = features.get(name), reps[name]
        t = frame_times(x.shape[-1])
        if is_curve(x):
            fig.add_trace(
                go.Scatter(
                    x=t,
                    y=x[0, 0],
                    mode="lines",
                    line=dict(width=1.6, color="#4f46e5"),
                    name=rep.title,
                    showlegend=False,
                    hovertemplate=f"%{{x:.2f}} s<br>{rep.y_label} %{{y:.4f}}<extra></extra>",
                ),
                row=i,
                col=1,
            )
        else:
            z = stack_channels(x)
            z = minmax(standardise_bins(z) if name in DISPLAY_PER_BIN else z)
            fig.add_trace(
                go.Heatmap(
                    z=z,
                    x=t,
                    y=np.arange(z.shape[0]),
                    coloraxis="coloraxis",
                    name=rep.title,
                    hovertemplate=(
                        f"%{{x:.2f}} s<br>{rep.y_label} %{{y}}<br>scaled %{{z:.2f}}<extra>{rep.title}</extra>"
                    ),
                ),
                row=i,
                col=1,
            )
            if len(rep.channels) > 1:
                _hpss_separator(fig, x.shape[1], row=i)
        fig.update_yaxes(title_text=rep.y_label, title_font_size=10, tickfont_size=9, row=i, col=1)
    fig.update_xaxes(title_text="time (s)", row=n, col=1)
    fig.update_xaxes(showticklabels=True, tickfont_size=9, ticksuffix=" s")
    fig.update_annotations(font=dict(size=13, color="#1f2937"), xanchor="left", x=0)
    fig.update_layout(
        height=row_px * n + 90,
        margin=dict(l=70, r=20, t=40, b=50),
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
        fig = make_subplots(
            rows=ch,
            cols=1,
            shared_xaxes=True,
            vertical_spacing=0.08,
            subplot_titles=list(rep.channels) if ch > 1 else None,
        )
        for c in range(ch):
            fig.add_trace(
                go.Heatmap(
                    z=x[c],
                    x=t,
                    y=np.arange(x.shape[1]),
                    coloraxis="coloraxis",
                    hovertemplate=(
                        f"%{{x:.2f}} s<br>{rep.y_label} %{{y}}<br>%{{z:.3f}} {unit}<extra></extra>"
                    ),
                ),
                row=c + 1,
                col=1,
            )
            fig.update_yaxes(title_text=rep.y_label, row=c + 1, col=1)
        height = height * (1 + 0.6 * (ch - 1))
        fig.update_layout(coloraxis=dict(colorscale="Viridis", colorbar=dict(title=dict(text=unit))))
        fig.update_xaxes(title_text="time (s)", row=ch, col=1)
    fig.update_layout(title=dict(text=rep.title), height=int(height), margin=dict(l=70, r=20, t=60, b=50))
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
        fig = go.Figure(
            [
                go.Scatter(x=t, y=m[k, 0, 0], mode="lines", name=e, line=dict(color=EMOTION_COLORS[e]))
                for k, e in enumerate(EMOTIONS)
            ]
        )
        ylab = f"{'Δ ' if difference else ''}{rep.y_label} ({unit})"
        fig.update_layout(
            height=420, xaxis_title="time (s)", yaxis_title=ylab, margin=dict(l=70, r=20, t=30, b=50)
        )
        return fig
    fig = make_subplots(
        rows=2,
        cols=3,
        shared_xaxes=True,
        shared_yaxes=True,
        subplot_titles=list(EMOTIONS),
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
                name=e,
                hovertemplate=(
                    f"{e}<br>%{{x:.2f}} s<br>{rep.y_label} %{{y}}<br>%{{z:.3f}} {unit}<extra></extra>"
                ),
            ),
            row=k // 3 + 1,
            col=k % 3 + 1,
        )
        if len(rep.channels) > 1:
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
    fig.update_xaxes(title_text="time (s)", row=2)
    fig.update_yaxes(title_text=rep.y_label, col=1)
    return fig


def descriptor_label(column: str) -> str:
    """``"Pitch (median F0, pyin) [Hz]"`` for a descriptor column."""
    label, unit = eda.DESCRIPTORS[column]
    return f"{label} [{unit}]"


def descriptor_figure(
    clips: pd.DataFrame, column: str, *, kind: str = "box", by_gender: bool = False
) -> go.Figure:
    """Distribution of a scalar descriptor per emotion (``kind`` "box" or "violin")."""
    plot = px.violin if kind == "violin" else px.box
    color = "gender" if by_gender else "emotion"
    kw = dict(box=True, points=False) if kind == "violin" else dict(points="outliers")
    fig = plot(
        clips,
        x="emotion",
        y=column,
        color=color,
        hover_data=["file_id", "speaker"],
        category_orders={"emotion": list(EMOTIONS), "gender": ["female", "male"]},
        color_discrete_map=GENDER_COLORS if by_gender else EMOTION_COLORS,
        labels={column: descriptor_label(column), "emotion": ""},
        **kw,
    )
    fig.update_layout(height=460, showlegend=by_gender, margin=dict(l=70, r=20, t=30, b=40))
    return fig


def projection_figure(
    clips: pd.DataFrame, proj: Mapping[str, np.ndarray], *, method: str = "pca", color: str = "emotion"
) -> go.Figure:
    """Scatter of the 2-D projection of every clip, coloured by emotion or speaker."""
    xy = proj[method]
    df = clips[["file_id", "emotion", "speaker"]].assign(x=xy[:, 0], y=xy[:, 1])
    if method == "pca":
        var = proj.get("pca_var", np.full(2, np.nan))
        axes = [f"PC{i + 1} ({100 * v:.1f} % of variance)" for i, v in enumerate(var)]
    else:
        axes = ["t-SNE 1", "t-SNE 2"]
    fig = px.scatter(
        df,
        x="x",
        y="y",
        color=color,
        hover_name="file_id",
        hover_data={"emotion": True, "speaker": True, "x": False, "y": False},
        category_orders={"emotion": list(EMOTIONS), "speaker": sorted(df["speaker"].unique())},
        color_discrete_map=EMOTION_COLORS if color == "emotion" else None,
        color_discrete_sequence=px.colors.qualitative.T10,  # nine clearly distinct speakers
        labels={"x": axes[0], "y": axes[1]},
        render_mode="svg",
        opacity=0.7,
    )
    fig.update_traces(marker=dict(size=5))
    fig.update_layout(height=560, margin=dict(l=70, r=20, t=30, b=50), legend_title_text=color)
    return fig


def counts_heatmap(table: pd.DataFrame) -> go.Figure:
    """Clip counts by emotion (rows) and speaker (columns), with the numbers."""
    counts = pd.crosstab(table["emotion"], table["speaker"]).reindex(list(EMOTIONS), fill_value=0)
    fig = px.imshow(
        counts,
        text_auto=True,
        aspect="auto",
        color_continuous_scale="Blues",
        zmin=0,
        labels=dict(x="speaker", y="emotion", color="clips"),
    )
    fig.update_layout(height=330, margin=dict(l=70, r=20, t=20, b=40))
    return fig


def counts_bar(table: pd.DataFrame, column: str) -> go.Figure:
    """Clip counts by ``column`` (gender, age), stacked by emotion."""
    df = table.assign(**{column: table[column].astype(str)})
    fig = px.histogram(
        df,
        x=column,
        color="emotion",
        color_discrete_map=EMOTION_COLORS,
        category_orders={"emotion": list(EMOTIONS)},
        labels={column: column},
    )
    fig.update_layout(height=330, yaxis_title="clips", bargap=0.25, margin=dict(l=60, r=10, t=20, b=40))
    # numbers as categories: one bar per age, no gaps for the ages nobody has
    fig.update_xaxes(type="category", categoryorder="category ascending")
    return fig


def duration_figure(clips: pd.DataFrame) -> go.Figure:
    """Histograms of clip duration, one panel per emotion; a line marks the 3-s model input."""
    fig = px.histogram(
        clips,
        x="duration",
        color="emotion",
        facet_col="emotion",
        facet_col_wrap=3,
        nbins=60,
        color_discrete_map=EMOTION_COLORS,
        category_orders={"emotion": list(EMOTIONS)},
        labels={"duration": "duration (s)"},
    )
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    fig.add_vline(
        x=DEFAULT_CONFIG.duration,
        y1=0.85,  # below the panel titles
        line=dict(color="#111827", width=1, dash="dash"),
    )
    fig.update_layout(height=460, showlegend=False, margin=dict(l=60, r=10, t=30, b=40))
    fig.update_yaxes(title_text="clips", col=1)
    return fig


# ===================================================================== leaderboard
# Session keys, cached loaders and plots of pages/5_leaderboard.py.  The tables
# come from :mod:`ser_core.leaderboard`; caches are keyed by the tracking
# database's path, mtime and size, so runs logged while the app is open appear
# on the next rerun.
LEADERBOARD = "leaderboard"
KEY_LB_MODELS = f"{LEADERBOARD}.models"
KEY_LB_INPUTS = f"{LEADERBOARD}.inputs"
KEY_LB_PROTOCOLS = f"{LEADERBOARD}.protocols"
KEY_LB_EVERY_RUN = f"{LEADERBOARD}.every_run"
KEY_LB_RUN = f"{LEADERBOARD}.run"
KEY_LB_COMPARE_A = f"{LEADERBOARD}.compare_a"
KEY_LB_COMPARE_B = f"{LEADERBOARD}.compare_b"

PROTOCOL_TITLES = {"seed": "seed split", "loso": "leave-one-speaker-out"}
#: Colours of the two runs of the side-by-side comparison.
COMPARE_COLORS = ("#4f46e5", "#f59e0b")
CURVE_STYLE = {
    "train_loss": dict(name="train loss", color="#4f46e5"),
    "val_loss": dict(name="validation loss", color="#f59e0b"),
    "val_accuracy": dict(name="validation accuracy", color="#059669"),
    "speaker_accuracy": dict(name="speaker adversary (training)", color="#db2777"),
}


def tracking_stamp() -> tuple[str, int, int] | None:
    """``(path, mtime_ns, size)`` of the MLflow database, or None when it does not exist."""
    from ser_core import tracking

    p = tracking.db_path()
    try:
        st_ = p.stat()
    except OSError:
        return None
    return str(p), st_.st_mtime_ns, st_.st_size


@st.cache_data(show_spinner="Reading the MLflow runs…", max_entries=8)
def _lb_runs(path: str, mtime_ns: int, size: int) -> pd.DataFrame:
    return lb.load_runs(path)


def leaderboard_runs() -> pd.DataFrame:
    """Every run of the tracking database (:func:`ser_core.leaderboard.load_runs`).

    Empty when there is no database.  Raises :class:`~ser_core.errors.TrackingError`
    when it cannot be read.
    """
    stamp = tracking_stamp()
    return pd.DataFrame(columns=lb.RUN_COLUMNS) if stamp is None else _lb_runs(*stamp)


@st.cache_data(show_spinner=False, max_entries=64)
def _lb_curves(run_id: str, path: str, mtime_ns: int, size: int) -> pd.DataFrame:
    return lb.curves(run_id, db=path)


def run_curves(run_id: str) -> pd.DataFrame:
    """Per-epoch curves of a run (:func:`ser_core.leaderboard.curves`), cached."""
    stamp = tracking_stamp()
    return lb.curves(run_id) if stamp is None else _lb_curves(run_id, *stamp)


def how_to_train() -> None:
    """An info box saying that no run is logged yet and how to train one."""
    from ser_core import tracking

    st.info(
        f"No training run in the MLflow database `{tracking.db_path()}` yet. Train a model "
        f"and its run appears here:\n\n`{lb.HOW_TO_TRAIN}`\n\n(leave-one-speaker-out: "
        "`--protocol loso --fold 0` … `--fold 8`; needs the corpus).",
        icon=":material/info:",
    )


def keep_valid(key: str, options: list) -> None:
    """Drop a widget's stored choice(s) that are no longer among ``options``.

    A selectbox value is forgotten (the widget falls back to its default), a
    multiselect keeps only the values still offered (runs come and go while
    the app is open).
    """
    if key not in st.session_state:
        return
    value = st.session_state[key]
    if isinstance(value, list):
        if any(v not in options for v in value):
            st.session_state[key] = [v for v in value if v in options]
    elif value not in options:
        del st.session_state[key]


def unique_labels(labels: pd.Series, run_ids: pd.Series) -> list[str]:
    """Labels made unique (a run id prefix is appended to repeated ones)."""
    dup = labels.duplicated(keep=False)
    return [f"{lab} ({rid[:6]})" if d else lab for lab, rid, d in zip(labels, run_ids, dup)]


def model_colors(models: list[str]) -> dict[str, str]:
    """One fixed colour per model name (sorted, so every chart agrees)."""
    palette = px.colors.qualitative.Safe
    return {m: palette[i % len(palette)] for i, m in enumerate(sorted(models))}


def leaderboard_table(table: pd.DataFrame, *, every_run: bool) -> tuple[pd.DataFrame, dict]:
    """``(frame, column_config)`` for ``st.dataframe`` of a summary or a run table.

    Test metrics become percentages (sortable numbers), standard deviations
    text in percentage points (blank for single runs), training time minutes;
    the start time is shown for single runs only.
    """
    cc = st.column_config
    pct = {
        c: cc.NumberColumn(t, format="%.1f %%", help=h, width=w)
        for c, t, h, w in [
            ("macro_f1", "macro F1", "unweighted mean of the six per-class F1 (test)", 68),
            ("precision", "precision", "macro precision (test)", 70),
            ("recall", "recall", "macro recall (test)", 62),
        ]
    }
    config: dict = {
        "model": cc.TextColumn("model", width=80),
        "input": cc.TextColumn("representation", width=104),
        "protocol": cc.TextColumn(
            "protocol",
            width=62,
            help="seed: one fixed split; loso: leave one speaker out (one run per held-out speaker)",
        ),
        "accuracy": cc.ProgressColumn(
            "test accuracy", format="%.1f %%", min_value=0.0, max_value=100.0, width=130
        ),
        **pct,
        "ece_after": cc.NumberColumn(
            "ECE",
            format="%.3f",
            width=52,
            help="expected calibration error after temperature scaling (lower is better)",
        ),
        "parameters": cc.NumberColumn("weights", format="compact", width=62, help="trainable parameters"),
        "minutes": cc.NumberColumn("train time", format="%.1f min", width=76),
        "start_time": cc.DatetimeColumn("started (UTC)", format="YYYY-MM-DD HH:mm"),
    }
    df = table.copy()
    for col in ("accuracy", *pct):
        df[col] = 100 * df[col]
    df["minutes"] = df["train_seconds"] / 60
    df["start_time"] = pd.to_datetime(df["start_time"], utc=True).dt.tz_convert(None)  # UTC
    if every_run:
        cols = [
            "run_name",
            "status",
            "shipped",
            "model",
            "input",
            "protocol",
            "fold",
            "accuracy",
            "macro_f1",
            "precision",
            "recall",
            "ece_after",
            "parameters",
            "minutes",
            "start_time",
        ]
        if "shipped" not in df:
            df["shipped"] = None
        config.update(
            run_name=cc.TextColumn("run", width=200),
            shipped=cc.TextColumn(
                "shipped as", width=110, help="the shipped model whose card names this run"
            ),
            status=cc.TextColumn("status", width=80),
            fold=cc.NumberColumn("fold", format="%d", width=40),
        )
    else:
        for m in ("accuracy", "macro_f1"):  # text: blank for single runs instead of "None"
            df[f"{m}_pp"] = [f"± {100 * v:.1f}" if pd.notna(v) else "" for v in df[f"{m}_std"]]
        cols = [
            "model",
            "input",
            "protocol",
            "n_folds",
            "accuracy",
            "accuracy_pp",
            "macro_f1",
            "macro_f1_pp",
            "precision",
            "recall",
            "ece_after",
            "parameters",
            "minutes",
        ]
        std_help = "standard deviation over the LOSO folds (percentage points)"
        config.update(
            n_folds=cc.NumberColumn("folds", format="%d", width=48, help="runs averaged (LOSO folds)"),
            accuracy_pp=cc.TextColumn("± acc.", help=std_help, width=62),
            macro_f1_pp=cc.TextColumn("± F1", help=std_help, width=58),
        )
        config["minutes"] = cc.NumberColumn(
            "train time", format="%.1f min", width=76, help="mean over the folds"
        )
    return df[cols], config


def _bargap(n_bars: int, *, bar_px: float = 90, plot_px: float = 1000) -> float:
    """A bar gap that keeps bars at most about ``bar_px`` wide when there are few of them."""
    return float(np.clip(1 - bar_px * max(n_bars, 1) / plot_px, 0.15, 0.8))


def accuracy_figure(summary: pd.DataFrame) -> go.Figure:
    """Test accuracy by representation, coloured by model; error bars = std over LOSO folds.

    One panel per protocol (widths proportional to their bars); the x axis
    names the representation and, under each bar, the model.
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


def f1_heatmap(table: pd.DataFrame, labels: list[str]) -> go.Figure:
    """Per-class test F1 (%) of each row of ``table`` (runs or summary rows) by emotion."""
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
    """Confusion matrix: colour = % of the true class (row), text = count and %."""
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
    the speaker adversary's accuracy in speaker-adversarial runs)."""
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
    """Member weights of the ensemble runs (one colour per run)."""
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
    """Optuna's parameter importance of the ensemble search (horizontal bars)."""
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


def loso_ensemble_table(table: pd.DataFrame | None) -> None:
    """The per-speaker ensembles of the LOSO protocol: mean ± std, then one row per fold."""
    if table is None:
        return
    st.markdown(
        "**On a new voice (LOSO)**: one ensemble per held-out speaker, its weights "
        "searched on another speaker's predictions"
    )
    acc = 100 * table["accuracy"]
    st.metric(
        "LOSO ensemble accuracy",
        f"{acc.mean():.1f} % ± {acc.std(ddof=1) if len(acc) > 1 else 0:.1f}",
        help=f"mean ± standard deviation over {len(table)} held-out speakers",
    )
    members = [c for c in table.columns if c not in ("fold", "accuracy", "macro_f1")]
    st.dataframe(
        table,
        hide_index=True,
        key="leaderboard.loso_ensemble",
        column_config={
            "accuracy": st.column_config.ProgressColumn(
                "accuracy", format="percent", min_value=0, max_value=1
            ),
            "macro_f1": st.column_config.NumberColumn("macro F1", format="percent"),
            **{m: st.column_config.NumberColumn(f"weight {m}", format="percent") for m in members},
        },
    )


def adaptation_figure(curve: pd.DataFrame) -> go.Figure:
    """LOSO accuracy against seconds of the new speaker's audio (mean ± std over speakers)."""
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


def compare_f1_figure(runs: pd.DataFrame, run_a: str, run_b: str) -> go.Figure:
    """Per-class test F1 of two runs as grouped bars."""
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


def compare_styler(table: pd.DataFrame):
    """:func:`ser_core.leaderboard.compare` as a Styler: rows that differ highlighted."""
    differs = table["differs"].to_numpy()
    view = table.drop(columns="differs")
    return view.style.apply(
        lambda r: ["background-color: #fef3c7; font-weight: 600" if differs[r.name] else ""] * len(r),
        axis=1,
    )


# --------------------------------------------------------------------- predictor
# ---- predictor: helpers of pages/2_predictor.py (model loading, clips, plots, feedback,
# live microphone).  Imported here, not at the top, to keep this section self-contained.
import hashlib  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from ser_core import adapt, functionals, live, models  # noqa: E402
from ser_core.errors import AudioTooLongError, UnknownNameError  # noqa: E402
from ser_core.feedback import Feedback, FeedbackStore  # noqa: E402
from ser_core.inference import (  # noqa: E402
    Predictor,
    Verdict,
    best_adaptable_model,
    best_model_name,
)

PREDICTOR = "predictor"
KEY_PRED_MODEL = f"{PREDICTOR}.model"
KEY_PRED_SOURCE = f"{PREDICTOR}.source"
KEY_PRED_UPLOADER = f"{PREDICTOR}.uploader"
KEY_PRED_RECORDER = f"{PREDICTOR}.recorder"
#: The clip to predict, per source: a :func:`make_clip` dict.  The uploader and the
#: recorder set it in their ``on_change`` callbacks and the page reads only this key, so
#: tests (AppTest cannot upload files) set it directly.
KEY_PRED_CLIP = {"upload": f"{PREDICTOR}.clip.upload", "recording": f"{PREDICTOR}.clip.recording"}
#: Last :class:`ClipResult` per source (reused while clip and model stay the same).
KEY_PRED_RESULT = f"{PREDICTOR}.result"
KEY_FB_RIGHT = f"{PREDICTOR}.feedback.right"
KEY_FB_CORRECT = f"{PREDICTOR}.feedback.correct"
KEY_FB_CONSENT = f"{PREDICTOR}.feedback.consent"
KEY_FB_SUBMIT = f"{PREDICTOR}.feedback.submit"
KEY_FB_FOR = f"{PREDICTOR}.feedback.for"
KEY_FB_STATUS = f"{PREDICTOR}.feedback.status"
KEY_LIVE = f"{PREDICTOR}.live"
KEY_LIVE_SINK = f"{PREDICTOR}.live.sink"
KEY_LIVE_SESSION = f"{PREDICTOR}.live.session"
KEY_LIVE_PLAYING = f"{PREDICTOR}.live.playing"
KEY_LIVE_ADAPT = f"{PREDICTOR}.live.adapt"
KEY_LIVE_WARMUP = f"{PREDICTOR}.live.warmup"
#: "Calibrate to my voice" (issue #7).  The recorder / uploader ``on_change`` callbacks
#: copy the calibration audio to :data:`KEY_CAL_CLIP` (a :func:`make_clip` dict); the page
#: reads only that key, so tests set it directly, as for :data:`KEY_PRED_CLIP`.
CAL = f"{PREDICTOR}.calibration"
KEY_CAL_RECORDER = f"{CAL}.recorder"
KEY_CAL_UPLOADER = f"{CAL}.uploader"
KEY_CAL_CLIP = f"{CAL}.clip"
KEY_CAL_NAME = f"{CAL}.name"
KEY_CAL_RUN = f"{CAL}.run"
KEY_CAL_FORGET = f"{CAL}.forget"
KEY_CAL_CONSENT = f"{CAL}.consent"
KEY_CAL_SAVE = f"{CAL}.save"
KEY_CAL_PICK = f"{CAL}.pick"
KEY_CAL_LOAD = f"{CAL}.load"
KEY_CAL_DELETE = f"{CAL}.delete"
KEY_CAL_SWITCH = f"{CAL}.switch"
#: ``(kind, message)`` of the last calibration action ("success" / "error").
KEY_CAL_STATUS = f"{CAL}.status"
#: The voice of this browser session: ``{"kind": "audio", "id", "label", "y", "seconds",
#: "windows"}`` (decoded calibration speech: the profile is computed, cached, for each
#: model's representations; its speech windows for AdaBN stay here) or
#: ``{"kind": "saved", "label", "profile": VoiceProfile}``.
KEY_VOICE = f"{CAL}.voice"
#: This session's models adapted to its voice: ``{(id, name, backend of the model, voice key): Predictor}``
#: (AdaBN takes a second or three, so :func:`with_voice` adapts once per model and voice).
KEY_ADAPTED = f"{CAL}.adapted"

PRED_SOURCES = {"upload": "Upload a file", "recording": "Record (up to 10 s)", "live": "Live microphone"}
#: Longest accepted in-browser recording (s).
RECORDING_MAX_SECONDS = 10.0
#: Inference back end of the page: ONNX Runtime (about twice as fast as PyTorch eager
#: on CPU, see benchmarks/bench_predict.py), PyTorch where ONNX fails.
PREDICTOR_BACKEND = "auto"
BACKEND_NAMES = {"onnx": "ONNX Runtime", "torch": "PyTorch"}
FB_YES, FB_NO, FB_NOT_SURE = "Yes", "No", "Not sure"
CONSENT_LABEL = "Donate this recording to improve the model"
PROFILE_CONSENT_LABEL = (
    "Save my voice statistics in this app's database under the name above "
    "(averages per frequency band only, never the audio)"
)
#: Calibration speech beyond this is not used (s); from ``adapt.INFOMAX_SECONDS`` (60 s) a
#: calibration also tunes the network to the voice, and 2 minutes tune it better.
CALIBRATION_MAX_SECONDS = 120.0
#: Display names of architectures in captions.
ARCH_NAMES = {
    "resnet18": "ResNet",
    "vgg16": "VGG",
    "small_cnn": "small CNN",
    "wave_cnn": "waveform CNN",
    "zcr_rms_lstm": "LSTM",
    "logreg": "logistic regression",
}
_MIME = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
    "webm": "audio/webm",
}


def shipped_models() -> list[str]:
    """Names of the shipped models (card + weights under ``artifacts/models``)."""
    return models.shipped()


def default_model(names: list[str]) -> str:
    """The best shipped model by seed accuracy (the first name when cards lack it)."""
    try:
        return best_model_name()
    except (SERError, OSError, ValueError):
        return names[0]


@st.cache_data(show_spinner=False, max_entries=64)
def _card(path: str, mtime: float) -> dict:
    return models.read_card(Path(path).stem, directory=Path(path).parent)


def model_card(name: str) -> dict:
    """The JSON card of a shipped model ({} when unreadable)."""
    p = models.models_dir() / f"{name}.json"
    try:
        return _card(str(p), p.stat().st_mtime)
    except (OSError, SERError):
        return {}


def model_accuracy(name: str, protocol: str = "seed") -> float | None:
    acc = model_card(name).get("metrics", {}).get(protocol, {}).get("accuracy")
    return None if acc is None else float(acc)


def model_label(name: str) -> str:
    """``"resnet18_mel · 71.2 % seed-split accuracy"`` for the model selectbox."""
    acc = model_accuracy(name)
    return name if acc is None else f"{name} · {100 * acc:.1f} % seed-split accuracy"


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def _load_predictor(name: str, directory: str, stamp: float, backend: str) -> Predictor:
    pred = Predictor.load(name, directory=Path(directory), backend=backend)
    pred.predict(np.zeros(pred.cfg.n_samples, np.float32))  # warm-up: the first call is slow
    return pred


def predictor(name: str, backend: str = PREDICTOR_BACKEND) -> Predictor:
    """The shipped model ``name``, loaded once per process (``st.cache_resource``).

    Keyed by the weights' mtime too, so a retrained model replaces the old one.
    """
    d = models.models_dir()
    try:
        stamp = (d / f"{name}.safetensors").stat().st_mtime
    except OSError:
        stamp = 0.0  # Predictor.load says what is missing
    return _load_predictor(name, str(d), stamp, backend)


def no_model_info() -> None:
    st.info(
        "No trained model is shipped yet: train one with `python -m ser_core train "
        "--ship NAME` (it lands in `artifacts/models/`), then reload this page.",
        icon=":material/info:",
    )


def backend_name(backend: str) -> str:
    """``"ONNX Runtime"`` for ``"onnx"``; ``"ONNX Runtime + PyTorch"`` for an ensemble's mix."""
    return " + ".join(BACKEND_NAMES.get(b, b) for b in backend.split("+"))


def ensemble_summary(pred: Predictor) -> str:
    """``"weighted ensemble of 2 ResNets (mel 0.46, hpss 0.54)"`` for an ensemble."""
    weights = pred.loaded.card.get("ensemble", {}).get("weights", {})
    archs = {model_card(m.name).get("architecture", {}).get("name", "?") for m in pred.members}
    n = len(pred.members)
    kind = ARCH_NAMES.get(archs.pop(), "model") if len(archs) == 1 else "model"
    parts = [
        f"{m.representation} {float(weights[m.representation]):.2f}"
        if m.representation in weights
        else m.representation
        for m in pred.members
    ]
    return f"weighted ensemble of {n} {kind}{'s' if n != 1 else ''} ({', '.join(parts)})"


def model_caption(pred: Predictor) -> str:
    acc = model_accuracy(pred.name)
    arch = model_card(pred.name).get("architecture", {}).get("name", "?")
    if pred.kind == "members":
        parts = [ensemble_summary(pred)]
    elif pred.kind == "features":
        parts = [f"{arch} on the {features.get(pred.representation).title.lower()}"]
    elif pred.kind == "functionals":
        parts = [
            f"logistic regression on the {pred.representation} functionals (openSMILE: "
            f"{functionals.get(pred.representation).dim} per clip)"
        ]
    else:
        parts = [arch]
    if acc is not None:
        parts.append(f"**{100 * acc:.1f} %** accuracy on the seed test split")
    if pred.speaker_normalised:
        parts.append("speaker-normalised: it can adapt to your voice")
    parts.append(f"reported as unsure below {100 * pred.unsure_below:.0f} % confidence")
    parts.append(f"runs in {backend_name(pred.backend)}")
    return " · ".join(parts)


def model_picker(
    names: list[str], *, key: str, default: str | None = None, backend: str = PREDICTOR_BACKEND, empty=None
) -> Predictor:
    """A page's model selectbox, its caption and the loaded model.

    Shows ``empty()`` (default :func:`no_model_info`) and stops the page when
    ``names`` is empty; shows the error and stops when the model fails to load.
    """
    if not names:
        (empty or no_model_info)()
        st.stop()
    keep_valid(key, names)
    index = names.index(default) if default in names else 0
    name = st.selectbox("Model", names, index=index, key=key, format_func=model_label)
    pred = None
    with report_errors():
        pred = predictor(name, backend=backend)
        st.caption(model_caption(pred))
    if pred is None:
        st.stop()
    return pred


def upload_help() -> str:
    limit = st.get_option("server.maxUploadSize")
    return (
        f"wav, mp3, ogg/opus, flac, m4a or webm; up to {limit} MB and 10 minutes. "
        "Audio longer than 3 s is judged over sliding 3-s windows."
    )


# ---- predictor: clips
def make_clip(data: bytes, name: str, source: str) -> dict:
    """A clip to predict: ``{"name", "data", "source", "id"}`` (id: content hash)."""
    data = bytes(data)
    return {
        "name": name,
        "data": data,
        "source": source,
        "id": hashlib.blake2b(data, digest_size=12).hexdigest(),
    }


def store_clip(widget_key: str, source: str) -> None:
    """``on_change`` callback of the uploader / recorder: copy its file to
    :data:`KEY_PRED_CLIP` (or forget the clip when the widget was cleared)."""
    f = st.session_state.get(widget_key)
    if f is None:
        st.session_state.pop(KEY_PRED_CLIP[source], None)
        return
    name = f.name if source == "upload" else "your recording"
    st.session_state[KEY_PRED_CLIP[source]] = make_clip(f.getvalue(), name, source)


@dataclass(frozen=True)
class ClipResult:
    """A decoded, predicted clip."""

    clip_id: str
    name: str
    source: str
    model: str
    backend: str
    y: np.ndarray
    verdict: Verdict
    decode_ms: float
    #: :func:`voice_key` of the profile the model was adapted with ("" unadapted).
    voice: str = ""
    #: :meth:`Predictor.adaptation` at prediction time (one sentence for people).
    adaptation: str = ""


def voice_key(pred: Predictor) -> str:
    """A content hash of the voice profile ``pred`` is adapted with ("" for none)."""
    prof = getattr(pred, "profile", None)
    return "" if prof is None else voice_key_of(prof)


def voice_key_of(prof: adapt.VoiceProfile) -> str:
    """A content hash of a voice profile: its statistics, and whether it adapts batch norm."""
    return hashlib.blake2b(f"{prof.to_json()}{prof.adapts_batchnorm}".encode(), digest_size=12).hexdigest()


def analyse(pred: Predictor, clip: dict) -> ClipResult:
    """Decode and predict a clip; reused while the clip, the model and the voice
    profile it is adapted with stay the same.

    Raises
    ------
    SERError
        Not audio, empty, too short or too long (recordings: over 10 s).
    """
    import time

    source = clip["source"]
    results = st.session_state.setdefault(KEY_PRED_RESULT, {})
    clip_id = clip.get("id") or make_clip(clip["data"], clip["name"], source)["id"]
    old = results.get(source)
    voice = voice_key(pred)
    if old is not None and (old.clip_id, old.model, old.backend, old.voice) == (
        clip_id,
        pred.name,
        pred.backend,
        voice,
    ):
        return old
    results.pop(source, None)
    limit = RECORDING_MAX_SECONDS if source == "recording" else audio.MAX_SECONDS
    t0 = time.perf_counter()
    try:
        y = audio.load_audio(clip["data"], name=clip["name"], sr=pred.cfg.sr, max_seconds=limit)
    except AudioTooLongError as err:
        if source != "recording":
            raise
        raise AudioTooLongError(
            f"Recordings are limited to {limit:.0f} s ({err}). Record a "
            "shorter clip, or upload a file for audio up to 10 minutes."
        ) from None
    decode_ms = 1000 * (time.perf_counter() - t0)
    with st.spinner("Predicting…"):
        verdict = pred.verdict(y)
    res = ClipResult(
        clip_id,
        clip["name"],
        source,
        pred.name,
        pred.backend,
        y,
        verdict,
        decode_ms,
        voice,
        pred.adaptation(),
    )
    results[source] = res
    return res


def clip_mime(name: str) -> str:
    """MIME type for ``st.audio`` from a file name (WAV when unknown)."""
    return _MIME.get(Path(name).suffix.lower().lstrip("."), "audio/wav")


def timing_caption(res: ClipResult) -> str:
    v = res.verdict
    what = f"{len(v.timeline.starts)} windows" if v.timeline is not None else "one 3-s window"
    return (
        f"Prediction took **{v.elapsed_ms:.0f} ms** (features + model, {what}, "
        f"{backend_name(res.backend)}); decoding {res.decode_ms:.0f} ms; "
        f"{v.seconds:.1f} s of audio."
    )


# ---- predictor: plots
def probability_figure(
    probs: np.ndarray, *, unsure_below: float | None = None, height: int = 300
) -> go.Figure:
    """The six calibrated probabilities as horizontal bars in the emotion colours."""
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
    times: np.ndarray, probs: np.ndarray, *, x_title: str = "time (s)", height: int = 320
) -> go.Figure:
    """The six probabilities over time, one line per emotion."""
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


def waveform_figure(y: np.ndarray, sr: int, *, points: int = 3000, height: int = 180) -> go.Figure:
    """The waveform (a min/max envelope for long audio)."""
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


@st.cache_data(show_spinner=False, max_entries=8)
def _display_mel(y: np.ndarray, sr: int) -> tuple[np.ndarray, float]:
    n_samples = DEFAULT_CONFIG.n_samples
    if len(y) <= n_samples:  # what the model sees: padded to 3 s
        return features.compute(y, "mel")[0], DEFAULT_CONFIG.hop_length / sr
    import librosa

    hop = max(DEFAULT_CONFIG.hop_length, int(np.ceil(len(y) / 1500)))
    n_fft = max(DEFAULT_CONFIG.n_fft, 1 << int(np.ceil(np.log2(hop))))
    mel = librosa.feature.melspectrogram(
        y=y, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=DEFAULT_CONFIG.n_mels
    )
    return librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=DEFAULT_CONFIG.top_db), hop / sr


def mel_figure(y: np.ndarray, sr: int, *, height: int = 260) -> go.Figure:
    """Log-mel spectrogram (dB) of the whole clip; clips up to 3 s are shown padded
    to 3 s, exactly as the model sees them."""
    z, dt = _display_mel(y, sr)
    t = np.arange(z.shape[1]) * dt
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=t,
            y=np.arange(z.shape[0]),
            colorscale="Viridis",
            colorbar=dict(title=dict(text="dB")),
            hovertemplate="%{x:.2f} s<br>mel band %{y}<br>%{z:.1f} dB<extra></extra>",
        )
    )
    fig.update_layout(
        height=height, xaxis_title="time (s)", yaxis_title="mel band", margin=dict(l=60, r=20, t=10, b=45)
    )
    return fig


# ---- predictor: feedback
def _feedback_reset(tag: str) -> None:
    """Fresh feedback widgets for a new clip or model (call before drawing them)."""
    if st.session_state.get(KEY_FB_FOR) != tag:
        for k in (KEY_FB_RIGHT, KEY_FB_CORRECT, KEY_FB_CONSENT, KEY_FB_STATUS):
            st.session_state.pop(k, None)
        st.session_state[KEY_FB_FOR] = tag


def send_feedback(res: ClipResult) -> None:
    """Button callback: store the feedback (and the audio only with consent)."""
    answer = st.session_state.get(KEY_FB_RIGHT)
    correct = {FB_YES: res.verdict.label, FB_NO: st.session_state.get(KEY_FB_CORRECT), FB_NOT_SURE: None}.get(
        answer
    )
    consent = bool(st.session_state.get(KEY_FB_CONSENT, False))
    fb = Feedback(
        predicted=res.verdict.label,
        correct=correct,
        model=res.model,
        probabilities=dict(zip(EMOTIONS, map(float, res.verdict.probs))),
        source=res.source,
    )
    try:
        FeedbackStore().add(fb, audio=res.y, consent=consent, sr=DEFAULT_CONFIG.sr)
    except SERError as err:
        st.session_state[KEY_FB_STATUS] = ("error", f"Your feedback was not stored: {err}")
        return
    what = (
        f"your feedback and your recording ({len(res.y) / DEFAULT_CONFIG.sr:.1f} s, "
        "saved as FLAC under a random name)"
        if consent
        else "your feedback only (no audio was kept)"
    )
    st.session_state[KEY_FB_STATUS] = ("success", f"Thank you: stored {what}.")


def feedback_form(res: ClipResult) -> None:
    """ "Was this right?" + a separate, unticked donation consent + submit."""
    _feedback_reset(f"{res.source}/{res.clip_id}/{res.model}")
    status = st.session_state.get(KEY_FB_STATUS)
    sent = status is not None and status[0] == "success"
    answer = st.radio(
        "Was this right?",
        [FB_YES, FB_NO, FB_NOT_SURE],
        index=None,
        horizontal=True,
        key=KEY_FB_RIGHT,
        disabled=sent,
    )
    if answer == FB_NO:
        st.selectbox(
            "What is the right emotion?",
            [e for e in EMOTIONS if e != res.verdict.label],
            index=None,
            placeholder="Pick the emotion",
            key=KEY_FB_CORRECT,
            disabled=sent,
        )
    st.checkbox(
        CONSENT_LABEL,
        value=False,
        key=KEY_FB_CONSENT,
        disabled=sent,
        help="Unticked, only your answer is stored, never the audio. Ticked, the "
        "recording is also saved (FLAC, random file name) and may be used to "
        "train future models.",
    )
    ready = answer is not None and (answer != FB_NO or st.session_state.get(KEY_FB_CORRECT))
    st.button(
        "Send feedback",
        key=KEY_FB_SUBMIT,
        icon=":material/send:",
        on_click=send_feedback,
        args=(res,),
        disabled=sent or not ready,
    )
    if status is not None:
        (st.success if status[0] == "success" else st.error)(
            status[1], icon=":material/check_circle:" if status[0] == "success" else ":material/error:"
        )


# ---- predictor: calibrate to my voice
def store_calibration_clip(widget_key: str) -> None:
    """``on_change`` callback of the calibration recorder / uploader: copy its file to
    :data:`KEY_CAL_CLIP` (or forget it when the widget was cleared)."""
    f = st.session_state.get(widget_key)
    st.session_state.pop(KEY_CAL_STATUS, None)
    if f is None:
        st.session_state.pop(KEY_CAL_CLIP, None)
        return
    name = getattr(f, "name", "") if widget_key == KEY_CAL_UPLOADER else "your recording"
    st.session_state[KEY_CAL_CLIP] = make_clip(f.getvalue(), name or "your recording", "calibration")


def _cal_status(kind: str, message: str) -> None:
    st.session_state[KEY_CAL_STATUS] = (kind, message)


@st.cache_data(show_spinner="Computing your voice statistics…", max_entries=16)
def _voice_stats(audio_id: str, _y: np.ndarray, reps: tuple[str, ...], name: str) -> adapt.VoiceProfile:
    """:func:`ser_core.adapt.voice_profile`, cached on the audio's hash and the
    representations (the waveform itself is not hashed again).  Statistics only: the
    speech windows AdaBN needs stay in the session (:data:`KEY_VOICE`), not in this
    cache that all sessions share."""
    return dataclasses.replace(
        adapt.voice_profile(_y, representations=list(reps), cfg=DEFAULT_CONFIG, name=name), windows=None
    )


def calibration_representations(pred: Predictor) -> list[str]:
    """What a new profile for ``pred`` holds (with its voice warps); ``["mel"]`` for a model
    that cannot adapt (the calibration is still checked, and kept for an adaptable model)."""
    return pred.profile_representations() or ["mel"]


def calibrate(pred: Predictor) -> None:
    """Button callback: decode the calibration audio, check it gives a voice profile for
    ``pred`` and make it this session's voice.  On failure the previous voice stays and
    the error is shown (:data:`KEY_CAL_STATUS`)."""
    clip = st.session_state.get(KEY_CAL_CLIP)
    if clip is None:
        return _cal_status("error", "Record or upload some speech first.")
    label = " ".join(str(st.session_state.get(KEY_CAL_NAME) or "").split())
    try:
        y = audio.load_audio(clip["data"], name=clip["name"], sr=DEFAULT_CONFIG.sr)
        y = y[: int(CALIBRATION_MAX_SECONDS * DEFAULT_CONFIG.sr)]
        prof = _voice_stats(clip["id"], y, tuple(calibration_representations(pred)), label)
        windows = adapt.adabn_windows(adapt.speech_windows(y)[0])
    except SERError as err:
        return _cal_status("error", f"Calibration failed: {err}")
    st.session_state[KEY_VOICE] = {
        "kind": "audio",
        "id": clip["id"],
        "label": label,
        "y": y,
        "seconds": prof.seconds,
        "source": clip["name"],
        "windows": windows,
    }
    st.session_state.pop(KEY_ADAPTED, None)
    who = f" for {label!r}" if label else ""
    _cal_status(
        "success",
        f"Calibrated{who} from {prof.seconds:.0f} s of speech. The statistics "
        "stay in this browser session; nothing was stored.",
    )


def forget_voice() -> None:
    """Button callback: drop this session's voice (saved profiles stay saved)."""
    st.session_state.pop(KEY_VOICE, None)
    st.session_state.pop(KEY_ADAPTED, None)
    _cal_status("success", "Forgot the calibration: predictions are no longer adapted.")


def session_profile(pred: Predictor) -> adapt.VoiceProfile | None:
    """This session's voice as a profile for ``pred``; None without calibration or when
    ``pred`` cannot adapt.

    Raises
    ------
    CalibrationError
        A saved profile lacks a representation ``pred`` needs.
    """
    reps = pred.needed_representations()
    voice = st.session_state.get(KEY_VOICE)
    if not reps or voice is None:
        return None
    if voice["kind"] == "audio":
        prof = _voice_stats(voice["id"], voice["y"], tuple(calibration_representations(pred)), voice["label"])
        return dataclasses.replace(prof, windows=voice.get("windows"))
    prof = voice["profile"]
    missing = [r for r in reps if r not in prof]
    if missing:
        raise adapt.CalibrationError(
            f"the saved voice profile {prof.name!r} holds statistics for {', '.join(prof.stats)}; "
            f"{pred.name} needs {', '.join(missing)}: calibrate again with a recording"
        )
    return prof


def with_voice(pred: Predictor) -> Predictor:
    """``pred`` adapted to this session's voice (a copy; the cached model is untouched),
    or ``pred`` itself when there is no voice or it cannot adapt.

    Raises
    ------
    CalibrationError
        See :func:`session_profile`.
    """
    prof = session_profile(pred)
    if prof is None:
        return pred
    done = st.session_state.setdefault(KEY_ADAPTED, {})
    key = (id(pred), pred.name, pred.backend, voice_key_of(prof))
    if key not in done:
        with st.spinner(f"Adapting {pred.name} to your voice…"):
            adapted = pred.adapted(prof)
        while len(done) >= 4:  # a few models of this session, the oldest dropped
            done.pop(next(iter(done)))
        done[key] = adapted
    return done[key]


def adaptable_suggestion() -> tuple[str | None, str]:
    """``(name, sentence)``: the best shipped model that can adapt, or ``(None, how to
    train one)``."""
    try:
        name = best_adaptable_model()
    except UnknownNameError as err:
        return None, str(err)[:1].upper() + str(err)[1:] + "."
    return name, f"**{name}** can adapt to a voice."


def switch_model(name: str) -> None:
    """Button callback: select another model."""
    st.session_state[KEY_PRED_MODEL] = name


def adaptation_status(used: Predictor) -> None:
    """The line under the model: adapted to whom, not adapted, or cannot adapt (then
    a suggestion and a button to switch)."""
    if not used.speaker_normalised:
        name, hint = adaptable_suggestion()
        st.info(f"{used.adaptation()} {hint}", icon=":material/record_voice_over:")
        if name is not None and name != used.name:
            st.button(
                f"Switch to {name}",
                key=KEY_CAL_SWITCH,
                on_click=switch_model,
                args=(name,),
                icon=":material/swap_horiz:",
            )
    elif used.profile is not None:
        st.success(used.adaptation(), icon=":material/record_voice_over:")
    else:
        st.info(
            used.adaptation() + " Open **Calibrate to my voice** below.", icon=":material/record_voice_over:"
        )


def profile_representations(pred: Predictor) -> list[str]:
    """Representations of a saved profile: those of ``pred`` and of every shipped
    speaker-normalised model, so the profile serves any of them later."""
    reps = set(calibration_representations(pred))
    for n in shipped_models():
        card = model_card(n)
        if card.get("normalization", {}).get("kind") == "speaker":
            rep = card.get("input", {}).get("name", "mel")
            reps.update([rep, *adapt.voice_warps(rep)])
    return sorted(reps)


def save_voice(pred: Predictor) -> None:
    """Button callback: with consent and a name, save this session's voice statistics
    (never the audio) in the feedback database."""
    voice = st.session_state.get(KEY_VOICE)
    name = str(st.session_state.get(KEY_CAL_NAME) or "")
    if not st.session_state.get(KEY_CAL_CONSENT):
        return _cal_status("error", "Tick the consent box to save your voice profile.")
    if voice is None or voice["kind"] != "audio":
        return _cal_status("error", "Calibrate with a recording first.")
    try:
        prof = _voice_stats(voice["id"], voice["y"], tuple(profile_representations(pred)), name)
        saved = FeedbackStore().save_profile(name, prof.to_json())
    except SERError as err:
        return _cal_status("error", f"Your voice profile was not saved: {err}")
    voice["label"] = saved
    st.session_state.pop(KEY_CAL_CONSENT, None)
    _cal_status(
        "success",
        f"Saved the voice profile {saved!r} (statistics only, no audio). "
        "Pick it under *Saved voice profiles* next time.",
    )


def saved_profiles() -> list[dict]:
    """The saved voice profiles (:meth:`FeedbackStore.list_profiles`).

    Raises
    ------
    FeedbackError
        The store cannot be opened or read.
    """
    from ser_core.feedback import default_data_dir

    if not (default_data_dir() / "feedback.sqlite3").exists():
        return []  # visiting the page creates no database
    return FeedbackStore().list_profiles()


def load_voice() -> None:
    """Button callback: make the picked saved profile this session's voice."""
    name = st.session_state.get(KEY_CAL_PICK)
    if not name:
        return _cal_status("error", "Pick a saved voice profile first.")
    try:
        prof = FeedbackStore().load_profile(name)
    except SERError as err:
        return _cal_status("error", f"Could not load the voice profile: {err}")
    st.session_state[KEY_VOICE] = {
        "kind": "saved",
        "label": prof.name,
        "profile": prof,
        "seconds": prof.seconds,
    }
    st.session_state.pop(KEY_ADAPTED, None)
    _cal_status(
        "success",
        f"Using the saved voice profile {prof.name!r} ({prof.seconds:.0f} s of "
        "speech). It holds statistics only, so the batch-norm layers are not "
        "adapted (AdaBN needs the speech itself: calibrate with a recording "
        f"of {adapt.ADABN_SECONDS:.0f} s or more for that).",
    )


def delete_voice() -> None:
    """Button callback: delete the picked saved profile (this session's voice stays)."""
    name = st.session_state.get(KEY_CAL_PICK)
    if not name:
        return _cal_status("error", "Pick a saved voice profile first.")
    try:
        FeedbackStore().delete_profile(name)
    except SERError as err:
        return _cal_status("error", f"Could not delete the voice profile: {err}")
    st.session_state.pop(KEY_CAL_PICK, None)
    _cal_status("success", f"Deleted the saved voice profile {name!r}.")


def voice_caption() -> str | None:
    """``"Current voice: 'ala', 23 s of speech from ala.wav (this session only)."``"""
    voice = st.session_state.get(KEY_VOICE)
    if voice is None:
        return None
    who = f"{voice['label']!r}" if voice["label"] else "unnamed"
    if voice["kind"] == "audio":
        return (
            f"Current voice: {who}, {voice['seconds']:.0f} s of speech from "
            f"{voice['source']} (kept in this browser session only)."
        )
    return f"Current voice: the saved profile {who} ({voice['seconds']:.0f} s of speech)."


def calibration_status() -> None:
    """The message of the last calibration action (st.success / st.error)."""
    status = st.session_state.get(KEY_CAL_STATUS)
    if status is not None:
        (st.success if status[0] == "success" else st.error)(
            status[1], icon=":material/check_circle:" if status[0] == "success" else ":material/error:"
        )


# ---- predictor: live microphone
def ice_servers() -> list[dict]:
    """ICE (STUN/TURN) servers: ``ice_servers`` in Streamlit secrets, else
    ``$SER_ICE_SERVERS`` (JSON); none by default, which localhost needs.

    Raises
    ------
    ConfigError
        The setting is malformed.
    """
    value = None
    try:
        if st.secrets.load_if_toml_exists():
            value = st.secrets.to_dict().get("ice_servers")
    except Exception:  # noqa: BLE001 - unreadable secrets: fall back to the environment
        value = None
    return live.ice_servers(value)


def live_session(
    pred: Predictor, *, on_the_fly: bool = False, warmup: float = live.WARMUP_SECONDS
) -> live.LivePredictor:
    """This browser session's :class:`~ser_core.live.LivePredictor`, using ``pred``
    (already adapted to the session's voice, if any).

    With ``on_the_fly`` (and a model that can adapt) it gets an
    :class:`~ser_core.live.OnlineAdapter`: running voice statistics, used after
    ``warmup`` seconds of speech; they survive reruns and restart at each START.
    """
    session = st.session_state.get(KEY_LIVE_SESSION)
    if not isinstance(session, live.LivePredictor):
        session = st.session_state[KEY_LIVE_SESSION] = live.LivePredictor(pred.predict)
    session.predict = pred.predict
    if on_the_fly and pred.speaker_normalised:
        if session.adapter is None:
            session.adapter = live.OnlineAdapter(pred, warmup=warmup)
        session.adapter.use(pred)
        session.adapter.warmup = float(warmup)
    else:
        session.adapter = None
    return session


def live_started(session: live.LivePredictor, playing: bool) -> None:
    """Forget the previous session's audio and history when the stream starts."""
    if playing and not st.session_state.get(KEY_LIVE_PLAYING):
        session.reset()
    st.session_state[KEY_LIVE_PLAYING] = playing


def live_panel(session: live.LivePredictor, unsure_below: float, running: bool, adaptation: str = "") -> None:
    """The live label and the probabilities over the session (re-predicts when running).

    ``adaptation`` is the model's :meth:`~Predictor.adaptation` sentence; with on-the-fly
    adaptation the adapter's own status (warm-up progress) is shown instead.
    """
    if running:
        session.step()
    point = session.latest
    adapter = session.adapter
    note = adapter.status() if adapter is not None else adaptation
    with st.container(key="predictor-live-label"):
        if note:
            st.caption(note)
        if point is None:
            st.info(
                "Listening… the first label appears after half a second of audio."
                if running
                else "Press **START** and allow the microphone: the label "
                "follows the last 3 s of your voice, updated twice a second.",
                icon=":material/mic:",
            )
        else:
            v = Verdict(point.probs, None, 0.0, 0.0, unsure_below)
            st.markdown(f"#### Live label: {v.label} · {100 * v.confidence:.0f} %")
            if v.unsure:
                st.warning(v.message(), icon=":material/help:")
            quiet = " The input is very quiet: is the microphone muted?" if point.rms < 1e-3 else ""
            st.caption(
                (
                    "Listening: the last 3 s, re-predicted twice a second."
                    if running
                    else "Stopped: the label at the end of the last session; press START for a new one."
                )
                + quiet
            )
    times, probs = session.history()
    if len(times):
        left, right = st.columns([2, 3], gap="large")
        left.plotly_chart(
            probability_figure(point.probs, unsure_below=unsure_below), key="predictor.live.probs"
        )
        right.plotly_chart(
            timeline_figure(times, probs, x_title="seconds since START", height=300),
            key="predictor.live.timeline",
        )
        right.caption(f"{len(times)} predictions of the last 3 s of audio, over {times[-1]:.0f} s of audio.")


# ===================================================================== explain
# ---- explain: helpers of pages/3_explain.py (session keys, cached maps, heatmap figures)
# Every expensive result is cached with ``st.cache_data`` keyed by the clip's id (file id
# or content hash), the model, the method, the target class and the options, so moving a
# display slider (opacity, top-k) recomputes no map.  Imported here to keep the section
# self-contained.
from collections import Counter  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from ser_core import xai  # noqa: E402
from ser_core.inference import Predictor  # noqa: E402,F811

EXPLAIN = "explain"
KEY_XAI_MODEL = f"{EXPLAIN}.model"
KEY_XAI_SOURCE = f"{EXPLAIN}.source"
KEY_XAI_EMOTION = f"{EXPLAIN}.emotion"
KEY_XAI_FILE = f"{EXPLAIN}.file"
KEY_XAI_UPLOADER = f"{EXPLAIN}.uploader"
#: The uploaded clip (a :func:`make_clip` dict), set by the uploader's ``on_change``;
#: tests put clips here directly.
KEY_XAI_UPLOAD = f"{EXPLAIN}.clip.upload"
KEY_XAI_TARGET = f"{EXPLAIN}.target"
KEY_XAI_SHARED = f"{EXPLAIN}.shared_scale"
KEY_XAI_OPACITY = f"{EXPLAIN}.opacity"
KEY_XAI_LISTEN = f"{EXPLAIN}.listen_method"
KEY_XAI_TOPK = f"{EXPLAIN}.top_k"
KEY_XAI_LIME = f"{EXPLAIN}.lime_samples"
KEY_XAI_SG_SAMPLES = f"{EXPLAIN}.sg_samples"
KEY_XAI_SG_NOISE = f"{EXPLAIN}.sg_noise"
KEY_XAI_STEPS = f"{EXPLAIN}.steps"
KEY_XAI_TABLE_SCORE = f"{EXPLAIN}.table_score"
XAI_SOURCES = {"corpus": "Corpus clip", "upload": "Upload a file"}
XAI_PREDICTED = "predicted"
#: Architectures the explainers handle (Grad-CAM layer, LRP rules).
XAI_ARCHITECTURES = ("resnet18", "small_cnn", "vgg16")
#: How many times each method was really computed (not served from the cache), per
#: process: lets tests check that display widgets recompute nothing.
XAI_COMPUTED: Counter = Counter()
XAI_COLORS = {
    "gradcam": "#e6550d",
    "lrp": "#3182bd",
    "smoothgrad": "#31a354",
    "lime": "#756bb1",
    "random": "#6b7280",
}
XAI_UNITS = {
    "gradcam": "CAM (a.u.)",
    "lrp": "logit share",
    "smoothgrad": "|∂ logit / ∂ x|",
    "lime": "Δ probability",
}
XAI_SCORES = {
    "auc": "deletion AUC (lower is better)",
    "drop10": "probability drop at 10 % removed (higher is better)",
    "drop20": "probability drop at 20 % removed (higher is better)",
}
#: Transparent at 0, blue for negative, red for positive relevance.
XAI_SIGNED_SCALE = [
    [0.0, "rgba(5,48,97,1)"],
    [0.25, "rgba(67,147,195,0.85)"],
    [0.5, "rgba(247,247,247,0)"],
    [0.75, "rgba(214,96,77,0.85)"],
    [1.0, "rgba(103,0,13,1)"],
]
XAI_POSITIVE_SCALE = [
    [0.0, "rgba(255,237,160,0)"],
    [0.35, "rgba(254,178,76,0.7)"],
    [0.7, "rgba(240,59,32,0.9)"],
    [1.0, "rgba(128,0,38,1)"],
]
#: Colour scales end at this percentile of |relevance| (a few extreme bins would
#: otherwise wash out the rest of a map); the hover shows the value.
XAI_DISPLAY_PERCENTILE = 99.5
#: PyTorch intra-op threads while explaining: on the shared 2-core machine one thread
#: was 6x faster than two (benchmarks/bench_xai.py: 5.4 s vs 31.7 s per clip at load
#: average ~6; two threads spin against the other processes).
XAI_TORCH_THREADS = 1


@contextlib.contextmanager
def xai_threads(n: int = XAI_TORCH_THREADS) -> Iterator[None]:
    """Run a block with ``n`` PyTorch threads, then restore the previous number."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def xai_models() -> list[str]:
    """Shipped spectrogram models the explainers handle (mel ResNet first)."""
    names = [
        n
        for n in shipped_models()
        if model_card(n).get("input", {}).get("kind") == "features"
        and model_card(n).get("architecture", {}).get("name") in XAI_ARCHITECTURES
    ]
    return sorted(names, key=lambda n: (n != "resnet18_mel", n))


def xai_options() -> xai.XAIOptions:
    """The options set in the page's settings widgets (defaults until they are drawn)."""
    d = xai.XAIOptions()
    ss = st.session_state
    return xai.XAIOptions(
        lime_samples=int(ss.get(KEY_XAI_LIME, d.lime_samples)),
        smoothgrad_samples=int(ss.get(KEY_XAI_SG_SAMPLES, d.smoothgrad_samples)),
        smoothgrad_noise=float(ss.get(KEY_XAI_SG_NOISE, d.smoothgrad_noise)),
        deletion_steps=int(ss.get(KEY_XAI_STEPS, d.deletion_steps)),
    )


def xai_settings() -> None:
    """Widgets of the explainers' cost settings (LIME budget, SmoothGrad, deletion steps)."""
    d = xai.XAIOptions()
    c1, c2, c3, c4 = st.columns(4)
    c1.number_input(
        "LIME samples",
        16,
        2000,
        d.lime_samples,
        16,
        key=KEY_XAI_LIME,
        help="Perturbed spectrograms LIME evaluates (one forward pass each): its cost and its stability.",
    )
    c2.number_input("SmoothGrad samples", 1, 200, d.smoothgrad_samples, 1, key=KEY_XAI_SG_SAMPLES)
    c3.number_input(
        "SmoothGrad noise",
        0.0,
        1.0,
        d.smoothgrad_noise,
        0.05,
        key=KEY_XAI_SG_NOISE,
        help="Noise std as a fraction of the input's range.",
    )
    c4.number_input(
        "Deletion steps",
        2,
        100,
        d.deletion_steps,
        1,
        key=KEY_XAI_STEPS,
        help="Steps from 0 to 100 % removed (10 % and 20 % are always included).",
    )


def xai_store_upload() -> None:
    """``on_change`` of the uploader: keep its file in :data:`KEY_XAI_UPLOAD`."""
    f = st.session_state.get(KEY_XAI_UPLOADER)
    if f is None:
        st.session_state.pop(KEY_XAI_UPLOAD, None)
    else:
        st.session_state[KEY_XAI_UPLOAD] = make_clip(f.getvalue(), f.name, "upload")


def xai_corpus_picker(meta: pd.DataFrame) -> dict | None:
    """Emotion + clip pickers; the chosen clip as ``{"id", "name", "path", "source"}``."""
    current = (st.session_state.get(CURRENT_CLIP) or {}).get("file_id")
    if KEY_XAI_EMOTION not in st.session_state and current in set(meta["file_id"]):
        row = meta.loc[meta["file_id"] == current].iloc[0]
        st.session_state[KEY_XAI_EMOTION] = row["emotion"]
        st.session_state[KEY_XAI_FILE] = current
    c1, c2 = st.columns([1, 3])
    emotion = c1.selectbox("Emotion", list(EMOTIONS), key=KEY_XAI_EMOTION)
    rows = meta[meta["emotion"] == emotion].sort_values(["speaker", "sentence_id"])
    ids = rows["file_id"].tolist()
    keep_valid(KEY_XAI_FILE, ids)
    text = dict(zip(rows["file_id"], rows.get("text", rows["file_id"])))
    fid = c2.selectbox("Clip", ids, key=KEY_XAI_FILE, format_func=lambda f: f"{f} · “{text.get(f, '')}”")
    if fid is None:
        return None
    path = str(meta.loc[meta["file_id"] == fid, "path"].iloc[0])
    return {"id": f"corpus:{fid}", "name": fid, "path": path, "source": "corpus"}


def xai_waveform(clip: dict) -> np.ndarray:
    """Decoded 16-kHz waveform of a corpus or uploaded clip (raises SERError on bad audio)."""
    if clip["source"] == "corpus":
        return clip_waveform(clip["path"])
    return _decode_upload(clip["data"], clip["name"])


@dataclass(frozen=True)
class XaiInput:
    """What the explainers need of one clip and model.

    Attributes
    ----------
    x : np.ndarray, shape (C, F, T)
        Normalised model input (the centre 3 s).
    window : np.ndarray, shape (n_samples,)
        The 3-s waveform the model sees.
    mel : np.ndarray, shape (n_mels, frames)
        Its log-mel spectrogram (dB): the heatmaps' background and what is inverted.
    probs : np.ndarray, shape (6,)
        Calibrated probabilities.
    """

    x: np.ndarray
    window: np.ndarray
    mel: np.ndarray
    probs: np.ndarray


@st.cache_data(show_spinner=False, max_entries=16)
def xai_input(clip_id: str, model: str, _y: np.ndarray, _pred: Predictor) -> XaiInput:
    """Model input, display spectrogram and probabilities of a clip (cached per clip + model)."""
    w = audio.pad_or_trim(_y, n_samples=_pred.cfg.n_samples, align=_pred.cfg.align)
    x = _pred.inputs(w[None])[0]
    mel = features.compute(w, "mel", cfg=_pred.cfg)[0]
    probs = _pred.predict_batch(w[None])[0]
    return XaiInput(x, w, mel, probs)


@st.cache_data(show_spinner=False, max_entries=128)
def xai_map(
    clip_id: str,
    model: str,
    method: str,
    target: int,
    options_key: str,
    _x: np.ndarray,
    _module,
    _options: xai.XAIOptions,
) -> np.ndarray:
    """Relevance map ``(C, F, T)`` of one method (cached per clip, model, method, target)."""
    XAI_COMPUTED[method] += 1
    with xai_threads():
        return xai.explain(_x, method, model=_module, target=target, options=_options)


@st.cache_data(show_spinner=False, max_entries=256)
def xai_curve(
    clip_id: str,
    model: str,
    method: str,
    target: int,
    options_key: str,
    _x: np.ndarray,
    _relevance: np.ndarray,
    _module,
    _options: xai.XAIOptions,
    temperature: float,
) -> xai.DeletionCurve:
    """Deletion curve of one map (``method`` "random": the reference ordering)."""
    XAI_COMPUTED[f"deletion:{method}"] += 1
    rel = xai.random_relevance(_x.shape, seed=_options.seed) if method == "random" else _relevance
    with xai_threads():
        return xai.deletion_curve(
            _x,
            rel,
            model=_module,
            target=target,
            steps=_options.deletion_steps,
            baseline=_options.baseline,
            temperature=temperature,
            batch_size=_options.batch_size,
            seed=_options.seed,
        )


@st.cache_data(show_spinner=False, max_entries=64)
def xai_listen_wav(
    clip_id: str,
    model: str,
    method: str,
    target: int,
    options_key: str,
    top_k: float,
    _mel: np.ndarray,
    _relevance: np.ndarray | None,
) -> bytes:
    """WAV of the Griffin-Lim inversion of the top-``k`` bins (``_relevance`` None: all bins)."""
    from ser_core import sonify

    XAI_COMPUTED["listen"] += 1
    y = sonify.mel_to_audio(_mel) if _relevance is None else xai.listen(_mel, _relevance, top_k=top_k)
    return wav_bytes(y)


def xai_display(relevance: np.ndarray) -> np.ndarray:
    """A map ``(C, F, T)`` as one ``(F, T)`` image (channels summed)."""
    return np.asarray(relevance, dtype=np.float32).sum(0)


def xai_maps_figure(
    mel: np.ndarray,
    maps: Mapping[str, np.ndarray],
    *,
    shared: bool = True,
    opacity: float = 0.8,
    height: int = 340,
) -> go.Figure:
    """The maps side by side over the grey log-mel spectrogram.

    Parameters
    ----------
    mel : np.ndarray, shape (F, T)
        Log-mel spectrogram (dB), drawn in grey underneath.
    maps : mapping of method -> np.ndarray, shape (F, T)
    shared : bool
        One colour scale for all: each map divided by its largest magnitude (-1..1);
        otherwise each map in its own units and range.
    opacity : float
        Opacity of the relevance layer.
    """
    names = list(maps)
    n = len(names)
    t = np.round(frame_times(mel.shape[1]), 4)
    bins = np.arange(mel.shape[0])
    fig = make_subplots(
        rows=1,
        cols=n,
        shared_yaxes=True,
        horizontal_spacing=0.025,
        subplot_titles=[xai.get_explainer(m).title for m in names],
    )
    for i, name in enumerate(names, start=1):
        fig.add_trace(
            go.Heatmap(
                z=mel, x=t, y=bins, colorscale="gray", showscale=False, hoverinfo="skip", name="log-mel"
            ),
            row=1,
            col=i,
        )
        raw = maps[name]
        signed = xai.get_explainer(name).signed
        if shared:
            z, axis, unit = (
                xai.normalise(raw, percentile=XAI_DISPLAY_PERCENTILE),
                "coloraxis",
                "scaled relevance",
            )
        else:
            z, axis, unit = raw, f"coloraxis{i + 1}", XAI_UNITS.get(name, "relevance")
            peak = (
                float(np.percentile(np.abs(raw), XAI_DISPLAY_PERCENTILE)) or float(np.max(np.abs(raw))) or 1.0
            )
            dom = fig.layout[f"xaxis{'' if i == 1 else i}"].domain
            fig.update_layout(
                {
                    axis: dict(
                        colorscale=XAI_SIGNED_SCALE if signed else XAI_POSITIVE_SCALE,
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
                name=name,
                hovertemplate=(
                    f"{xai.get_explainer(name).title}<br>%{{x:.2f}} s, mel band %{{y}}"
                    f"<br>{unit}: %{{z:.3g}}<extra></extra>"
                ),
            ),
            row=1,
            col=i,
        )
    if shared:
        fig.update_layout(
            coloraxis=dict(
                colorscale=XAI_SIGNED_SCALE,
                cmin=-1,
                cmax=1,
                colorbar=dict(title=dict(text="relevance<br>(scaled)"), thickness=12),
            )
        )
    fig.update_xaxes(title_text="time (s)")
    fig.update_yaxes(title_text="mel band", col=1)
    fig.update_annotations(font=dict(size=14, color="#1f2937"))
    fig.update_layout(
        height=height + (0 if shared else 70), margin=dict(l=60, r=20, t=40, b=50 if shared else 130)
    )
    return fig


def xai_deletion_figure(curves: Mapping[str, xai.DeletionCurve], *, height: int = 380) -> go.Figure:
    """Class probability against the fraction of bins removed, one line per method."""
    fig = go.Figure()
    for name, c in curves.items():
        title = "random order" if name == "random" else xai.get_explainer(name).title
        fig.add_trace(
            go.Scatter(
                x=np.round(100 * c.fractions.astype(float), 2).tolist(),
                y=np.round(100 * c.probs.astype(float), 3).tolist(),
                mode="lines+markers",
                name=f"{title} (AUC {c.auc:.3f})",
                line=dict(
                    color=XAI_COLORS.get(name, "#111827"),
                    width=2.5 if name != "random" else 2,
                    dash="dash" if name == "random" else "solid",
                ),
                marker=dict(size=5),
                hovertemplate=f"{title}<br>%{{x:.0f}} % removed: %{{y:.1f}} %<extra></extra>",
            )
        )
    for f in xai.DROP_AT:
        fig.add_vline(x=100 * f, line=dict(color="#9ca3af", width=1, dash="dot"))
    fig.update_layout(
        height=height,
        xaxis=dict(title="bins removed, most relevant first (%)", range=[0, 100]),
        yaxis=dict(title="probability of the explained class (%)", range=[0, 102]),
        margin=dict(l=60, r=20, t=20, b=50),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
    )
    return fig


def xai_scores_table(curves: Mapping[str, xai.DeletionCurve]) -> pd.DataFrame:
    """One row per method: deletion AUC and the probability drops at 10 % and 20 %."""
    return pd.DataFrame(
        [
            {
                "method": "random order" if k == "random" else xai.get_explainer(k).title,
                **{s: v for s, v in c.scores().items() if s != "p0"},
            }
            for k, c in curves.items()
        ]
    )


def xai_scores_config() -> dict:
    cc = st.column_config
    return {
        "method": cc.TextColumn("method", width=110),
        "auc": cc.NumberColumn("AUC", format="%.3f", help=XAI_SCORES["auc"], width=70),
        "drop10": cc.NumberColumn("drop @ 10 %", format="%.3f", help=XAI_SCORES["drop10"], width=90),
        "drop20": cc.NumberColumn("drop @ 20 %", format="%.3f", help=XAI_SCORES["drop20"], width=90),
    }


@st.cache_data(show_spinner=False, max_entries=4)
def _xai_table(path: str, mtime: float) -> tuple[pd.DataFrame, dict]:
    return xai.load_deletion_table(Path(path))


def xai_dataset_table() -> tuple[pd.DataFrame, dict] | None:
    """The committed ``xai-eval`` result (``artifacts/xai/deletion.json``), or None."""
    p = xai.deletion_table_path()
    try:
        mtime = p.stat().st_mtime
    except OSError:
        return None
    return _xai_table(str(p), mtime)


def xai_method_title(name: str) -> str:
    return (
        "random order"
        if name == "random"
        else (xai.get_explainer(name).title if name in xai.EXPLAINERS else name)
    )


# (end of the explain section)


# ===================================================================== adversarial
# ---- adversarial: helpers of pages/4_adversarial.py (session keys, cached attacks, figures)
from ser_core import attacks as adv  # noqa: E402

ADVERSARIAL = "adversarial"
KEY_ADV_MODEL = f"{ADVERSARIAL}.model"
KEY_ADV_SOURCE = f"{ADVERSARIAL}.source"
KEY_ADV_EMOTION = f"{ADVERSARIAL}.emotion"
KEY_ADV_FILE = f"{ADVERSARIAL}.file"
KEY_ADV_UPLOADER = f"{ADVERSARIAL}.uploader"
#: The uploaded clip (a :func:`make_clip` dict), set by the uploader's ``on_change``
#: callback; tests put a clip here directly.
KEY_ADV_CLIP = f"{ADVERSARIAL}.clip.upload"
KEY_ADV_DOMAIN = f"{ADVERSARIAL}.domain"
KEY_ADV_TARGET = f"{ADVERSARIAL}.target"
#: Attack and epsilon widgets, one per domain (each keeps its own value).
KEY_ADV_ATTACK = {d: f"{ADVERSARIAL}.attack.{d}" for d in adv.DOMAINS}
KEY_ADV_EPS = {d: f"{ADVERSARIAL}.epsilon.{d}" for d in adv.DOMAINS}

ADV_SOURCE_CORPUS = "Corpus clip (seed test split)"
ADV_SOURCE_UPLOAD = "Upload a file"
ADV_DOMAIN_TITLES = {"spectrogram": "Spectrogram (the model's input)", "waveform": "Waveform (real audio)"}
ADV_EPSILONS = {"spectrogram": adv.DEFAULT_EPSILONS, "waveform": adv.WAVEFORM_EPSILONS}
ADV_DEFAULT_EPS = {"spectrogram": 0.01, "waveform": 1e-4}
ADV_UNTARGETED = "untargeted"
ADV_MODEL = "resnet18_mel"
ADV_GL_ITERS = 32
ADV_EPS_HELP = {
    "spectrogram": (
        "Epsilon is applied to the **normalised** model input, as in the research project: the "
        "log-mel minus the training mean, divided by the training standard deviation, per mel "
        "band. One unit is one standard deviation of the band (8 to 25 dB for the shipped mel "
        "model), so epsilon = 0.01 moves every time-frequency bin by at most 0.08 to 0.25 dB."
    ),
    "waveform": (
        "Epsilon is in **sample amplitude** (full scale ±1; one step of a 16-bit WAV is 0.00003): "
        "every sample moves by at most epsilon. The gradient flows through a PyTorch copy of "
        "the log-mel front end (`ser_core.torch_frontend`, within 0.01 dB of librosa), so the "
        "result is real audio, played without Griffin-Lim."
    ),
}


def adv_models() -> list[str]:
    """Shipped models reading the ``mel`` representation (the attacks need it)."""
    out = []
    for name in shipped_models():
        inp = model_card(name).get("input", {})
        if inp.get("kind") == "features" and inp.get("name") == "mel":
            out.append(name)
    return out


def adv_default_model(names: list[str]) -> str:
    """``resnet18_mel`` when shipped, else the most accurate of ``names``."""
    if ADV_MODEL in names:
        return ADV_MODEL
    return max(names, key=lambda n: model_accuracy(n) or -1.0)


def adv_no_model_info() -> None:
    st.info(
        "The attacks need a shipped model on the log-mel spectrogram: train one with "
        "`python -m ser_core train --model resnet18 --representation mel --ship resnet18_mel` "
        "(it lands in `artifacts/models/`), then reload this page.",
        icon=":material/info:",
    )


@st.cache_data(show_spinner=False, max_entries=4)
def _adv_test_rows(root: str, split_stamp: float) -> pd.DataFrame:
    meta = _metadata(root)
    try:
        return meta.iloc[data.split_indices(meta, "seed").test]
    except (SERError, OSError):  # no split file: every clip
        return meta


def adv_test_clips(meta: pd.DataFrame) -> pd.DataFrame:
    """The corpus clips offered on the page: the ``seed`` test split (clips the model
    never trained on); every clip when the split file is missing."""
    p = artifacts_dir() / "splits" / "seed.csv"
    try:
        stamp = p.stat().st_mtime
    except OSError:
        stamp = 0.0
    root = corpus_dir()
    return meta if root is None else _adv_test_rows(str(root), stamp)


def adv_store_upload() -> None:
    """``on_change`` of the uploader: copy its file to :data:`KEY_ADV_CLIP`."""
    f = st.session_state.get(KEY_ADV_UPLOADER)
    if f is None:
        st.session_state.pop(KEY_ADV_CLIP, None)
        return
    st.session_state[KEY_ADV_CLIP] = make_clip(f.getvalue(), f.name, "upload")


def adv_waveform(clip: Mapping) -> np.ndarray:
    """Waveform of a page clip: ``{"path"}`` (corpus) or ``{"data", "name"}`` (upload).

    Raises
    ------
    SERError
        The upload is not usable audio.
    """
    if clip.get("path"):
        return clip_waveform(str(clip["path"]))
    return _decode_upload(clip["data"], clip["name"])


def adv_model_stamp(name: str) -> float:
    """mtime of a model's weights (keys the caches: a retrained model is attacked afresh)."""
    try:
        return (models.models_dir() / f"{name}.safetensors").stat().st_mtime
    except OSError:
        return 0.0


@st.cache_data(show_spinner=False, max_entries=64)
def _adv_attack(
    clip_id: str,
    model: str,
    stamp: float,
    attack: str,
    epsilon: float,
    target: str | None,
    steps: int,
    _pred: Predictor,
    _y: np.ndarray,
) -> adv.ClipAttack:
    settings = adv.AttackSettings(epsilon=epsilon, target=target, steps=steps)
    return adv.attack_clip(_y, predictor=_pred, attack=attack, settings=settings, n_iter=ADV_GL_ITERS)


def adv_attack(
    pred: Predictor, clip_id: str, y: np.ndarray, attack: str, settings: adv.AttackSettings
) -> adv.ClipAttack:
    """:func:`ser_core.attacks.attack_clip`, cached per clip hash, model, attack, epsilon,
    target and steps (the domain follows from the attack)."""
    return _adv_attack(
        clip_id,
        pred.name,
        adv_model_stamp(pred.name),
        attack,
        float(settings.epsilon),
        settings.target,
        settings.steps,
        pred,
        y,
    )


@st.cache_data(show_spinner=False, max_entries=16)
def _adv_reference(
    clip_id: str, model: str, stamp: float, _pred: Predictor, _y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    S = features.compute(_y, "mel", cfg=_pred.cfg)
    return adv.reconstruct(S, predictor=_pred, n_iter=ADV_GL_ITERS)


def adv_reference(pred: Predictor, clip_id: str, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Griffin-Lim of the **clean** log-mel and the pipeline's prediction for it (once per
    clip: the fair comparison for a Griffin-Lim-reconstructed adversarial spectrogram)."""
    return _adv_reference(clip_id, pred.name, adv_model_stamp(pred.name), pred, y)


def adv_window(y: np.ndarray, pred: Predictor) -> np.ndarray:
    """The 3-s window of ``y`` the model hears (what a waveform attack perturbs)."""
    from ser_core.torch_frontend import prepare_waveform

    return prepare_waveform(y, cfg=pred.cfg)


def format_epsilon(eps: float) -> str:
    """``0.0075`` / ``1e-05`` for the slider."""
    return "0" if eps == 0 else f"{eps:g}"


def format_snr(db: float) -> str:
    return "∞ (no change)" if not np.isfinite(db) else f"{db:.1f} dB"


def adv_outcome(res: adv.ClipAttack) -> str:
    """One markdown line: the prediction before and after, and whether it fooled the model."""
    before, after = EMOTIONS[int(np.argmax(res.probs_before))], EMOTIONS[int(np.argmax(res.probs_after))]
    if res.settings.epsilon == 0:
        return f"Epsilon 0: nothing changes, the model says **{before}**."
    goal = (
        ("reached the target" if res.settings.target else "changed the label")
        if res.fooled
        else ("did not reach the target" if res.settings.target else "did not change the label")
    )
    return (
        f"**{before}** ({100 * res.probs_before.max():.0f} %) → **{after}** "
        f"({100 * res.probs_after.max():.0f} %): the attack {goal}."
    )


def adv_playback_outcome(res: adv.ClipAttack) -> str:
    played = EMOTIONS[int(np.argmax(res.probs_audio))]
    how = "Griffin-Lim audio" if res.domain == "spectrogram" else "adversarial audio"
    verdict = (
        "it **survives** the trip through sound"
        if res.survives
        else "it does **not** survive the trip through sound"
    )
    if res.settings.epsilon == 0:
        verdict = "no attack to survive"
    return (
        f"The {how}, saved as a 16-bit WAV and fed back through the full pipeline: "
        f"**{played}** ({100 * res.probs_audio.max():.0f} %); {verdict}."
    )


def adv_timing_caption(res: adv.ClipAttack) -> str:
    names = {
        "features": "features",
        "attack": "attack",
        "griffin_lim": "Griffin-Lim",
        "playback_prediction": "re-prediction",
    }
    parts = [f"{names.get(k, k)} {v:.0f} ms" for k, v in res.timings_ms.items()]
    return f"Computed in {sum(res.timings_ms.values()):.0f} ms ({', '.join(parts)}); cached per clip and setting."


def adv_probability_figure(bars: Mapping[str, np.ndarray], *, height: int = 330) -> go.Figure:
    """Grouped horizontal bars: one group per emotion, one bar per entry of ``bars``."""
    palette = ["#9ca3af", "#dc2626", "#4f46e5", "#059669"]
    fig = go.Figure(
        [
            go.Bar(
                y=list(EMOTIONS),
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
        xaxis=dict(range=[0, 100], title="probability (%)"),
        yaxis=dict(autorange="reversed"),
        bargap=0.2,
        bargroupgap=0.05,
        margin=dict(l=80, r=20, t=10, b=45),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
    )
    return fig


def adv_spectrogram_figure(res: adv.ClipAttack, *, height: int = 640) -> go.Figure:
    """Original and adversarial log-mel (one colour scale, dB) and their difference."""
    t = frame_times(res.log_mel.shape[-1])
    bands = np.arange(res.log_mel.shape[0])
    pert = res.perturbation_db
    lim = float(np.max(np.abs(pert))) or 1e-3
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.07,
        subplot_titles=["original (dB)", "adversarial (dB)", f"perturbation (dB, up to ±{lim:.2g})"],
    )
    lo = float(min(res.log_mel.min(), res.adv_log_mel.min()))
    hi = float(max(res.log_mel.max(), res.adv_log_mel.max()))
    for row, z in ((1, res.log_mel), (2, res.adv_log_mel)):
        fig.add_trace(
            go.Heatmap(
                z=np.round(z, 2),
                x=t,
                y=bands,
                coloraxis="coloraxis",
                hovertemplate="%{x:.2f} s<br>mel band %{y}<br>%{z:.1f} dB<extra></extra>",
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
            hovertemplate="%{x:.2f} s<br>mel band %{y}<br>%{z:+.3f} dB<extra></extra>",
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
    fig.update_yaxes(title_text="mel band")
    fig.update_xaxes(title_text="time (s)", row=3, col=1)
    fig.update_annotations(font=dict(size=13, color="#1f2937"))
    return fig


@st.cache_data(show_spinner=False, max_entries=4)
def _adv_robustness(path: str, mtime: float) -> pd.DataFrame | None:
    return adv.load_robustness(path)


def adv_robustness() -> pd.DataFrame | None:
    """The robustness file (``python -m ser_core attack-eval``), or None before it exists."""
    p = adv.robustness_path()
    try:
        mtime = p.stat().st_mtime
    except OSError:
        return None
    return _adv_robustness(str(p), mtime)


def adv_robustness_figure(df: pd.DataFrame, *, epsilon: float | None = None, height: int = 420) -> go.Figure:
    """Test accuracy against epsilon (log axis), overall and per emotion; the clean
    accuracy as a dotted line and ``epsilon`` as a vertical marker.

    ``df``: the rows of one model (:func:`ser_core.attacks.robustness` columns, plus
    ``attack``); FGSM draws solid lines, other attacks dashed.
    """
    fig = go.Figure()
    for attack, part in df.groupby("attack", sort=False):
        part = part.sort_values("epsilon")
        pos = part[part["epsilon"] > 0]
        dash = "solid" if attack == "fgsm" else "dash"
        suffix = "" if attack == "fgsm" else f" ({attack})"
        fig.add_trace(
            go.Scatter(
                x=pos["epsilon"],
                y=(100 * pos["accuracy"]).round(2),
                mode="lines+markers",
                name=f"all emotions{suffix}",
                line=dict(color="#111827", width=4, dash=dash),
                hovertemplate="ε %{x:g}: %{y:.1f} %<extra>all emotions" + suffix + "</extra>",
            )
        )
        for e in EMOTIONS:
            if e in pos:
                fig.add_trace(
                    go.Scatter(
                        x=pos["epsilon"],
                        y=(100 * pos[e]).round(2),
                        mode="lines",
                        name=f"{e}{suffix}",
                        line=dict(color=EMOTION_COLORS[e], width=1.8, dash=dash),
                        visible=True if attack == "fgsm" else "legendonly",  # click the legend to add
                        hovertemplate=f"ε %{{x:g}}: %{{y:.1f}} %<extra>{e}{suffix}</extra>",
                    )
                )
        clean = part.loc[part["epsilon"] == 0, "accuracy"]
        if attack == "fgsm" and len(clean):
            fig.add_hline(
                y=100 * float(clean.iloc[0]),
                line=dict(color="#6b7280", dash="dot", width=1),
                annotation_text=f"no attack: {100 * float(clean.iloc[0]):.1f} %",
                annotation_position="bottom left",
            )
    if epsilon is not None and epsilon > 0:
        # on a log axis shapes take data values, annotations log10 of them
        fig.add_vline(x=epsilon, line=dict(color="#dc2626", width=2, dash="dash"))
        fig.add_annotation(
            x=np.log10(epsilon),
            y=1.0,
            yref="paper",
            yanchor="bottom",
            text=f"this clip: ε = {format_epsilon(epsilon)}",
            showarrow=False,
            font=dict(color="#dc2626", size=12),
        )
    fig.update_layout(
        height=height,
        xaxis=dict(type="log", title="epsilon (normalised input units, log scale)"),
        yaxis=dict(range=[0, 101], title="test accuracy (%)"),
        margin=dict(l=60, r=20, t=30, b=50),
        legend=dict(font=dict(size=11)),
    )
    return fig


# (end of the adversarial section)
