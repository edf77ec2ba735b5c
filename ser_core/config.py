"""The audio and feature contract shared by every part of :mod:`ser_core`.

One frozen dataclass, :class:`FeatureConfig`, holds the sample rate, clip
length and the STFT / mel / MFCC / CQT / tempogram settings.  Each
representation declares which of its fields it depends on; the hash of those
fields keys the on-disk feature cache, so changing e.g. ``n_mfcc`` invalidates
only MFCC and delta-MFCC.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = [
    "EMOTIONS",
    "EMOTION_TO_INDEX",
    "SAMPLE_RATE",
    "CLIP_SECONDS",
    "FeatureConfig",
    "DEFAULT_CONFIG",
    "project_root",
    "artifacts_dir",
    "cache_dir",
]

#: The six nEMO emotions, in the fixed class order used by every model.
EMOTIONS: tuple[str, ...] = ("anger", "fear", "happiness", "neutral", "sadness", "surprised")
EMOTION_TO_INDEX: dict[str, int] = {e: i for i, e in enumerate(EMOTIONS)}

SAMPLE_RATE = 16_000
CLIP_SECONDS = 3.0


@dataclass(frozen=True)
class FeatureConfig:
    """Audio contract and representation parameters.

    Parameters
    ----------
    sr : int
        Sample rate every waveform is resampled to (Hz).
    duration : float
        Clip length in seconds; waveforms are padded or trimmed to it.
    align : {"center", "start"}
        Where to pad/trim: keep the middle of long clips and pad short ones on
        both sides (``"center"``), or keep the start and pad at the end.
    n_fft, hop_length : int
        STFT size and hop (samples).  1024 / 256 at 16 kHz gives 64 ms windows,
        16 ms hop and 188 frames for 3 s.
    n_mels, fmin, fmax : int, float, float or None
        Mel filterbank (Slaney-normalised, HTK off, as librosa's default).
    top_db : float
        Dynamic range kept by the dB conversions.
    n_mfcc : int
        Number of MFCCs (and delta-MFCCs).
    cqt_fmin, cqt_bins, bins_per_octave : float, int, int
        Constant-Q transform: lowest frequency (C1), number of bins.
    n_chroma : int
        Chroma bins.
    tempogram_win : int
        Autocorrelation window of the tempogram, in frames (~2 s by default).
    hpss_kernel : int
        Median filter length for harmonic/percussive separation.
    contrast_bands, contrast_fmin : int, float
        Spectral-contrast octave bands and the lowest band edge.
    """

    sr: int = SAMPLE_RATE
    duration: float = CLIP_SECONDS
    align: str = "center"
    n_fft: int = 1024
    hop_length: int = 256
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float | None = None
    top_db: float = 80.0
    n_mfcc: int = 40
    cqt_fmin: float = 32.703195662574764  # C1
    cqt_bins: int = 84
    bins_per_octave: int = 12
    n_chroma: int = 12
    tempogram_win: int = 128
    hpss_kernel: int = 31
    contrast_bands: int = 6
    contrast_fmin: float = 200.0

    def __post_init__(self) -> None:
        if self.sr <= 0:
            raise ConfigError(f"sr must be positive, got {self.sr!r}")
        if not 0.1 <= self.duration <= 60:
            raise ConfigError(f"duration must be within 0.1..60 s, got {self.duration!r}")
        if self.align not in ("center", "start"):
            raise ConfigError(f"align must be 'center' or 'start', got {self.align!r}")
        if self.hop_length <= 0 or self.n_fft < self.hop_length:
            raise ConfigError(
                f"need 0 < hop_length <= n_fft, got hop_length={self.hop_length!r}, n_fft={self.n_fft!r}"
            )
        if self.fmax is not None and self.fmax > self.sr / 2:
            raise ConfigError(f"fmax={self.fmax!r} is above Nyquist ({self.sr / 2} Hz)")

    @property
    def n_samples(self) -> int:
        """Samples in one clip (``round(sr * duration)``)."""
        return int(round(self.sr * self.duration))

    @property
    def n_frames(self) -> int:
        """STFT frames of one clip (centred frames: ``1 + n_samples // hop``)."""
        return 1 + self.n_samples // self.hop_length

    def replace(self, **changes: Any) -> FeatureConfig:
        """Return a copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def subset(self, fields: Iterable[str]) -> dict[str, Any]:
        """The values of ``fields`` as a plain dict (for hashing and model cards)."""
        return {f: getattr(self, f) for f in sorted(set(fields))}

    def digest(self, fields: Iterable[str] | None = None, *, salt: str = "") -> str:
        """Stable hex digest of ``fields`` (all fields when None) plus ``salt``."""
        names = [f.name for f in dataclasses.fields(self)] if fields is None else fields
        blob = json.dumps({"salt": salt, **self.subset(names)}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


DEFAULT_CONFIG = FeatureConfig()


@functools.cache
def project_root() -> Path:
    """The repository root (the folder holding ``ser_core/``)."""
    return Path(__file__).resolve().parent.parent


def artifacts_dir() -> Path:
    """``$SER_ARTIFACTS`` or ``<project>/artifacts``."""
    return Path(os.environ.get("SER_ARTIFACTS", project_root() / "artifacts"))


def cache_dir() -> Path:
    """Feature cache root: ``$SER_CACHE_DIR`` or ``<project>/.cache/features``."""
    return Path(os.environ.get("SER_CACHE_DIR", project_root() / ".cache" / "features"))
