"""The masking threshold (MPEG-1 psychoacoustic model 1) and the imperceptible attack."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ser_core import attacks
from ser_core.attacks import psychoacoustic as pa
from ser_core.attacks.imperceptible import ImperceptibleResult, imperceptible_attack
from ser_core.errors import ConfigError
from ser_core.torch_frontend import WaveformClassifier, prepare_waveform
from tests.conftest import tone

SR = 16000


# ------------------------------------------------------------------ the formulas, independently
def ref_bark(f):
    return 13 * np.arctan(0.00076 * f) + 3.5 * np.arctan((f / 7500) ** 2)


def ref_ath(f):
    # Terhardt's threshold in kHz, -12 dB for the 96-dB normalisation; held at its value
    # at 1 Bark (found here by bisection) below 1 Bark
    lo, hi = 0.0, 1000.0
    for __ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if ref_bark(mid) < 1 else (lo, mid)
    k = np.maximum(f, lo) / 1000
    return 3.64 * k**-0.8 - 6.5 * np.exp(-0.6 * (k - 3.3) ** 2) + 0.001 * k**4 - 12


@pytest.fixture(scope="module")
def tone_threshold():
    t = np.arange(3 * SR) / SR
    y = 0.3 * np.sin(2 * np.pi * 1000 * t)  # 1 kHz: exactly bin 32 of a 512-point FFT
    theta, psd_max = pa.masking_threshold(y, sr=SR)
    return y, theta, psd_max


def test_tone_threshold_matches_the_formulas(tone_threshold):
    y, theta, psd_max = tone_threshold
    f = np.fft.rfftfreq(pa.N_FFT, 1 / SR)
    z = ref_bark(f)
    # a Hann window on a bin-centred sine: bins k0-1, k0, k0+1 hold 1/4, 1, 1/4 of the power;
    # the peak is the clip's maximum, 96 dB, so the tonal masker has 96 + 10 log10(1.5) dB
    k0 = 32
    level = 96 + 10 * np.log10(1.5)
    z0 = z[k0]
    dz = z - z0
    spread = np.where(dz < 0, 27 * dz, (-27 + 0.37 * (level - 40)) * dz)
    masker = level - 6.025 - 0.275 * z0 + spread
    expected = 10 * np.log10(10 ** (ref_ath(f) / 10) + 10 ** (masker / 10))
    mid = theta.shape[0] // 2
    np.testing.assert_allclose(theta[mid], expected, atol=0.02)
    assert theta.shape == (1 + len(y) // pa.HOP_LENGTH, pa.N_FFT // 2 + 1)


def test_tone_threshold_peaks_in_the_maskers_band_and_falls_with_distance(tone_threshold):
    __, theta, __ = tone_threshold
    f = np.fft.rfftfreq(pa.N_FFT, 1 / SR)
    z = ref_bark(f)
    row = theta[theta.shape[0] // 2]
    peak = int(np.argmax(row))
    assert np.floor(z[peak]) == np.floor(z[32])  # the masker's own Bark band
    assert peak == 32
    # falls on both sides, at the spreading function's slopes where masking dominates the ATH
    below, above = np.arange(20, 32), np.arange(33, 80)
    assert np.all(np.diff(row[below]) > 0) and np.all(np.diff(row[above]) < 0)
    slope_low = np.diff(row[24:32]) / np.diff(z[24:32])
    np.testing.assert_allclose(slope_low, 27, atol=0.05)
    level = 96 + 10 * np.log10(1.5)
    slope_high = np.diff(row[33:60]) / np.diff(z[33:60])
    np.testing.assert_allclose(slope_high, -27 + 0.37 * (level - 40), atol=0.05)


def test_threshold_never_below_the_absolute_threshold(tone_threshold):
    __, theta, __ = tone_threshold
    ath = ref_ath(np.fft.rfftfreq(pa.N_FFT, 1 / SR))
    assert np.all(theta >= ath - 1e-4)
    rng = np.random.default_rng(0)
    speechlike = tone(2.0) + 0.01 * rng.standard_normal(2 * SR).astype(np.float32)
    th, __ = pa.masking_threshold(speechlike)
    assert np.all(th >= ath - 1e-4)


def test_threshold_rejects_silence():
    with pytest.raises(ConfigError):
        pa.masking_threshold(np.zeros(SR))


def test_psd_in_the_clips_normalisation_and_differentiable(tone_threshold):
    y, __, psd_max = tone_threshold
    P = pa.psd(torch.from_numpy(y), psd_max=psd_max)
    assert float(P.max()) == pytest.approx(96.0, abs=1e-6)
    half = pa.psd(torch.from_numpy(y / 2), psd_max=psd_max)
    assert float(half.max()) == pytest.approx(96 - 20 * np.log10(2), abs=1e-6)
    d = torch.full((SR,), 1e-3, dtype=torch.float64, requires_grad=True)
    pa.psd(d, psd_max=psd_max).mean().backward()
    assert torch.isfinite(d.grad).all() and d.grad.abs().sum() > 0


def test_projection_is_below_the_threshold_everywhere(tone_threshold):
    y, theta, psd_max = tone_threshold
    noise = np.random.default_rng(1).standard_normal(len(y)) * 0.05
    d = pa.project_below(noise, theta, psd_max=psd_max)
    excess = pa.psd(torch.from_numpy(d.astype(np.float64)), psd_max=psd_max).numpy() - theta
    assert excess.max() <= 0
    assert np.abs(d).max() > 0  # not silenced: the tone masks noise near 1 kHz


# ------------------------------------------------------------------ the attack, on a tiny model
@pytest.fixture(scope="module")
def tiny_clf():
    """An untrained width-8 mel ResNet behind the differentiable front end (no training:
    the attack's guarantees do not depend on what the model learnt)."""
    from ser_core import models

    torch.manual_seed(0)
    return WaveformClassifier(models.create("resnet18", in_chans=1, width=8).eval()).eval()


@pytest.fixture(scope="module")
def clip():
    rng = np.random.default_rng(2)
    return prepare_waveform(tone(2.0) + 0.02 * rng.standard_normal(2 * SR).astype(np.float32))


def test_enforced_attack_stays_below_the_threshold_everywhere(tiny_clf, clip):
    torch.manual_seed(0)
    res = imperceptible_attack(
        clip, model=tiny_clf, epsilon=0.02, stage1_steps=10, stage2_steps=8, enforce=True
    )
    assert isinstance(res, ImperceptibleResult) and res.enforced
    assert res.audio.shape == clip.shape and res.audio.dtype == np.float32
    assert res.margin_max_db <= 0 and res.above_fraction == 0.0
    # the reported PSD is the PSD of what is returned
    d = torch.from_numpy(res.audio.astype(np.float64) - clip.astype(np.float64))
    theta, psd_max = pa.masking_threshold(clip.astype(np.float64))
    np.testing.assert_allclose(res.theta, theta)
    assert (pa.psd(d, psd_max=psd_max).numpy() - theta).max() <= 0
    with torch.no_grad():
        pred = int(tiny_clf(torch.from_numpy(res.audio)[None]).argmax())
    assert pred == res.prediction and res.flipped == (pred != res.label)


def test_hinge_only_attack_keeps_the_linf_bound(tiny_clf, clip):
    res = imperceptible_attack(
        clip, model=tiny_clf, epsilon=1e-3, stage1_steps=5, stage2_steps=5, enforce=False
    )
    assert np.abs(res.audio - clip).max() <= 1e-3 + 1e-7
    assert res.stage1_steps <= 5 and np.isfinite(res.snr_db)
    # the network is shared by sessions: the attack leaves no gradient in its weights
    assert all(p.grad is None for p in tiny_clf.parameters())


def test_registered_out_of_the_epsilon_menu(tiny_clf, clip):
    a = attacks.get_attack("imperceptible")
    assert a.domain == "waveform" and not a.menu
    assert "imperceptible" not in attacks.attack_names("waveform")
    assert "imperceptible" in attacks.attack_names("waveform", everything=True)
    # the registry's convention: (x, *, model, epsilon, target, labels, **options), batches
    out = a.fn(
        clip[None],
        model=tiny_clf,
        epsilon=1e-3,
        target=None,
        labels=np.array([0]),
        stage1_steps=2,
        stage2_steps=2,
    )
    assert out.shape == (1, len(clip)) and out.dtype == np.float32
    one = a.fn(clip, model=tiny_clf, epsilon=1e-3, stage1_steps=2, stage2_steps=0)
    assert one.shape == clip.shape


def test_targeted_reaches_or_reports(tiny_clf, clip):
    res = imperceptible_attack(clip, model=tiny_clf, target="sadness", stage1_steps=5, stage2_steps=5)
    assert res.target == 4
    assert res.flipped == (res.prediction == 4)


def test_a_spent_budget_stops_both_stages_and_still_stays_below_the_threshold(tiny_clf, clip):
    r = imperceptible_attack(clip, model=tiny_clf, budget_s=0.0)
    assert r.stage1_steps == 0 and r.stage2_steps == 0  # nothing run after the deadline
    assert r.margin_max_db < 0 and r.above_fraction == 0
    assert r.seconds < 5
