"""Helpers of the dataset page: the clip pickers and the representations of a clip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from ser_core import features
from ui.state import KEY_EMOTION, KEY_SENTENCE, KEY_SPEAKER

SOURCE_CORPUS = "Corpus clip"
SOURCE_UPLOAD = "Upload a file"


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
