"""ser_core.features: the 13 representations, their registry and shapes."""

from __future__ import annotations

import numpy as np
import pytest

from ser_core import features
from ser_core.config import DEFAULT_CONFIG
from ser_core.errors import SERError, UnknownNameError
from tests.conftest import tone

EXPECTED = {
    "mel": (1, 128, 188),
    "stft": (1, 513, 188),
    "mfcc": (1, 40, 188),
    "cqt": (1, 84, 188),
    "chroma": (1, 12, 188),
    "tonnetz": (1, 6, 188),
    "hpss": (2, 128, 188),
    "zcr": (1, 1, 188),
    "rms": (1, 1, 188),
    "spectral_contrast": (1, 7, 188),
    "tempogram": (1, 128, 188),
    "delta_mfcc": (1, 40, 188),
    "delta_tempogram": (1, 128, 188),
}

SIGNALS = {
    "tone": tone(3.0),
    "silence": np.zeros(48_000, np.float32),
    "short": tone(0.2),
    "long": tone(7.3),
    "noise": np.random.default_rng(0).standard_normal(48_000).astype(np.float32),
    "clipped": np.ones(48_000, np.float32),
    "impulse": np.eye(1, 48_000, 24_000, dtype=np.float32)[0],
}


def test_registry_has_the_13_in_order():
    assert features.names() == tuple(EXPECTED)
    for spec in features.REGISTRY.values():
        assert spec.title and spec.description and spec.family in features_families()


def features_families():
    return {"spectral", "temporal", "harmonic", "energy"}


@pytest.mark.parametrize("signal", list(SIGNALS))
def test_shapes_dtype_finiteness(signal):
    out = features.compute_all(SIGNALS[signal])
    assert list(out) == list(EXPECTED)
    for name, x in out.items():
        assert x.shape == EXPECTED[name], name
        assert x.dtype == np.float32, name
        assert np.isfinite(x).all(), (signal, name)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_compute_single_matches_compute_all(name):
    y = SIGNALS["tone"]
    np.testing.assert_array_equal(features.compute(y, name), features.compute_all(y, [name])[name])
    assert features.output_shape(name) == EXPECTED[name]


def test_silence_has_no_nan_and_constant_levels():
    out = features.compute_all(SIGNALS["silence"])
    assert np.allclose(out["mel"], out["mel"].flat[0])  # -100 dB floor everywhere
    assert not out["rms"].any() and not out["zcr"].any()


def test_loud_tone_has_more_mel_energy_than_quiet():
    loud = features.compute(SIGNALS["tone"], "mel").mean()
    quiet = features.compute(SIGNALS["tone"] * 0.01, "mel").mean()
    assert loud > quiet + 20  # 40 dB apart, floor effects aside


def test_hpss_separates_tone_from_clicks():
    y = tone(3.0) * 0.5
    clicks = np.zeros_like(y)
    clicks[::4000] = 1.0
    h, p = features.compute(y + clicks, "hpss")
    h0, p0 = features.compute(y, "hpss")
    assert p.mean() - p0.mean() > h.mean() - h0.mean()


@pytest.mark.parametrize("signal", ["tone", "noise", "silence", "impulse"])
def test_hpss_is_librosas_bit_for_bit(signal):
    """The fast median filters change the speed, never the features (the cache and
    the shipped HPSS networks were made with librosa's)."""
    import librosa

    y = SIGNALS[signal] + (0.3 * tone(3.0) if signal == "impulse" else 0)
    S = features.Frontend(y).mag
    H, P = features.hpss(S, kernel_size=31)
    H0, P0 = librosa.decompose.hpss(S, kernel_size=31)
    assert np.array_equal(H, H0) and np.array_equal(P, P0)


@pytest.mark.parametrize("shape", [(513, 188), (40, 33), (33, 5, 40), (300,)])
@pytest.mark.parametrize("size", [3, 4, 31])
@pytest.mark.parametrize("axis", [0, -1])
def test_median_filter_axis_is_scipys(shape, size, axis):
    from scipy.ndimage import median_filter

    S = np.abs(np.random.default_rng(size).standard_normal(shape)).astype(np.float32)
    window = [1] * len(shape)
    window[axis] = size
    assert np.array_equal(
        features.median_filter_axis(S, size=size, axis=axis), median_filter(S, size=window, mode="reflect")
    )


def test_median_filter_axis_lines_shorter_than_the_window():
    """Reflected as often as it takes (SciPy's n-D filter is not deterministic there)."""
    S = np.random.default_rng(0).standard_normal((3, 20)).astype(np.float32)
    ext = np.pad(S, [(15, 15), (0, 0)], mode="symmetric")  # d c b a | a b c d | d c b a | a b ...
    expected = np.stack([np.median(ext[i : i + 31], axis=0) for i in range(3)])
    assert np.array_equal(features.median_filter_axis(S, size=31, axis=0), expected)


def test_chroma_of_a_440_hz_tone_peaks_at_a():
    t = np.arange(48_000) / 16_000
    x = features.compute((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), "chroma")[0]
    assert int(np.argmax(x.mean(1))) == 9  # C=0 ... A=9


