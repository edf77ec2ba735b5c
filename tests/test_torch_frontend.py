"""The differentiable log-mel front end against librosa's (ser_core.features)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ser_core import audio, features, models
from ser_core.config import DEFAULT_CONFIG
from ser_core.errors import ConfigError
from ser_core.features import NormStats
from ser_core.torch_frontend import (
    TOLERANCE_DB,
    LogMel,
    WaveformClassifier,
    log_mel,
    prepare_waveform,
)
from tests.conftest import tone


def test_matches_librosa_on_real_clips(meta):
    """The documented tolerance (max abs difference in dB) holds on real nEMO clips."""
    worst = 0.0
    for path in meta.sample(12, random_state=3)["path"]:
        y = audio.load_audio(path)
        diff = np.abs(features.compute(y, "mel") - log_mel(y))
        worst = max(worst, float(diff.max()))
    assert worst <= TOLERANCE_DB, worst


@pytest.mark.parametrize("signal", ["tone", "short", "long", "silence", "loud"])
def test_matches_librosa_on_synthetic_signals(signal):
    y = {
        "tone": tone(3.0),
        "short": tone(0.5, freq=330.0),
        "long": tone(4.2, freq=180.0),
        "silence": np.zeros(48_000, np.float32),
        "loud": np.clip(4 * tone(3.0), -1, 1),
    }[signal]
    ref, got = features.compute(y, "mel"), log_mel(y)
    assert got.shape == ref.shape == (1, DEFAULT_CONFIG.n_mels, DEFAULT_CONFIG.n_frames)
    assert np.abs(ref - got).max() <= TOLERANCE_DB


def test_top_db_is_per_clip_in_a_batch():
    """Each clip of a batch is clipped below its own maximum, as librosa does one clip at a time."""
    ys = np.stack([prepare_waveform(tone(3.0)), prepare_waveform(0.01 * tone(3.0, freq=300.0))])
    with torch.no_grad():
        batch = LogMel()(torch.from_numpy(ys)).numpy()
    for k in range(2):
        assert np.abs(batch[k] - features.compute(ys[k], "mel")).max() <= TOLERANCE_DB


def test_gradient_reaches_the_samples_and_is_finite_on_silence():
    fe = LogMel()
    y = torch.from_numpy(prepare_waveform(tone(1.0)))[None].requires_grad_(True)  # padded: silent edges
    fe(y).sum().backward()
    g = y.grad.numpy()
    assert np.all(np.isfinite(g)) and np.abs(g).max() > 0
    z = torch.zeros(1, DEFAULT_CONFIG.n_samples, requires_grad=True)
    fe(z).sum().backward()
    assert np.all(np.isfinite(z.grad.numpy()))


def test_bad_shape_is_a_config_error():
    with pytest.raises(ConfigError, match="shape"):
        LogMel()(torch.zeros(1, 1, 100))


def test_waveform_classifier_equals_features_then_network():
    torch.manual_seed(0)
    net = models.create("resnet18", width=4).eval()
    rng = np.random.default_rng(0)
    mean = rng.normal(-40, 5, (1, 128, 1)).astype(np.float32)
    std = rng.uniform(8, 20, (1, 128, 1)).astype(np.float32)
    clf = WaveformClassifier(net, mean=mean, std=std).eval()
    y = prepare_waveform(tone(2.0))
    with torch.no_grad():
        got = clf(torch.from_numpy(y)[None]).numpy()
        x = NormStats(mean, std).apply(features.compute(y, "mel")[None])
        ref = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-3)


class _Fake:
    model_name = "fake_hpss"
    card = {"input": {"kind": "features", "name": "hpss"}}
    module = torch.nn.Identity()


def test_from_loaded_needs_a_mel_model():
    with pytest.raises(ConfigError, match="'hpss'"):
        WaveformClassifier.from_loaded(_Fake())
