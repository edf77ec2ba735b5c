"""Recording conditions: the clip as a real room, microphone, noise or codec would deliver it.

Every condition is a function registered in :data:`CONDITIONS` with :func:`condition`;
:func:`render` plays a waveform through one, reproducibly from a seed:

``clean``
    The clip as recorded (identity).
``reverb_small``, ``reverb_medium``, ``reverb_large``
    A shoebox room of pyroomacoustics (an office, a classroom, a lecture hall): its size,
    reverberation time (absorption from :func:`pyroomacoustics.inverse_sabine`), talker
    and microphone positions are drawn from the seed.
``babble_20db``, ``babble_10db``, ``babble_5db``
    Several nEMO talkers at once (:func:`babble_pool`, from speakers outside the fold).
``pink_*db``, ``brown_*db``
    Coloured noise of audiomentations (``AddColorNoise``).
``laptop_mic``, ``telephone``
    pedalboard filters: a laptop microphone's band, presence peak and compression; the
    300-3400 Hz telephone band at 8 kHz.
``opus_16k``, ``mp3_32k``
    A lossy codec round trip through PyAV (FFmpeg's libopus and LAME).
``reverb_babble_10db``
    The classroom, then 10 dB babble.

Conventions: the output is float32, mono and exactly as long as the input.  The SNR of
the noise conditions is measured on the whole clip: the noise is scaled so that
``10 log10(P_signal / P_noise)`` is the requested value.  One seed draws the same room and
the same stretch of noise at every level, so the levels compare like with like.  A clip
with no energy (empty, or all zeros) comes back unchanged under every condition: an SNR
relative to nothing is undefined, and a room or a codec of silence is silence.

>>> noisy = render(y, "pink_10db", sr=16000, seed=3)
>>> pool = babble_pool(data.load_metadata(), exclude_speakers=["SB0"])
>>> crowded = render(y, "babble_5db", sr=16000, seed=3, babble=pool)
"""

from __future__ import annotations

import contextlib
import functools
import io
import random
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import audiomentations
import numpy as np
import pandas as pd
import pedalboard
import pyroomacoustics as pra
import scipy.signal

from . import audio
from .config import SAMPLE_RATE
from .errors import ConditionError, ConfigError, UnknownNameError
from .i18n import N_, gettext

__all__ = [
    "CONDITIONS",
    "FAMILIES",
    "SNRS_DB",
    "Condition",
    "add_at_snr",
    "add_babble",
    "add_colour_noise",
    "babble_pool",
    "codec_round_trip",
    "condition",
    "condition_names",
    "encode",
    "get",
    "render",
    "reverberate",
]

#: The kinds of condition, in the order the app lists them.
FAMILIES: tuple[str, ...] = ("clean", "room", "noise", "device", "codec", "combined")

RenderFn = Callable[..., np.ndarray]


@dataclass(frozen=True)
class Condition:
    """One registered recording condition.

    Attributes
    ----------
    name : str
        Registry key (``"babble_10db"``).
    label_msg, description_msg : str
        English templates of :attr:`label` and :attr:`description` (marked for translation).
    family : {"clean", "room", "noise", "device", "codec", "combined"}
        What kind of condition it is.
    fn : callable
        ``fn(y, *, sr, rng, babble) -> y``: waveform ``(n,)`` float32 in, same shape out.
    stochastic : bool
        Whether the seed changes the output (a room or a noise is drawn).
    needs_babble : bool
        Whether :func:`render` needs a ``babble`` pool.
    params : tuple of (str, object)
        The templates' arguments (``(("snr", 10),)``).
    """

    name: str
    label_msg: str
    description_msg: str
    family: str
    fn: RenderFn = field(repr=False, compare=False)
    stochastic: bool = True
    needs_babble: bool = False
    params: tuple[tuple[str, object], ...] = ()

    @property
    def label(self) -> str:
        """Short human-readable name in the language of this run (``"Babble, 10 dB SNR"``)."""
        return gettext(self.label_msg).format(**dict(self.params))

    @property
    def description(self) -> str:
        """One sentence for the docs and the app, in the language of this run."""
        return gettext(self.description_msg).format(**dict(self.params))


CONDITIONS: dict[str, Condition] = {}


