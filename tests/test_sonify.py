"""ser_core.sonify: Griffin-Lim inversion of the log-mel representation."""

from __future__ import annotations

import numpy as np
import pytest

from ser_core import features, sonify
from ser_core.errors import ConfigError
from ser_core.features import Frontend
from tests.conftest import tone


def test_unperturbed_mel_reconstructs_within_bound():
    # A mel spectrogram throws away fine frequency detail and all phase, so the
    # reconstruction is judged against the original linear magnitude with a
    # documented bound: spectral convergence <= 0.45 (0.37 on this harmonic
    # tone, about 0.21 on nEMO speech); in the mel domain itself <= 0.3 (0.24).
    y = tone(3.0, freq=220.0) + 0.5 * tone(3.0, freq=610.0)
    S = features.compute(y, "mel")[0]
    y_hat = sonify.mel_to_audio(S, n_iter=32)
    assert y_hat.shape == (48000,) and y_hat.dtype == np.float32 and np.isfinite(y_hat).all()
    assert sonify.spectral_convergence(y_hat, Frontend(y).mag) <= 0.45
    again = features.compute(y_hat, "mel")[0]
    a, b = np.sqrt(sonify.db_to_power(S)), np.sqrt(sonify.db_to_power(again))
    assert np.linalg.norm(a - b) / np.linalg.norm(a) <= 0.3


def test_mask_silences_dropped_bins_and_bad_shapes_are_refused():
    y = tone(3.0)
    S = features.compute(y, "mel")[0]
    quiet = sonify.mel_to_audio(S, mask=np.zeros_like(S, dtype=bool))
    assert np.abs(quiet).max() < 1e-3
    with pytest.raises(ConfigError, match="shape"):
        sonify.mel_to_audio(S[:10])
    with pytest.raises(ConfigError, match="mask shape"):
        sonify.mel_to_audio(S, mask=np.ones((3, 3), bool))
