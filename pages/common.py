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

    st.info(f"No training run in the MLflow database `{tracking.db_path()}` yet. Train a model "
            f"and its run appears here:\n\n`{lb.HOW_TO_TRAIN}`\n\n(leave-one-speaker-out: "
            "`--protocol loso --fold 0` … `--fold 8`; needs the corpus).",
            icon=":material/info:")


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
    pct = {c: cc.NumberColumn(t, format="%.1f %%", help=h, width=w) for c, t, h, w in [
        ("macro_f1", "macro F1", "unweighted mean of the six per-class F1 (test)", 68),
        ("precision", "precision", "macro precision (test)", 70),
        ("recall", "recall", "macro recall (test)", 62),
    ]}
    config: dict = {
        "model": cc.TextColumn("model", width=80),
        "input": cc.TextColumn("representation", width=104),
        "protocol": cc.TextColumn("protocol", width=62, help="seed: one fixed split; "
                                  "loso: leave one speaker out (one run per held-out speaker)"),
        "accuracy": cc.ProgressColumn("test accuracy", format="%.1f %%", min_value=0.0,
                                      max_value=100.0, width=130),
        **pct,
        "ece_after": cc.NumberColumn("ECE", format="%.3f", width=52,
                                     help="expected calibration error after temperature "
                                     "scaling (lower is better)"),
        "parameters": cc.NumberColumn("weights", format="compact", width=62,
                                      help="trainable parameters"),
        "minutes": cc.NumberColumn("train time", format="%.1f min", width=76),
        "start_time": cc.DatetimeColumn("started (UTC)", format="YYYY-MM-DD HH:mm"),
    }
    df = table.copy()
    for col in ("accuracy", *pct):
        df[col] = 100 * df[col]
    df["minutes"] = df["train_seconds"] / 60
    df["start_time"] = pd.to_datetime(df["start_time"], utc=True).dt.tz_convert(None)  # UTC
    if every_run:
        cols = ["run_name", "status", "model", "input", "protocol", "fold", "accuracy",
                "macro_f1", "precision", "recall", "ece_after", "parameters", "minutes",
                "start_time"]
        config.update(run_name=cc.TextColumn("run", width=200),
                      status=cc.TextColumn("status", width=80),
                      fold=cc.NumberColumn("fold", format="%d", width=40))
    else:
        for m in ("accuracy", "macro_f1"):  # text: blank for single runs instead of "None"
            df[f"{m}_pp"] = [f"± {100 * v:.1f}" if pd.notna(v) else "" for v in df[f"{m}_std"]]
        cols = ["model", "input", "protocol", "n_folds", "accuracy", "accuracy_pp", "macro_f1",
                "macro_f1_pp", "precision", "recall", "ece_after", "parameters", "minutes"]
        std_help = "standard deviation over the LOSO folds (percentage points)"
        config.update(
            n_folds=cc.NumberColumn("folds", format="%d", width=48,
                                    help="runs averaged (LOSO folds)"),
            accuracy_pp=cc.TextColumn("± acc.", help=std_help, width=62),
            macro_f1_pp=cc.TextColumn("± F1", help=std_help, width=58),
        )
        config["minutes"] = cc.NumberColumn("train time", format="%.1f min", width=76,
                                            help="mean over the folds")
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
    panels = [df[df["protocol"] == p].assign(best=lambda d: d["input"].map(best))
              .sort_values(["best", "input", "acc"], ascending=[False, True, False])
              for p in protocols]
    sizes = [len(d) for d in panels]
    fig = make_subplots(rows=1, cols=len(panels), shared_yaxes=True,
                        column_widths=[n / sum(sizes) for n in sizes],
                        subplot_titles=[PROTOCOL_TITLES.get(p, p) for p in protocols],
                        horizontal_spacing=0.04)
    for i, d in enumerate(panels, start=1):
        sd = [None if np.isnan(v) else v for v in d["sd"]]
        hover = [f"{m} on {r}<br>test accuracy {a:.1f} %" + (f" ± {e:.1f} pp over {int(k)} folds"
                                                             if e is not None else "")
                 for m, r, a, e, k in zip(d["model"], d["input"], d["acc"], sd, d["n_folds"])]
        fig.add_trace(go.Bar(
            x=[d["input"].tolist(), d["model"].tolist()], y=d["acc"],
            marker_color=[colors[m] for m in d["model"]],
            error_y=dict(type="data", array=sd, visible=any(e is not None for e in sd),
                         thickness=1.5, width=6, color="#111827"),
            text=[f"{v:.1f}" for v in d["acc"]], textposition="inside",
            insidetextanchor="middle",
            textfont=dict(color="white"), hovertext=hover, hoverinfo="text", showlegend=False,
        ), row=1, col=i)
    fig.update_yaxes(range=[0, 100], ticksuffix=" %")
    fig.update_yaxes(title_text="test accuracy", col=1)
    fig.update_xaxes(tickfont=dict(size=11))
    fig.update_annotations(font=dict(size=13, color="#1f2937"))
    fig.update_layout(height=400, margin=dict(l=60, r=20, t=40, b=40), bargap=_bargap(sum(sizes)))
    return fig


