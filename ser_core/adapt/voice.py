"""A voice's statistics: profiles from a recording or a microphone, per-speaker statistics
of a corpus part, and the voice warps (test-time augmentation).

Only audio is used, never labels.  :mod:`ser_core.adapt` describes the method.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from .. import features, functionals
from ..audio import files_of, frame_windows, load_audio
from ..config import DEFAULT_CONFIG, FeatureConfig
from ..errors import CalibrationError
from ..i18n import N_

__all__ = [
    "ADABN_MAX_WINDOWS",
    "ADABN_SECONDS",
    "INFOMAX_SECONDS",
    "MIN_RMS",
    "MIN_SECONDS",
    "VOICE_WARPS",
    "RunningStats",
    "VoiceProfile",
    "adabn_windows",
    "clip_seconds",
    "profile_from_source",
    "speaker_normalise",
    "speaker_stats",
    "speech_windows",
    "voice_profile",
    "voice_stats",
    "voice_warps",
    "window_stats",
]

#: Shortest speech a voice profile accepts (s of non-silent audio).
MIN_SECONDS = 5.0
#: Windows quieter than this RMS (about -50 dBFS) count as silence.
MIN_RMS = 3e-3
#: Test-time voice warps: a new voice is also heard with every frequency scaled by each
#: factor (a vocal tract up to 16 % shorter or longer), as the models' ``--freq-warp``
#: augmentation does in training; the predictions of the copies are averaged.
VOICE_WARPS: tuple[float, ...] = (0.84, 0.88, 0.92, 0.96, 1.0, 1.04, 1.08, 1.12, 1.16)
#: Speech from which a calibration also re-estimates the networks' batch-norm statistics
#: (AdaBN, :func:`adapt_batchnorm`).  Measured under LOSO with the voice warps
#: (``evaluate --voice-warps --adabn``): from 20 s it adds 3.4 points to the mel model and
#: 1.3 to ``ensemble_spk``, from 30 s 3.5 and 2.6; from 10 s the batch statistics are too
#: noisy (+0.2 and -1.0).
ADABN_SECONDS = 20.0
#: At most this many 3-s windows of a long calibration are kept for AdaBN (evenly spaced; 5 min).
ADABN_MAX_WINDOWS = 200
#: Speech from which a calibration also runs :func:`tune_to_voice` (information maximisation).
INFOMAX_SECONDS = 60.0


@dataclass(frozen=True)
class VoiceProfile:
    """Normalisation statistics of one voice, per representation.

    Attributes
    ----------
    stats : mapping of representation -> NormStats
        Mean and std per channel and bin, arrays ``(C, F, 1)`` (a functional
        set's: per dimension, ``(dim,)``).
    seconds : float
        Speech the statistics come from (silent windows excluded).
    name : str
        What the user called it ("" when unnamed).
    windows : np.ndarray, shape (n, samples), or None
        The speech windows the statistics come from (at most
        :data:`ADABN_MAX_WINDOWS`, evenly spaced), kept in memory so that a
        predictor can also re-estimate its batch-norm statistics on the voice
        (from :data:`ADABN_SECONDS` of speech); never in :meth:`to_json` (a
        saved profile holds statistics only), None for live and saved profiles.
    """

    stats: Mapping[str, features.NormStats] = field(default_factory=dict)
    seconds: float = 0.0
    name: str = ""
    windows: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __contains__(self, representation: str) -> bool:
        return representation in self.stats

    @property
    def adapts_batchnorm(self) -> bool:
        """Whether the profile holds the windows of at least :data:`ADABN_SECONDS` of speech."""
        return self.windows is not None and len(self.windows) > 0 and self.seconds >= ADABN_SECONDS

    @property
    def tunes_network(self) -> bool:
        """Whether the profile holds the windows of at least :data:`INFOMAX_SECONDS` of speech
        (a predictor adapted to it also runs :func:`tune_to_voice`)."""
        return self.adapts_batchnorm and self.seconds >= INFOMAX_SECONDS

    def to_json(self) -> str:
        """The profile as JSON, statistics only (never :attr:`windows`).

        Returns
        -------
        str
            ``{"name", "seconds", "stats": {representation: NormStats.to_dict()}}``.
        """
        return json.dumps(
            {
                "name": self.name,
                "seconds": self.seconds,
                "stats": {k: v.to_dict() for k, v in self.stats.items()},
            }
        )

    @classmethod
    def from_json(cls, text: str) -> VoiceProfile:
        """Read a profile written by :meth:`to_json`.

        Parameters
        ----------
        text : str
            The JSON text.

        Returns
        -------
        VoiceProfile
            Without windows (a saved profile does not re-estimate batch norm).
        """
        d = json.loads(text)
        return cls(
            {k: features.NormStats.from_dict(v) for k, v in d["stats"].items()},
            float(d["seconds"]),
            d.get("name", ""),
        )


def voice_profile(
    y: np.ndarray,
    *,
    representations: Sequence[str] = ("mel",),
    cfg: FeatureConfig = DEFAULT_CONFIG,
    min_seconds: float = MIN_SECONDS,
    profile_name: str = "",
) -> VoiceProfile:
    """Speaker statistics from unlabelled speech.

    The recording is cut into 3-s windows (1.5-s hop); silent windows (RMS
    below :data:`MIN_RMS`) are dropped; the statistics are taken over every
    frame of the rest, exactly as for a corpus speaker.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono speech at ``cfg.sr`` (any emotion; 10–30 s is plenty).
    representations : sequence of str
        Which representations (or functional sets) to compute statistics for
        (those of the models that will use the profile).
    cfg : FeatureConfig
        Feature parameters (sample rate, window length).
    min_seconds : float
        Refuse less non-silent speech than this.
    profile_name : str
        What the user calls the voice.

    Returns
    -------
    VoiceProfile
        Statistics per representation (``(C, F, 1)``, or ``(dim,)`` for a
        functional set), the speech's seconds, and at most
        :data:`ADABN_MAX_WINDOWS` speech windows, shape (m, cfg.n_samples).

    Raises
    ------
    CalibrationError
        When the audio is silent or has less than ``min_seconds`` of speech.
    """
    voiced, speech = speech_windows(y, cfg=cfg, min_seconds=min_seconds)
    return VoiceProfile(
        window_stats(voiced, representations=representations, cfg=cfg),
        speech,
        profile_name,
        adabn_windows(voiced),
    )


def speech_windows(
    y: np.ndarray, *, cfg: FeatureConfig = DEFAULT_CONFIG, min_seconds: float = MIN_SECONDS
) -> tuple[np.ndarray, float]:
    """The speech of a calibration recording as :func:`voice_profile` takes it.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono speech at ``cfg.sr``.
    cfg : FeatureConfig
        Sample rate and window length (``cfg.duration``).
    min_seconds : float
        Refuse less non-silent speech than this.

    Returns
    -------
    windows : np.ndarray, float32, shape (m, cfg.n_samples)
        Its 3-s windows (1.5-s hop) louder than :data:`MIN_RMS`.
    seconds : float
        The speech they cover.

    Raises
    ------
    CalibrationError
        When the audio is silent or has less than ``min_seconds`` of speech.
    """
    y = np.asarray(y, np.float32)
    seconds = len(y) / cfg.sr
    if seconds < min_seconds:
        raise CalibrationError(
            N_(
                "calibration needs at least {min_seconds:g} s of speech; this recording is {seconds:.1f} s long"
            ),
            min_seconds=min_seconds,
            seconds=seconds,
        )
    wins, _ = frame_windows(y, sr=cfg.sr, window=cfg.duration, hop=cfg.duration / 2)
    rms = np.sqrt((wins.astype(np.float64) ** 2).mean(1))
    voiced = wins[rms >= MIN_RMS]
    if len(voiced) == 0:
        raise CalibrationError(
            N_(
                "the calibration recording is silent (loudest 3-s window RMS "
                "{rms:.1e} < {min_rms:.0e}); is the microphone muted?"
            ),
            rms=float(rms.max()),
            min_rms=MIN_RMS,
        )
    speech = min(seconds, len(voiced) * cfg.duration / 2 + cfg.duration / 2)
    if speech < min_seconds:
        raise CalibrationError(
            N_(
                "only {speech:.1f} s of the recording is speech; calibration needs at least {min_seconds:g} s"
            ),
            speech=speech,
            min_seconds=min_seconds,
        )
    return voiced, float(speech)


def adabn_windows(windows: np.ndarray) -> np.ndarray:
    """At most :data:`ADABN_MAX_WINDOWS` of speech windows, evenly spaced (what a profile keeps for AdaBN).

    Parameters
    ----------
    windows : np.ndarray, shape (m, samples)
        Speech windows, as :func:`speech_windows` returns them.

    Returns
    -------
    np.ndarray, float32, shape (min(m, ADABN_MAX_WINDOWS), samples)
    """
    pick = np.linspace(0, len(windows) - 1, min(len(windows), ADABN_MAX_WINDOWS)).round().astype(int)
    return np.asarray(windows, np.float32)[np.unique(pick)]


def window_stats(
    windows: np.ndarray, *, representations: Sequence[str], cfg: FeatureConfig = DEFAULT_CONFIG
) -> dict[str, features.NormStats]:
    """Statistics of speech windows for representations and functional sets.

    Parameters
    ----------
    windows : np.ndarray, shape (n, samples)
        Speech windows at ``cfg.sr``.
    representations : sequence of str
        Representation names and functional sets (:mod:`ser_core.functionals`).
    cfg : FeatureConfig
        Feature parameters.

    Returns
    -------
    dict of str -> NormStats
        In the order of ``representations``.  A representation's statistics
        are per channel and bin over every frame of every window, ``(C, F, 1)``;
        a functional set's are per dimension over the windows' vectors, ``(dim,)``.
    """
    frame_reps, sets = functionals.partition(representations)
    feats = [features.compute_all(w, frame_reps, cfg=cfg) for w in windows] if frame_reps else []
    stats = {r: features.normalization_stats(np.stack([f[r] for f in feats])) for r in frame_reps}
    for r in sets:
        stats[r] = features.normalization_stats(functionals.compute_batch(windows, r, cfg=cfg))
    return {r: stats[r] for r in representations}


def voice_stats(x: np.ndarray, *, prior: features.NormStats | None = None) -> features.NormStats:
    """Statistics of one voice's clips, as the predictor uses them.

    :func:`~ser_core.features.normalization_stats` of ``x``; for utterance
    functionals ``(n_clips, dim)`` pulled towards ``prior`` by how few clips
    they are (:func:`ser_core.functionals.shrink`; frame-level statistics are
    left as they are).

    Parameters
    ----------
    x : np.ndarray, shape (n_clips, C, F, T) or (n_clips, dim)
        Un-normalised features or utterance functionals of the voice.
    prior : NormStats, optional
        The corpus statistics to shrink towards (None: no shrinking).

    Returns
    -------
    NormStats
        Arrays of shape (C, F, 1), or (dim,).
    """
    return functionals.shrink(features.normalization_stats(x), prior)


class RunningStats:
    """Per-bin mean and variance over frames, updated one feature block at a time.

    Chan et al.'s parallel form of Welford's algorithm, in float64, so the
    result equals the batch statistics of everything seen so far.

    Parameters
    ----------
    eps : float
        Floor on the standard deviation (as :func:`ser_core.features.normalization_stats`).
    """

    def __init__(self, *, eps: float = 1e-5) -> None:
        self.eps = eps
        self._vectors = False  # fed utterance functional vectors (dim,), not frames
        self.n = 0
        self._mean: np.ndarray | None = None
        self._m2: np.ndarray | None = None

    def update(self, x: np.ndarray) -> RunningStats:
        """Add a block of frames, or one utterance functional vector.

        Parameters
        ----------
        x : np.ndarray, shape (C, F, T), (n, C, F, T) or (dim,)
            Frames to add; a vector ``(dim,)`` makes :meth:`stats` per
            dimension, ``(dim,)``.  An empty block changes nothing.

        Returns
        -------
        RunningStats
            ``self``, updated (for chaining).
        """
        x = np.asarray(x, np.float64)
        self._vectors = x.ndim == 1
        if x.ndim == 1:
            x = x[None, :, None]
        if x.ndim == 3:
            x = x[None]
        m = x.shape[0] * x.shape[3]
        if m == 0:
            return self
        mean_b = x.mean(axis=(0, 3))
        m2_b = ((x - mean_b[None, :, :, None]) ** 2).sum(axis=(0, 3))
        if self._mean is None:
            self._mean, self._m2, self.n = mean_b, m2_b, m
            return self
        delta = mean_b - self._mean
        total = self.n + m
        self._mean = self._mean + delta * m / total
        self._m2 = self._m2 + m2_b + delta**2 * self.n * m / total
        self.n = total
        return self

    @property
    def frames(self) -> int:
        """How many frames (or vectors) have been added."""
        return self.n

    def stats(self) -> features.NormStats:
        """Current statistics (equal to the batch statistics of everything added).

        Returns
        -------
        NormStats
            float32 arrays of shape (C, F, 1), or (dim,) with ``count`` for
            functional vectors; the std floored at ``eps``.

        Raises
        ------
        CalibrationError
            If nothing has been added yet.
        """
        if self._mean is None:
            raise CalibrationError(N_("no audio seen yet: running statistics are empty"))
        std = np.sqrt(np.maximum(self._m2 / self.n, 0.0))
        if self._vectors:  # functional vectors: (dim,), counted
            return features.NormStats(
                self._mean[0].astype(np.float32), np.maximum(std[0], self.eps).astype(np.float32), self.n
            )
        return features.NormStats(
            self._mean[..., None].astype(np.float32), np.maximum(std, self.eps)[..., None].astype(np.float32)
        )


def speaker_stats(
    x: np.ndarray, speakers: Sequence[str] | np.ndarray, rows: Iterable[int] | None = None
) -> dict[str, features.NormStats]:
    """Statistics of every speaker over their clips among ``rows``.

    Parameters
    ----------
    x : np.ndarray, shape (n_clips, C, F, T) or (n_clips, dim)
        Features of the whole corpus (a memmap is fine).
    speakers : array of str, shape (n_clips,)
        The speaker of each clip (no labels are read).
    rows : iterable of int, optional
        The clips to use (default: all).

    Returns
    -------
    dict of str -> NormStats
        Per speaker (in order of first appearance among ``rows``): arrays of
        shape (C, F, 1), or (dim,) for functionals.
    """
    speakers = np.asarray(speakers)
    rows = np.arange(len(speakers)) if rows is None else np.sort(np.asarray(list(rows)))
    out = {}
    for s in pd.unique(speakers[rows]):
        idx = rows[speakers[rows] == s]
        out[str(s)] = features.normalization_stats(x[idx])
    return out


def speaker_normalise(
    x: np.ndarray, speakers: Sequence[str] | np.ndarray, stats: Mapping[str, features.NormStats]
) -> np.ndarray:
    """Normalise each clip with its speaker's statistics.

    Parameters
    ----------
    x : np.ndarray, shape (n, C, F, T) or (n, dim)
        Features or utterance functionals (a memmap is fine).
    speakers : array of str, shape (n,)
        The speaker of each clip.
    stats : mapping of str -> NormStats
        Statistics of every speaker in ``speakers`` (:func:`speaker_stats`).

    Returns
    -------
    np.ndarray, float32, shape of ``x``
    """
    speakers = np.asarray(speakers)
    out = np.empty(x.shape, np.float32)
    for s in pd.unique(speakers):
        idx = np.flatnonzero(speakers == s)
        out[idx] = stats[str(s)].apply(np.asarray(x[idx], np.float32))
    return out


def voice_warps(representation: str, *, warps: Sequence[float] = VOICE_WARPS) -> list[str]:
    """Names of the warped copies of a representation (``["mel@0.84", ...]``).

    Parameters
    ----------
    representation : str
        A representation name (or a functional set).
    warps : sequence of float
        The warp factors (:data:`VOICE_WARPS`).

    Returns
    -------
    list of str
        One :func:`~ser_core.features.warped_name` per factor; empty when no
        voice warp reaches the representation (no frequency axis and not
        computed from the log-mel: chroma, ZCR, the functional sets) or
        ``warps`` is empty.
    """
    if not features.warpable(representation):
        return []
    return [features.warped_name(representation, a) for a in warps]


def profile_from_source(
    source,
    *,
    representations: Sequence[str] = ("mel",),
    cfg: FeatureConfig = DEFAULT_CONFIG,
    profile_name: str = "",
) -> VoiceProfile:
    """:func:`voice_profile` of a file, or of every audio file in a folder (joined).

    Parameters
    ----------
    source : str or Path
        An audio file, or a folder of them.
    representations : sequence of str
        As for :func:`voice_profile`.
    cfg : FeatureConfig
        Feature parameters; audio is resampled to ``cfg.sr``.
    profile_name : str
        The profile's name (default: the file's or folder's stem).

    Returns
    -------
    VoiceProfile

    Raises
    ------
    CalibrationError
        Too little speech.
    AudioError
        No audio files in the folder, or a file cannot be decoded (the message names it).
    """
    src = Path(source)
    y = np.concatenate([load_audio(f, sr=cfg.sr) for f in files_of(src)])
    return voice_profile(y, representations=representations, cfg=cfg, profile_name=profile_name or src.stem)


def clip_seconds(paths: Iterable[str], *, limit: float = 3.0) -> np.ndarray:
    """Length of each audio file in seconds, capped at ``limit`` (the crop).

    Parameters
    ----------
    paths : iterable of str
        Audio files (read with ``soundfile``; only their headers).
    limit : float
        The cap in seconds.

    Returns
    -------
    np.ndarray, float64, shape (n_files,)
    """
    return np.array([min(sf.info(p).duration, limit) for p in paths], dtype=np.float64)