def condition(
    name: str,
    *,
    label: str,
    family: str,
    stochastic: bool = True,
    needs_babble: bool = False,
    description: str | None = None,
    params: dict[str, object] | None = None,
) -> Callable[[RenderFn], RenderFn]:
    """Decorator adding ``fn(y, *, sr, rng, babble) -> y`` to :data:`CONDITIONS`.

    Parameters
    ----------
    name : str
        Registry key.
    label : str
        Short human-readable name, marked with :func:`~ser_core.i18n.N_` (a template with
        ``{placeholders}`` when ``params`` are given).
    family : str
        One of :data:`FAMILIES`.
    stochastic, needs_babble : bool
        See :class:`Condition`.
    description : str, optional
        One sentence, marked like ``label``; by default the first line of ``fn``'s docstring
        (then English only).
    params : dict, optional
        The arguments of the ``label`` and ``description`` templates.

    Returns
    -------
    callable
        The decorator; it registers ``fn`` and returns it unchanged.

    Raises
    ------
    ConfigError
        If ``family`` is not one of :data:`FAMILIES`.
    """
    if family not in FAMILIES:
        raise ConfigError(f"unknown condition family {family!r}; use one of {', '.join(FAMILIES)}")

    def deco(fn: RenderFn) -> RenderFn:
        doc = description or (fn.__doc__ or "").strip().split("\n")[0]
        args = tuple(sorted((params or {}).items()))
        CONDITIONS[name] = Condition(name, label, doc, family, fn, stochastic, needs_babble, args)
        return fn

    return deco


def condition_names() -> list[str]:
    """Names of every registered condition, in registration order (``clean`` first)."""
    return list(CONDITIONS)


def get(name: str) -> Condition:
    """The :class:`Condition` called ``name``.

    Raises
    ------
    UnknownNameError
        If no condition has that name (the message lists the valid ones).
    """
    try:
        return CONDITIONS[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown condition {name!r}; choose one of {', '.join(condition_names())}"
        ) from None


def render(
    y: np.ndarray,
    condition: str,
    *,
    sr: int,
    seed: int = 0,
    babble: np.ndarray | None = None,
) -> np.ndarray:
    """Play a waveform through a recording condition.

    Parameters
    ----------
    y : np.ndarray, shape (n,) or (n, channels)
        The clip (channels are averaged).
    condition : str
        A name of :data:`CONDITIONS`.
    sr : int
        Sample rate of ``y`` in Hz.
    seed : int
        Draws the room and the noise: the same seed gives the same output.
    babble : np.ndarray, shape (m,), optional
        A babble pool (:func:`babble_pool`) at ``sr``; needed by the babble conditions.

    Returns
    -------
    np.ndarray, shape (n,), float32
        The clip under the condition, as long as ``y``; ``y`` itself (as float32) when it
        has no energy.

    Raises
    ------
    UnknownNameError
        If ``condition`` is not registered.
    ConditionError
        If a babble condition gets no pool, or a pool with no energy.
    InvalidAudioError
        If ``y`` holds NaN or infinite values.
    """
    spec = get(condition)
    if spec.needs_babble:
        _check_pool(babble, condition)
    y = audio.check_finite(audio.to_mono(y))
    if not np.any(y):
        return y.copy()
    out = spec.fn(y, sr=sr, rng=np.random.default_rng(seed), babble=babble)
    return audio.pad_or_trim(np.asarray(out, dtype=np.float32), n_samples=len(y), align="start")


def _check_pool(babble: np.ndarray | None, name: str) -> None:
    if babble is None:
        raise ConditionError(
            f"condition {name!r} mixes in babble: pass babble=babble_pool(meta, exclude_speakers=...)"
        )
    if not np.any(babble):
        raise ConditionError(f"the babble pool given to {name!r} has no energy (all zeros or empty)")


def _power(y: np.ndarray) -> float:
    return float(np.mean(np.square(y, dtype=np.float64)))


