"""Live microphone prediction: a rolling 3-s buffer and a prediction history.

The browser sends audio frames (WebRTC: typically 20 ms of 48 kHz stereo
int16); :class:`RollingBuffer` mixes them to mono, resamples them to 16 kHz
with a streaming resampler and keeps the last few seconds.
:class:`LivePredictor` re-predicts that window whenever enough new audio has
arrived and records ``(time, probabilities)``.  Both are thread-safe: frames
arrive on the WebRTC event loop, predictions run in the app's script thread.

>>> buf = RollingBuffer(seconds=3.0)
>>> buf.push(frame_int16_stereo, 48_000, channels=2)   # from any thread
>>> live = LivePredictor(predictor.predict, buf)
>>> point = live.step()          # None until enough new audio arrived
>>> times, probs = live.history()

:class:`OnlineAdapter` adapts a speaker-normalised model to the voice on the
fly: running per-bin statistics of the speech heard so far (each frame counted
once), used once a warm-up of speech has been heard:

>>> live.adapter = OnlineAdapter(predictor, warmup=10.0)

:func:`ice_servers` reads the WebRTC ICE servers (STUN/TURN) from a setting;
none by default, which is what a local (localhost) connection needs.
"""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import soxr

from . import features, functionals
from .adapt import MIN_RMS, RunningStats, VoiceProfile
from .config import CLIP_SECONDS, EMOTIONS, SAMPLE_RATE
from .errors import ConfigError, SampleTypeError, ShapeError
from .i18n import _
from .metrics import TopClass

__all__ = [
    "RollingBuffer",
    "LivePredictor",
    "LivePoint",
    "LiveWindow",
    "OnlineAdapter",
    "to_mono_float",
    "frame_to_array",
    "ice_servers",
    "ICE_ENV",
    "WARMUP_SECONDS",
]

#: Environment variable holding the ICE servers as JSON (a list of RTCIceServer dicts).
ICE_ENV = "SER_ICE_SERVERS"

_INT_SCALE = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0}


def to_mono_float(samples: np.ndarray, channels: int | None = None) -> np.ndarray:
    """PCM samples to a mono float32 waveform in -1..1.

    Parameters
    ----------
    samples : np.ndarray
        int16, int32, uint8 or float samples: ``(n,)`` mono, ``(n * channels,)``
        interleaved (give ``channels``) or ``(n, channels)``.
    channels : int, optional
        Channel count of interleaved 1-D input.

    Returns
    -------
    np.ndarray, shape (n,), float32
    """
    x = np.asarray(samples)
    if x.dtype in _INT_SCALE:
        x = x.astype(np.float32) / _INT_SCALE[x.dtype]
    elif x.dtype == np.uint8:
        x = (x.astype(np.float32) - 128.0) / 128.0
    elif np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32, copy=False)
    else:
        raise SampleTypeError(f"unsupported sample type {x.dtype}")
    if x.ndim == 1 and channels and channels > 1:
        if x.size % channels:
            raise ShapeError(f"{x.size} interleaved samples do not split into {channels} channels")
        x = x.reshape(-1, channels)
    if x.ndim == 2:
        x = x.mean(axis=1, dtype=np.float32) if x.shape[1] > 1 else x[:, 0]
    elif x.ndim != 1:
        raise ShapeError(f"expected (n,) or (n, channels) samples, got shape {x.shape}")
    return np.ascontiguousarray(x, dtype=np.float32)


def frame_to_array(frame) -> tuple[np.ndarray, int]:
    """A PyAV ``AudioFrame`` as ``((n, channels) samples, sample_rate)``.

    Handles packed (interleaved: ``s16``, ``flt``) and planar (``s16p``,
    ``fltp``) formats; the samples keep their dtype.
    """
    arr = frame.to_ndarray()
    channels = len(frame.layout.channels)
    arr = arr.T if frame.format.is_planar else arr.reshape(-1, channels)
    return arr, int(frame.sample_rate)