def f1_heatmap(table: pd.DataFrame, labels: list[str]) -> go.Figure:
    """Per-class test F1 (%) of each row of ``table`` (runs or summary rows) by emotion."""
    z = 100 * table[[f"f1_{e}" for e in EMOTIONS]].to_numpy(dtype=float)
    fig = go.Figure(go.Heatmap(
        z=z, x=list(EMOTIONS), y=labels, zmin=0, zmax=100, colorscale="RdYlGn",
        text=np.vectorize(lambda v: "" if np.isnan(v) else f"{v:.0f}")(z),
        texttemplate="%{text}", textfont=dict(size=12),
        colorbar=dict(title=dict(text="F1 (%)"), thickness=14),
        hovertemplate="%{y}<br>%{x}: F1 %{z:.1f} %<extra></extra>",
    ))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(side="top", type="category")
    fig.update_layout(height=max(220, 36 * len(labels) + 90),
                      margin=dict(l=10, r=10, t=40, b=10))
    return fig


def confusion_figure(cm: np.ndarray) -> go.Figure:
    """Confusion matrix: colour = % of the true class (row), text = count and %."""
    counts = np.asarray(cm, dtype=float)
    rows = counts.sum(axis=1, keepdims=True)
    pct = 100 * counts / np.where(rows > 0, rows, 1)
    text = [[f"{int(c)}<br>{p:.0f} %" for c, p in zip(rc, rp)] for rc, rp in zip(counts, pct)]
    fig = go.Figure(go.Heatmap(
        z=pct, x=list(EMOTIONS), y=list(EMOTIONS), zmin=0, zmax=100, colorscale="Blues",
        text=text, texttemplate="%{text}", textfont=dict(size=12),
        customdata=counts, showscale=False,
        hovertemplate=("true %{y}, predicted %{x}<br>%{customdata:.0f} clips "
                       "(%{z:.1f} % of %{y})<extra></extra>"),
    ))
    fig.update_yaxes(autorange="reversed", title_text="true emotion", type="category")
    fig.update_xaxes(title_text="predicted emotion", type="category", side="bottom")
    fig.update_layout(height=440, margin=dict(l=10, r=10, t=20, b=50))
    return fig


