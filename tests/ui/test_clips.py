"""Decoding uploads and clip dicts (:mod:`ui.clips`)."""

from __future__ import annotations

import numpy as np
import pytest

from ser_core import audio
from ser_core.errors import AudioDecodeError, EmptyAudioError, SilentAudioError, UnsupportedFormatError
from ui import clips


class FakeUpload:
    """What ``st.file_uploader`` returns, as far as the helpers care."""

    def __init__(self, blob: bytes, name: str) -> None:
        self._blob, self.name = blob, name

    def getvalue(self) -> bytes:
        return self._blob


def test_upload_to_waveform(tone_fn):
    y = tone_fn(1.5)
    out = clips.waveform_from_upload(FakeUpload(audio.encode_wav(y), "tone.wav"))
    assert out.dtype == np.float32 and out.shape == y.shape
    with pytest.raises(AudioDecodeError):
        clips.waveform_from_upload(FakeUpload(b"not audio at all" * 10, "junk.mp3"))


def test_make_clip_and_mime():
    a, b = clips.make_clip(b"abc", "x.wav", "upload"), clips.make_clip(bytearray(b"abc"), "y", "recording")
    assert a["data"] == b"abc" and a["id"] == b["id"] and len(a["id"]) == 24
    assert clips.clip_mime("talk.MP3") == "audio/mpeg" and clips.clip_mime("noext") == "audio/wav"


@pytest.mark.parametrize(
    "blob, name, error, words",
    [
        (b"not audio at all" * 10, "junk.mp3", AudioDecodeError, "'junk.mp3' cannot be read as audio"),
        (b"", "empty.wav", EmptyAudioError, "'empty.wav' is empty (0 bytes)"),
        (None, "quiet.wav", SilentAudioError, "'quiet.wav' is silent"),
        (b"hello", "notes.txt", UnsupportedFormatError, "'notes.txt' is a .txt file"),
    ],
)
def test_a_bad_upload_is_one_sentence_naming_the_file(blob, name, error, words):
    """Issue #28: every uploader decodes through here; the sentence names the file and what
    is wrong (and the formats that work where the format may be the cause)."""
    blob = audio.encode_wav(np.zeros(16_000, np.float32)) if blob is None else blob
    with pytest.raises(error) as e:
        clips.waveform_from_upload(FakeUpload(blob, name))
    assert str(e.value).startswith(words) and e.value.filename == name
    assert "Errno" not in str(e.value)
    if error in (AudioDecodeError, UnsupportedFormatError):
        assert str(e.value).endswith(f"{audio.FORMATS_TEXT}).")


def test_uploaders_accept_what_the_messages_list(monkeypatch):
    assert list(audio.SUPPORTED_EXTENSIONS) == clips.UPLOAD_TYPES
    assert all(clips.clip_mime(f"x.{ext}").startswith("audio/") for ext in clips.UPLOAD_TYPES)
    monkeypatch.setattr(clips.st, "get_option", lambda name: 200)
    assert clips.upload_help().startswith(f"{audio.FORMATS_TEXT}; up to 200 MB and 10 minutes.")
