"""Utterance-level acoustic functionals (openSMILE), in a small registry.

A functional set turns a clip into one fixed-length vector: statistics
(means, percentiles, slopes, ...) of low-level descriptors such as pitch,
jitter, shimmer, loudness, formants, MFCCs and spectral shape.  They are the
field's standard baselines for emotion recognition (Eyben et al. 2016,
eGeMAPS; Schuller et al. 2016, ComParE), computed with the reference
implementation, `openSMILE <https://audeering.github.io/opensmile-python/>`_
(free for research and education; commercial use needs audEERING's licence).

Normalised per speaker and fed to a linear classifier (the ``logreg`` model),
they generalise to a new voice better than the spectrogram CNNs do (see the
README's leave-one-speaker-out table).

>>> from ser_core import functionals
>>> functionals.names()
('egemaps', 'compare')
>>> v = functionals.compute(y, "egemaps")      # (88,) float32

The input is the same 3-s window the CNNs see; the zeros that pad a short
clip to 3 s are stripped first, so a padded clip and the clip itself give the
same vector.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

from .audio import pad_or_trim
from .config import DEFAULT_CONFIG, FeatureConfig
from .errors import AudioTooShortError, UnknownNameError
from .features import NormStats
from .i18n import N_

__all__ = [
    "FunctionalSet",
    "REGISTRY",
    "register",
    "names",
    "get",
    "compute",
    "compute_batch",
    "is_functional",
    "input_kind",
    "partition",
    "shrink",
    "MIN_SAMPLES",
    "PRIOR_CLIPS",
]

#: Weight of the corpus statistics in a voice's functional statistics, in clips (:func:`shrink`).
PRIOR_CLIPS = 10
#: Shortest non-zero audio openSMILE gets (0.1 s at 16 kHz; its 60-ms pitch window needs some).
MIN_SAMPLES = 1600


@dataclass(frozen=True)
class FunctionalSet:
    """A registered openSMILE functional set.

    Attributes
    ----------
    name : str
        Registry key (``egemaps``).
    feature_set : str
        The ``opensmile.FeatureSet`` member.
    dim : int
        Length of the vector.
    description : str
    """

    name: str
    feature_set: str
    dim: int
    description: str

    def params(self) -> dict[str, object]:
        """What defines the vector (for cache keys and model cards)."""
        import opensmile  # optional heavy dependency: only for the functional sets

        return {
            "toolkit": "openSMILE",
            "feature_set": self.feature_set,
            "feature_level": "Functionals",
            "opensmile": opensmile.__version__,
            "window": "the 3-s crop, zero padding stripped",
        }


REGISTRY: dict[str, FunctionalSet] = {}


def register(representation: str, *, feature_set: str, dim: int, description: str) -> FunctionalSet:
    """Add an openSMILE feature set to :data:`REGISTRY`."""
    REGISTRY[representation] = FunctionalSet(representation, feature_set, dim, description)
    return REGISTRY[representation]


register(
    "egemaps",
    feature_set="eGeMAPSv02",
    dim=88,
    description="eGeMAPS v02: 88 functionals of pitch, jitter, shimmer, loudness, formants, "
    "spectral balance (the minimalistic standard set for affect)",
)
register(
    "compare",
    feature_set="ComParE_2016",
    dim=6373,
    description="ComParE 2016: 6373 functionals of 65 low-level descriptors (the "
    "Interspeech challenges' brute-force set)",
)


def names() -> tuple[str, ...]:
    return tuple(REGISTRY)


def is_functional(representation: str) -> bool:
    """Whether ``representation`` is a functional set (else a representation or another input)."""
    return representation in REGISTRY


def input_kind(representation: str) -> str:
    """The model input kind of ``representation``: ``functionals`` for a set, else ``features``."""
    return "functionals" if is_functional(representation) else "features"


def partition(names) -> tuple[list[str], list[str]]:
    """``names`` split into (frame-level representations, functional sets), order kept."""
    names = list(names)
    return [n for n in names if not is_functional(n)], [n for n in names if is_functional(n)]


def get(representation: str) -> FunctionalSet:
    try:
        return REGISTRY[representation]
    except KeyError:
        raise UnknownNameError(
            N_("unknown functional set {representation!r}; choose one of: {known}"),
            representation=representation,
            known=", ".join(REGISTRY),
        ) from None


@cache
def _smile(feature_set: str) -> Callable[[np.ndarray, int], np.ndarray]:
    """One openSMILE extractor per set, used by one thread at a time (the live microphone
    and a prediction may call it together)."""
    import opensmile  # optional heavy dependency: only for the functional sets

    sm = opensmile.Smile(
        feature_set=getattr(opensmile.FeatureSet, feature_set),
        feature_level=opensmile.FeatureLevel.Functionals,
    )
    lock = threading.Lock()

    def run(y: np.ndarray, sr: int) -> np.ndarray:
        with lock:
            return sm.process_signal(y, sr).to_numpy()[0]

    return run


def compute(y: np.ndarray, representation: str, *, cfg: FeatureConfig = DEFAULT_CONFIG) -> np.ndarray:
    """The functional vector of one clip.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono waveform at ``cfg.sr``; longer than ``cfg.duration`` it is cropped
        like the CNNs' input (``cfg.align``); zero padding at either end is
        ignored unless (almost) nothing else is left.
    representation : str
        A registered set (:func:`names`).

    Returns
    -------
    np.ndarray, shape (dim,), float32
        Finite (openSMILE's NaN for an undefined statistic becomes 0).

    Raises
    ------
    AudioTooShortError
        Less than :data:`MIN_SAMPLES` samples of audio.
    """
    fs = get(representation)
    y = np.asarray(y, np.float32)
    if len(y) > cfg.n_samples:
        y = pad_or_trim(y, n_samples=cfg.n_samples, align=cfg.align)
    trimmed = np.trim_zeros(y)
    # (digital silence, e.g. a silent window of a long recording, keeps its zeros: openSMILE
    # describes it like any quiet audio instead of failing the whole recording)
    y = trimmed if len(trimmed) >= MIN_SAMPLES else y
    if len(y) < MIN_SAMPLES:
        raise AudioTooShortError(
            N_(
                "{representation} functionals need at least {min_seconds:.1f} s of audio, got {seconds:.2f} s"
            ),
            representation=representation,
            min_seconds=MIN_SAMPLES / cfg.sr,
            seconds=len(y) / cfg.sr,
        )
    v = np.asarray(_smile(fs.feature_set)(y, cfg.sr), np.float32)
    return np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)


def compute_batch(
    windows: np.ndarray, representation: str, *, cfg: FeatureConfig = DEFAULT_CONFIG
) -> np.ndarray:
    """:func:`compute` of every row of ``windows`` ``(n, samples)``; returns ``(n, dim)`` float32."""
    return (
        np.stack([compute(w, representation, cfg=cfg) for w in windows])
        if len(windows)
        else np.zeros((0, get(representation).dim), np.float32)
    )


def shrink(stats, prior, *, strength: float = PRIOR_CLIPS):
    """A voice's functional statistics pulled towards the corpus's, by how few clips they saw.

    One vector per clip means a 10-s calibration gives only a handful of
    samples per dimension: their mean and, worse, their standard deviation are
    noisy, and dividing by a tiny one blows a feature up.  The estimate is
    therefore the weighted average (a conjugate-prior, empirical-Bayes form)

    ``mean = w * mean_voice + (1 - w) * mean_corpus``, ``var = w * var_voice + (1 - w) * var_corpus``,
    ``w = n / (n + strength)``,

    so a few clips move the statistics a little and a speaker's hundreds of
    clips (training, the LOSO test) almost entirely.

    Parameters
    ----------
    stats : NormStats, arrays ``(dim,)``
        The voice's, with ``count`` = the number of vectors (0 counts as many).
    prior : NormStats, arrays ``(dim,)``
        The corpus statistics (a model card's fallback).
    strength : float
        The prior's weight in clips.

    Returns
    -------
    NormStats ``(dim,)`` with the voice's ``count``.
    """
    if prior is None or not stats.count or strength <= 0:  # (frame-level statistics: count 0)
        return stats
    w = stats.count / (stats.count + strength)
    mean = w * stats.mean + (1 - w) * prior.mean
    std = np.sqrt(w * stats.std.astype(np.float64) ** 2 + (1 - w) * prior.std.astype(np.float64) ** 2)
    return NormStats(mean.astype(np.float32), std.astype(np.float32), stats.count)
