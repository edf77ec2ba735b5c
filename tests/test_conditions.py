"""Recording conditions (ser_core.conditions): deterministic for a seed, and correct.

Synthetic clips only, except the babble pool's test on nEMO (skipped, saying so, when the
corpus is absent).
"""

from __future__ import annotations

import numpy as np
import pytest

from ser_core import conditions
from ser_core.errors import ConditionError, ConfigError, SERError, UnknownNameError

SR = 16_000
NAMES = conditions.condition_names()


def voiced(seconds: float = 1.5, *, seed: int = 0) -> np.ndarray:
    """A harmonic tone (f0 gliding 150-250 Hz) under a syllable-rate envelope, with a
    little broadband breath: speech-like energy from 100 Hz to 8 kHz, shape (n,)."""
    t = np.arange(int(seconds * SR)) / SR
    phase = 2 * np.pi * np.cumsum(200 + 50 * np.sin(2 * np.pi * 0.7 * t)) / SR
    y = sum(np.sin(k * phase) / k for k in range(1, 30)) * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    y = 0.1 * y + 0.005 * np.random.default_rng(seed).standard_normal(t.shape)
    return y.astype(np.float32)


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return voiced()


@pytest.fixture(scope="module")
def pool() -> np.ndarray:
    """A stand-in babble pool: three voiced tones of other pitches, overlapping."""
    return sum(np.roll(voiced(2.0, seed=k) * (1 + k), 5000 * k) for k in range(1, 4)).astype(np.float32)


def power(y: np.ndarray) -> float:
    return float(np.mean(np.square(y, dtype=np.float64)))


def test_registry():
    assert NAMES[0] == "clean"
    expected = {
        "clean",
        "reverb_small",
        "reverb_medium",
        "reverb_large",
        *(f"{kind}_{snr}db" for kind in ("babble", "pink", "brown") for snr in (20, 10, 5)),
        "laptop_mic",
        "telephone",
        "opus_16k",
        "mp3_32k",
        "reverb_babble_10db",
    }
    assert set(NAMES) == expected
    for name, spec in conditions.CONDITIONS.items():
        assert spec.name == name and spec.label and spec.family in conditions.FAMILIES
        assert spec.description.endswith(".") and spec.description.count(". ") == 0, spec.description
    with pytest.raises(ConfigError, match="kitchen"):
        conditions.condition("x", label="x", family="kitchen")


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_same_length_float32(name, clip, pool):
    a = conditions.render(clip, name, sr=SR, seed=3, babble=pool)
    b = conditions.render(clip, name, sr=SR, seed=3, babble=pool)
    assert a.dtype == np.float32 and a.shape == clip.shape
    assert np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)
    if name == "clean":
        np.testing.assert_array_equal(a, clip)
    else:
        assert not np.allclose(a, clip, atol=1e-4), f"{name} left the clip as it was"


@pytest.mark.parametrize("name", [n for n in NAMES if conditions.CONDITIONS[n].stochastic])
def test_another_seed_another_room_or_noise(name, clip, pool):
    a = conditions.render(clip, name, sr=SR, seed=3, babble=pool)
    b = conditions.render(clip, name, sr=SR, seed=4, babble=pool)
    assert not np.array_equal(a, b)


def test_colour_noise_leaves_global_random_state_alone(clip):
    np.random.seed(11)
    expected = np.random.random()
    np.random.seed(11)
    conditions.render(clip, "pink_10db", sr=SR, seed=0)
    assert np.random.random() == expected


@pytest.mark.parametrize("kind", ["babble", "pink", "brown"])
@pytest.mark.parametrize("snr", [20, 10, 5])
def test_measured_snr_is_the_requested_one(kind, snr, clip, pool):
    noisy = conditions.render(clip, f"{kind}_{snr}db", sr=SR, seed=1, babble=pool)
    measured = 10 * np.log10(power(clip) / power(noisy - clip))
    assert measured == pytest.approx(snr, abs=0.5)


def test_babble_after_reverb_is_10db_below_the_reverberant_clip(clip, pool):
    wet = conditions.render(clip, "reverb_medium", sr=SR, seed=2)
    both = conditions.render(clip, "reverb_babble_10db", sr=SR, seed=2, babble=pool)
    assert 10 * np.log10(power(wet) / power(both - wet)) == pytest.approx(10, abs=0.5)


def test_telephone_has_no_energy_above_4khz():
    # broadband input: white noise under the voiced tone, so the band edge is tested
    y = voiced() + 0.05 * np.random.default_rng(0).standard_normal(int(1.5 * SR)).astype(np.float32)
    tel = conditions.render(y, "telephone", sr=SR)
    spec = np.abs(np.fft.rfft(tel.astype(np.float64))) ** 2
    hz = np.fft.rfftfreq(len(tel), 1 / SR)
    above = 10 * np.log10(spec[hz > 4000].sum() / spec.sum())
    assert above < -60, f"{above:.1f} dB above 4 kHz"


