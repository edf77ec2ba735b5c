"""The frame-wise psychoacoustic masking threshold of a clip (MPEG-1 psychoacoustic model 1).

The threshold follows Lin & Abdulla (2015, *Audio Watermark*, ch. 2) as Qin et al. (2019,
"Imperceptible, Robust, and Targeted Adversarial Examples for ASR") use it, computed here
from the formulas (NumPy, SciPy-free):

1. **PSD**: a Hann-windowed STFT (window scaled by ``sqrt(8/3)``, divided by ``n_fft``),
   ``10 log10 |X|^2``, shifted so that the clip's loudest bin sits at 96 dB SPL.
2. **Maskers**: *tonal* maskers are local maxima at least 7 dB above their neighbours
   two (below 5.5 kHz) or two to three bins away (above), with the power of the three bins
   around the peak; the rest of each critical band (1 Bark) is one *noise* masker.  Maskers
   below the absolute threshold of hearing are dropped, and of two maskers within 0.5 Bark
   only the stronger is kept.
3. **Spreading**: each masker at ``z_j`` Bark with level ``P_j`` masks ``z`` at
   ``P_j + Δ + SF(z - z_j)``, with ``Δ = -6.025 - 0.275 z_j`` (tonal) or
   ``-2.025 - 0.175 z_j`` (noise) and the two-slope spreading function
   ``SF(dz) = 27 dz`` below the masker, ``(-27 + 0.37 max(P_j - 40, 0)) dz`` above it.
4. **Global threshold**: the power sum of every individual threshold and the absolute
   threshold of hearing ``ATH(f) = 3.64 f^-0.8 - 6.5 exp(-0.6 (f - 3.3)^2) + 1e-3 f^4 - 12``
   (f in kHz; the ``-12`` dB aligns it with the 96-dB normalisation, as Qin et al.); below
   1 Bark (about 100 Hz) the ATH is held at its 1-Bark value.

Framing: 512-sample windows (32 ms at 16 kHz), hop 256.  Qin et al. analyse 2048 samples
(128 ms); a window that long lets the threshold of a loud syllable cover the pause next to
it, so noise placed there would be heard before the syllable starts (pre-echo).  32 ms is
the scale over which speech is quasi-stationary and MPEG-1 layer I's FFT length (11.6 ms at
44.1 kHz is 512 points too); its 31-Hz bins still resolve the harmonics of a voice.

:func:`psd` computes the PSD of a perturbation in the **clip's** normalisation, in PyTorch,
so that a loss on ``psd(delta) - theta`` is differentiable in the samples.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ConfigError

__all__ = [
    "HOP_LENGTH",
    "N_FFT",
    "absolute_threshold",
    "bark",
    "masking_threshold",
    "project_below",
    "psd",
    "spreading",
]

N_FFT = 512
HOP_LENGTH = 256
#: Level (dB SPL) the clip's loudest time-frequency bin is assumed to play at.
SPL_MAX = 96.0
_TINY = 1e-20


# ------------------------------------------------------------------ the formulas
def bark(f: np.ndarray) -> np.ndarray:
    """Zwicker's critical-band rate: ``13 atan(0.00076 f) + 3.5 atan((f / 7500)^2)``.

    Parameters
    ----------
    f : array_like
        Frequencies in Hz (any shape).

    Returns
    -------
    np.ndarray, shape of ``f``: Bark.
    """
    f = np.asarray(f, np.float64)
    return 13.0 * np.arctan(0.00076 * f) + 3.5 * np.arctan((f / 7500.0) ** 2)


def absolute_threshold(f: np.ndarray) -> np.ndarray:
    """Absolute threshold of hearing (dB, in the 96-dB normalisation), held below 1 Bark.

    Parameters
    ----------
    f : array_like
        Frequencies in Hz (any shape).

    Returns
    -------
    np.ndarray, shape of ``f``: dB.
    """
    f = np.asarray(f, np.float64)
    f_1bark = _bark_to_hz(1.0)
    k = np.maximum(f, f_1bark) / 1000.0
    return 3.64 * k**-0.8 - 6.5 * np.exp(-0.6 * (k - 3.3) ** 2) + 1e-3 * k**4 - 12.0


def _bark_to_hz(z: float) -> float:
    grid = np.linspace(0.0, 24000.0, 240001)
    return float(np.interp(z, bark(grid), grid))


def spreading(dz: np.ndarray, level_db: float | np.ndarray) -> np.ndarray:
    """The two-slope spreading function (dB): ``27 dz`` below the masker,
    ``(-27 + 0.37 max(level - 40, 0)) dz`` above it.

    Parameters
    ----------
    dz : np.ndarray
        Maskee minus masker, in Bark.
    level_db : float or np.ndarray broadcasting with ``dz``
        The masker's level (dB).
    """
    dz = np.asarray(dz, np.float64)
    upper = -27.0 + 0.37 * np.maximum(np.asarray(level_db, np.float64) - 40.0, 0.0)
    return np.where(dz < 0, 27.0 * dz, upper * dz)


# ------------------------------------------------------------------ PSD
def _window(n_fft: int) -> torch.Tensor:
    return torch.hann_window(n_fft, periodic=True, dtype=torch.float64) * np.sqrt(8.0 / 3.0)


def _power(y: torch.Tensor, n_fft: int, hop_length: int) -> torch.Tensor:
    """``|STFT / n_fft|^2``, shape (..., frames, bins)."""
    X = torch.stft(
        y,
        n_fft=n_fft,
        hop_length=hop_length,
        window=_window(n_fft).to(y.dtype),
        center=True,
        pad_mode="constant",
        return_complex=True,
    )
    p = torch.view_as_real(X / n_fft).pow(2).sum(-1)  # finite gradient where X == 0
    return p.transpose(-1, -2)


def psd(
    delta: torch.Tensor, *, psd_max: float, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH
) -> torch.Tensor:
    """PSD of a perturbation in the clip's 96-dB normalisation, differentiable.

    Parameters
    ----------
    delta : torch.Tensor, shape (samples,) or (n, samples)
        The perturbation.
    psd_max : float
        The clip's largest ``|X / n_fft|^2`` (:func:`masking_threshold`'s second value).
    n_fft, hop_length : int
        The framing :func:`masking_threshold` used.

    Returns
    -------
    torch.Tensor, shape (frames, bins) or (n, frames, bins), dB (``bins = n_fft // 2 + 1``)
    """
    p = _power(delta, n_fft, hop_length)
    return 10.0 * torch.log10(p + _TINY) + (SPL_MAX - 10.0 * np.log10(psd_max))


# ------------------------------------------------------------------ the threshold
def _tonal(P: np.ndarray, k_hi: int) -> np.ndarray:
    """Indices of tonal maskers in one frame's PSD ``P`` (dB, (bins,))."""
    n = len(P)
    k = np.arange(3, n - 3)
    peak = (P[k] > P[k - 1]) & (P[k] >= P[k + 1])
    for j in (2, 3):
        far = k >= k_hi if j == 3 else np.ones_like(peak)
        ok = (P[k] - P[k - j] >= 7.0) & (P[k] - P[k + j] >= 7.0)
        peak &= ok | ~far
    return k[peak]


def _maskers(P: np.ndarray, z: np.ndarray, ath: np.ndarray, k_hi: int) -> list[tuple[float, float, bool]]:
    """``(bark, level_db, tonal)`` of one frame's maskers after decimation."""
    lin = 10.0 ** (P / 10.0)
    tonal = _tonal(P, k_hi)
    out = [(z[k], 10 * np.log10(lin[k - 1 : k + 2].sum()), True, k) for k in tonal]
    free = np.ones(len(P), bool)
    for k in tonal:
        free[max(k - 3, 0) : k + 4] = False
    band = np.floor(z).astype(int)
    for b in np.unique(band):
        sel = (band == b) & free
        if sel.any():
            e = lin[sel].sum()
            zc = float((z[sel] * lin[sel]).sum() / e)  # energy-weighted centre of the band
            out.append((zc, 10 * np.log10(e + _TINY), False, int(np.argmin(np.abs(z - zc)))))
    out = [m for m in out if m[1] >= ath[m[3]]]
    out.sort(key=lambda m: m[0])
    kept: list = []
    for m in out:
        if kept and m[0] - kept[-1][0] < 0.5:
            if m[1] > kept[-1][1]:
                kept[-1] = m
        else:
            kept.append(m)
    return [(m[0], m[1], m[2]) for m in kept]


def _frame_threshold(P: np.ndarray, z: np.ndarray, ath: np.ndarray, k_hi: int) -> np.ndarray:
    total = 10.0 ** (ath / 10.0)
    for zj, level, tonal in _maskers(P, z, ath, k_hi):
        offset = -6.025 - 0.275 * zj if tonal else -2.025 - 0.175 * zj
        total = total + 10.0 ** ((level + offset + spreading(z - zj, level)) / 10.0)
    return 10.0 * np.log10(total)


def masking_threshold(
    y: np.ndarray, *, sr: int = 16000, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH
) -> tuple[np.ndarray, float]:
    """The global masking threshold of every frame of a clip.

    Parameters
    ----------
    y : np.ndarray, shape (samples,)
        The clean waveform.
    sr : int
        Its sample rate.
    n_fft, hop_length : int
        Analysis window and hop (defaults: 32 ms and 16 ms at 16 kHz; see the module).

    Returns
    -------
    theta : np.ndarray, shape (frames, n_fft // 2 + 1), float64
        The threshold in dB, in the clip's 96-dB normalisation; ``frames = 1 + samples // hop``.
    psd_max : float
        The clip's largest ``|X / n_fft|^2``, which fixes the normalisation (:func:`psd`).

    Raises
    ------
    ConfigError
        ``y`` is not one finite, non-silent channel.
    """
    y = np.asarray(y, np.float64)
    if y.ndim != 1 or not np.all(np.isfinite(y)) or not np.any(y):
        raise ConfigError(f"masking_threshold needs one finite, non-silent channel, got shape {y.shape}")
    p = _power(torch.from_numpy(y), n_fft, hop_length).numpy()
    psd_max = float(p.max())
    P = 10.0 * np.log10(p + _TINY) + SPL_MAX - 10.0 * np.log10(psd_max)
    f = np.fft.rfftfreq(n_fft, 1.0 / sr)
    z, ath = bark(f), absolute_threshold(f)
    k_hi = int(np.searchsorted(f, 5500.0))
    theta = np.stack([_frame_threshold(frame, z, ath, k_hi) for frame in P])
    return theta, psd_max


def project_below(
    delta: np.ndarray,
    theta: np.ndarray,
    *,
    psd_max: float,
    n_fft: int = N_FFT,
    hop_length: int = HOP_LENGTH,
    iterations: int = 4,
    margin_db: float = 0.01,
    final_gain: bool = True,
) -> np.ndarray:
    """Shrink a perturbation until its PSD is below ``theta`` in every time-frequency bin.

    Each iteration scales every STFT bin above the threshold down onto it and inverts the
    STFT; a final global gain (at most 1) removes what overlap-add put back, so the result
    is below ``theta - margin_db`` everywhere (to float rounding).

    Parameters
    ----------
    delta : np.ndarray, shape (samples,)
        The perturbation.
    theta : np.ndarray, shape (frames, bins)
        :func:`masking_threshold` of the clip.
    psd_max : float
        Its normalisation.
    iterations : int
        Bin-wise projections before the global gain.
    margin_db : float
        How far below the threshold the result stays.
    final_gain : bool
        Apply the final global gain (False: the bin-wise projections only, nearly below).

    Returns
    -------
    np.ndarray, shape (samples,), float32
    """
    d = torch.from_numpy(np.asarray(delta, np.float64))
    th = torch.from_numpy(np.asarray(theta, np.float64)) - margin_db
    n = d.shape[-1]
    win = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
    for __ in range(iterations):
        excess = psd(d, psd_max=psd_max, n_fft=n_fft, hop_length=hop_length) - th
        if float(excess.max()) <= 0:
            break
        gain = torch.pow(10.0, -torch.clamp(excess, min=0.0) / 20.0).T  # (bins, frames)
        X = torch.stft(
            d, n_fft, hop_length, window=win, center=True, pad_mode="constant", return_complex=True
        )
        d = torch.istft(X * gain, n_fft, hop_length, window=win, center=True, length=n)
    if not final_gain:
        return d.numpy().astype(np.float32)
    worst = float((psd(d, psd_max=psd_max, n_fft=n_fft, hop_length=hop_length) - th).max())
    if worst > 0:
        d = d * 10.0 ** (-worst / 20.0)
    return d.numpy().astype(np.float32)
