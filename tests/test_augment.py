"""ser_core.augment: per-family augmentations, shapes, eval mode."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from ser_core import augment, features
from tests.conftest import tone

Y = tone(3.0)
X = features.compute_all(Y)


@pytest.mark.parametrize("name", features.names())
def test_every_representation_keeps_shape_dtype_and_finiteness(name):
    aug = augment.make(name, p=1.0)
    rng = np.random.default_rng(0)
    for _ in range(5):
        z = aug(X[name], rng=rng)
        assert z.shape == X[name].shape and z.dtype == np.float32 and np.isfinite(z).all()


@pytest.mark.parametrize("name", features.names())
def test_eval_mode_is_identity(name):
    aug = augment.make(name, p=1.0).eval()
    assert aug(X[name]) is X[name]
    assert aug.train()(X[name], rng=np.random.default_rng(1)) is not X[name]


def test_families_get_their_transforms():
    kinds = {n: {type(t).__name__ for t in augment.make(n).transforms} for n in features.names()}
    assert {"TimeMask", "FreqMask", "GaussianNoise"} <= kinds["mel"]
    assert {"TimeShift", "TimeStretch"} <= kinds["tempogram"]
    assert "ChromaRoll" in kinds["chroma"] and "TonnetzRotate" in kinds["tonnetz"]
    assert "AmplitudeModulation" in kinds["rms"] and "AmplitudeModulation" not in kinds["zcr"]


def test_masks_touch_only_their_axis():
    x = np.random.default_rng(0).standard_normal((1, 64, 100)).astype(np.float32)
    z = augment.TimeMask(max_frac=0.2, n=1)(x, rng=np.random.default_rng(3))
    changed_t = np.flatnonzero((z != x).any(axis=(0, 1)))
    assert changed_t.size and (np.diff(changed_t) == 1).all()
    z = augment.FreqMask(max_frac=0.2, n=1)(x, rng=np.random.default_rng(3))
    changed_f = np.flatnonzero((z != x).any(axis=(0, 2)))
    assert changed_f.size and (np.diff(changed_f) == 1).all()


def test_stretch_and_shift():
    x = np.tile(np.arange(100, dtype=np.float32), (1, 3, 1))
    s = augment.TimeShift(max_frac=0.1)(x, rng=np.random.default_rng(0))
    assert sorted(s[0, 0]) == sorted(x[0, 0])
    st = augment.TimeStretch(max_rate=1.3)(x, rng=np.random.default_rng(0))
    assert st.shape == x.shape and not np.array_equal(st, x)


@pytest.mark.parametrize("k", [-2, -1, 1, 2, 5])
def test_tonnetz_rotation_equals_tonnetz_of_rolled_chroma(k):
    chroma = features.Frontend(Y).chroma
    expect = librosa.feature.tonnetz(chroma=np.roll(chroma, k, axis=0))
    got = augment.rotate_tonnetz(librosa.feature.tonnetz(chroma=chroma), k)
    np.testing.assert_allclose(got, expect, atol=1e-10)


def test_amplitude_modulation_scales_energy():
    x = np.ones((1, 1, 188), np.float32)
    z = augment.AmplitudeModulation(depth=0.3)(x, rng=np.random.default_rng(0))
    assert (z > 0).all() and z.std() > 0


def test_noise_on_constant_input_is_a_no_op():
    x = np.zeros((1, 4, 10), np.float32)
    assert augment.GaussianNoise()(x, rng=np.random.default_rng(0)) is x


def _sine(freq: float, seconds: float = 3.0, sr: int = 16_000) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * freq * np.arange(int(seconds * sr)) / sr)).astype(np.float32)


@pytest.mark.parametrize("name", ["mel", "cqt", "stft"])
@pytest.mark.parametrize("alpha", [0.9, 1.1])
def test_freq_warp_moves_a_tone_where_the_scaled_tone_lies(name, alpha):
    hz = features.get(name).frequencies()
    warp = augment.FreqWarp(tuple(hz), max_factor=1.2)
    f0 = 600.0
    warped = warp.warp(features.compute(_sine(f0), name), alpha)
    target = features.compute(_sine(f0 * alpha), name)
    assert warped.shape == target.shape and warped.dtype == np.float32
    peak = lambda z: int(np.argmax(z[0].mean(-1)))  # noqa: E731
    assert abs(peak(warped) - peak(target)) <= 1
    assert abs(hz[peak(warped)] / f0 - alpha) < 0.06


def test_freq_warp_of_one_is_the_identity_and_draws_within_its_range():
    x = X["mel"]
    warp = augment.FreqWarp(tuple(features.get("mel").frequencies()), max_factor=1.1)
    np.testing.assert_allclose(warp.warp(x, 1.0), x, atol=1e-5)
    with pytest.raises(ValueError, match="128 bin frequencies"):
        warp.warp(X["mfcc"], 1.05)


def test_voice_perturbations_are_opt_in_and_only_where_bins_are_frequencies():
    kinds = lambda n, **kw: [type(t).__name__ for t in augment.make(n, **kw).transforms]  # noqa: E731
    assert "FreqWarp" not in kinds("mel") and "TimeStretch" not in kinds("mel")
    assert kinds("mel", freq_warp=0.1, time_stretch=0.15)[:2] == ["FreqWarp", "TimeStretch"]
    assert kinds("hpss", freq_warp=0.1)[0] == "FreqWarp"
    assert "FreqWarp" not in kinds("mfcc", freq_warp=0.1)  # cepstra are not frequencies
    assert kinds("tempogram", time_stretch=0.15).count("TimeStretch") == 1
    rng = np.random.default_rng(0)
    for n in ("mel", "hpss", "stft", "cqt"):
        z = augment.make(n, p=1.0, freq_warp=0.1, time_stretch=0.15)(X[n], rng=rng)
        assert z.shape == X[n].shape and z.dtype == np.float32 and np.isfinite(z).all()
