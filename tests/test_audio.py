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
    SilentAudioError,
    UnsupportedFormatError,
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


# ------------------------------------------------------------------ bad files (issue #28)
FORMATS = "wav, flac, ogg, opus, mp3, m4a, aac, mp4 or webm"


def test_the_formats_in_words_are_the_supported_extensions():
    assert audio.FORMATS_TEXT == FORMATS
    assert tuple(FORMATS.replace(" or ", ", ").split(", ")) == audio.SUPPORTED_EXTENSIONS


@pytest.mark.parametrize("ext", ["aac", "mp4"])
def test_aac_and_mp4_decode_as_the_uploaders_now_accept_them(ext):
    y = tone(1.5)
    data = encode(y, ext="aac" if ext == "aac" else "m4a")  # mp4 is m4a's container
    out = audio.load_audio(data, name=f"talk.{ext}")
    assert abs(out.shape[0] / 16_000 - 1.5) < 0.12 and np.isfinite(out).all()


def test_a_corrupt_file_is_one_plain_sentence_with_the_formats():
    """Not FFmpeg's "[Errno 1094995529] Invalid data found when processing input: '<none>'"."""
    with pytest.raises(AudioDecodeError) as e:
        audio.load_audio(b"this is not audio " * 100, name="bad.wav")
    assert str(e.value) == (
        f"'bad.wav' cannot be read as audio: the file is damaged or not a sound file (formats that work: {FORMATS})."
    )
    assert e.value.filename == "bad.wav" and "Errno" not in str(e.value)


def test_an_unsupported_format_says_so():
    with pytest.raises(UnsupportedFormatError) as e:
        audio.load_audio(b"%PDF-1.7 " * 100, name="slides.pdf")
    assert str(e.value) == f"'slides.pdf' is a .pdf file, not audio in a format that works ({FORMATS})."
    assert isinstance(e.value, AudioDecodeError) and e.value.filename == "slides.pdf"


def test_empty_and_missing_files_carry_their_name(tmp_path):
    with pytest.raises(EmptyAudioError) as e:
        audio.load_audio(b"", name="empty.wav")
    assert str(e.value) == "'empty.wav' is empty (0 bytes)" and e.value.filename == "empty.wav"
    with pytest.raises(AudioDecodeError) as e:
        audio.load_audio(tmp_path / "gone.wav")
    assert e.value.filename == str(tmp_path / "gone.wav")


def test_silence_is_refused_only_when_asked():
    zeros = encode(np.zeros(16_000, np.float32), ext="wav")
    assert audio.load_audio(zeros).shape == (16_000,)  # silence is valid audio by default
    with pytest.raises(SilentAudioError) as e:
        audio.load_audio(zeros, name="quiet.wav", silent_ok=False)
    assert (
        str(e.value)
        == "'quiet.wav' is silent (every sample is 0): record or choose a file with speech in it."
    )
    hiss = encode(3e-4 * tone(1.0), ext="wav")  # -70 dBFS
    with pytest.raises(SilentAudioError, match=r"loudest sample is at -7\d dBFS"):
        audio.load_audio(hiss, name="hiss.wav", silent_ok=False)
    assert audio.load_audio(encode(0.01 * tone(1.0)), silent_ok=False).size  # quiet speech is fine


def test_too_long_says_by_how_much_in_minutes():
    y = np.full(16_000 * 5, 0.1, np.float32)
    with pytest.raises(AudioTooLongError) as e:
        audio.load_audio(encode(y, ext="flac"), name="talk.flac", max_seconds=4.0)
    assert str(e.value) == "'talk.flac' lasts 5 s, longer than the limit of 4 s: cut it shorter."
    assert e.value.filename == "talk.flac"
    assert audio._duration(700.0) == "11 min 40 s" and audio._duration(600.0) == "10 min"


def test_audio_errors_pickle_with_their_file_name():
    import pickle

    err = pickle.loads(pickle.dumps(AudioDecodeError("'x.wav' is damaged", filename="x.wav")))
    assert str(err) == "'x.wav' is damaged" and err.filename == "x.wav"


def test_the_cli_says_what_is_wrong_with_each_file(tmp_path, monkeypatch, capsys):
    """``python -m ser_core predict bad.wav``: one line per file, no traceback."""
    from ser_core import cli
    from tests.tiny_model import ship_tiny_model

    monkeypatch.setenv("SER_ARTIFACTS", str(ship_tiny_model(tmp_path / "tiny")))
    monkeypatch.setenv("SER_ONNX_CACHE", str(tmp_path / "onnx"))
    files = {
        "bad.wav": b"this is not audio " * 100,
        "empty.wav": b"",
        "quiet.wav": encode(np.zeros(32_000, np.float32)),
        "notes.txt": b"hello",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    assert cli.main(["predict", *(str(tmp_path / n) for n in files)]) == 1  # all failed
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{tmp_path / 'bad.wav'}: error: '{tmp_path / 'bad.wav'}' cannot be read as audio: the file "
        f"is damaged or not a sound file (formats that work: {FORMATS}).",
        f"{tmp_path / 'empty.wav'}: error: '{tmp_path / 'empty.wav'}' is empty (0 bytes)",
        f"{tmp_path / 'quiet.wav'}: error: '{tmp_path / 'quiet.wav'}' is silent (every sample is 0): "
        "record or choose a file with speech in it.",
        f"{tmp_path / 'notes.txt'}: error: '{tmp_path / 'notes.txt'}' is a .txt file, not audio in a "
        f"format that works ({FORMATS}).",
    ]