def curves_figure(df: pd.DataFrame, *, best_epoch: float | None = None) -> go.Figure:
    """Training curves: train / validation loss (top) and validation accuracy (bottom)."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.14,
                        subplot_titles=["Loss", "Validation accuracy"])
    for key, style in CURVE_STYLE.items():
        d = df[df["metric"] == key]
        if d.empty:
            continue
        acc = key == "val_accuracy"
        fig.add_trace(go.Scatter(
            x=d["epoch"], y=100 * d["value"] if acc else d["value"], mode="lines+markers",
            name=style["name"], line=dict(color=style["color"], width=2), marker=dict(size=5),
            hovertemplate=(f"epoch %{{x}}<br>{style['name']} "
                           + ("%{y:.1f} %" if acc else "%{y:.3f}") + "<extra></extra>"),
        ), row=2 if acc else 1, col=1)
    if best_epoch is not None and np.isfinite(best_epoch):
        fig.add_vline(x=best_epoch, line=dict(color="#6b7280", width=1, dash="dash"))
    fig.update_xaxes(title_text="epoch", row=2, col=1)
    fig.update_xaxes(showticklabels=True, row=1, col=1)
    fig.update_yaxes(title_text="cross-entropy", row=1, col=1)
    fig.update_yaxes(title_text="accuracy", ticksuffix=" %", row=2, col=1)
    fig.update_annotations(font=dict(size=13, color="#1f2937"), xanchor="left", x=0)
    fig.update_layout(height=440, margin=dict(l=60, r=20, t=30, b=40),
                      legend=dict(orientation="h", yanchor="bottom", y=1.06, x=1,
                                  xanchor="right"))
    return fig


def ensemble_figure(weights: pd.DataFrame) -> go.Figure:
    """Member weights of the ensemble runs (one colour per run)."""
    df = weights.assign(pct=100 * weights["weight"])
    fig = px.bar(df, x="representation", y="pct", color="run_name", barmode="group", text="pct",
                 labels={"pct": "weight (%)", "run_name": "ensemble run"},
                 color_discrete_sequence=px.colors.qualitative.Safe)
    fig.update_traces(texttemplate="%{y:.0f} %", textposition="outside", cliponaxis=False)
    fig.update_yaxes(range=[0, max(100.0, float(df["pct"].max()) * 1.15)], ticksuffix=" %")
    fig.update_layout(height=340, margin=dict(l=60, r=20, t=20, b=40),
                      showlegend=df["run_name"].nunique() > 1, bargap=_bargap(len(df)))
    return fig


def compare_f1_figure(runs: pd.DataFrame, run_a: str, run_b: str) -> go.Figure:
    """Per-class test F1 of two runs as grouped bars."""
    fig = go.Figure()
    for tag, rid, color in zip("AB", (run_a, run_b), COMPARE_COLORS):
        row = runs.loc[runs["run_id"] == rid].iloc[0]
        y = [100 * row[f"f1_{e}"] for e in EMOTIONS]
        fig.add_trace(go.Bar(x=list(EMOTIONS), y=y, name=f"{tag}: {row['run_name']}",
                             marker_color=color,
                             text=["" if np.isnan(v) else f"{v:.0f}" for v in y],
                             textposition="outside", cliponaxis=False,
                             hovertemplate="%{x}: F1 %{y:.1f} %<extra></extra>"))
    fig.update_layout(barmode="group", height=360, yaxis=dict(range=[0, 105], ticksuffix=" %",
                                                              title="test F1 (%)"),
                      margin=dict(l=60, r=20, t=20, b=40),
                      legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))
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

from ser_core import live, models  # noqa: E402
from ser_core.errors import AudioTooLongError  # noqa: E402
from ser_core.feedback import Feedback, FeedbackStore  # noqa: E402
from ser_core.inference import Predictor, Verdict, best_model_name  # noqa: E402

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

PRED_SOURCES = {"upload": "Upload a file", "recording": "Record (up to 10 s)",
                "live": "Live microphone"}
#: Longest accepted in-browser recording (s).
RECORDING_MAX_SECONDS = 10.0
#: Inference back end of the page: ONNX Runtime (about twice as fast as PyTorch eager
#: on CPU, see benchmarks/bench_predict.py), PyTorch where ONNX fails.
PREDICTOR_BACKEND = "auto"
BACKEND_NAMES = {"onnx": "ONNX Runtime", "torch": "PyTorch"}
FB_YES, FB_NO, FB_NOT_SURE = "Yes", "No", "Not sure"
CONSENT_LABEL = "Donate this recording to improve the model"
_MIME = {"wav": "audio/wav", "mp3": "audio/mpeg", "ogg": "audio/ogg", "opus": "audio/ogg",
         "flac": "audio/flac", "m4a": "audio/mp4", "webm": "audio/webm"}


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
    import json

    return json.loads(Path(path).read_text())


def model_card(name: str) -> dict:
    """The JSON card of a shipped model ({} when unreadable)."""
    p = models.models_dir() / f"{name}.json"
    try:
        return _card(str(p), p.stat().st_mtime)
    except (OSError, ValueError):
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
    st.info("No trained model is shipped yet: train one with `python -m ser_core train "
            "--ship NAME` (it lands in `artifacts/models/`), then reload this page.",
            icon=":material/info:")


def model_caption(pred: Predictor) -> str:
    acc = model_accuracy(pred.name)
    arch = model_card(pred.name).get("architecture", {}).get("name", "?")
    parts = [f"{arch} on the {features.get(pred.representation).title.lower()}"
             if pred.kind == "features" else arch]
    if acc is not None:
        parts.append(f"**{100 * acc:.1f} %** accuracy on the seed test split")
    parts.append(f"reported as unsure below {100 * pred.unsure_below:.0f} % confidence")
    parts.append(f"runs in {BACKEND_NAMES.get(pred.backend, pred.backend)}")
    return " · ".join(parts)


def upload_help() -> str:
    limit = st.get_option("server.maxUploadSize")
    return (f"wav, mp3, ogg/opus, flac, m4a or webm; up to {limit} MB and 10 minutes. "
            "Audio longer than 3 s is judged over sliding 3-s windows.")


# ---- predictor: clips
def make_clip(data: bytes, name: str, source: str) -> dict:
    """A clip to predict: ``{"name", "data", "source", "id"}`` (id: content hash)."""
    data = bytes(data)
    return {"name": name, "data": data, "source": source,
            "id": hashlib.blake2b(data, digest_size=12).hexdigest()}


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


def analyse(pred: Predictor, clip: dict) -> ClipResult:
    """Decode and predict a clip; reused while the clip and the model stay the same.

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
    if old is not None and (old.clip_id, old.model, old.backend) == (clip_id, pred.name, pred.backend):
        return old
    results.pop(source, None)
    limit = RECORDING_MAX_SECONDS if source == "recording" else audio.MAX_SECONDS
    t0 = time.perf_counter()
    try:
        y = audio.load_audio(clip["data"], name=clip["name"], sr=pred.cfg.sr, max_seconds=limit)
    except AudioTooLongError as err:
        if source != "recording":
            raise
        raise AudioTooLongError(f"Recordings are limited to {limit:.0f} s ({err}). Record a "
                                "shorter clip, or upload a file for audio up to 10 minutes.") from None
    decode_ms = 1000 * (time.perf_counter() - t0)
    with st.spinner("Predicting…"):
        verdict = pred.verdict(y)
    res = ClipResult(clip_id, clip["name"], source, pred.name, pred.backend, y, verdict, decode_ms)
    results[source] = res
    return res