def _rms_like(y: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``y`` scaled to the RMS of ``reference``."""
    p = _power(y)
    return y if p == 0 else (y * np.sqrt(_power(reference) / p)).astype(np.float32)


# ----------------------------------------------------------------- clean
@condition(
    "clean",
    label=N_("Clean (as recorded)"),
    family="clean",
    stochastic=False,
    description=N_("The studio recording as nEMO holds it, nothing added."),
)
def _clean(y: np.ndarray, *, sr: int, rng: np.random.Generator, babble: np.ndarray | None) -> np.ndarray:
    """The studio recording as nEMO holds it, nothing added."""
    return y.copy()


# ----------------------------------------------------------------- rooms
@dataclass(frozen=True)
class _Room:
    """Ranges a shoebox room is drawn from: size (m), RT60 (s), talker-microphone distance (m)."""

    low: tuple[float, float, float]
    high: tuple[float, float, float]
    rt60: tuple[float, float]
    distance: tuple[float, float]


_ROOMS = {
    "small": _Room((3.0, 2.5, 2.4), (4.5, 4.0, 2.8), (0.2, 0.35), (0.5, 1.5)),
    "medium": _Room((6.0, 5.0, 2.8), (9.0, 8.0, 3.5), (0.5, 0.8), (1.0, 4.0)),
    "large": _Room((15.0, 10.0, 5.0), (25.0, 18.0, 8.0), (1.0, 1.5), (3.0, 8.0)),
}
_MARGIN = 0.5  # metres kept between a wall and the talker or the microphone


def _positions(dims: np.ndarray, room: _Room, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Talker (standing, 1.4-1.8 m) and microphone (table height, at a drawn distance)."""
    src = np.array([*rng.uniform(_MARGIN, dims[:2] - _MARGIN), rng.uniform(1.4, 1.8)])
    angle, dist = rng.uniform(0, 2 * np.pi), rng.uniform(*room.distance)
    mic = src[:2] + dist * np.array([np.cos(angle), np.sin(angle)])
    mic = np.array([*np.clip(mic, _MARGIN, dims[:2] - _MARGIN), rng.uniform(0.8, 1.5)])
    return src, mic


def reverberate(y: np.ndarray, *, sr: int, room: str, rng: np.random.Generator) -> np.ndarray:
    """The clip heard in a shoebox room of pyroomacoustics drawn from ``rng``.

    Parameters
    ----------
    y : np.ndarray, shape (n,), float32
    sr : int
    room : {"small", "medium", "large"}
    rng : np.random.Generator

    Returns
    -------
    np.ndarray, shape (n,), float32
        The microphone signal, its direct sound aligned with ``y`` and its RMS that of
        ``y`` (the room changes the sound, not the level).  The same draws give the same
        room: its impulse response is cached.
    """
    spec = _ROOMS[room]
    dims = rng.uniform(spec.low, spec.high)
    rt60 = float(rng.uniform(*spec.rt60))
    src, mic = _positions(dims, spec, rng)
    rir, delay = _impulse_response(sr, tuple(dims), rt60, tuple(src), tuple(mic))
    wet = scipy.signal.fftconvolve(y, rir)[delay : delay + len(y)].astype(np.float32)
    return _rms_like(audio.pad_or_trim(wet, n_samples=len(y), align="start"), y)


@functools.lru_cache(maxsize=32)
def _impulse_response(
    sr: int, dims: tuple[float, ...], rt60: float, src: tuple[float, ...], mic: tuple[float, ...]
) -> tuple[np.ndarray, int]:
    """The room's impulse response ``(taps,)`` (read-only) and the sample where its direct
    sound arrives; cached, so many clips rendered with one seed share one room."""
    absorption, max_order = pra.inverse_sabine(rt60, dims)
    shoebox = pra.ShoeBox(list(dims), fs=sr, materials=pra.Material(absorption), max_order=max_order)
    shoebox.add_source(list(src))
    shoebox.add_microphone(list(mic))
    shoebox.compute_rir()
    rir = np.asarray(shoebox.rir[0][0], dtype=np.float64)
    rir.setflags(write=False)
    # pyroomacoustics delays every path by half its fractional-delay filter
    flight = np.linalg.norm(np.subtract(src, mic)) / shoebox.c * sr
    return rir, int(round(flight)) + pra.constants.get("frac_delay_length") // 2


for _size, _label, _where in [
    (
        "small",
        N_("Small room"),
        N_("Reverberation of an office of about 10 m² (RT60 0.2-0.35 s), microphone 0.5-1.5 m away."),
    ),
    (
        "medium",
        N_("Classroom"),
        N_("Reverberation of a classroom of about 50 m² (RT60 0.5-0.8 s), microphone 1-4 m away."),
    ),
    (
        "large",
        N_("Lecture hall"),
        N_("Reverberation of a lecture hall of about 300 m² (RT60 1-1.5 s), microphone 3-8 m away."),
    ),
]:

    @condition(f"reverb_{_size}", label=_label, family="room", description=_where)
    def _reverb(y, *, sr, rng, babble, _size=_size):
        return reverberate(y, sr=sr, room=_size, rng=rng)


# ----------------------------------------------------------------- noise
def add_at_snr(y: np.ndarray, noise: np.ndarray, *, snr_db: float) -> np.ndarray:
    """``y + g * noise`` with ``g`` such that ``10 log10(P_y / P_{g noise}) = snr_db``.

    Parameters
    ----------
    y, noise : np.ndarray, shape (n,)
        Signal and noise (the noise must have energy).
    snr_db : float

    Returns
    -------
    np.ndarray, shape (n,), float32
    """
    gain = np.sqrt(_power(y) / (_power(noise) * 10 ** (snr_db / 10)))
    return (y + gain * noise).astype(np.float32)


def add_babble(y: np.ndarray, *, babble: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """``y`` plus a stretch of the babble pool, starting at a drawn offset (wrapping round).

    Parameters
    ----------
    y : np.ndarray, shape (n,), float32
    babble : np.ndarray, shape (m,)
        The pool; tiled when shorter than ``y``.
    snr_db : float
    rng : np.random.Generator

    Returns
    -------
    np.ndarray, shape (n,), float32
    """
    start = int(rng.integers(len(babble)))
    stretch = np.resize(np.roll(np.asarray(babble, dtype=np.float32), -start), len(y))
    if not np.any(stretch):
        raise ConditionError("the stretch of babble drawn for this clip is silent; use a longer pool")
    return add_at_snr(y, stretch, snr_db=snr_db)


_seed_lock = threading.Lock()


@contextlib.contextmanager
def _global_seeds(rng: np.random.Generator) -> Iterator[None]:
    """Seed ``random`` and ``numpy.random`` (audiomentations draws from both) from ``rng``,
    restoring their states afterwards; one thread at a time."""
    with _seed_lock:
        saved = random.getstate(), np.random.get_state()
        seed = int(rng.integers(2**32))
        random.seed(seed)
        np.random.seed(seed)
        try:
            yield
        finally:
            random.setstate(saved[0])
            np.random.set_state(saved[1])


#: Spectral slopes (dB per octave) of audiomentations' coloured noises.
_COLOURS = {"pink": -3.01, "brown": -6.02}


def add_colour_noise(
    y: np.ndarray, *, sr: int, colour: str, snr_db: float, rng: np.random.Generator
) -> np.ndarray:
    """``y`` plus audiomentations' coloured noise at exactly ``snr_db``.

    Parameters
    ----------
    y : np.ndarray, shape (n,), float32
    sr : int
    colour : {"pink", "brown"}
    snr_db : float
    rng : np.random.Generator

    Returns
    -------
    np.ndarray, shape (n,), float32
    """
    slope = _COLOURS[colour]
    noise = audiomentations.AddColorNoise(
        min_snr_db=snr_db, max_snr_db=snr_db, min_f_decay=slope, max_f_decay=slope, p=1.0
    )
    with _global_seeds(rng):
        return noise(y, sample_rate=sr)


#: The noise levels of the noise conditions (dB SNR).
SNRS_DB: tuple[int, ...] = (20, 10, 5)

for _snr in SNRS_DB:

    @condition(
        f"babble_{_snr}db",
        label=N_("Babble, {snr} dB SNR"),
        family="noise",
        needs_babble=True,
        description=N_("Several other nEMO speakers talking at once, {snr} dB below the clip."),
        params={"snr": _snr},
    )
    def _babble(y, *, sr, rng, babble, _snr=_snr):
        return add_babble(y, babble=babble, snr_db=_snr, rng=rng)


for _colour, _label, _like in [
    ("pink", N_("Pink noise, {snr} dB SNR"), N_("Pink noise (like a fan's hiss), {snr} dB below the clip.")),
    (
        "brown",
        N_("Brown noise, {snr} dB SNR"),
        N_("Brown noise (like traffic's rumble), {snr} dB below the clip."),
    ),
]:
    for _snr in SNRS_DB:

        @condition(
            f"{_colour}_{_snr}db", label=_label, family="noise", description=_like, params={"snr": _snr}
        )
        def _colour_noise(y, *, sr, rng, babble, _colour=_colour, _snr=_snr):
            return add_colour_noise(y, sr=sr, colour=_colour, snr_db=_snr, rng=rng)


# ----------------------------------------------------------------- devices
_TELEPHONE_SR = 8000


def _band(low_hz: float, high_hz: float) -> list[pedalboard.Plugin]:
    """A band-pass of pedalboard's one-pole filters, two deep at each edge (12 dB/octave)."""
    return [
        *(pedalboard.HighpassFilter(cutoff_frequency_hz=low_hz) for _ in range(2)),
        *(pedalboard.LowpassFilter(cutoff_frequency_hz=high_hz) for _ in range(2)),
    ]


def _laptop_board(sr: int) -> pedalboard.Pedalboard:
    """A laptop's built-in microphone: little bass below ~200 Hz or air above ~7 kHz, a
    resonant presence peak around 3 kHz and the automatic gain control's compression
    (built per call: a board keeps state while it plays)."""
    return pedalboard.Pedalboard(
        [
            *_band(200, min(7000, 0.45 * sr)),  # below Nyquist at low rates
            pedalboard.PeakFilter(cutoff_frequency_hz=3000, gain_db=6.0, q=1.2),
            pedalboard.Compressor(threshold_db=-24, ratio=3, attack_ms=5, release_ms=80),
        ]
    )


@condition(
    "laptop_mic",
    label=N_("Laptop microphone"),
    family="device",
    stochastic=False,
    description=N_("A laptop's microphone: 200 Hz-7 kHz, a presence peak at 3 kHz, light compression."),
)
def _laptop_mic(y, *, sr, rng, babble):
    """A laptop's microphone: 200 Hz-7 kHz, a presence peak at 3 kHz, light compression."""
    return _rms_like(_laptop_board(sr)(y, sr), y)


@condition(
    "telephone",
    label=N_("Telephone"),
    family="device",
    stochastic=False,
    description=N_("Narrow-band telephone speech: 300-3400 Hz, sampled at 8 kHz."),
)
def _telephone(y, *, sr, rng, babble):
    """Narrow-band telephone speech: 300-3400 Hz, sampled at 8 kHz."""
    band = pedalboard.Pedalboard(_band(300, 3400))(y, sr)
    narrow = audio.resample(band, orig_sr=sr, sr=_TELEPHONE_SR)
    return _rms_like(audio.resample(narrow, orig_sr=_TELEPHONE_SR, sr=sr), y)


# ----------------------------------------------------------------- codecs
@dataclass(frozen=True)
class _Codec:
    container: str
    codec: str
    bit_rate: int
    rates: tuple[int, ...]  # sample rates the encoder takes; others are resampled to the last


_CODECS = {
    "opus": _Codec("ogg", "libopus", 16_000, (8000, 12000, 16000, 24000, 48000)),
    "mp3": _Codec(
        "mp3", "libmp3lame", 32_000, (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
    ),
}


def encode(y: np.ndarray, *, sr: int, codec: str, bit_rate: int | None = None) -> bytes:
    """Encode a waveform in memory with FFmpeg (PyAV): ``"opus"`` at 16 kb/s, ``"mp3"`` at 32 kb/s.

    Parameters
    ----------
    y : np.ndarray, shape (n,), float32
    sr : int
    codec : {"opus", "mp3"}
    bit_rate : int, optional
        Bits per second (default the codec's own: 16 000 or 32 000).

    Returns
    -------
    bytes
        An Ogg Opus or MP3 file.
    """
    import av  # imported lazily: only the codec conditions need FFmpeg

    spec = _CODECS[codec]
    rate = sr if sr in spec.rates else spec.rates[-1]
    frame = av.AudioFrame.from_ndarray(
        audio.resample(y, orig_sr=sr, sr=rate)[None, :], format="flt", layout="mono"
    )
    frame.sample_rate, frame.pts = rate, 0  # a timestamp lets the encoder mark its own delay
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=spec.container) as out:
        stream = out.add_stream(spec.codec, rate=rate, layout="mono")
        stream.bit_rate = spec.bit_rate if bit_rate is None else int(bit_rate)
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buf.getvalue()


def codec_round_trip(y: np.ndarray, *, sr: int, codec: str, bit_rate: int | None = None) -> np.ndarray:
    """Encode with :func:`encode` (at ``bit_rate``, default the codec's own), decode,
    resample to ``sr`` and trim or pad to ``len(y)``.

    Returns
    -------
    np.ndarray, shape (n,), float32
    """
    decoded = audio.load_audio(encode(y, sr=sr, codec=codec, bit_rate=bit_rate), sr=sr, min_seconds=0)
    return audio.pad_or_trim(decoded, n_samples=len(y), align="start")


@condition(
    "opus_16k",
    label=N_("Opus, 16 kb/s"),
    family="codec",
    stochastic=False,
    description=N_("A video call's voice: Opus at 16 kb/s (FFmpeg's libopus, through PyAV)."),
)
def _opus(y, *, sr, rng, babble):
    """A video call's voice: Opus at 16 kb/s (FFmpeg's libopus, through PyAV)."""
    return codec_round_trip(y, sr=sr, codec="opus")


@condition(
    "mp3_32k",
    label=N_("MP3, 32 kb/s"),
    family="codec",
    stochastic=False,
    description=N_("A low-rate podcast or voice message: MP3 at 32 kb/s (LAME, through PyAV)."),
)
def _mp3(y, *, sr, rng, babble):
    """A low-rate podcast or voice message: MP3 at 32 kb/s (LAME, through PyAV)."""
    return codec_round_trip(y, sr=sr, codec="mp3")


# ----------------------------------------------------------------- combined
@condition(
    "reverb_babble_10db",
    label=N_("Classroom with babble, 10 dB"),
    family="combined",
    needs_babble=True,
    description=N_("A classroom's reverberation, then other speakers 10 dB below the reverberant clip."),
)
def _reverb_babble(y, *, sr, rng, babble):
    """A classroom's reverberation, then other speakers 10 dB below the reverberant clip."""
    wet = reverberate(y, sr=sr, room="medium", rng=rng)
    return add_babble(wet, babble=babble, snr_db=10, rng=rng)


# ----------------------------------------------------------------- babble pool
def babble_pool(
    meta: pd.DataFrame,
    *,
    exclude_speakers: Iterable[str],
    n_clips: int = 12,
    seed: int = 0,
    sr: int = SAMPLE_RATE,
    talkers: int = 4,
) -> np.ndarray:
    """Several nEMO speakers talking at once, none of them one of ``exclude_speakers``.

    ``n_clips`` clips are drawn from the other speakers, each scaled to unit RMS, and laid
    end to end in ``talkers`` streams; the streams, each started at a drawn point, are
    summed.

    Parameters
    ----------
    meta : pandas.DataFrame
        :func:`ser_core.data.load_metadata`'s frame (columns ``speaker`` and ``path``).
    exclude_speakers : iterable of str
        Speakers the pool must not contain (the fold's test speaker, at least).
    n_clips : int
        How many clips to draw (at least ``talkers``).
    seed : int
        Draws the clips and the starting points.
    sr : int
        Sample rate of the pool.
    talkers : int
        How many speak at any moment.

    Returns
    -------
    np.ndarray, shape (m,), float32
        The pool at unit RMS; ``m`` is about ``n_clips / talkers`` clip lengths.

    Raises
    ------
    ConditionError
        If no clip of another speaker is left, or ``n_clips < talkers``.
    """
    if n_clips < talkers:
        raise ConditionError(f"n_clips={n_clips} is fewer than talkers={talkers}")
    excluded = set(exclude_speakers)
    rows = meta[~meta["speaker"].isin(excluded)]
    if rows.empty:
        raise ConditionError(f"no clip is left for a babble pool once {sorted(excluded)} are excluded")
    rng = np.random.default_rng(seed)
    paths = rows["path"].to_numpy()[rng.choice(len(rows), size=n_clips, replace=len(rows) < n_clips)]
    clips = [_rms_like(audio.load_audio(p, sr=sr), np.ones(1)) for p in paths]
    streams = [np.concatenate(clips[k::talkers]) for k in range(talkers)]
    length = max(len(s) for s in streams)
    pool = sum(np.resize(np.roll(s, -int(rng.integers(len(s)))), length) for s in streams)
    return _rms_like(np.asarray(pool, dtype=np.float32), np.ones(1))
