"""Cached loaders of the corpus metadata and the corpus summaries (``artifacts/eda``).

Summaries are keyed by their file's mtime, so summaries rebuilt while the app runs are
picked up.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from ser_core import data, eda
from ser_core.errors import SERError
from ui.i18n import N_, _

#: English; :func:`summaries_info` shows it in the language of the run.
SUMMARY_HINT = N_(
    "Corpus summaries are not built yet: `python -m ser_core eda-summary` writes them to "
    "`artifacts/eda/` (needs the corpus; roughly a quarter of an hour on two CPU cores); "
    "this section appears once they exist."
)
SUMMARY_FILES = {
    "clips": "clips.csv",
    "means": "emotion_means.npz",
    "projections": "projections.npz",
}


def corpus_dir() -> Path | None:
    """The corpus folder, or None when it is absent (cheap: a few ``stat`` calls)."""
    try:
        return data.find_corpus()
    except SERError:
        return None


@st.cache_data(show_spinner=False)  # metadata() shows a spinner in the run's language
def corpus_metadata(root: str) -> pd.DataFrame:
    return data.load_metadata(root)


def metadata() -> pd.DataFrame | None:
    """Corpus metadata (:func:`ser_core.data.load_metadata`), or None without corpus.

    Cached per corpus folder, so pointing ``NEMO_DIR`` elsewhere takes effect.
    """
    root = corpus_dir()
    if root is None:
        return None
    with st.spinner(_("Reading the corpus metadata…")):  # shown only after half a second
        return corpus_metadata(str(root))


def how_to_get_corpus() -> None:
    """An info box saying how to get the corpus."""
    st.info(_("No nEMO corpus found. {how}").format(how=_(data.HOW_TO_GET)), icon=":material/info:")


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
    st.info(_(SUMMARY_HINT), icon=":material/info:")


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
def _emotion_means(representation: str, path: str, mtime: float) -> np.ndarray:
    return eda.load_emotion_means(representation, Path(path).parent)


def emotion_means(representation: str) -> np.ndarray | None:
    """Per-emotion average of a representation, ``(6, channels, bins, frames)``, or None."""
    stamp = summary_stamp("means")
    return None if stamp is None else _emotion_means(representation, *stamp)


@st.cache_data(show_spinner=False, max_entries=32)
def _projections(representation: str, path: str, mtime: float) -> dict[str, np.ndarray]:
    return eda.load_projections(representation, Path(path).parent)


def projections(representation: str) -> dict[str, np.ndarray] | None:
    """``{"pca", "tsne", "pca_var"}`` arrays of a representation, or None when not built."""
    stamp = summary_stamp("projections")
    return None if stamp is None else _projections(representation, *stamp)