def clip_mime(name: str) -> str:
    """MIME type for ``st.audio`` from a file name (WAV when unknown)."""
    return _MIME.get(Path(name).suffix.lower().lstrip("."), "audio/wav")


def timing_caption(res: ClipResult) -> str:
    v = res.verdict
    what = f"{len(v.timeline.starts)} windows" if v.timeline is not None else "one 3-s window"
    return (f"Prediction took **{v.elapsed_ms:.0f} ms** (features + model, {what}, "
            f"{BACKEND_NAMES.get(res.backend, res.backend)}); decoding {res.decode_ms:.0f} ms; "
            f"{v.seconds:.1f} s of audio.")


# ---- predictor: plots
def probability_figure(probs: np.ndarray, *, unsure_below: float | None = None,
                       height: int = 300) -> go.Figure:
    """The six calibrated probabilities as horizontal bars in the emotion colours."""
    pct = 100 * np.asarray(probs, dtype=float)
    fig = go.Figure(go.Bar(
        y=list(EMOTIONS), x=pct.round(2).tolist(), orientation="h",
        marker_color=[EMOTION_COLORS[e] for e in EMOTIONS],
        text=[f"{p:.0f} %" for p in pct], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:.1f} %<extra></extra>",
    ))
    if unsure_below is not None:
        fig.add_vline(x=100 * unsure_below, line=dict(color="#6b7280", width=1, dash="dot"))
        fig.add_annotation(x=100 * unsure_below, y=1.0, yref="paper", yanchor="bottom",
                           text=f"unsure below {100 * unsure_below:.0f} %", showarrow=False,
                           font=dict(size=11, color="#6b7280"))
    fig.update_layout(height=height, xaxis=dict(range=[0, 108], title="probability (%)"),
                      yaxis=dict(autorange="reversed"), bargap=0.25,
                      margin=dict(l=80, r=30, t=30, b=45))
    return fig


