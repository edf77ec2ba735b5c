"""The 13 acoustic representations of a 3-second clip, in a registry.

Every representation is a function of the waveform returning a float32 array of
shape ``(channels, bins, frames)`` whose shape depends only on the
:class:`~ser_core.config.FeatureConfig` (``frames = cfg.n_frames``, 188 for 3 s
at 16 kHz with a 256-sample hop).  All but HPSS have one channel; HPSS has two
(harmonic, percussive).

>>> from ser_core import features
>>> features.names()[:3]
('mel', 'stft', 'mfcc')
>>> x = features.compute(y, "mel")            # (1, 128, 188)
>>> all13 = features.compute_all(y)          # dict representation -> array

Intermediate results (STFT, mel power, chroma, onset envelope) are shared
through a :class:`Frontend`, so computing several representations of one clip
costs little more than the most expensive one.

:mod:`~ser_core.features.frontend` holds the front end, :mod:`~ser_core.features.registry`
the registry (and the voice warps), :mod:`~ser_core.features.representations` the 13
representations, :mod:`~ser_core.features.normalization` the normalisation statistics and
:mod:`~ser_core.features.frames` the ZCR/RMS frames.
"""

from . import representations as _representations  # noqa: F401 - fills the registry
from .frames import zcr_rms_frames
from .frontend import Frontend, hpss, median_filter_axis
from .normalization import NormStats, normalization_stats
from .registry import (
    FEATURE_VERSION,
    REGISTRY,
    WARP_MARK,
    WARP_RANGE,
    Representation,
    compute,
    compute_all,
    get,
    names,
    output_shape,
    register,
    warp_features,
    warp_frequencies,
    warpable,
    warped_name,
)

__all__ = [
    "Representation",
    "Frontend",
    "REGISTRY",
    "register",
    "get",
    "names",
    "compute",
    "compute_all",
    "median_filter_axis",
    "hpss",
    "warp_features",
    "warp_frequencies",
    "warpable",
    "warped_name",
    "WARP_MARK",
    "WARP_RANGE",
    "output_shape",
    "NormStats",
    "normalization_stats",
    "FEATURE_VERSION",
    "zcr_rms_frames",
]
