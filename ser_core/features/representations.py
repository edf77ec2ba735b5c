"""The 13 registered representations of a 3-second clip (registration order is the
registry's order: mel, stft, mfcc, cqt, chroma, tonnetz, hpss, zcr, rms, contrast,
tempogram, delta_mfcc, delta_tempogram)."""

from __future__ import annotations

import librosa
import numpy as np

from ..config import FeatureConfig
from ..i18n import N_
from .frontend import Frontend, _db, _delta_mfcc_of, _mfcc_of, hpss
from .registry import register

__all__: list[str] = []  # the functions are reached through the registry

_STFT_FIELDS = ("sr", "duration", "align", "n_fft", "hop_length")
_MEL_FIELDS = _STFT_FIELDS + ("n_mels", "fmin", "fmax", "top_db")


def _mel_hz(cfg: FeatureConfig) -> np.ndarray:
    """Centre frequencies of librosa's (Slaney) mel filters: band i peaks at point i + 1."""
    return librosa.mel_frequencies(
        n_mels=cfg.n_mels + 2, fmin=cfg.fmin, fmax=cfg.fmax if cfg.fmax is not None else cfg.sr / 2
    )[1:-1]


@register(
    "mel",
    title=N_("Log-mel spectrogram"),
    family="spectral",
    depends=_MEL_FIELDS,
    y_label=N_("mel band"),
    unit=N_("dB"),
    bin_hz=_mel_hz,
    description=N_("Log-mel power spectrogram in dB, one row per mel band (128 by default)."),
)
def _mel(fe: Frontend) -> np.ndarray:
    """Log-mel power spectrogram in dB, one row per mel band (128 by default)."""
    return fe.log_mel


@register(
    "stft",
    title=N_("Linear STFT spectrogram"),
    family="spectral",
    depends=_STFT_FIELDS + ("top_db",),
    y_label=N_("frequency bin"),
    unit=N_("dB"),
    bin_hz=lambda c: librosa.fft_frequencies(sr=c.sr, n_fft=c.n_fft),
    description=N_(
        "Log-power linear-frequency STFT spectrogram in dB, one row per FFT bin (513 by default)."
    ),
)
def _stft(fe: Frontend) -> np.ndarray:
    """Log-power linear-frequency STFT spectrogram in dB, one row per FFT bin (513 by default)."""
    return _db(fe.power, top_db=fe.cfg.top_db)


@register(
    "mfcc",
    title=N_("MFCC"),
    family="spectral",
    depends=_MEL_FIELDS + ("n_mfcc",),
    y_label=N_("coefficient"),
    unit=N_("coefficient"),
    from_log_mel=_mfcc_of,
    description=N_("Mel-frequency cepstral coefficients (DCT-II of the log-mel)."),
)
def _mfcc(fe: Frontend) -> np.ndarray:
    """Mel-frequency cepstral coefficients (DCT-II of the log-mel)."""
    return fe.mfcc


@register(
    "cqt",
    title=N_("Constant-Q transform"),
    family="spectral",
    depends=_STFT_FIELDS + ("cqt_fmin", "cqt_bins", "bins_per_octave", "top_db"),
    y_label=N_("CQT bin (semitone)"),
    unit=N_("dB"),
    bin_hz=lambda c: librosa.cqt_frequencies(c.cqt_bins, fmin=c.cqt_fmin, bins_per_octave=c.bins_per_octave),
    description=N_("Log-magnitude constant-Q transform in dB, semitone bins from C1."),
)
def _cqt(fe: Frontend) -> np.ndarray:
    """Log-magnitude constant-Q transform in dB, semitone bins from C1."""
    c = fe.cfg
    C = np.abs(
        librosa.cqt(
            fe.y,
            sr=c.sr,
            hop_length=c.hop_length,
            fmin=c.cqt_fmin,
            n_bins=c.cqt_bins,
            bins_per_octave=c.bins_per_octave,
            res_type="soxr_hq",
        )
    )
    return librosa.amplitude_to_db(C, ref=1.0, amin=1e-5, top_db=c.top_db)


@register(
    "chroma",
    title=N_("Chromagram"),
    family="harmonic",
    depends=_STFT_FIELDS + ("n_chroma",),
    y_label=N_("pitch class"),
    unit=N_("relative energy"),
    description=N_("Chroma (energy per pitch class) from the STFT power."),
)
def _chroma(fe: Frontend) -> np.ndarray:
    """Chroma (energy per pitch class) from the STFT power."""
    return fe.chroma