def timeline_figure(times: np.ndarray, probs: np.ndarray, *, x_title: str = "time (s)",
                    height: int = 320) -> go.Figure:
    """The six probabilities over time, one line per emotion."""
    probs = np.asarray(probs, dtype=float).reshape(-1, len(EMOTIONS))
    fig = go.Figure([
        go.Scatter(x=np.round(times, 3).tolist(), y=(100 * probs[:, k]).round(2).tolist(), mode="lines+markers" if len(times) < 40 else "lines",
                   name=e, line=dict(color=EMOTION_COLORS[e], width=2), marker=dict(size=5),
                   hovertemplate=f"{e}<br>%{{x:.1f}} s: %{{y:.0f}} %<extra></extra>")
        for k, e in enumerate(EMOTIONS)
    ])
    fig.update_layout(height=height, xaxis_title=x_title,
                      yaxis=dict(range=[0, 100], title="probability (%)"),
                      margin=dict(l=60, r=20, t=20, b=50),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0))
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
    fig = go.Figure(go.Scattergl(x=t, y=v, mode="lines", line=dict(color="#4f46e5", width=1),
                                 hoverinfo="skip"))
    fig.update_layout(height=height, xaxis_title="time (s)", yaxis_title="amplitude",
                      margin=dict(l=60, r=20, t=10, b=45))
    return fig


@st.cache_data(show_spinner=False, max_entries=8)
def _display_mel(y: np.ndarray, sr: int) -> tuple[np.ndarray, float]:
    n_samples = DEFAULT_CONFIG.n_samples
    if len(y) <= n_samples:  # what the model sees: padded to 3 s
        return features.compute(y, "mel")[0], DEFAULT_CONFIG.hop_length / sr
    import librosa

    hop = max(DEFAULT_CONFIG.hop_length, int(np.ceil(len(y) / 1500)))
    n_fft = max(DEFAULT_CONFIG.n_fft, 1 << int(np.ceil(np.log2(hop))))
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop,
                                         n_mels=DEFAULT_CONFIG.n_mels)
    return librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=DEFAULT_CONFIG.top_db), hop / sr


def mel_figure(y: np.ndarray, sr: int, *, height: int = 260) -> go.Figure:
    """Log-mel spectrogram (dB) of the whole clip; clips up to 3 s are shown padded
    to 3 s, exactly as the model sees them."""
    z, dt = _display_mel(y, sr)
    t = np.arange(z.shape[1]) * dt
    fig = go.Figure(go.Heatmap(z=z, x=t, y=np.arange(z.shape[0]), colorscale="Viridis",
                               colorbar=dict(title=dict(text="dB")),
                               hovertemplate="%{x:.2f} s<br>mel band %{y}<br>%{z:.1f} dB<extra></extra>"))
    fig.update_layout(height=height, xaxis_title="time (s)", yaxis_title="mel band",
                      margin=dict(l=60, r=20, t=10, b=45))
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
    correct = {FB_YES: res.verdict.label, FB_NO: st.session_state.get(KEY_FB_CORRECT),
               FB_NOT_SURE: None}.get(answer)
    consent = bool(st.session_state.get(KEY_FB_CONSENT, False))
    fb = Feedback(predicted=res.verdict.label, correct=correct, model=res.model,
                  probabilities=dict(zip(EMOTIONS, map(float, res.verdict.probs))),
                  source=res.source)
    try:
        FeedbackStore().add(fb, audio=res.y, consent=consent, sr=DEFAULT_CONFIG.sr)
    except SERError as err:
        st.session_state[KEY_FB_STATUS] = ("error", f"Your feedback was not stored: {err}")
        return
    what = (f"your feedback and your recording ({len(res.y) / DEFAULT_CONFIG.sr:.1f} s, "
            "saved as FLAC under a random name)" if consent
            else "your feedback only (no audio was kept)")
    st.session_state[KEY_FB_STATUS] = ("success", f"Thank you: stored {what}.")