class RollingBuffer:
    """The last ``seconds`` of a live stream, mono at ``sr`` (thread-safe).

    Parameters
    ----------
    seconds : float
        How much audio to keep (the model's window: 3 s).
    sr : int
        Output sample rate; input at another rate goes through a streaming
        soxr resampler (its state carries across frames, so frame edges leave
        no clicks).  It emits in blocks and holds back up to ~40 ms, which
        :attr:`total_seconds` does not count yet; nothing is lost.
    """

    def __init__(self, seconds: float = CLIP_SECONDS, sr: int = SAMPLE_RATE) -> None:
        self.sr = int(sr)
        self.capacity = int(round(seconds * self.sr))
        self._buf = np.zeros(self.capacity, np.float32)
        self._pos = 0  # next write index
        self._filled = 0  # valid samples in the ring
        self._total = 0  # samples written since the start (the audio clock)
        self._in_sr: int | None = None
        self._stream: soxr.ResampleStream | None = None
        self._lock = threading.Lock()

    def push(self, samples: np.ndarray, sr: int, *, channels: int | None = None) -> None:
        """Append a frame of samples at rate ``sr`` (see :func:`to_mono_float`)."""
        x = to_mono_float(samples, channels)
        sr = int(sr)
        with self._lock:
            if sr != self.sr:
                if sr != self._in_sr or self._stream is None:
                    self._stream = soxr.ResampleStream(sr, self.sr, 1, dtype="float32", quality="HQ")
                    self._in_sr = sr
                x = self._stream.resample_chunk(x)
            self._write(x)

    def push_frame(self, frame) -> None:
        """Append a PyAV ``AudioFrame`` (the WebRTC sink callback)."""
        arr, sr = frame_to_array(frame)
        self.push(arr, sr)

    def _write(self, x: np.ndarray) -> None:
        n = x.shape[0]
        if n == 0:
            return
        self._total += n
        cap = self.capacity
        if n >= cap:
            self._buf[:] = x[-cap:]
            self._pos, self._filled = 0, cap
            return
        end = self._pos + n
        if end <= cap:
            self._buf[self._pos : end] = x
        else:
            k = cap - self._pos
            self._buf[self._pos :] = x[:k]
            self._buf[: n - k] = x[k:]
        self._pos = end % cap
        self._filled = min(cap, self._filled + n)

    def window(self) -> np.ndarray:
        """A copy of the buffered audio, oldest first: ``(min(received, capacity),)``."""
        with self._lock:
            return self._window()

    def snapshot(self) -> tuple[np.ndarray, int]:
        """:meth:`window` and the number of samples received so far (the index just
        after the window's last sample), read together."""
        with self._lock:
            return self._window(), self._total

    def _window(self) -> np.ndarray:
        if self._filled < self.capacity:
            start = (self._pos - self._filled) % self.capacity
            if start + self._filled <= self.capacity:
                return self._buf[start : start + self._filled].copy()
        return np.concatenate([self._buf[self._pos :], self._buf[: self._pos]])[-self._filled :]

    @property
    def seconds(self) -> float:
        """Seconds of audio in the buffer (at most the capacity)."""
        with self._lock:
            return self._filled / self.sr

    @property
    def total_seconds(self) -> float:
        """Seconds of audio received since the start or the last :meth:`clear`."""
        with self._lock:
            return self._total / self.sr

    def clear(self) -> None:
        """Forget all audio (a new session)."""
        with self._lock:
            self._buf[:] = 0
            self._pos = self._filled = self._total = 0
            self._stream, self._in_sr = None, None


@dataclass(frozen=True)
class LivePoint(TopClass):
    """One live prediction.

    Attributes
    ----------
    time : float
        Audio time (s since the session start) at the end of the window.
    probs : np.ndarray, shape (6,)
    rms : float
        Root-mean-square level of the window (0 for digital silence).
    adapted : bool
        Predicted with on-the-fly voice statistics (:class:`OnlineAdapter`).
    """

    time: float
    probs: np.ndarray
    rms: float
    adapted: bool = False


#: Default warm-up of on-the-fly adaptation (s of speech).
WARMUP_SECONDS = 10.0


