"""Audio clips of the pages: decoding (cached), uploads, WAV playback, MIME types."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import streamlit as st

from ser_core import audio
from ser_core.config import DEFAULT_CONFIG

UPLOAD_TYPES = ["wav", "flac", "ogg", "opus", "mp3", "m4a", "webm"]
_MIME = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
    "webm": "audio/webm",
}


@st.cache_data(show_spinner=False, max_entries=64)
def clip_waveform(path: str) -> np.ndarray:
    """Waveform of an audio file on disk at 16 kHz (cached per path)."""
    return audio.load_audio(path, sr=DEFAULT_CONFIG.sr)


@st.cache_data(show_spinner=False, max_entries=16)
def decode_upload(blob: bytes, name: str) -> np.ndarray:
    """Decode uploaded bytes (format from ``name``) to 16 kHz mono, cached by content."""
    return audio.load_audio(blob, name=name, sr=DEFAULT_CONFIG.sr)


def waveform_from_upload(uploaded) -> np.ndarray:
    """Decode a ``st.file_uploader`` file into a mono 16 kHz float32 waveform.

    Raises
    ------
    SERError
        When the file is empty, not audio, too short or too long.
    """
    return decode_upload(uploaded.getvalue(), uploaded.name)


@st.cache_data(show_spinner=False, max_entries=32)
def wav_bytes(y: np.ndarray) -> bytes:
    """WAV encoding of a 16 kHz waveform for ``st.audio``."""
    return audio.encode_wav(y, sr=DEFAULT_CONFIG.sr)


def upload_help() -> str:
    limit = st.get_option("server.maxUploadSize")
    return (
        f"wav, mp3, ogg/opus, flac, m4a or webm; up to {limit} MB and 10 minutes. "
        "Audio longer than 3 s is judged over sliding 3-s windows."
    )


def make_clip(data: bytes, name: str, source: str) -> dict:
    """A clip to predict: ``{"name", "data", "source", "id"}`` (id: content hash)."""
    data = bytes(data)
    return {
        "name": name,
        "data": data,
        "source": source,
        "id": hashlib.blake2b(data, digest_size=12).hexdigest(),
    }


def clip_mime(name: str) -> str:
    """MIME type for ``st.audio`` from a file name (WAV when unknown)."""
    return _MIME.get(Path(name).suffix.lower().lstrip("."), "audio/wav")