def two_tones(low_hz: float, high_hz: float = 1000) -> np.ndarray:
    t = np.arange(SR) / SR
    return (0.1 * (np.sin(2 * np.pi * low_hz * t) + np.sin(2 * np.pi * high_hz * t))).astype(np.float32)


def level_db(y: np.ndarray, hz: int, *, reference_hz: int = 1000) -> float:
    """Level of ``hz`` relative to ``reference_hz`` in a one-second clip (1-Hz bins)."""
    spec = np.abs(np.fft.rfft(y))
    return float(20 * np.log10(spec[hz] / spec[reference_hz]))


def test_telephone_cuts_below_the_band():
    assert level_db(conditions.render(two_tones(100), "telephone", sr=SR), 100) < -15


def test_laptop_mic_cuts_the_hum():
    assert level_db(conditions.render(two_tones(60), "laptop_mic", sr=SR), 60) < -15


@pytest.mark.parametrize("name", ["opus_16k", "mp3_32k"])
@pytest.mark.parametrize("seconds", [0.05, 1.0, 2.345])
def test_codec_round_trip_keeps_length_and_timing(name, seconds):
    y = voiced(seconds)
    out = conditions.render(y, name, sr=SR)
    assert out.shape == y.shape
    if seconds >= 1:  # aligned: the codec's delay is compensated
        lags = np.arange(-200, 201)
        corr = [np.dot(y[200:-200], np.roll(out, -lag)[200:-200]) for lag in lags]
        assert abs(lags[int(np.argmax(corr))]) <= 3


@pytest.mark.parametrize("name", ["reverb_small", "reverb_medium", "reverb_large"])
def test_reverb_keeps_length_and_level_and_adds_a_tail(name):
    y = voiced(1.0)
    y[len(y) // 2 :] = 0  # speech, then silence where the room rings on
    wet = conditions.render(y, name, sr=SR, seed=0)
    assert wet.shape == y.shape
    assert power(wet) == pytest.approx(power(y), rel=1e-3)
    assert power(wet[len(y) // 2 + 800 :]) > 1e-4 * power(y)  # the tail, 50 ms after the end


def test_silent_and_empty_clips_come_back_unchanged(pool):
    for y in (np.zeros(1600, np.float32), np.zeros(0, np.float32)):
        for name in NAMES:
            out = conditions.render(y, name, sr=SR, babble=pool)
            np.testing.assert_array_equal(out, y)


def test_stereo_is_averaged(clip):
    stereo = np.stack([clip, clip], axis=1)
    np.testing.assert_array_equal(conditions.render(stereo, "clean", sr=SR), clip)


def test_unknown_name_lists_the_valid_ones(clip):
    with pytest.raises(UnknownNameError, match="reverb_medium") as err:
        conditions.render(clip, "underwater", sr=SR)
    assert "underwater" in str(err.value)


@pytest.mark.parametrize("name", ["babble_10db", "reverb_babble_10db"])
def test_babble_without_pool_raises(name, clip):
    with pytest.raises(ConditionError, match="babble_pool"):
        conditions.render(clip, name, sr=SR)
    with pytest.raises(ConditionError, match="no energy"):
        conditions.render(clip, name, sr=SR, babble=np.zeros(100, np.float32))
    assert issubclass(ConditionError, SERError)


def test_babble_pool_from_other_speakers(meta):
    excluded = sorted(meta["speaker"].unique())[:8]
    pool = conditions.babble_pool(meta, exclude_speakers=excluded, n_clips=8, seed=1)
    again = conditions.babble_pool(meta, exclude_speakers=excluded, n_clips=8, seed=1)
    assert pool.dtype == np.float32 and pool.ndim == 1 and len(pool) > 2 * SR
    np.testing.assert_array_equal(pool, again)
    assert power(pool) == pytest.approx(1.0, rel=1e-3)
    other = conditions.babble_pool(meta, exclude_speakers=excluded, n_clips=8, seed=2)
    assert not np.array_equal(pool[: len(other)], other[: len(pool)])
    with pytest.raises(ConditionError, match="no clip is left"):
        conditions.babble_pool(meta, exclude_speakers=meta["speaker"].unique(), n_clips=8)
    with pytest.raises(ConditionError, match="fewer than talkers"):
        conditions.babble_pool(meta, exclude_speakers=excluded, n_clips=2)


def test_babble_pool_reads_only_kept_speakers():
    import pandas as pd

    meta = pd.DataFrame({"speaker": ["A", "B"], "path": ["/nonexistent/a.wav", "/nonexistent/b.wav"]})
    with pytest.raises(SERError, match="b.wav"):  # A is excluded: only B's file is read
        conditions.babble_pool(meta, exclude_speakers=["A"], n_clips=4)
