"""Feature-space augmentations, chosen per representation family.

:func:`make` returns an :class:`Augment` for a representation: spectral
families get time/frequency masking and Gaussian noise, temporal ones time
shift and stretch, harmonic ones a pitch-class roll (chroma) or the exactly
equivalent rotation (tonnetz), energy ones amplitude modulation (RMS) and
time shift.  Every transform maps an array of shape ``(channels, bins,
frames)`` to one of the same shape and dtype.  Augmentation is applied only in
training mode: ``aug.eval()`` makes it the identity.

Two perturbations that imitate another voice are opt-in (``make(...,
freq_warp=0.1, time_stretch=0.15)``): :class:`FreqWarp` scales every frequency
by one random factor (vocal-tract length and pitch, as VTLP does), for the
representations whose bins are frequencies; :class:`TimeStretch` changes the
speaking rate.

>>> aug = make("mel")
>>> x_aug = aug(x, rng=np.random.default_rng(0))
>>> aug.eval()(x) is x
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from . import features
from .config import DEFAULT_CONFIG, FeatureConfig

__all__ = [
    "Transform",
    "TimeMask",
    "FreqMask",
    "GaussianNoise",
    "TimeShift",
    "TimeStretch",
    "FreqWarp",
    "ChromaRoll",
    "TonnetzRotate",
    "AmplitudeModulation",
    "Augment",
    "make",
    "FAMILIES",
]


class Transform(Protocol):
    def __call__(self, x: np.ndarray, *, rng: np.random.Generator) -> np.ndarray: ...


@dataclass(frozen=True)
class TimeMask:
    """Set ``n`` random spans of up to ``max_frac`` of the frames to the mean."""

    max_frac: float = 0.1
    n: int = 2

    def __call__(self, x: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
        x = x.copy()
        T = x.shape[-1]
        fill = x.mean()
        for _ in range(self.n):
            w = int(rng.integers(0, max(1, int(T * self.max_frac)) + 1))
            t0 = int(rng.integers(0, max(1, T - w + 1)))
            x[..., t0 : t0 + w] = fill
        return x


@dataclass(frozen=True)
class FreqMask:
    """Set ``n`` random bands of up to ``max_frac`` of the bins to the mean."""

    max_frac: float = 0.12
    n: int = 2

    def __call__(self, x: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
        F = x.shape[-2]
        if F < 4:
            return x
        x = x.copy()
        fill = x.mean()
        for _ in range(self.n):
            w = int(rng.integers(0, max(1, int(F * self.max_frac)) + 1))
            f0 = int(rng.integers(0, max(1, F - w + 1)))
            x[..., f0 : f0 + w, :] = fill
        return x


@dataclass(frozen=True)
class GaussianNoise:
    """Add noise with standard deviation ``rel_std`` times the array's std."""

    rel_std: float = 0.05

    def __call__(self, x: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
        s = float(x.std()) * self.rel_std
        if s == 0:
            return x
        return (x + rng.normal(0.0, s, size=x.shape)).astype(x.dtype)


@dataclass(frozen=True)
class TimeShift:
    """Circularly shift along time by up to ``max_frac`` of the frames."""

    max_frac: float = 0.1

    def __call__(self, x: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
        m = int(x.shape[-1] * self.max_frac)
        return np.roll(x, int(rng.integers(-m, m + 1)), axis=-1) if m else x


@dataclass(frozen=True)
class TimeStretch:
    """Stretch along time by a rate in ``[1/max_rate, max_rate]`` (linear
    interpolation), then crop or edge-pad back to the original frame count."""

    max_rate: float = 1.15

    def __call__(self, x: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
        T = x.shape[-1]
        rate = float(np.exp(rng.uniform(-np.log(self.max_rate), np.log(self.max_rate))))
        n = max(2, int(round(T / rate)))
        src = np.linspace(0, T - 1, n)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, T - 1)
        w = (src - lo).astype(x.dtype)
        y = x[..., lo] * (1 - w) + x[..., hi] * w
        if n >= T:
            s = (n - T) // 2
            return np.ascontiguousarray(y[..., s : s + T])
        pad = T - n
        return np.pad(y, [(0, 0)] * (x.ndim - 1) + [(pad // 2, pad - pad // 2)], mode="edge")


@dataclass(frozen=True)
class FreqWarp:
    """Scale every frequency by one factor in ``[1/max_factor, max_factor]``.

    What sat at ``f / alpha`` Hz moves to ``f`` Hz (linear interpolation
    between bins; the edges are held): a longer or shorter vocal tract and a
    lower or higher voice at once, as vocal tract length perturbation (VTLP)
    does, applied to a spectrogram whose bins have centre frequencies ``hz``
    (:meth:`ser_core.features.Representation.frequencies`).

    Attributes
    ----------
    hz : tuple of float
        Centre frequency of each bin, increasing, length ``bins``.
    max_factor : float
        Largest scale factor (> 1).
    """

    hz: tuple[float, ...]
    max_factor: float = 1.1

    def __call__(self, x: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
        alpha = float(np.exp(rng.uniform(-np.log(self.max_factor), np.log(self.max_factor))))
        return self.warp(x, alpha)

    def warp(self, x: np.ndarray, alpha: float) -> np.ndarray:
        """Scale the frequencies of ``x`` ``(..., bins, frames)`` by exactly ``alpha``."""
        return features.warp_frequencies(x, hz=np.asarray(self.hz), alpha=alpha)


@dataclass(frozen=True)
class ChromaRoll:
    """Transpose a chromagram by up to ``max_steps`` semitones (circular roll)."""

    max_steps: int = 2

    def __call__(self, x: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
        k = int(rng.integers(-self.max_steps, self.max_steps + 1))
        return np.roll(x, k, axis=-2) if k else x


#: Angles (radians per semitone) of tonnetz's three circle pairs (librosa's order).
_TONNETZ_R = np.array([7 * np.pi / 6, 3 * np.pi / 2, 2 * np.pi / 3])


@dataclass(frozen=True)
class TonnetzRotate:
    """Transpose tonnetz features by up to ``max_steps`` semitones.

    Tonnetz dimension pairs are (sin, cos) projections of the chroma onto
    circles of fifths, minor and major thirds; transposing the chroma by ``k``
    semitones rotates pair ``j`` by ``k * r_j``.  This is exactly the tonnetz
    of the rolled chroma.
    """

    max_steps: int = 2

    def __call__(self, x: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
        k = int(rng.integers(-self.max_steps, self.max_steps + 1))
        return rotate_tonnetz(x, k) if k else x


def rotate_tonnetz(x: np.ndarray, k: int) -> np.ndarray:
    """Rotate tonnetz ``(..., 6, frames)`` as if its chroma were rolled by ``k``."""
    y = x.copy()
    for j, r in enumerate(_TONNETZ_R):
        c, s = np.cos(k * r), np.sin(k * r)
        a, b = x[..., 2 * j, :], x[..., 2 * j + 1, :]
        # librosa stores each pair as (sin(theta), cos(theta)); theta grows by k * r
        y[..., 2 * j, :] = c * a + s * b
        y[..., 2 * j + 1, :] = c * b - s * a
    return y


@dataclass(frozen=True)
class AmplitudeModulation:
    """Multiply by a slow random gain ``1 + depth * sin(2 pi f t + phase)``
    (an energy envelope scales with the signal's amplitude)."""

    depth: float = 0.3
    max_cycles: float = 3.0

    def __call__(self, x: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
        T = x.shape[-1]
        cycles = rng.uniform(0.25, self.max_cycles)
        t = np.arange(T) / T
        g = 1 + rng.uniform(0, self.depth) * np.sin(2 * np.pi * cycles * t + rng.uniform(0, 2 * np.pi))
        return (x * g * rng.uniform(1 - self.depth, 1 + self.depth)).astype(x.dtype)


FAMILIES: dict[str, tuple] = {
    "spectral": (TimeMask(), FreqMask(), GaussianNoise()),
    "temporal": (TimeShift(), TimeStretch()),
    "harmonic": (ChromaRoll(), TimeShift()),
    "energy": (AmplitudeModulation(), TimeShift()),
}

#: Per-representation departures from its family's list.
_OVERRIDES: dict[str, tuple] = {
    "tonnetz": (TonnetzRotate(), TimeShift()),
    "zcr": (TimeShift(), TimeStretch()),  # ZCR does not scale with amplitude
}


@dataclass
class Augment:
    """Apply each transform with probability ``p`` in training mode.

    Attributes
    ----------
    transforms : sequence of Transform
    p : float
    training : bool
        When False, ``__call__`` returns its input unchanged.
    """

    transforms: Sequence[Transform] = field(default_factory=tuple)
    p: float = 0.5
    training: bool = True

    def __call__(self, x: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        if not self.training:
            return x
        rng = rng or np.random.default_rng()
        for t in self.transforms:
            if rng.random() < self.p:
                x = t(x, rng=rng)
        return x

    def train(self, mode: bool = True) -> Augment:
        self.training = mode
        return self

    def eval(self) -> Augment:
        return self.train(False)


def make(
    representation: str,
    *,
    p: float = 0.5,
    training: bool = True,
    freq_warp: float = 0.0,
    time_stretch: float = 0.0,
    cfg: FeatureConfig = DEFAULT_CONFIG,
) -> Augment:
    """The augmentation pipeline suited to ``representation``.

    Parameters
    ----------
    representation : str
        A registered representation.
    p : float
        Probability of each transform.
    freq_warp : float
        Add :class:`FreqWarp` with ``max_factor = 1 + freq_warp`` (0: off;
        only for representations whose bins are frequencies).
    time_stretch : float
        Add :class:`TimeStretch` with ``max_rate = 1 + time_stretch`` (0: off;
        temporal representations always have it).
    cfg : FeatureConfig
        The configuration the features were computed with (bin frequencies).
    """
    spec = features.get(representation)
    transforms = list(_OVERRIDES.get(representation, FAMILIES[spec.family]))
    hz = spec.frequencies(cfg)
    if freq_warp > 0 and hz is not None:
        transforms.insert(0, FreqWarp(tuple(hz.tolist()), 1 + freq_warp))
    if time_stretch > 0 and not any(isinstance(t, TimeStretch) for t in transforms):
        transforms.insert(1 if freq_warp > 0 and hz is not None else 0, TimeStretch(1 + time_stretch))
    return Augment(tuple(transforms), p=p, training=training)
