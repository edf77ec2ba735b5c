"""Colours and array helpers shared by the figures."""

from __future__ import annotations

import numpy as np

from ser_core import features
from ser_core.config import DEFAULT_CONFIG, EMOTIONS
from ser_core.i18n import N_, _, emotion_name

#: Fixed colour of each emotion on every plot.
EMOTION_COLORS: dict[str, str] = dict(
    zip(EMOTIONS, ["#d62728", "#8c56b8", "#f2a104", "#7f7f7f", "#1f77b4", "#2ca02c"])
)
#: Colour of each gender where plots are split by it.
GENDER_COLORS: dict[str, str] = {"female": "#e7298a", "male": "#1b9e77"}
#: Display names of the corpus' gender labels (the labels stay the identifiers).
GENDER_NAMES: dict[str, str] = {"female": N_("female"), "male": N_("male")}
#: Representations whose bins are standardised over time before the per-row scaling of
#: the overview (in MFCC and delta-MFCC coefficient 0 dwarfs the others, which would
#: otherwise all get one colour).
DISPLAY_PER_BIN = {"mfcc", "delta_mfcc"}


def frame_times(n_frames: int) -> np.ndarray:
    """Time of each feature frame.

    Parameters
    ----------
    n_frames : int
        Number of frames.

    Returns
    -------
    np.ndarray, shape (n_frames,)
        ``index * hop_length / sr`` in seconds.
    """
    return np.arange(n_frames) * DEFAULT_CONFIG.hop_length / DEFAULT_CONFIG.sr


def stack_channels(x: np.ndarray) -> np.ndarray:
    """Stack the channels of a representation into one image, channel 0 lowest.

    Parameters
    ----------
    x : np.ndarray, shape (channels, bins, frames)

    Returns
    -------
    np.ndarray, shape (channels * bins, frames)
    """
    return x.reshape(-1, x.shape[-1])


def standardise_bins(z: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance along time for every bin (a constant bin is only centred).

    Parameters
    ----------
    z : np.ndarray, shape (bins, frames)

    Returns
    -------
    np.ndarray, shape (bins, frames)
    """
    sd = z.std(axis=-1, keepdims=True)
    return (z - z.mean(axis=-1, keepdims=True)) / np.where(sd > 0, sd, 1.0)


def minmax(z: np.ndarray) -> np.ndarray:
    """Scale to 0..1 (a constant array becomes zeros).

    Parameters
    ----------
    z : np.ndarray, any shape

    Returns
    -------
    np.ndarray, same shape, float32
    """
    lo, hi = float(np.min(z)), float(np.max(z))
    return ((z - lo) / (hi - lo) if hi > lo else np.zeros_like(z)).astype(np.float32)


def is_curve(x: np.ndarray) -> bool:
    """Whether a representation ``(channels, bins, frames)`` has one channel of one bin
    (zcr, rms): drawn as a line, not a heatmap."""
    return x.shape[0] * x.shape[1] == 1


def gender_name(gender: str) -> str:
    """The display name of a gender label in the language of this run (unknown: unchanged)."""
    name = GENDER_NAMES.get(gender)
    return _(name) if name else gender


def emotion_colors() -> dict[str, str]:
    """:data:`EMOTION_COLORS` keyed by the emotions' display names (for plots whose
    categories are :func:`~ser_core.i18n.emotion_name`)."""
    return {emotion_name(e): c for e, c in EMOTION_COLORS.items()}


def gender_colors() -> dict[str, str]:
    """:data:`GENDER_COLORS` keyed by the genders' display names (:func:`gender_name`)."""
    return {gender_name(g): c for g, c in GENDER_COLORS.items()}


def row_title(representation: str) -> str:
    """Subplot title of a representation (HPSS says how its channels are stacked), in the
    language of this run."""
    spec = features.get(representation)
    title = _(spec.title)
    if representation in DISPLAY_PER_BIN:
        return _("{title} (each {y_label} standardised over time)").format(
            title=title, y_label=_(spec.y_label)
        )
    if len(spec.channels) > 1:
        low, high = _(spec.channels[0]), _(spec.channels[-1])
        return _("{title}: {low} in the lower half, {high} in the upper half (stacked bins)").format(
            title=title, low=low, high=high
        )
    return title