class OnlineAdapter:
    """Adapt a model to a live voice with running statistics (thread-safe).

    Each call of :meth:`observe` gets the latest 3-s window of the stream and
    adds to :class:`ser_core.adapt.RunningStats` only the feature frames whose
    centres lie in audio not seen before, and whose whole analysis window
    (``n_fft`` samples) lies inside the window, so no frame is counted twice
    and none is distorted by padding.  Frames of silent windows (RMS below
    ``min_rms``, as in :func:`ser_core.adapt.voice_profile`) are skipped for
    good.  Once ``warmup`` seconds of speech were counted, :meth:`current`
    returns ``predictor.adapted(profile of the running statistics)``; before,
    ``predictor`` itself (unadapted, or adapted with a calibration profile).

    Parameters
    ----------
    predictor : ser_core.inference.Predictor
        The model; a model that is not speaker-normalised needs no
        representation and is never adapted.
    warmup : float
        Seconds of speech before the running statistics are used.
    min_rms : float
        Windows quieter than this count as silence.
    """

    def __init__(self, predictor, *, warmup: float = WARMUP_SECONDS, min_rms: float | None = None) -> None:
        self.warmup = float(warmup)
        self.min_rms = MIN_RMS if min_rms is None else float(min_rms)
        self._lock = threading.Lock()
        self.use(predictor)

    def use(self, predictor) -> None:
        """Predict with ``predictor`` from now on; the statistics are kept when it needs
        the same representations and front end, else they start afresh."""
        reps = list(predictor.profile_representations())
        with self._lock:
            same = (
                getattr(self, "representations", None) == reps and getattr(self, "cfg", None) == predictor.cfg
            )
            self.predictor, self.representations, self.cfg = predictor, reps, predictor.cfg
            if not same:
                self._reset()
            self._adapted = None

    @property
    def can_adapt(self) -> bool:
        return bool(self.representations)

    def _reset(self) -> None:
        self.running = {r: RunningStats() for r in self.representations}
        self._done: int | None = None  # absolute sample index: frame centres before it are done
        self._fun_end: int | None = None  # stream index of the last functional vector's end
        self._frames = 0
        self._adapted = None

    def reset(self) -> None:
        """Forget the statistics (a new session, maybe a new voice)."""
        with self._lock:
            self._reset()

    def observe(self, window: np.ndarray, end: int) -> int:
        """Add the frames of the audio that arrived since the last call.

        Parameters
        ----------
        window : np.ndarray, shape (n,)
            The latest audio of the stream at ``cfg.sr`` (the rolling buffer);
            nothing happens until it holds a full 3-s window.
        end : int
            Samples received since the start of the stream (the index just
            after ``window``'s last sample): :meth:`RollingBuffer.snapshot`.

        Returns
        -------
        int
            Frames added (0 for silence, a repeated window or too little audio).
        """
        cfg = self.cfg
        n = cfg.n_samples
        if not self.representations or len(window) < n:
            return 0
        window = raw = np.asarray(window[-n:], np.float32)
        half, hop = cfg.n_fft // 2, cfg.hop_length
        # shift the window so that frame centres fall on multiples of the hop of the whole
        # stream: every stretch of audio then gets exactly one frame per hop, whatever the
        # sizes of the pushed blocks; the zeros at the end only reach the excluded last frames
        shift = (n - int(end)) % hop
        if shift:
            window = np.concatenate([window[shift:], np.zeros(shift, np.float32)])
        start = int(end) - n + shift
        with self._lock:
            if self._done is not None and self._done > int(end):
                self._done = None  # a new stream (its clock restarted): keep the statistics
            lo = max(self._done if self._done is not None else start + half, start + half)
            hi = int(end) - half  # exclusive
            if hi <= lo:
                return 0
            self._done = hi
            t0, t1 = -(-(lo - start) // hop), -(-(hi - start) // hop)
            if t1 <= t0 or np.sqrt(np.mean(np.square(window, dtype=np.float64))) < self.min_rms:
                return 0
            # a functional set gets one vector of the latest 3 s per half window of new audio
            # (the 1.5-s hop of voice_profile)
            frame_reps, fun = functionals.partition(self.representations)
            take = bool(fun) and (self._fun_end is None or not 0 <= int(end) - self._fun_end < n // 2)
            if take:
                self._fun_end = int(end)
        feats = features.compute_all(window, frame_reps, cfg=cfg) if frame_reps else {}
        vecs = {r: functionals.compute(raw, r, cfg=cfg) for r in fun} if take else {}
        with self._lock:
            for r in frame_reps:
                self.running[r].update(feats[r][..., t0:t1])
            for r, v in vecs.items():
                self.running[r].update(v)  # one vector: statistics per dimension
            self._frames += t1 - t0
            self._adapted = None
        return t1 - t0

    @property
    def seconds(self) -> float:
        """Seconds of speech in the running statistics."""
        return self._frames * self.cfg.hop_length / self.cfg.sr

    @property
    def ready(self) -> bool:
        """Enough speech was heard: :meth:`current` is adapted on the fly."""
        return self.can_adapt and self._frames > 0 and self.seconds >= self.warmup

    def profile(self):
        """The running statistics as a :class:`~ser_core.adapt.VoiceProfile` (named "live")."""
        with self._lock:
            stats = {r: s.stats() for r, s in self.running.items()}
        return VoiceProfile(stats, self.seconds, "live")

    def current(self):
        """The predictor to use now: adapted on the fly after the warm-up."""
        if not self.ready:
            return self.predictor
        if self._adapted is None:
            self._adapted = self.predictor.adapted(self.profile())
        return self._adapted

    def predict(self, y: np.ndarray) -> np.ndarray:
        """Probabilities ``(6,)`` of a waveform with :meth:`current`."""
        return self.current().predict(y)

    def status(self) -> str:
        """One sentence for people on the state of the adaptation."""
        if not self.can_adapt:
            return self.predictor.adaptation()
        calibration = getattr(self.predictor, "profile", None)
        seconds = f"{self.seconds:.0f}"
        if self.ready:
            if calibration is None:
                return _(
                    "Adapted on the fly: running statistics of {seconds} s of your speech in this session."
                ).format(seconds=seconds)
            if not calibration.name:  # the calibration's statistics are replaced, say so
                return _(
                    "Adapted on the fly: running statistics of {seconds} s of your speech in this "
                    "session, in place of your calibration."
                ).format(seconds=seconds)
            return _(
                "Adapted on the fly: running statistics of {seconds} s of your speech in this "
                "session, in place of your calibration {name}."
            ).format(seconds=seconds, name=repr(calibration.name))
        if calibration is not None:
            return _(
                "Warming up: {heard} of {warmup} s of speech heard; until then, your calibration is used."
            ).format(heard=seconds, warmup=f"{self.warmup:.0f}")
        return _(
            "Warming up: {heard} of {warmup} s of speech heard; until then, the model is not adapted."
        ).format(heard=seconds, warmup=f"{self.warmup:.0f}")


@dataclass(frozen=True)
class LiveWindow:
    """A live session's window taken for prediction (:meth:`LivePredictor.take`).

    Attributes
    ----------
    samples : np.ndarray, shape (n,)
        The last ``min(received, 3 s)`` of audio at the buffer's rate.
    end : int
        Samples received since the session started (the index just after ``samples``).
    generation : int
        The session's generation: a window taken before :meth:`LivePredictor.reset` is
        not recorded after it.
    """

    samples: np.ndarray
    end: int
    generation: int


def _arrays(pts: list[LivePoint]) -> tuple[np.ndarray, np.ndarray]:
    """``(times (n,), probabilities (n, 6))`` of live points."""
    if not pts:
        return np.zeros(0), np.zeros((0, len(EMOTIONS)), np.float32)
    return np.array([p.time for p in pts]), np.stack([p.probs for p in pts])


class LivePredictor:
    """Re-predicts a :class:`RollingBuffer` and records the history (thread-safe).

    Either the session predicts itself (:meth:`step`, in the caller's thread) or a shared
    :class:`ser_core.live_batch.LiveBatcher` predicts it with other sessions (:meth:`take`, then
    :meth:`record`).

    Parameters
    ----------
    predict : callable
        ``waveform (n,) -> probabilities (6,)``, e.g. ``Predictor.predict``
        (which pads a window shorter than 3 s).
    buffer : RollingBuffer, optional
        A new 3-s buffer at 16 kHz by default.
    predict_many : callable, optional
        ``[waveform (n_i,), ...] -> probabilities (k, 6)``, e.g.
        ``Predictor.predict_many``: sessions with the same one are predicted in one
        batch by a :class:`~ser_core.live_batch.LiveBatcher`; without it, ``predict`` per window.
    min_new : float
        Seconds of new audio needed since the last prediction.
    min_seconds : float
        Buffered audio needed before the first prediction.
    max_history : int
        Points kept (the oldest are dropped).
    adapter : OnlineAdapter, optional
        On-the-fly adaptation: fed the audio of every step, predicts instead of
        ``predict``.
    """

    def __init__(
        self,
        predict: Callable[[np.ndarray], np.ndarray],
        buffer: RollingBuffer | None = None,
        *,
        predict_many: Callable[[Sequence[np.ndarray]], np.ndarray] | None = None,
        min_new: float = 0.25,
        min_seconds: float = 0.5,
        max_history: int = 7200,
        adapter: OnlineAdapter | None = None,
    ) -> None:
        self.predict = predict
        self.predict_many = predict_many
        #: When set, every step feeds it the new audio and predicts with it
        #: (``predict`` is then unused).
        self.adapter = adapter
        self.buffer = buffer if buffer is not None else RollingBuffer()
        self.min_new = float(min_new)
        self.min_seconds = float(min_seconds)
        #: The message of the last failed prediction ("" after a good one), in English, and
        #: its error (None after a good one), for a page to say it in its reader's language.
        self.failure = ""
        self.failure_error: BaseException | None = None
        self._history: deque[LivePoint] = deque(maxlen=max_history)
        self._taken: float | None = None  # audio time of the last window taken
        self._generation = 0
        self._lock = threading.Lock()

    def push_frame(self, frame) -> None:
        """Feed a PyAV ``AudioFrame`` to the buffer (WebRTC sink callback)."""
        self.buffer.push_frame(frame)

    def take(self, *, force: bool = False, min_new: float | None = None) -> LiveWindow | None:
        """The current window when a prediction is due (enough audio, and ``min_new`` s
        of it new since the last window taken: the session's own by default, never less);
        else None.  A window is taken once."""
        every = self.min_new if min_new is None else max(self.min_new, float(min_new))
        with self._lock:
            # the cheap test first: a batcher asks ten times a second, a window is due twice
            due = (
                self._taken is None or self.buffer.total_seconds - self._taken >= every - 0.5 / self.buffer.sr
            )
            if not (force or due):
                return None
            y, total = self.buffer.snapshot()
            if len(y) < self.min_seconds * self.buffer.sr:
                return None
            self._taken = total / self.buffer.sr
            return LiveWindow(y, int(total), self._generation)

    def model(self, window: LiveWindow) -> tuple[Callable[[Sequence[np.ndarray]], np.ndarray], bool]:
        """``(predict_many, adapted)`` for a taken window: with an adapter, the window is
        observed first and its current model used."""
        adapter = self.adapter
        if adapter is None:
            return self.predict_many or _one_by_one(self.predict), False
        if adapter.cfg.sr != self.buffer.sr:
            raise ConfigError(
                f"the adapter expects {adapter.cfg.sr} Hz audio, the buffer holds {self.buffer.sr} Hz"
            )
        adapter.observe(window.samples, window.end)
        model = adapter.current()
        return getattr(model, "predict_many", None) or _one_by_one(model.predict), adapter.ready

    def record(self, window: LiveWindow, probs: np.ndarray, *, adapted: bool = False) -> LivePoint | None:
        """Add the prediction of a taken window to the history (None when the session
        was reset since the window was taken)."""
        y = window.samples
        point = LivePoint(
            window.end / self.buffer.sr,
            np.asarray(probs, dtype=np.float32),
            float(np.sqrt(np.mean(y.astype(np.float64) ** 2))),
            adapted,
        )
        with self._lock:
            if window.generation != self._generation:
                return None
            self._history.append(point)
            self.failure, self.failure_error = "", None
            return point

    def fail(self, window: LiveWindow, message: str, error: BaseException | None = None) -> None:
        """Note that the prediction of a taken window failed (shown by the page)."""
        with self._lock:
            if window.generation == self._generation:
                self.failure, self.failure_error = message, error

    def step(self, *, force: bool = False) -> LivePoint | None:
        """Predict the current window in this thread when a prediction is due; else None."""
        window = self.take(force=force)
        if window is None:
            return None
        predict_many, adapted = self.model(window)
        return self.record(window, predict_many([window.samples])[0], adapted=adapted)

    @property
    def latest(self) -> LivePoint | None:
        with self._lock:
            return self._history[-1] if self._history else None

    def history(self) -> tuple[np.ndarray, np.ndarray]:
        """``(times (n,), probabilities (n, 6))`` of the session so far."""
        return self.snapshot()[1:]

    def snapshot(self) -> tuple[LivePoint | None, np.ndarray, np.ndarray]:
        """``(latest point, times (n,), probabilities (n, 6))``, read together (a page
        drawing the label and the charts shows the same prediction in both)."""
        with self._lock:
            pts = list(self._history)
        return (pts[-1] if pts else None, *_arrays(pts))

    def overall(self) -> np.ndarray | None:
        """The whole session in one: the mean of every prediction's probabilities weighted
        by its window's loudness (RMS), as an upload's windows are pooled
        (:meth:`~ser_core.inference.Predictor.timeline`).

        Returns
        -------
        np.ndarray, shape (6,), float32, or None
            None before the first prediction.
        """
        with self._lock:
            pts = list(self._history)
        if not pts:
            return None
        rms = np.array([p.rms for p in pts]) + 1e-8
        probs = np.stack([p.probs for p in pts])
        return ((probs * rms[:, None]).sum(0) / rms.sum()).astype(np.float32)

    def __len__(self) -> int:
        with self._lock:
            return len(self._history)

    def reset(self) -> None:
        """Forget the audio and the history (a new session)."""
        with self._lock:
            self._history.clear()
            self.buffer.clear()
            self._taken, self.failure, self.failure_error = None, "", None
            self._generation += 1
            if self.adapter is not None:
                self.adapter.reset()


def _one_by_one(predict: Callable[[np.ndarray], np.ndarray]) -> Callable[[Sequence[np.ndarray]], np.ndarray]:
    """``predict_many`` from a one-waveform ``predict``."""

    def many(waveforms: Sequence[np.ndarray]) -> np.ndarray:
        return np.stack([np.asarray(predict(y), np.float32) for y in waveforms])

    return many


def ice_servers(value: str | Sequence[Any] | None = None) -> list[dict]:
    """WebRTC ICE servers (``[{"urls": [...], "username": ..., "credential": ...}]``).

    Parameters
    ----------
    value : str (JSON), list, or None
        None reads ``$SER_ICE_SERVERS``; unset or empty gives ``[]`` (no
        STUN/TURN: enough for localhost and a LAN).

    Raises
    ------
    ConfigError
        Not JSON, not a list, or an entry without ``urls``.
    """
    if value is None:
        value = os.environ.get(ICE_ENV, "")
    if isinstance(value, str):
        if not value.strip():
            return []
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{ICE_ENV} is not valid JSON ({exc}); expected e.g. "
                '[{"urls": ["stun:stun.l.google.com:19302"]}]'
            ) from None
    if isinstance(value, dict):  # a single server
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"ICE servers must be a list of {{'urls': ...}} entries, got {value!r}")
    out = []
    for entry in value:
        entry = dict(entry) if hasattr(entry, "keys") else entry
        if not isinstance(entry, dict) or not entry.get("urls"):
            raise ConfigError(f"each ICE server needs 'urls', got {entry!r}")
        out.append(entry)
    return out
