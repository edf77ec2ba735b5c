"""Decoding, resampling and fixing the length of audio.

:func:`load_audio` takes a path, raw bytes or a binary file object in any of
wav, flac, ogg (Vorbis, Opus), mp3, m4a/aac and webm, and returns a mono
float32 waveform at the requested rate.  libsndfile (via ``soundfile``) is tried
first; what it cannot read goes through FFmpeg (via PyAV).  Hostile input
raises a subclass of :class:`~ser_core.errors.AudioError` whose message says, in
one plain sentence naming the file, what is wrong with it (and, where the format may
be the cause, which formats work: :data:`FORMATS_TEXT`).  Silence is valid audio
unless the caller asks otherwise (``silent_ok=False``: uploads to be judged).
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
import soxr

from .config import DEFAULT_CONFIG, SAMPLE_RATE
from .errors import (
    AudioDecodeError,
    AudioError,
    AudioTooLongError,
    AudioTooShortError,
    EmptyAudioError,
    InvalidAudioError,
    SilentAudioError,
    UnsupportedFormatError,
)
from .i18n import N_

__all__ = [
    "AudioSource",
    "MAX_SECONDS",
    "MIN_SECONDS",
    "SUPPORTED_EXTENSIONS",
    "FORMATS_TEXT",
    "SILENT_PEAK",
    "audio_files",
    "files_of",
    "load_audio",
    "decode",
    "to_mono",
    "resample",
    "check_finite",
    "check_audible",
    "pad_or_trim",
    "frame_windows",
    "encode_wav",
    "encode_flac",
]

AudioSource = str | os.PathLike | bytes | bytearray | memoryview | BinaryIO

#: Default maximum duration: room for a 10-minute recording.
MAX_SECONDS = 600.0
#: Default minimum duration: shorter input holds no usable speech.
MIN_SECONDS = 0.1
#: The audio formats that work, everywhere: the uploaders' ``type=``, folders of the CLI,
#: and the messages (:data:`FORMATS_TEXT`).
SUPPORTED_EXTENSIONS = ("wav", "flac", "ogg", "opus", "mp3", "m4a", "aac", "mp4", "webm")
#: :data:`SUPPORTED_EXTENSIONS` in words: ``"wav, flac, ..., mp4 or webm"``.
FORMATS_TEXT = f"{', '.join(SUPPORTED_EXTENSIONS[:-1])} or {SUPPORTED_EXTENSIONS[-1]}"
#: Audio whose loudest sample stays below this (-60 dBFS) is silent for ``silent_ok=False``.
SILENT_PEAK = 1e-3
#: The arguments of "(formats that work: {formats} or {last})" in the error templates: each
#: language joins the last format in its own words (:data:`FORMATS_TEXT` in English).
_FORMATS = {"formats": ", ".join(SUPPORTED_EXTENSIONS[:-1]), "last": SUPPORTED_EXTENSIONS[-1]}


def audio_files(folder: str | os.PathLike) -> list[Path]:
    """Every file under ``folder`` (recursively, sorted) whose extension is one of
    :data:`SUPPORTED_EXTENSIONS`; hidden files and folders are skipped."""
    root = Path(folder)
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower().lstrip(".") in SUPPORTED_EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def files_of(source: str | os.PathLike) -> list[Path]:
    """The audio files a path stands for: the file itself, or :func:`audio_files` of a folder.

    Raises
    ------
    AudioDecodeError
        For a folder without audio files (the message names it and the extensions taken).
    """
    src = Path(source)
    if not src.is_dir():
        return [src]
    files = audio_files(src)
    if not files:
        raise AudioDecodeError(
            N_("no audio files ({extensions}) in the folder {folder}"),
            extensions=", ".join(SUPPORTED_EXTENSIONS),
            folder=str(src),
        )
    return files


def _filename(source: AudioSource, name: str | None) -> str | None:
    if name:
        return str(name)
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return None


def _describe(source: AudioSource, name: str | None) -> str:
    filename = _filename(source, name)
    return "the uploaded audio" if filename is None else repr(filename)


def _audio_error(
    cls: type[AudioError], named: str, unnamed: str, filename: str | None, **params: object
) -> AudioError:
    """An error of ``cls`` whose template ``named`` names the file (``{name!r}``, the file
    name), or ``unnamed`` for audio without a name (raw bytes: "the uploaded audio")."""
    if filename is None:
        return cls(unnamed, **params)
    return cls(named, name=filename, filename=filename, **params)


def _not_audio(filename: str | None) -> AudioDecodeError:
    """The error for bytes that do not decode: an unsupported extension, or a damaged
    file / not a sound file."""
    ext = Path(filename).suffix.lower().lstrip(".") if filename else ""
    if ext and ext not in SUPPORTED_EXTENSIONS:
        return UnsupportedFormatError(
            N_("{name!r} is a .{ext} file, not audio in a format that works ({formats} or {last})."),
            name=filename,
            ext=ext,
            filename=filename,
            **_FORMATS,
        )
    return _audio_error(
        AudioDecodeError,
        N_(
            "{name!r} cannot be read as audio: the file is damaged or not a sound file "
            "(formats that work: {formats} or {last})."
        ),
        N_(
            "the uploaded audio cannot be read as audio: the file is damaged or not a sound file "
            "(formats that work: {formats} or {last})."
        ),
        filename,
        **_FORMATS,
    )


def _read_bytes(source: AudioSource, filename: str | None) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if not p.exists():
            raise AudioDecodeError(N_("{name!r}: no such file"), name=filename, filename=os.fspath(p))
        if p.is_dir():
            raise AudioDecodeError(
                N_("{name!r} is a folder, not an audio file"), name=filename, filename=os.fspath(p)
            )
        return p.read_bytes()
    if hasattr(source, "read"):
        data = source.read()
        if hasattr(source, "seek"):
            with contextlib.suppress(OSError, ValueError):
                source.seek(0)
        return bytes(data)
    raise AudioDecodeError(N_("cannot read audio from an object of type {type}"), type=type(source).__name__)


def _duration(seconds: float) -> str:
    """``"12.5 s"``, or ``"3 min 20 s"`` from a minute on."""
    if seconds < 60:
        return f"{seconds:.1f} s".replace(".0 s", " s")
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def _too_long(filename: str | None, max_seconds: float, seconds: float | None) -> AudioTooLongError:
    limit = _duration(max_seconds)
    if seconds is None:
        return _audio_error(
            AudioTooLongError,
            N_("{name!r} lasts longer than the limit of {limit}: cut it shorter."),
            N_("the uploaded audio lasts longer than the limit of {limit}: cut it shorter."),
            filename,
            limit=limit,
        )
    return _audio_error(
        AudioTooLongError,
        N_("{name!r} lasts {duration}, longer than the limit of {limit}: cut it shorter."),
        N_("the uploaded audio lasts {duration}, longer than the limit of {limit}: cut it shorter."),
        filename,
        duration=_duration(seconds),
        limit=limit,
    )


def _decode_soundfile(data: bytes, max_seconds: float, filename: str | None) -> tuple[np.ndarray, int]:
    with sf.SoundFile(io.BytesIO(data)) as f:
        sr = int(f.samplerate)
        if f.frames > 0 and f.frames / sr > max_seconds:
            raise _too_long(filename, max_seconds, f.frames / sr)
        y = f.read(dtype="float32", always_2d=True)
    return y, sr


def _decode_pyav(data: bytes, max_seconds: float, filename: str | None) -> tuple[np.ndarray, int]:
    import av  # imported lazily: only needed for mp3/m4a/webm

    chunks: list[np.ndarray] = []
    sr = 0
    total = 0
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            streams = [s for s in container.streams if s.type == "audio"]
            if not streams:
                raise _audio_error(
                    AudioDecodeError,
                    N_("{name!r} holds no sound track (formats that work: {formats} or {last})."),
                    N_("the uploaded audio holds no sound track (formats that work: {formats} or {last})."),
                    filename,
                    **_FORMATS,
                )
            stream = streams[0]
            resampler = av.AudioResampler(format="fltp", layout=None, rate=None)
            for packet in container.demux(stream):
                for frame in packet.decode():
                    for out in resampler.resample(frame):
                        arr = out.to_ndarray()  # (channels, n) planar float32
                        sr = int(out.sample_rate)
                        chunks.append(arr)
                        total += arr.shape[1]
                        if sr and total / sr > max_seconds:
                            raise _too_long(filename, max_seconds, None)
    except (AudioDecodeError, AudioTooLongError):
        raise
    except Exception as exc:  # FFmpeg's own words ("[Errno 1094995529] ...") mean nothing to people
        if not (chunks and sr):  # else a truncated stream: keep what decoded cleanly
            raise _not_audio(filename) from exc
    if not chunks or not sr:
        raise _audio_error(
            EmptyAudioError,
            N_(
                "{name!r} holds no sound: it decodes to no audio samples (formats that work: {formats} or {last})."
            ),
            N_(
                "the uploaded audio holds no sound: it decodes to no audio samples "
                "(formats that work: {formats} or {last})."
            ),
            filename,
            **_FORMATS,
        )
    channels = max(c.shape[0] for c in chunks)
    chunks = [c if c.shape[0] == channels else np.repeat(c[:1], channels, 0) for c in chunks]
    y = np.concatenate(chunks, axis=1).T.astype(np.float32, copy=False)
    return y, sr


def decode(
    source: AudioSource, *, name: str | None = None, max_seconds: float = MAX_SECONDS
) -> tuple[np.ndarray, int]:
    """Decode audio to a float32 array of shape ``(n_samples, n_channels)``.

    Parameters
    ----------
    source : path, bytes or binary file
        The encoded audio.
    name : str, optional
        A display name for messages (e.g. the uploaded file's name).
    max_seconds : float
        Longer audio raises :class:`AudioTooLongError` (checked before the
        whole file is decoded where the container says its length).

    Returns
    -------
    y : np.ndarray, shape (n_samples, n_channels), float32
    sr : int
        The file's own sample rate.
    """
    filename = _filename(source, name)
    data = _read_bytes(source, filename)
    if len(data) == 0:
        raise _audio_error(
            EmptyAudioError,
            N_("{name!r} is empty (0 bytes)"),
            N_("the uploaded audio is empty (0 bytes)"),
            filename,
        )
    try:
        y, sr = _decode_soundfile(data, max_seconds, filename)
    except AudioTooLongError:
        raise
    except Exception:  # noqa: BLE001 - libsndfile cannot read it: try FFmpeg
        y, sr = _decode_pyav(data, max_seconds, filename)
    if y.size == 0:
        raise _audio_error(
            EmptyAudioError,
            N_(
                "{name!r} holds no sound: it contains no audio samples (formats that work: {formats} or {last})."
            ),
            N_(
                "the uploaded audio holds no sound: it contains no audio samples "
                "(formats that work: {formats} or {last})."
            ),
            filename,
            **_FORMATS,
        )
    return y, sr


def to_mono(y: np.ndarray) -> np.ndarray:
    """Average channels: ``(n,)`` or ``(n, channels)`` -> ``(n,)`` float32."""
    y = np.asarray(y, dtype=np.float32)
    return y if y.ndim == 1 else y.mean(axis=1, dtype=np.float32)


def resample(y: np.ndarray, *, orig_sr: int, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Resample a mono waveform ``(n,)`` with soxr (high quality)."""
    if orig_sr == sr:
        return np.asarray(y, dtype=np.float32)
    return soxr.resample(np.asarray(y, dtype=np.float32), orig_sr, sr, quality="HQ").astype(
        np.float32, copy=False
    )


def check_finite(y: np.ndarray, *, name: str = "the audio", filename: str | None = None) -> np.ndarray:
    """Raise :class:`InvalidAudioError` when ``y`` holds NaN or inf.  The message names
    ``filename`` where there is one, else calls the audio ``name`` (English words)."""
    bad = ~np.isfinite(y)
    if bad.any():
        if filename is not None:
            raise InvalidAudioError(
                N_("{name!r} contains {count} invalid samples (NaN or infinite values)"),
                name=filename,
                count=int(bad.sum()),
                filename=filename,
            )
        raise InvalidAudioError(
            N_("{name} contains {count} invalid samples (NaN or infinite values)"),
            name=name,
            count=int(bad.sum()),
        )
    return y


#: The templates of :func:`check_audible`: (names a file?, any sound at all?) -> template.
_SILENT = {
    (True, False): N_("{name!r} is silent (every sample is 0): record or choose a file with speech in it."),
    (True, True): N_(
        "{name!r} is silent (its loudest sample is at {dbfs} dBFS): record or choose a file with speech in it."
    ),
    (False, False): N_("{name} is silent (every sample is 0): record or choose a file with speech in it."),
    (False, True): N_(
        "{name} is silent (its loudest sample is at {dbfs} dBFS): record or choose a file with speech in it."
    ),
}


def check_audible(y: np.ndarray, *, name: str = "the audio", filename: str | None = None) -> np.ndarray:
    """Raise :class:`SilentAudioError` when the loudest sample of ``y`` (any shape) is
    below :data:`SILENT_PEAK` (-60 dBFS); return ``y``.  The message names ``filename``
    where there is one, else calls the audio ``name`` (English words)."""
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak < SILENT_PEAK:
        level = {"dbfs": round(20 * float(np.log10(peak)))} if peak > 0 else {}
        if filename is not None:
            raise SilentAudioError(_SILENT[True, peak > 0], name=filename, filename=filename, **level)
        raise SilentAudioError(_SILENT[False, peak > 0], name=name, **level)
    return y


def load_audio(
    source: AudioSource,
    *,
    sr: int = SAMPLE_RATE,
    name: str | None = None,
    min_seconds: float = MIN_SECONDS,
    max_seconds: float = MAX_SECONDS,
    silent_ok: bool = True,
) -> np.ndarray:
    """Decode, check, mix to mono and resample audio.

    Parameters
    ----------
    source : path, bytes or binary file
        Encoded audio in any supported format.
    sr : int
        Target sample rate.
    name : str, optional
        Display name used in error messages.
    min_seconds, max_seconds : float
        Accepted duration range.
    silent_ok : bool
        False: audio without sound (:func:`check_audible`) raises
        :class:`SilentAudioError` (an upload to be judged); True: silence is valid.

    Returns
    -------
    np.ndarray, shape (n_samples,), float32
        Mono waveform at ``sr``.  Not padded or trimmed: see :func:`pad_or_trim`.

    Raises
    ------
    EmptyAudioError, AudioDecodeError, UnsupportedFormatError, AudioTooShortError,
    AudioTooLongError, InvalidAudioError, SilentAudioError
        Each names the file and says in one sentence what is wrong with it.
    """
    what, filename = _describe(source, name), _filename(source, name)
    y, orig_sr = decode(source, name=name, max_seconds=max_seconds)
    seconds = y.shape[0] / orig_sr
    if seconds > max_seconds:
        raise _too_long(filename, max_seconds, seconds)
    if seconds < min_seconds:
        raise _audio_error(
            AudioTooShortError,
            N_("{name!r} lasts only {ms} ms; at least {min_ms} ms is needed"),
            N_("the uploaded audio lasts only {ms} ms; at least {min_ms} ms is needed"),
            filename,
            ms=round(seconds * 1000),
            min_ms=round(min_seconds * 1000),
        )
    check_finite(y, name=what, filename=filename)
    if not silent_ok:
        check_audible(y, name=what, filename=filename)
    return resample(to_mono(y), orig_sr=orig_sr, sr=sr)


def pad_or_trim(
    y: np.ndarray, *, n_samples: int = DEFAULT_CONFIG.n_samples, align: str = "center"
) -> np.ndarray:
    """Zero-pad or trim a waveform ``(n,)`` to exactly ``n_samples``.

    ``align="center"`` keeps the middle of long input and pads short input on
    both sides; ``align="start"`` keeps the start and pads at the end.
    """
    y = np.asarray(y, dtype=np.float32)
    n = y.shape[0]
    if n == n_samples:
        return y
    if n > n_samples:
        start = (n - n_samples) // 2 if align == "center" else 0
        return y[start : start + n_samples]
    before = (n_samples - n) // 2 if align == "center" else 0
    return np.pad(y, (before, n_samples - n - before))


def frame_windows(
    y: np.ndarray, *, sr: int = SAMPLE_RATE, window: float = 3.0, hop: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a long waveform into overlapping fixed-length windows.

    Returns
    -------
    windows : np.ndarray, shape (n_windows, round(window * sr)), float32
        The last window is zero-padded; audio shorter than one window gives one
        padded window.
    starts : np.ndarray, shape (n_windows,), float
        Start time of each window in seconds.
    """
    win, step = int(round(window * sr)), int(round(hop * sr))
    n = y.shape[0]
    count = 1 if n <= win else 1 + int(np.ceil((n - win) / step))
    out = np.zeros((count, win), dtype=np.float32)
    for i in range(count):
        seg = y[i * step : i * step + win]
        out[i, : seg.shape[0]] = seg
    return out, np.arange(count) * step / sr


def _encode(y: np.ndarray, *, sr: int, fmt: str, subtype: str) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, np.asarray(y, dtype=np.float32), sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def encode_wav(y: np.ndarray, *, sr: int = SAMPLE_RATE) -> bytes:
    """16-bit PCM WAV bytes of a waveform (for ``st.audio`` and downloads)."""
    return _encode(np.clip(y, -1, 1), sr=sr, fmt="WAV", subtype="PCM_16")


def encode_flac(y: np.ndarray, *, sr: int = SAMPLE_RATE) -> bytes:
    """16-bit FLAC bytes of a waveform."""
    return _encode(np.clip(y, -1, 1), sr=sr, fmt="FLAC", subtype="PCM_16")
