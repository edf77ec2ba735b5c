"""Decoding uploads and clip dicts (:mod:`ui.clips`)."""

from __future__ import annotations

import numpy as np
import pytest

from ser_core import audio
from ser_core.errors import AudioDecodeError
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
