"""Frame-level ZCR and log-RMS of a clip: the input of the ``zcr_rms_lstm`` model."""

from __future__ import annotations

import librosa
import numpy as np

from ..audio import pad_or_trim
from ..config import DEFAULT_CONFIG

__all__ = ["FRAME_HOP", "FRAME_WIN", "zcr_rms_frames"]


FRAME_WIN, FRAME_HOP = 400, 160  # 25 ms window, 10 ms hop at 16 kHz


def zcr_rms_frames(y: np.ndarray) -> np.ndarray:
    """Frame-level ZCR and log-RMS (25 ms window, 10 ms hop) of a 3-s clip.

    The input of the ``zcr_rms_lstm`` model (not a registered representation:
    no cache, no normalisation statistics of its own).

    Parameters
    ----------
    y : np.ndarray, shape (samples,)
        A waveform at 16 kHz, padded or trimmed here to 3 s.

    Returns
    -------
    np.ndarray, shape (2, 301), float32
    """
    y = pad_or_trim(y, n_samples=DEFAULT_CONFIG.n_samples)
    z = librosa.feature.zero_crossing_rate(y, frame_length=FRAME_WIN, hop_length=FRAME_HOP)[0]
    r = librosa.feature.rms(y=y, frame_length=FRAME_WIN, hop_length=FRAME_HOP)[0]
    return np.stack([z, np.log10(r + 1e-5)]).astype(np.float32)