def test_waveform_is_padded_or_trimmed_to_three_seconds():
    a = features.compute(tone(7.3), "mel")
    b = features.compute(tone(0.2), "mel")
    assert a.shape == b.shape == (1, 128, 188)


def test_unknown_representation_message():
    with pytest.raises(UnknownNameError) as e:
        features.get("mell")
    assert "mell" in str(e.value) and "mel" in str(e.value)
    assert isinstance(e.value, SERError)


def test_cache_keys_depend_only_on_declared_parameters():
    base = DEFAULT_CONFIG
    changed = base.replace(n_mfcc=20)
    keys = {n: features.get(n).cache_key(base) for n in features.names()}
    keys2 = {n: features.get(n).cache_key(changed) for n in features.names()}
    assert {n for n in keys if keys[n] != keys2[n]} == {"mfcc", "delta_mfcc"}
    hop = base.replace(hop_length=512)
    assert all(features.get(n).cache_key(hop) != keys[n] for n in keys)
    assert len(set(keys.values())) == 13


def test_config_change_changes_shape():
    cfg = DEFAULT_CONFIG.replace(n_mels=64, n_mfcc=20)
    assert features.compute(tone(1.0), "mel", cfg=cfg).shape == (1, 64, 188)
    assert features.compute(tone(1.0), "mfcc", cfg=cfg).shape == (1, 20, 188)


def test_normalization_stats():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(50, 2, 4, 30)).astype(np.float16)
    st = features.normalization_stats(x, chunk=7)
    assert st.mean.shape == st.std.shape == (2, 4, 1)
    np.testing.assert_allclose(st.mean[..., 0], x.astype(np.float64).mean((0, 3)), atol=1e-3)
    np.testing.assert_allclose(st.std[..., 0], x.astype(np.float64).std((0, 3)), atol=1e-3)
    z = st.apply(x.astype(np.float32))
    assert abs(z.mean()) < 1e-3 and abs(z.std() - 1) < 1e-2
    const = features.normalization_stats(np.zeros((3, 1, 2, 5)))
    assert np.isfinite(const.apply(np.zeros((1, 2, 5)))).all()  # no division by zero
    back = features.NormStats.from_dict(st.to_dict())
    np.testing.assert_array_equal(back.mean, st.mean)


def test_bin_frequencies_where_bins_are_frequencies():
    cfg = DEFAULT_CONFIG
    for name in features.names():
        hz = features.get(name).frequencies(cfg)
        if name in ("mel", "hpss", "stft", "cqt"):
            assert hz.shape == (features.output_shape(name)[1],) and (np.diff(hz) > 0).all()
        else:
            assert hz is None, name
    assert features.get("cqt").frequencies()[0] == pytest.approx(cfg.cqt_fmin)
    assert features.get("stft").frequencies()[-1] == pytest.approx(cfg.sr / 2)
    # a tone at a mel band's centre frequency peaks in that band
    mel_hz = features.get("mel").frequencies()
    f = float(mel_hz[40])
    y = (0.3 * np.sin(2 * np.pi * f * np.arange(48_000) / 16_000)).astype(np.float32)
    assert int(np.argmax(features.compute(y, "mel")[0].mean(-1))) == 40


def test_voice_warps_are_named_representations():
    mel_hz = features.get("mel").frequencies()
    f = float(mel_hz[40])
    y = (0.3 * np.sin(2 * np.pi * f * np.arange(48_000) / 16_000)).astype(np.float32)
    out = features.compute_all(y, ["mel", "mel@1", "mel@1.2", "mfcc", "mfcc@1", "delta_mfcc@1", "hpss@0.9"])
    np.testing.assert_array_equal(out["mel@1"], out["mel"])
    np.testing.assert_allclose(out["mfcc@1"], out["mfcc"], atol=1e-4)
    np.testing.assert_allclose(out["delta_mfcc@1"], features.compute(y, "delta_mfcc"), atol=1e-4)
    assert out["hpss@0.9"].shape == EXPECTED["hpss"]
    # every frequency scaled by 1.2: the tone's band moves to where 1.2 f sits
    peak = int(np.argmax(out["mel@1.2"][0].mean(-1)))
    assert abs(mel_hz[peak] - 1.2 * f) < 0.06 * f
    # MFCC of a warped voice are the MFCC of the warped log-mel
    lm = features.compute(y, "mel")[None]
    np.testing.assert_allclose(
        features.warp_features(None, representation="mfcc", alpha=0.9, log_mel=lm)[0],
        features.compute(y, "mfcc@0.9"),
        atol=1e-3,
    )
    assert features.get("mel@0.92").title.endswith("voice ×0.92")
    assert features.warpable("cqt") and not features.warpable("chroma") and not features.warpable("mel@1")
    for bad in ("chroma@1.1", "mel@3", "mel@x", "nope@1"):
        with pytest.raises(UnknownNameError, match="<name>@<factor>"):
            features.get(bad)