def feedback_form(res: ClipResult) -> None:
    """"Was this right?" + a separate, unticked donation consent + submit."""
    _feedback_reset(f"{res.source}/{res.clip_id}/{res.model}")
    status = st.session_state.get(KEY_FB_STATUS)
    sent = status is not None and status[0] == "success"
    answer = st.radio("Was this right?", [FB_YES, FB_NO, FB_NOT_SURE], index=None,
                      horizontal=True, key=KEY_FB_RIGHT, disabled=sent)
    if answer == FB_NO:
        st.selectbox("What is the right emotion?",
                     [e for e in EMOTIONS if e != res.verdict.label], index=None,
                     placeholder="Pick the emotion", key=KEY_FB_CORRECT, disabled=sent)
    st.checkbox(CONSENT_LABEL, value=False, key=KEY_FB_CONSENT, disabled=sent,
                help="Unticked, only your answer is stored, never the audio. Ticked, the "
                     "recording is also saved (FLAC, random file name) and may be used to "
                     "train future models.")
    ready = answer is not None and (answer != FB_NO or st.session_state.get(KEY_FB_CORRECT))
    st.button("Send feedback", key=KEY_FB_SUBMIT, icon=":material/send:", on_click=send_feedback,
              args=(res,), disabled=sent or not ready)
    if status is not None:
        (st.success if status[0] == "success" else st.error)(
            status[1], icon=":material/check_circle:" if status[0] == "success" else ":material/error:")


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


def live_session(pred: Predictor) -> live.LivePredictor:
    """This browser session's :class:`~ser_core.live.LivePredictor`, using ``pred``."""
    session = st.session_state.get(KEY_LIVE_SESSION)
    if not isinstance(session, live.LivePredictor):
        session = st.session_state[KEY_LIVE_SESSION] = live.LivePredictor(pred.predict)
    session.predict = pred.predict
    return session


def live_started(session: live.LivePredictor, playing: bool) -> None:
    """Forget the previous session's audio and history when the stream starts."""
    if playing and not st.session_state.get(KEY_LIVE_PLAYING):
        session.reset()
    st.session_state[KEY_LIVE_PLAYING] = playing


def live_panel(session: live.LivePredictor, unsure_below: float, running: bool) -> None:
    """The live label and the probabilities over the session (re-predicts when running)."""
    if running:
        session.step()
    point = session.latest
    with st.container(key="predictor-live-label"):
        if point is None:
            st.info("Listening… the first label appears after half a second of audio."
                    if running else "Press **START** and allow the microphone: the label "
                    "follows the last 3 s of your voice, updated twice a second.",
                    icon=":material/mic:")
        else:
            v = Verdict(point.probs, None, 0.0, 0.0, unsure_below)
            st.markdown(f"#### Live label: {v.label} · {100 * v.confidence:.0f} %")
            if v.unsure:
                st.warning(v.message(), icon=":material/help:")
            quiet = " The input is very quiet: is the microphone muted?" if point.rms < 1e-3 else ""
            st.caption(("Listening: the last 3 s, re-predicted twice a second." if running else
                        "Stopped: the label at the end of the last session; press START for a "
                        "new one.") + quiet)
    times, probs = session.history()
    if len(times):
        left, right = st.columns([2, 3], gap="large")
        left.plotly_chart(probability_figure(point.probs, unsure_below=unsure_below),
                          key="predictor.live.probs")
        right.plotly_chart(timeline_figure(times, probs, x_title="seconds since START",
                                           height=300), key="predictor.live.timeline")
        right.caption(f"{len(times)} predictions of the last 3 s of audio, over "
                      f"{times[-1]:.0f} s of audio.")


# ===================================================================== explain
# ---- explain: helpers of pages/3_explain.py (session keys, cached maps, heatmap figures)
# (end of the explain section)


# ===================================================================== adversarial
# ---- adversarial: helpers of pages/4_adversarial.py (session keys, cached attacks, figures)
# (end of the adversarial section)
