"""Back from a log-mel spectrogram to sound: the clip's own phase, or Griffin-Lim.

Used to *listen* to what a model sees: an explanation's top-k% bins (XAI
page) or an adversarially perturbed spectrogram (adversarial page).

>>> mask = explain.top_k_mask(relevance, 0.2)    # (128, 188) bool, a mel-bin mask
>>> y_hat = masked_audio(y, mask)                # (48000,) float32, the clip's phase
>>> S = features.compute(y, "mel")[0]           # (128, 188) dB
>>> y_gl = mel_to_audio(S, mask=mask)            # (48000,) float32, Griffin-Lim

:func:`masked_audio` spreads a mel-bin mask over the STFT bins through the mel
filterbank and applies it to the clip's complex STFT, so the audio keeps its
original phase: an all-ones mask gives the clip back.  :func:`mel_to_audio` has
only the log-mel: it maps the mel power back to a linear spectrogram with the
(clipped) pseudo-inverse of the filterbank, then guesses a phase with
Griffin-Lim, which sounds metallic whatever the mask.
"""

from __future__ import annotations

import librosa
import numpy as np

from .audio import pad_or_trim
from .config import DEFAULT_CONFIG, FeatureConfig
from .errors import ConfigError, ShapeError
from .features.frontend import mel_basis

__all__ = [
    "db_to_power",
    "masked_audio",
    "mel_gain_audio",
    "mel_to_audio",
    "perturbed_audio",
    "spectral_convergence",
    "stft_gain",
]


def db_to_power(log_mel: np.ndarray) -> np.ndarray:
    """Inverse of the dB conversion used by the features (reference 1.0).

    Parameters
    ----------
    log_mel : np.ndarray, shape (n_mels, frames)
        Log-mel power in dB, as :func:`ser_core.features.compute` returns it
        (channel axis dropped).

    Returns
    -------
    np.ndarray, shape (n_mels, frames), float64 power
    """
    return np.power(10.0, np.asarray(log_mel, dtype=np.float64) / 10.0)


_PINV: dict[tuple, np.ndarray] = {}


def _mel_pinv(cfg: FeatureConfig) -> np.ndarray:
    """Pseudo-inverse ``(n_fft // 2 + 1, n_mels)`` of the features' mel filterbank (cached).

    librosa's ``mel_to_stft`` solves a non-negative least-squares problem per
    call (about 0.3 s for a 3-s clip); the clipped pseudo-inverse is 50x faster
    and gives the same spectral convergence after Griffin-Lim on nEMO speech
    (0.210 either way), which is what the sliders of the app need.
    """
    key = (cfg.sr, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax)
    if key not in _PINV:
        _PINV[key] = np.linalg.pinv(mel_basis(cfg).astype(np.float64))
    return _PINV[key]


