"""ser_core.audio: every format, every hostile input, padding and windows."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from ser_core import audio
from ser_core.errors import (
    AudioDecodeError,
    AudioTooLongError,
    AudioTooShortError,
    EmptyAudioError,
    InvalidAudioError,
    SERError,
)
from tests.conftest import encode, tone

FORMATS = ["wav", "flac", "ogg", "opus", "mp3", "m4a", "webm"]


# Opus (also inside webm) runs at 48 kHz and its fixture is resampled, so 44.1 kHz adds
# nothing there
FORMAT_RATES = [
    (ext, sr)
    for ext in FORMATS
    for sr in (16_000, 24_000, 44_100)
    if not (ext in ("opus", "webm") and sr == 44_100)
]


@pytest.mark.parametrize(("ext", "sr"), FORMAT_RATES)
def test_every_format_decodes_to_16k_mono(ext, sr):
    y = tone(1.5, sr=sr, freq=220.0)
    out = audio.load_audio(encode(y, sr=sr, ext=ext), name=f"clip.{ext}")
    assert out.dtype == np.float32 and out.ndim == 1
    # codecs add priming/padding: allow up to ~120 ms either way
    assert abs(out.shape[0] / 16_000 - 1.5) < 0.12
    assert np.isfinite(out).all()
    # the tone survives: strongest frequency near 220 Hz
    spec = np.abs(np.fft.rfft(out[4000:20000]))
    assert abs(np.argmax(spec) * 16_000 / 16_000 - 220) < 10


@pytest.mark.parametrize("ext", ["wav", "flac", "mp3", "m4a"])
def test_stereo_is_mixed_to_mono(ext):
    y = tone(1.0, channels=2)
    out = audio.load_audio(encode(y, ext=ext))
    assert out.ndim == 1


def test_path_and_file_object_sources(tmp_path):
    y = tone(1.0)
    p = tmp_path / "a.flac"
    p.write_bytes(encode(y, ext="flac"))
    a = audio.load_audio(p)
    b = audio.load_audio(str(p))
    with open(p, "rb") as f:
        c = audio.load_audio(f)
    assert np.array_equal(a, b) and np.array_equal(a, c)
    np.testing.assert_allclose(a, y, atol=1e-3)


def test_upstream_24k_wav_is_resampled(tmp_path):
    y = tone(2.0, sr=24_000)
    out = audio.load_audio(encode(y, sr=24_000, ext="wav"))
    assert out.shape[0] == 32_000


def test_empty_bytes():
    with pytest.raises(EmptyAudioError, match="empty"):
        audio.load_audio(b"", name="x.wav")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    with pytest.raises(EmptyAudioError, match="empty.wav"):
        audio.load_audio(p)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(AudioDecodeError, match="no such file"):
        audio.load_audio(tmp_path / "nope.wav")
    with pytest.raises(AudioDecodeError, match="folder"):
        audio.load_audio(tmp_path)


def test_wav_with_no_samples():
    buf = io.BytesIO()
    sf.write(buf, np.zeros(0, np.float32), 16_000, format="WAV")
    with pytest.raises(EmptyAudioError):
        audio.load_audio(buf.getvalue())


@pytest.mark.parametrize(
    "payload",
    [
        b"this is not audio at all, just text under an audio name" * 20,
        bytes(range(256)) * 40,
        b"RIFF\x00\x00\x00\x00WAVEfmt ",  # a WAV header cut short
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 500,
    ],
)
def test_non_audio_bytes_under_audio_name(payload):
    with pytest.raises(AudioDecodeError) as e:
        audio.load_audio(payload, name="song.mp3")
    assert "song.mp3" in str(e.value)


@pytest.mark.parametrize("ext", ["wav", "flac", "mp3", "ogg"])
def test_truncated_files_fail_cleanly_or_decode_a_prefix(ext):
    data = encode(tone(2.0), ext=ext)
    cut = data[: len(data) // 3]
    try:
        y = audio.load_audio(cut, name=f"cut.{ext}")
    except SERError as e:  # a clear message, never another exception type
        assert "cut." in str(e)
    else:
        assert np.isfinite(y).all() and 0 < y.shape[0] <= 32_000


def test_header_only_truncation():
    data = encode(tone(1.0), ext="flac")[:30]
    with pytest.raises(SERError):
        audio.load_audio(data, name="cut.flac")


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "opus", "mp3", "webm"])
def test_a_few_milliseconds_is_too_short(ext):
    # (AAC/m4a is left out: its encoder pads to whole 1024-sample frames, so a
    # 5 ms input decodes to 128 ms of mostly silence, which is valid audio)
    y = tone(0.005)
    with pytest.raises((AudioTooShortError, EmptyAudioError)) as e:
        audio.load_audio(encode(y, ext=ext), name=f"blip.{ext}")
    assert "ms" in str(e.value) or "no audio" in str(e.value)


def test_too_long_is_rejected_before_decoding():
    y = np.zeros(16_000 * 5, np.float32)
    with pytest.raises(AudioTooLongError, match="limit"):
        audio.load_audio(encode(y, ext="flac"), max_seconds=4.0)
    # the default allows a 10-minute recording
    assert audio.MAX_SECONDS == 600.0


def test_too_long_compressed_stream_is_rejected():
    y = np.zeros(16_000 * 5, np.float32)
    with pytest.raises(AudioTooLongError):
        audio.load_audio(encode(y, ext="mp3"), max_seconds=3.0)


def test_nan_and_inf_are_rejected():
    y = tone(1.0)
    y[100] = np.nan
    y[200] = np.inf
    buf = io.BytesIO()
    sf.write(buf, y, 16_000, format="WAV", subtype="FLOAT")
    with pytest.raises(InvalidAudioError, match="2 invalid samples"):
        audio.load_audio(buf.getvalue())


def test_silence_is_valid_audio():
    y = audio.load_audio(encode(np.zeros(16_000, np.float32), ext="wav"))
    assert y.shape == (16_000,) and not y.any()


def test_errors_are_serror_and_valueerror():
    with pytest.raises(SERError):
        audio.load_audio(b"")
    with pytest.raises(ValueError):
        audio.load_audio(b"")


@pytest.mark.parametrize(
    "n, align, expect_first",
    [
        (100, "center", 0.0),
        (100, "start", 1.0),
        (60_000, "center", 1.0),
        (60_000, "start", 1.0),
    ],
)
def test_pad_or_trim(n, align, expect_first):
    y = np.ones(n, np.float32)
    out = audio.pad_or_trim(y, n_samples=48_000, align=align)
    assert out.shape == (48_000,) and out.dtype == np.float32
    assert out[0] == expect_first


def test_pad_or_trim_center_keeps_middle():
    y = np.arange(10, dtype=np.float32)
    assert audio.pad_or_trim(y, n_samples=4).tolist() == [3, 4, 5, 6]
    assert audio.pad_or_trim(y[:2], n_samples=4).tolist() == [0, 0, 1, 0]


def test_frame_windows():
    y = np.arange(16_000 * 7, dtype=np.float32)
    w, starts = audio.frame_windows(y, window=3.0, hop=1.0)
    assert w.shape == (5, 48_000)
    assert starts.tolist() == [0, 1, 2, 3, 4]
    assert w[4, 0] == 4 * 16_000 and w[4, -1] == 7 * 16_000 - 1
    short, s = audio.frame_windows(np.ones(100, np.float32))
    assert short.shape == (1, 48_000) and s.tolist() == [0]


def test_encode_round_trip():
    y = tone(1.0)
    back = audio.load_audio(audio.encode_wav(y))
    np.testing.assert_allclose(back, y, atol=1e-4)
    assert audio.load_audio(audio.encode_flac(y)).shape == y.shape