@register(
    "tonnetz",
    title=N_("Tonnetz"),
    family="harmonic",
    depends=_STFT_FIELDS + ("n_chroma",),
    y_label=N_("tonal dimension"),
    unit=N_("centroid coordinate"),
    description=N_("Tonal centroid features (6 dims: fifths, minor and major thirds) of the chroma."),
)
def _tonnetz(fe: Frontend) -> np.ndarray:
    """Tonal centroid features (6 dims: fifths, minor and major thirds) of the chroma."""
    return librosa.feature.tonnetz(chroma=fe.chroma)


@register(
    "hpss",
    title=N_("HPSS (harmonic / percussive)"),
    family="spectral",
    depends=_MEL_FIELDS + ("hpss_kernel",),
    y_label=N_("mel band"),
    unit=N_("dB"),
    channels=(N_("harmonic"), N_("percussive")),
    bin_hz=_mel_hz,
    description=N_("Log-mel of the harmonic and percussive parts of a median-filter HPSS."),
)
def _hpss(fe: Frontend) -> np.ndarray:
    """Log-mel of the harmonic and percussive parts of a median-filter HPSS."""
    H, P = hpss(fe.mag, kernel_size=fe.cfg.hpss_kernel)
    b, top = fe.mel_basis, fe.cfg.top_db
    return np.stack([_db(b @ H**2, top_db=top), _db(b @ P**2, top_db=top)])


@register(
    "zcr",
    title=N_("Zero-crossing rate"),
    family="energy",
    depends=_STFT_FIELDS,
    y_label=N_("ZCR"),
    unit=N_("fraction"),
    description=N_("Zero-crossing rate per frame (fraction of sign changes)."),
)
def _zcr(fe: Frontend) -> np.ndarray:
    """Zero-crossing rate per frame (fraction of sign changes)."""
    c = fe.cfg
    return librosa.feature.zero_crossing_rate(fe.y, frame_length=c.n_fft, hop_length=c.hop_length)


@register(
    "rms",
    title=N_("RMS energy"),
    family="energy",
    depends=_STFT_FIELDS,
    y_label=N_("RMS"),
    unit=N_("amplitude"),
    description=N_("Root-mean-square energy per frame (from the STFT magnitude)."),
)
def _rms(fe: Frontend) -> np.ndarray:
    """Root-mean-square energy per frame (from the STFT magnitude)."""
    return librosa.feature.rms(S=fe.mag, frame_length=fe.cfg.n_fft)


@register(
    "spectral_contrast",
    title=N_("Spectral contrast"),
    family="spectral",
    depends=_STFT_FIELDS + ("contrast_bands", "contrast_fmin"),
    y_label=N_("octave band"),
    unit=N_("dB"),
    description=N_("Peak-to-valley contrast (dB) in octave bands, plus the residual band."),
)
def _contrast(fe: Frontend) -> np.ndarray:
    """Peak-to-valley contrast (dB) in octave bands, plus the residual band."""
    c = fe.cfg
    return librosa.feature.spectral_contrast(
        S=fe.mag, sr=c.sr, n_fft=c.n_fft, n_bands=c.contrast_bands, fmin=c.contrast_fmin
    )


@register(
    "tempogram",
    title=N_("Tempogram"),
    family="temporal",
    depends=_MEL_FIELDS + ("tempogram_win",),
    y_label=N_("lag (frames)"),
    unit=N_("autocorrelation"),
    description=N_("Local autocorrelation of the onset envelope (rhythm of syllables)."),
)
def _tempogram(fe: Frontend) -> np.ndarray:
    """Local autocorrelation of the onset envelope (rhythm of syllables)."""
    return fe.tempogram


@register(
    "delta_mfcc",
    title=N_("Delta-MFCC"),
    family="spectral",
    depends=_MEL_FIELDS + ("n_mfcc",),
    y_label=N_("coefficient"),
    unit=N_("Δ per frame"),
    from_log_mel=_delta_mfcc_of,
    description=N_("First-order time derivative of the MFCCs (9-frame Savitzky-Golay)."),
)
def _delta_mfcc(fe: Frontend) -> np.ndarray:
    """First-order time derivative of the MFCCs (9-frame Savitzky-Golay)."""
    return librosa.feature.delta(fe.mfcc)


@register(
    "delta_tempogram",
    title=N_("Delta-tempogram"),
    family="temporal",
    depends=_MEL_FIELDS + ("tempogram_win",),
    y_label=N_("lag (frames)"),
    unit=N_("Δ per frame"),
    description=N_("First-order time derivative of the tempogram."),
)
def _delta_tempogram(fe: Frontend) -> np.ndarray:
    """First-order time derivative of the tempogram."""
    return librosa.feature.delta(fe.tempogram)