def mel_to_audio(
    log_mel: np.ndarray,
    *,
    cfg: FeatureConfig = DEFAULT_CONFIG,
    n_iter: int = 32,
    mask: np.ndarray | None = None,
    floor_db: float | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Griffin-Lim reconstruction of a log-mel spectrogram.

    Parameters
    ----------
    log_mel : np.ndarray, shape (n_mels, frames) or (1, n_mels, frames)
        Log-mel power in dB (the un-normalised ``mel`` representation).
    cfg : FeatureConfig
        The front end that produced ``log_mel`` (sr, n_fft, hop, mel bands).
    n_iter : int
        Griffin-Lim iterations (32 is a good quality / speed balance).
    mask : np.ndarray of bool, shape (n_mels, frames), optional
        Bins to keep; the others are set to ``floor_db`` (silence). Used to
        listen to the top-k% bins of an explanation.
    floor_db : float, optional
        Level of masked-out bins; default ``-cfg.top_db`` below 0 dB
        (the features' silence floor).
    seed : int
        Seed of the random initial phase, so a reconstruction is repeatable.

    Returns
    -------
    np.ndarray, shape (cfg.n_samples,), float32 in [-1, 1]
    """
    S = np.asarray(log_mel, dtype=np.float64)
    if S.ndim == 3:
        S = S[0]
    if S.ndim != 2 or S.shape[0] != cfg.n_mels:
        raise ConfigError(f"mel_to_audio needs a ({cfg.n_mels}, frames) log-mel, got shape {S.shape}")
    if n_iter < 1:
        raise ConfigError(f"n_iter must be positive, got {n_iter!r}")
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != S.shape:
            raise ConfigError(f"mask shape {mask.shape} does not match the spectrogram {S.shape}")
        S = np.where(mask, S, -cfg.top_db if floor_db is None else floor_db)
    power = db_to_power(np.nan_to_num(S, nan=-cfg.top_db, posinf=0.0, neginf=-cfg.top_db))
    linear = np.sqrt(np.maximum(_mel_pinv(cfg) @ power, 0.0))
    y = librosa.griffinlim(
        linear,
        n_iter=n_iter,
        hop_length=cfg.hop_length,
        n_fft=cfg.n_fft,
        center=True,
        random_state=np.random.RandomState(seed),
    )
    y = pad_or_trim(y.astype(np.float32), n_samples=cfg.n_samples, align="start")
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    return (y / peak if peak > 1.0 else y).astype(np.float32)


def spectral_convergence(
    y: np.ndarray, target_mag: np.ndarray, *, cfg: FeatureConfig = DEFAULT_CONFIG
) -> float:
    """``||S_target - |STFT(y)| ||_F / ||S_target||_F`` (lower is better).

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Reconstructed waveform.
    target_mag : np.ndarray, shape (n_fft // 2 + 1, frames)
        Magnitude spectrogram it should have.
    """
    mag = np.abs(
        librosa.stft(np.asarray(y, np.float32), n_fft=cfg.n_fft, hop_length=cfg.hop_length, center=True)
    )
    t = min(mag.shape[1], target_mag.shape[1])
    ref = np.asarray(target_mag)[:, :t]
    return float(np.linalg.norm(ref - mag[:, :t]) / max(np.linalg.norm(ref), 1e-12))


# ------------------------------------------------------------------ the clip's own phase
_SPREAD: dict[tuple, np.ndarray] = {}


def _mel_spread(cfg: FeatureConfig) -> np.ndarray:
    """Weights ``(n_fft // 2 + 1, n_mels)`` from mel bands to STFT bins, rows summing to 1 (cached).

    Each STFT bin takes the filters that cover it, in proportion to their weights
    there; a bin no filter covers (0 Hz, and the Nyquist bin or anything above
    ``fmax``) takes the filters of the nearest covered bin.
    """
    key = (cfg.sr, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax)
    if key not in _SPREAD:
        basis = mel_basis(cfg).astype(np.float64)  # (n_mels, bins)
        covered = np.flatnonzero(basis.sum(0) > 0)
        if covered.size == 0:
            raise ConfigError(f"the mel filterbank of {key} covers no STFT bin")
        bins = np.arange(basis.shape[1])
        nearest = covered[np.abs(bins[:, None] - covered[None, :]).argmin(1)]
        spread = basis[:, nearest].T
        _SPREAD[key] = spread / spread.sum(1, keepdims=True)
    return _SPREAD[key]


def _mel_grid(a: np.ndarray, cfg: FeatureConfig, what: str) -> np.ndarray:
    """``a`` as a finite float64 ``(n_mels, n_frames)`` array (a leading channel dropped)."""
    a = np.asarray(a, dtype=np.float64)
    a = a[0] if a.ndim == 3 and a.shape[0] == 1 else a
    if a.shape != (cfg.n_mels, cfg.n_frames):
        raise ShapeError(f"{what} must be ({cfg.n_mels}, {cfg.n_frames}) mel bins x frames, got {a.shape}")
    if not np.isfinite(a).all():
        raise ConfigError(f"{what} has NaN or infinite values")
    return a


def stft_gain(gain_mel: np.ndarray, *, cfg: FeatureConfig = DEFAULT_CONFIG) -> np.ndarray:
    """A per-mel-bin gain spread over the STFT bins through the mel filterbank.

    Every STFT bin gets the average of the gains of the mel filters that cover it,
    weighted by the filters' heights there (bins no filter covers take the nearest
    covered bin's), so a constant mel gain gives exactly that constant.

    Parameters
    ----------
    gain_mel : np.ndarray, shape (n_mels, frames)
        Gain of every mel bin (a mask in 0..1, or any non-negative gain).
    cfg : FeatureConfig
        The front end (sr, n_fft, mel bands).

    Returns
    -------
    np.ndarray, float64, shape (n_fft // 2 + 1, frames)
    """
    g = np.asarray(gain_mel, dtype=np.float64)
    if g.ndim != 2 or g.shape[0] != cfg.n_mels:
        raise ShapeError(f"a mel gain must be ({cfg.n_mels}, frames), got {g.shape}")
    return _mel_spread(cfg) @ g


def mel_gain_audio(y: np.ndarray, gain_mel: np.ndarray, *, cfg: FeatureConfig = DEFAULT_CONFIG) -> np.ndarray:
    """The model's window of a clip with a gain per mel bin, keeping the clip's own phase.

    The waveform is cut to the window the features analyse (``cfg.duration``,
    ``cfg.align``: the centre of a long clip, a short one padded), its complex STFT
    (the features' window, ``cfg.n_fft``, ``cfg.hop_length``, centred frames) is
    multiplied by :func:`stft_gain` and inverted with ``librosa.istft``: the
    magnitudes change, the phase stays the clip's.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono waveform at ``cfg.sr``: the clip, or the window already cut.
    gain_mel : np.ndarray, shape (n_mels, cfg.n_frames) or (1, n_mels, cfg.n_frames)
        Non-negative gain of every mel bin of that window, on magnitudes.
    cfg : FeatureConfig
        The front end the gain's bins come from.

    Returns
    -------
    np.ndarray, float32, shape (cfg.n_samples,)
        Scaled down only if its peak would exceed 1.

    Raises
    ------
    ShapeError
        ``y`` is not one-dimensional or the gain is not one value per mel bin and frame.
    ConfigError
        The gain is negative or not finite.
    """
    w = np.asarray(y, dtype=np.float32)
    if w.ndim != 1:
        raise ShapeError(f"the waveform must be one-dimensional (samples,), got shape {w.shape}")
    g = _mel_grid(gain_mel, cfg, "the mel gain")
    if (g < 0).any():
        raise ConfigError(f"a mel gain must be non-negative, got a minimum of {g.min():.3g}")
    w = pad_or_trim(w, n_samples=cfg.n_samples, align=cfg.align)
    spec = librosa.stft(w, n_fft=cfg.n_fft, hop_length=cfg.hop_length, center=True)
    out = librosa.istft(
        spec * stft_gain(g, cfg=cfg),
        hop_length=cfg.hop_length,
        n_fft=cfg.n_fft,
        center=True,
        length=cfg.n_samples,
    ).astype(np.float32)
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    return out / peak if peak > 1.0 else out


def masked_audio(y: np.ndarray, mask_mel: np.ndarray, *, cfg: FeatureConfig = DEFAULT_CONFIG) -> np.ndarray:
    """Only the masked-in mel bins of a clip's model window, with the original phase.

    A relevance map's mask (:func:`ser_core.explain.top_k_mask`, or a soft mask)
    becomes a time-frequency mask on the clip's complex STFT (:func:`stft_gain`),
    which is inverted with the clip's own phase: all ones give the window back (SNR
    above 100 dB), all zeros give silence, and nothing of a guessed phase is heard.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono waveform at ``cfg.sr``; cut to the model's window as the features cut it.
    mask_mel : np.ndarray, shape (n_mels, cfg.n_frames) or (1, n_mels, cfg.n_frames)
        Bool, or floats in 0..1, over the window's log-mel bins as the model sees them.
    cfg : FeatureConfig
        The front end of the model whose map made the mask.

    Returns
    -------
    np.ndarray, float32, shape (cfg.n_samples,)

    Raises
    ------
    ShapeError
        The mask's shape is not the window's mel bins x frames.
    ConfigError
        The mask has values outside 0..1.
    """
    m = _mel_grid(mask_mel, cfg, "the mask")
    if m.min() < 0 or m.max() > 1:
        raise ConfigError(f"a mask must lie within 0..1, got {m.min():.3g}..{m.max():.3g}")
    return mel_gain_audio(y, m, cfg=cfg)


def perturbed_audio(
    y: np.ndarray, log_mel: np.ndarray, perturbed_log_mel: np.ndarray, *, cfg: FeatureConfig = DEFAULT_CONFIG
) -> np.ndarray:
    """A change of a clip's log-mel applied to its own STFT, with the original phase.

    The per-bin ratio of the two mel magnitudes, ``10 ** ((perturbed - log_mel) /
    20)``, is the gain of :func:`mel_gain_audio`: an unchanged spectrogram gives the
    window back. Used to listen to a spectrogram-domain attack without Griffin-Lim.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        The clean waveform at ``cfg.sr`` (cut to the model's window here).
    log_mel, perturbed_log_mel : np.ndarray, shape (n_mels, cfg.n_frames)
        The window's log-mel in dB and its perturbed copy.
    cfg : FeatureConfig
        The front end of both log-mels.

    Returns
    -------
    np.ndarray, float32, shape (cfg.n_samples,)
    """
    clean = _mel_grid(log_mel, cfg, "the log-mel")
    changed = _mel_grid(perturbed_log_mel, cfg, "the perturbed log-mel")
    return mel_gain_audio(y, np.power(10.0, (changed - clean) / 20.0), cfg=cfg)
