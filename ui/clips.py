"""Audio clips of the pages: decoding (cached), uploads, WAV playback, MIME types."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import streamlit as st

from ser_core import audio
from ser_core.config import DEFAULT_CONFIG
from ui.i18n import N_, _

#: What every uploader accepts (``type=``): exactly the formats the error messages list
#: (:data:`ser_core.audio.SUPPORTED_EXTENSIONS`, :data:`ser_core.audio.FORMATS_TEXT`).
UPLOAD_TYPES = list(audio.SUPPORTED_EXTENSIONS)
_MIME = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
    "mp4": "audio/mp4",
    "aac": "audio/aac",
    "webm": "audio/webm",
}
#: The name of a clip recorded in the browser (kept in English in the session; shown with
#: :func:`shown_name`).
RECORDING_NAME = N_("your recording")


@st.cache_data(show_spinner=False, max_entries=64)
def clip_waveform(path: str) -> np.ndarray:
    """Waveform of an audio file on disk at 16 kHz (cached per path)."""
    return audio.load_audio(path, sr=DEFAULT_CONFIG.sr)


@st.cache_data(show_spinner=False, max_entries=16)
def decode_upload(blob: bytes, name: str) -> np.ndarray:
    """Decode uploaded bytes (format from ``name``) to 16 kHz mono, cached by content.

    Raises
    ------
    SERError
        One sentence naming the file: empty, damaged or not audio, an unsupported format,
        silent, too short or too long (:func:`ser_core.audio.load_audio`).
    """
    return audio.load_audio(blob, name=name, sr=DEFAULT_CONFIG.sr, silent_ok=False)


def waveform_from_upload(uploaded) -> np.ndarray:
    """Decode a ``st.file_uploader`` file into a mono 16 kHz float32 waveform.

    Raises
    ------
    SERError
        See :func:`decode_upload`.
    """
    return decode_upload(uploaded.getvalue(), uploaded.name)


@st.cache_data(show_spinner=False, max_entries=32)
def wav_bytes(y: np.ndarray) -> bytes:
    """WAV encoding of a 16 kHz waveform for ``st.audio``."""
    return audio.encode_wav(y, sr=DEFAULT_CONFIG.sr)


def upload_help() -> str:
    """The uploaders' help: the formats that work (:data:`ser_core.audio.FORMATS_TEXT`) and
    the limits."""
    limit = st.get_option("server.maxUploadSize")
    ext = audio.SUPPORTED_EXTENSIONS
    return _(
        "{formats} or {last}; up to {mb} MB and {minutes} minutes. "
        "Audio longer than 3 s is judged over sliding 3-s windows."
    ).format(formats=", ".join(ext[:-1]), last=ext[-1], mb=limit, minutes=f"{audio.MAX_SECONDS / 60:.0f}")


def shown_name(name: str) -> str:
    """A clip's name as shown: a browser recording's in the reader's language."""
    return _(RECORDING_NAME) if name == RECORDING_NAME else name


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
