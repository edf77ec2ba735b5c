"""Helpers of the dataset page: the clip pickers, the representations of a clip, the
clip under each recording condition (:mod:`ser_core.conditions`), and the same emotion
in nEMO and RAVDESS."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from ser_core import audio, conditions, features, ravdess
from ser_core.config import DEFAULT_CONFIG
from ser_core.errors import SERError
from ser_core.figures.style import gender_name
from ui import loaders
from ui.i18n import N_, _, ngettext
from ui.state import KEY_EMOTION, KEY_SENTENCE, KEY_SPEAKER

#: The clip sources (session values, in English; shown with :func:`source_label`).
SOURCE_CORPUS = N_("Corpus clip")
SOURCE_UPLOAD = N_("Upload a file")
#: Tab titles of the condition families, in the order the page shows them (English;
#: translated where shown).
CONDITION_TABS = {
    "clean": N_("Clean"),
    "room": N_("Rooms"),
    "noise": N_("Noise"),
    "device": N_("Devices"),
    "codec": N_("Codecs"),
    "combined": N_("Room + babble"),
}


def source_label(source: str) -> str:
    """A clip source (:data:`SOURCE_CORPUS`, :data:`SOURCE_UPLOAD`) in the language of this run."""
    return _(source)


def condition_tab(family: str) -> str:
    """The tab title of a condition family in the language of this run."""
    return _(CONDITION_TABS.get(family, family))


def representations(y: np.ndarray) -> dict[str, np.ndarray]:
    """All 13 representations of a waveform (its centre 3 s), cached by content."""
    with st.spinner(_("Computing the 13 representations…")):
        return _representations(y)


@st.cache_data(show_spinner=False, max_entries=32)
def _representations(y: np.ndarray) -> dict[str, np.ndarray]:
    return features.compute_all(y)


def clip_options(meta: pd.DataFrame, emotion: str, speaker: str) -> pd.DataFrame:
    """Rows of ``meta`` for one emotion and speaker, sorted by sentence."""
    sel = meta[(meta["emotion"] == emotion) & (meta["speaker"] == speaker)]
    return sel.sort_values("sentence_id")


def speaker_label(meta: pd.DataFrame, speaker: str) -> str:
    """``"EB0 (female, 27)"`` for a speaker id, in the language of this run."""
    row = meta.loc[meta["speaker"] == speaker].iloc[0]
    age = int(row["age"])
    # Translators: a speaker's id, gender and age in years ("EB0 (female, 27)").
    template = ngettext("{speaker} ({gender}, {age})", "{speaker} ({gender}, {age})", age)
    return template.format(speaker=speaker, gender=gender_name(row["gender"]), age=age)


def random_clip(meta: pd.DataFrame) -> None:
    """Button callback: point the clip pickers at a random corpus clip."""
    row = meta.sample(1).iloc[0]
    st.session_state[KEY_EMOTION] = row["emotion"]
    st.session_state[KEY_SPEAKER] = row["speaker"]
    st.session_state[KEY_SENTENCE] = int(row["sentence_id"])


def conditions_by_family() -> dict[str, list[conditions.Condition]]:
    """Every registered condition, grouped by :data:`CONDITION_TABS`' families, in order."""
    groups = {family: [] for family in CONDITION_TABS}
    for spec in conditions.CONDITIONS.values():
        groups.setdefault(spec.family, []).append(spec)
    return {family: specs for family, specs in groups.items() if specs}


@st.cache_data(show_spinner=False, max_entries=16)
def babble(root: str, speaker: str | None, seed: int) -> np.ndarray:
    """A babble pool of the corpus at ``root`` without ``speaker`` (None: anyone)."""
    meta = loaders.corpus_metadata(root)
    return conditions.babble_pool(meta, exclude_speakers=[speaker] if speaker else [], seed=seed)


@st.cache_data(show_spinner=False, max_entries=64)
def conditioned(
    y: np.ndarray, condition: str, seed: int, *, speaker: str | None, root: str | None
) -> np.ndarray:
    """``y`` under ``condition`` (cached by clip, condition and seed); babble from the corpus
    at ``root`` without the clip's own ``speaker``."""
    needs = conditions.CONDITIONS[condition].needs_babble
    pool = babble(root, speaker, seed) if needs and root else None
    return conditions.render(y, condition, sr=DEFAULT_CONFIG.sr, seed=seed, babble=pool)


@st.cache_data(show_spinner=False, max_entries=64)
def conditioned_representation(
    y: np.ndarray, condition: str, seed: int, representation: str, *, speaker: str | None, root: str | None
) -> np.ndarray:
    """One representation ``(channels, bins, frames)`` of :func:`conditioned`'s clip."""
    z = conditioned(y, condition, seed, speaker=speaker, root=root)
    return features.compute(z, representation)


# ------------------------------------------------------------------ two corpora
def ravdess_metadata() -> pd.DataFrame | None:
    """RAVDESS's clips of nEMO's six emotions, or None when ``$RAVDESS_DIR`` holds no copy."""
    try:
        root = ravdess.find_ravdess()
    except SERError:
        return None
    with st.spinner(_("Reading RAVDESS…")):
        return _ravdess_metadata(str(root))


@st.cache_data(show_spinner=False)
def _ravdess_metadata(root: str) -> pd.DataFrame:
    return ravdess.load_ravdess_metadata(root)


@st.cache_data(show_spinner=False, max_entries=32)
def clip_audio_and_mel(path: str) -> tuple[np.ndarray, np.ndarray]:
    """A corpus clip at the models' rate ``(n_samples,)`` and its log-mel ``(1, 128, frames)``."""
    y = audio.load_audio(path, sr=DEFAULT_CONFIG.sr)
    return y, features.compute(y, "mel")


def shared_range(arrays: list[np.ndarray]) -> tuple[float, float]:
    """One colour range ``(low, high)`` covering every array (any shapes), to draw them alike."""
    return float(min(a.min() for a in arrays)), float(max(a.max() for a in arrays))


def emotion_pair(
    nemo: pd.DataFrame, other: pd.DataFrame, *, emotion: str, pair: int
) -> tuple[pd.Series, pd.Series]:
    """The ``pair``-th (wrapping) nEMO and RAVDESS clips of ``emotion``, the same speaker
    gender on both sides (alternating female, male)."""
    gender = ("female", "male")[pair % 2]

    def pick(frame: pd.DataFrame) -> pd.Series:
        rows = frame[(frame["emotion"] == emotion) & (frame["gender"] == gender)]
        rows = rows if len(rows) else frame[frame["emotion"] == emotion]
        return rows.iloc[(pair * 7919) % len(rows)]  # a prime stride: other speakers and sentences

    return pick(nemo), pick(other)
