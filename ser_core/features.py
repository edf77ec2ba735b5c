"""The 13 acoustic representations of a 3-second clip, in a registry.

Every representation is a function of the waveform returning a float32 array of
shape ``(channels, bins, frames)`` whose shape depends only on the
:class:`~ser_core.config.FeatureConfig` (``frames = cfg.n_frames``, 188 for 3 s
at 16 kHz with a 256-sample hop).  All but HPSS have one channel; HPSS has two
(harmonic, percussive).

>>> from ser_core import features
>>> features.names()[:3]
('mel', 'stft', 'mfcc')
>>> x = features.compute(y, "mel")            # (1, 128, 188)
>>> all13 = features.compute_all(y)          # dict name -> array

Intermediate results (STFT, mel power, chroma, onset envelope) are shared
through a :class:`Frontend`, so computing several representations of one clip
costs little more than the most expensive one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property, partial

import librosa
import numpy as np

from .audio import pad_or_trim
from .config import DEFAULT_CONFIG, FeatureConfig
from .errors import UnknownNameError

__all__ = [
    "Representation",
    "Frontend",
    "REGISTRY",
    "register",
    "get",
    "names",
    "compute",
    "compute_all",
    "median_filter_axis",
    "hpss",
    "warp_features",
    "warp_frequencies",
    "warpable",
    "warped_name",
    "output_shape",
    "NormStats",
    "normalization_stats",
    "FEATURE_VERSION",
]

#: Bump when a representation's code changes meaning: invalidates every cache.
FEATURE_VERSION = "1"

_STFT_FIELDS = ("sr", "duration", "align", "n_fft", "hop_length")
_MEL_FIELDS = _STFT_FIELDS + ("n_mels", "fmin", "fmax", "top_db")


class Frontend:
    """Lazily computed, shared intermediate results for one clip.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono waveform at ``cfg.sr``; padded/trimmed to ``cfg.n_samples`` here.
    cfg : FeatureConfig
    """

    def __init__(self, y: np.ndarray, *, cfg: FeatureConfig = DEFAULT_CONFIG) -> None:
        self.cfg = cfg
        y = np.asarray(y, dtype=np.float32)
        self.y = pad_or_trim(y, n_samples=cfg.n_samples, align=cfg.align)
        self._outputs: dict[str, np.ndarray] = {}

    def output(self, rep: Representation) -> np.ndarray:
        """``rep``'s finished array ``(channels, bins, frames)`` for this clip, computed once."""
        if rep.name not in self._outputs:
            self._outputs[rep.name] = _finish(rep.fn(self))
        return self._outputs[rep.name]

    @cached_property
    def stft(self) -> np.ndarray:
        """Complex STFT, shape ``(n_fft // 2 + 1, frames)``."""
        c = self.cfg
        return librosa.stft(self.y, n_fft=c.n_fft, hop_length=c.hop_length, center=True)

    @cached_property
    def mag(self) -> np.ndarray:
        return np.abs(self.stft)

    @cached_property
    def power(self) -> np.ndarray:
        return self.mag**2

    @cached_property
    def mel_basis(self) -> np.ndarray:
        return _mel_basis(self.cfg)

    @cached_property
    def mel_power(self) -> np.ndarray:
        return self.mel_basis @ self.power

    @cached_property
    def log_mel(self) -> np.ndarray:
        return _db(self.mel_power, top_db=self.cfg.top_db)

    @cached_property
    def mfcc(self) -> np.ndarray:
        return _mfcc_of(self.log_mel, self.cfg)

    @cached_property
    def chroma(self) -> np.ndarray:
        c = self.cfg
        return librosa.feature.chroma_stft(
            S=self.power, sr=c.sr, n_fft=c.n_fft, n_chroma=c.n_chroma, tuning=0.0
        )

    @cached_property
    def onset_env(self) -> np.ndarray:
        c = self.cfg
        return librosa.onset.onset_strength(S=self.log_mel, sr=c.sr, hop_length=c.hop_length)

    @cached_property
    def tempogram(self) -> np.ndarray:
        c = self.cfg
        return librosa.feature.tempogram(
            onset_envelope=self.onset_env,
            sr=c.sr,
            hop_length=c.hop_length,
            win_length=c.tempogram_win,
        )


_MEL_CACHE: dict[tuple, np.ndarray] = {}


def _mel_basis(cfg: FeatureConfig) -> np.ndarray:
    key = (cfg.sr, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax)
    if key not in _MEL_CACHE:
        _MEL_CACHE[key] = librosa.filters.mel(
            sr=cfg.sr, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax
        )
    return _MEL_CACHE[key]


def _db(power: np.ndarray, *, top_db: float) -> np.ndarray:
    """Power to dB relative to 1.0 (not to the clip's maximum, so loudness is
    kept), floored at 1e-10 and clipped to ``top_db`` below the peak: silence
    becomes a finite constant (-100 dB), never -inf."""
    return librosa.power_to_db(power, ref=1.0, amin=1e-10, top_db=top_db)


@dataclass(frozen=True)
class Representation:
    """One registered representation.

    Attributes
    ----------
    name : str
        Registry key (``"mel"``).
    title : str
        Human-readable name for plots and dropdowns.
    family : {"spectral", "temporal", "harmonic", "energy"}
        Selects the augmentations that make sense for it.
    depends : tuple of str
        The :class:`FeatureConfig` fields it depends on (keys its cache).
    fn : callable
        ``fn(frontend) -> np.ndarray`` of shape ``(channels, bins, frames)``.
    y_label : str
        What the bin axis means (for plot axes).
    unit : str
        Unit of the values (for colour bars).
    channels : tuple of str
        Channel names (``("harmonic", "percussive")`` for HPSS).
    description : str
        One sentence for the docs and the app.
    bin_hz : callable, optional
        ``bin_hz(cfg) -> (bins,)`` centre frequency in Hz of each bin, for
        representations whose bins are frequencies in increasing order (mel,
        STFT, CQT, HPSS); ``None`` for the others.
    from_log_mel : callable, optional
        ``from_log_mel(log_mel, cfg) -> array``: the representation of a
        log-mel spectrogram ``(..., n_mels, frames)`` (MFCC, delta-MFCC), so a
        voice warp of the log-mel reaches it (:func:`warp_features`).
    """

    name: str
    title: str
    family: str
    depends: tuple[str, ...]
    fn: Callable[[Frontend], np.ndarray] = field(repr=False, compare=False)
    y_label: str = "bin"
    channels: tuple[str, ...] = ("",)
    description: str = ""
    unit: str = ""
    bin_hz: Callable[[FeatureConfig], np.ndarray] | None = field(default=None, repr=False, compare=False)
    from_log_mel: Callable[[np.ndarray, FeatureConfig], np.ndarray] | None = field(
        default=None, repr=False, compare=False
    )

    def frequencies(self, cfg: FeatureConfig = DEFAULT_CONFIG) -> np.ndarray | None:
        """Centre frequency (Hz) of each bin, shape ``(bins,)``; ``None`` when bins are not frequencies."""
        return None if self.bin_hz is None else np.asarray(self.bin_hz(cfg), dtype=np.float64)

    def cache_key(self, cfg: FeatureConfig = DEFAULT_CONFIG) -> str:
        """Hash of this representation's parameters (keys the feature cache)."""
        return cfg.digest(self.depends, salt=f"{self.name}/v{FEATURE_VERSION}")

    def params(self, cfg: FeatureConfig = DEFAULT_CONFIG) -> dict:
        """The config values this representation depends on."""
        return cfg.subset(self.depends)

    def __call__(self, y: np.ndarray, *, cfg: FeatureConfig = DEFAULT_CONFIG) -> np.ndarray:
        return _finish(self.fn(Frontend(y, cfg=cfg)))


REGISTRY: dict[str, Representation] = {}


def register(
    name: str,
    *,
    title: str,
    family: str,
    depends: Iterable[str],
    y_label: str = "bin",
    unit: str = "",
    channels: tuple[str, ...] = ("",),
    bin_hz: Callable[[FeatureConfig], np.ndarray] | None = None,
    from_log_mel: Callable[[np.ndarray, FeatureConfig], np.ndarray] | None = None,
) -> Callable[[Callable[[Frontend], np.ndarray]], Callable[[Frontend], np.ndarray]]:
    """Decorator adding ``fn(frontend) -> array`` to :data:`REGISTRY`."""
    if family not in ("spectral", "temporal", "harmonic", "energy"):
        raise ValueError(f"unknown family {family!r}")

    def deco(fn: Callable[[Frontend], np.ndarray]) -> Callable[[Frontend], np.ndarray]:
        doc = (fn.__doc__ or "").strip().split("\n")[0]
        REGISTRY[name] = Representation(
            name,
            title,
            family,
            tuple(depends),
            fn,
            y_label,
            channels,
            doc,
            unit,
            bin_hz,
            from_log_mel,
        )
        return fn

    return deco


def _mel_hz(cfg: FeatureConfig) -> np.ndarray:
    """Centre frequencies of librosa's (Slaney) mel filters: band i peaks at point i + 1."""
    return librosa.mel_frequencies(
        n_mels=cfg.n_mels + 2, fmin=cfg.fmin, fmax=cfg.fmax if cfg.fmax is not None else cfg.sr / 2
    )[1:-1]


def _finish(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2:
        x = x[None]
    return np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)


@register(
    "mel",
    title="Log-mel spectrogram",
    family="spectral",
    depends=_MEL_FIELDS,
    y_label="mel band",
    unit="dB",
    bin_hz=_mel_hz,
)
def _mel(fe: Frontend) -> np.ndarray:
    """Log-mel power spectrogram in dB (n_mels bands)."""
    return fe.log_mel


@register(
    "stft",
    title="Linear STFT spectrogram",
    family="spectral",
    depends=_STFT_FIELDS + ("top_db",),
    y_label="frequency bin",
    unit="dB",
    bin_hz=lambda c: librosa.fft_frequencies(sr=c.sr, n_fft=c.n_fft),
)
def _stft(fe: Frontend) -> np.ndarray:
    """Log-power linear-frequency STFT spectrogram in dB (n_fft/2+1 bins)."""
    return _db(fe.power, top_db=fe.cfg.top_db)


def _mfcc_of(log_mel: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    return librosa.feature.mfcc(S=log_mel, n_mfcc=cfg.n_mfcc)


def _delta_mfcc_of(log_mel: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    return librosa.feature.delta(_mfcc_of(log_mel, cfg))


@register(
    "mfcc",
    title="MFCC",
    family="spectral",
    depends=_MEL_FIELDS + ("n_mfcc",),
    y_label="coefficient",
    unit="coefficient",
    from_log_mel=_mfcc_of,
)
def _mfcc(fe: Frontend) -> np.ndarray:
    """Mel-frequency cepstral coefficients (DCT-II of the log-mel)."""
    return fe.mfcc


@register(
    "cqt",
    title="Constant-Q transform",
    family="spectral",
    depends=_STFT_FIELDS + ("cqt_fmin", "cqt_bins", "bins_per_octave", "top_db"),
    y_label="CQT bin (semitone)",
    unit="dB",
    bin_hz=lambda c: librosa.cqt_frequencies(c.cqt_bins, fmin=c.cqt_fmin, bins_per_octave=c.bins_per_octave),
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
    title="Chromagram",
    family="harmonic",
    depends=_STFT_FIELDS + ("n_chroma",),
    y_label="pitch class",
    unit="relative energy",
)
def _chroma(fe: Frontend) -> np.ndarray:
    """Chroma (energy per pitch class) from the STFT power."""
    return fe.chroma


@register(
    "tonnetz",
    title="Tonnetz",
    family="harmonic",
    depends=_STFT_FIELDS + ("n_chroma",),
    y_label="tonal dimension",
    unit="centroid coordinate",
)
def _tonnetz(fe: Frontend) -> np.ndarray:
    """Tonal centroid features (6 dims: fifths, minor and major thirds) of the chroma."""
    return librosa.feature.tonnetz(chroma=fe.chroma)


def median_filter_axis(S: np.ndarray, *, size: int, axis: int = -1) -> np.ndarray:
    """Running median of ``size`` values along one axis, edges reflected.

    The same numbers as ``scipy.ndimage.median_filter`` with ``size`` on ``axis``
    and 1 on every other axis (``mode="reflect"``), bit for bit, about ten times
    faster: SciPy's 1-D rank filter keeps a sorted window (log ``size`` per
    sample) where its n-D one sorts each neighbourhood anew.  Every line along
    ``axis`` is padded with ``size // 2`` reflected values on each side and the
    lines are filtered as one long 1-D signal; a window centred on a line's own
    samples never reaches the next line.  Lines shorter than the window are
    reflected as often as it takes (``d c b a | a b c d | d c b a | a b ...``),
    as SciPy documents ``"reflect"``; its n-D filter is not even deterministic
    there.

    Parameters
    ----------
    S : np.ndarray, shape (..., n, ...)
        Any shape; ``n = S.shape[axis]``.
    size : int
        Window length (odd or even, as SciPy takes it).
    axis : int
        The axis to filter along (``-1``: frames of a ``(bins, frames)``
        spectrogram; ``-2``: its bins).

    Returns
    -------
    np.ndarray, ``S``'s shape and dtype
    """
    from scipy.ndimage import median_filter

    S = np.asarray(S)
    lines = np.moveaxis(S, axis, -1)
    n, h = lines.shape[-1], size // 2
    flat = lines.reshape(-1, n)
    padded = np.pad(flat, [(0, 0), (h, h)], mode="symmetric")  # numpy "symmetric" is SciPy "reflect"
    out = median_filter(padded.ravel(), size=size, mode="reflect").reshape(padded.shape)[:, h : h + n]
    return np.ascontiguousarray(np.moveaxis(out.reshape(lines.shape), -1, axis))


def hpss(S: np.ndarray, *, kernel_size: int = 31) -> tuple[np.ndarray, np.ndarray]:
    """Median-filter harmonic/percussive separation of a magnitude spectrogram.

    ``librosa.decompose.hpss(S, kernel_size=kernel_size)`` (margin 1, soft
    masks of power 2), with :func:`median_filter_axis` for its two median
    filters: the same arrays, bit for bit, in a tenth of the time.

    Parameters
    ----------
    S : np.ndarray, shape (..., bins, frames)
        Non-negative magnitudes (leading axes: channels, clips).
    kernel_size : int
        Median filter length, along frames (harmonic) and along bins (percussive).

    Returns
    -------
    H, P : np.ndarray, each shaped like ``S``
        Harmonic and percussive magnitudes (``H + P`` is ``S`` up to rounding: the soft masks sum to 1).
    """
    harm = median_filter_axis(S, size=kernel_size, axis=-1)
    perc = median_filter_axis(S, size=kernel_size, axis=-2)
    mask_h = librosa.util.softmask(harm, perc, power=2.0, split_zeros=True)
    mask_p = librosa.util.softmask(perc, harm, power=2.0, split_zeros=True)
    return S * mask_h, S * mask_p


@register(
    "hpss",
    title="HPSS (harmonic / percussive)",
    family="spectral",
    depends=_MEL_FIELDS + ("hpss_kernel",),
    y_label="mel band",
    unit="dB",
    channels=("harmonic", "percussive"),
    bin_hz=_mel_hz,
)
def _hpss(fe: Frontend) -> np.ndarray:
    """Log-mel of the harmonic and percussive parts of a median-filter HPSS."""
    H, P = hpss(fe.mag, kernel_size=fe.cfg.hpss_kernel)
    b, top = fe.mel_basis, fe.cfg.top_db
    return np.stack([_db(b @ H**2, top_db=top), _db(b @ P**2, top_db=top)])


@register(
    "zcr", title="Zero-crossing rate", family="energy", depends=_STFT_FIELDS, y_label="ZCR", unit="fraction"
)
def _zcr(fe: Frontend) -> np.ndarray:
    """Zero-crossing rate per frame (fraction of sign changes)."""
    c = fe.cfg
    return librosa.feature.zero_crossing_rate(fe.y, frame_length=c.n_fft, hop_length=c.hop_length)


@register("rms", title="RMS energy", family="energy", depends=_STFT_FIELDS, y_label="RMS", unit="amplitude")
def _rms(fe: Frontend) -> np.ndarray:
    """Root-mean-square energy per frame (from the STFT magnitude)."""
    return librosa.feature.rms(S=fe.mag, frame_length=fe.cfg.n_fft)


@register(
    "spectral_contrast",
    title="Spectral contrast",
    family="spectral",
    depends=_STFT_FIELDS + ("contrast_bands", "contrast_fmin"),
    y_label="octave band",
    unit="dB",
)
def _contrast(fe: Frontend) -> np.ndarray:
    """Peak-to-valley contrast (dB) in octave bands, plus the residual band."""
    c = fe.cfg
    return librosa.feature.spectral_contrast(
        S=fe.mag, sr=c.sr, n_fft=c.n_fft, n_bands=c.contrast_bands, fmin=c.contrast_fmin
    )


@register(
    "tempogram",
    title="Tempogram",
    family="temporal",
    depends=_MEL_FIELDS + ("tempogram_win",),
    y_label="lag (frames)",
    unit="autocorrelation",
)
def _tempogram(fe: Frontend) -> np.ndarray:
    """Local autocorrelation of the onset envelope (rhythm of syllables)."""
    return fe.tempogram


@register(
    "delta_mfcc",
    title="Delta-MFCC",
    family="spectral",
    depends=_MEL_FIELDS + ("n_mfcc",),
    y_label="coefficient",
    unit="Δ per frame",
    from_log_mel=_delta_mfcc_of,
)
def _delta_mfcc(fe: Frontend) -> np.ndarray:
    """First-order time derivative of the MFCCs (9-frame Savitzky-Golay)."""
    return librosa.feature.delta(fe.mfcc)


@register(
    "delta_tempogram",
    title="Delta-tempogram",
    family="temporal",
    depends=_MEL_FIELDS + ("tempogram_win",),
    y_label="lag (frames)",
    unit="Δ per frame",
)
def _delta_tempogram(fe: Frontend) -> np.ndarray:
    """First-order time derivative of the tempogram."""
    return librosa.feature.delta(fe.tempogram)


def names() -> tuple[str, ...]:
    """Registered representation names, in registration order."""
    return tuple(REGISTRY)


def get(name: str) -> Representation:
    """Look a representation up by name (raises :class:`UnknownNameError`).

    ``"<name>@<alpha>"`` (:func:`warped_name`) is representation ``name`` of
    the voice with every frequency scaled by ``alpha`` (:func:`warp_features`).
    """
    if WARP_MARK in name:
        return _warped_representation(name)
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown representation {name!r}; choose one of: {', '.join(REGISTRY)}"
        ) from None


# ------------------------------------------------------------------ voice warps
#: Separates a representation from its voice-warp factor in a name (``"mel@1.08"``).
WARP_MARK = "@"
#: The warp factors a name may carry: a voice's frequencies scaled by at most ±50 %.
WARP_RANGE = (0.5, 2.0)


def warp_frequencies(x: np.ndarray, *, hz: np.ndarray, alpha: float) -> np.ndarray:
    """Scale every frequency of a spectrogram by ``alpha``.

    What sat at ``f / alpha`` Hz moves to ``f`` Hz (linear interpolation
    between bins; the edges are held): a longer or shorter vocal tract and a
    lower or higher voice at once, as vocal tract length perturbation does.

    Parameters
    ----------
    x : np.ndarray, shape (..., bins, frames)
    hz : np.ndarray, shape (bins,)
        Centre frequency of each bin, increasing.
    alpha : float
        The factor (> 0; 1 leaves ``x`` as it is).

    Returns
    -------
    np.ndarray, same shape and dtype as ``x``
    """
    hz = np.asarray(hz, dtype=np.float64)
    if x.shape[-2] != len(hz):
        raise ValueError(f"{len(hz)} bin frequencies for an input of {x.shape[-2]} bins")
    src = np.interp(hz / alpha, hz, np.arange(len(hz)))
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, len(hz) - 1)
    w = (src - lo).astype(x.dtype)[:, None]
    return x[..., lo, :] * (1 - w) + x[..., hi, :] * w


def warpable(name: str) -> bool:
    """Whether a voice warp reaches representation ``name``: its bins are
    frequencies, or it is computed from the log-mel."""
    rep = REGISTRY.get(name)
    return rep is not None and (rep.bin_hz is not None or rep.from_log_mel is not None)


def warped_name(name: str, alpha: float) -> str:
    """The name of representation ``name`` of a voice warped by ``alpha`` (``"mel@0.92"``)."""
    return f"{name}{WARP_MARK}{alpha:g}"


def warp_features(
    x: np.ndarray | None,
    *,
    name: str,
    alpha: float,
    log_mel: np.ndarray | None = None,
    cfg: FeatureConfig = DEFAULT_CONFIG,
) -> np.ndarray:
    """Representation ``name`` of a voice whose frequencies are all scaled by ``alpha``.

    Parameters
    ----------
    x : np.ndarray, shape (..., C, F, T), or None
        The representation itself, for one whose bins are frequencies (warped
        directly with :func:`warp_frequencies`).
    name : str
        A :func:`warpable` representation.
    alpha : float
        The warp factor.
    log_mel : np.ndarray, shape (..., 1, n_mels, T), optional
        The log-mel, for one computed from it (MFCC, delta-MFCC): the log-mel
        is warped and the representation recomputed.

    Returns
    -------
    np.ndarray, float32, shape of the representation ``(..., C, F, T)``
    """
    rep = get(name)
    if rep.bin_hz is not None:
        if x is None:
            raise ValueError(f"warping {name!r} needs its features")
        return warp_frequencies(np.asarray(x, np.float32), hz=rep.frequencies(cfg), alpha=alpha)
    if rep.from_log_mel is None:
        raise UnknownNameError(
            f"{name!r} has no frequency axis to warp; warpable: "
            f"{', '.join(n for n in REGISTRY if warpable(n))}"
        )
    if log_mel is None:
        raise ValueError(f"warping {name!r} needs the log-mel it is computed from")
    lm = warp_frequencies(np.asarray(log_mel, np.float32), hz=REGISTRY["mel"].frequencies(cfg), alpha=alpha)
    return np.asarray(rep.from_log_mel(lm, cfg), np.float32)


def _warped_representation(name: str) -> Representation:
    base, _, factor = name.partition(WARP_MARK)
    try:
        alpha = float(factor)
    except ValueError:
        alpha = float("nan")
    lo, hi = WARP_RANGE
    if not warpable(base) or not lo <= alpha <= hi:
        raise UnknownNameError(
            f"unknown representation {name!r}: a voice warp is <name>@<factor> with a factor in "
            f"[{lo:g}, {hi:g}] and one of: {', '.join(n for n in REGISTRY if warpable(n))}"
        )
    rep = REGISTRY[base]
    return replace(
        rep,
        name=name,
        title=f"{rep.title}, voice ×{alpha:g}",
        fn=partial(_warped_fn, base=rep, alpha=alpha),
        description=f"{rep.description} Every frequency scaled by {alpha:g}.",
    )


def _warped_fn(fe: Frontend, *, base: Representation, alpha: float) -> np.ndarray:
    if base.bin_hz is not None:
        return warp_features(fe.output(base), name=base.name, alpha=alpha, cfg=fe.cfg)
    return warp_features(None, name=base.name, alpha=alpha, log_mel=fe.log_mel, cfg=fe.cfg)


def compute(y: np.ndarray, name: str, *, cfg: FeatureConfig = DEFAULT_CONFIG) -> np.ndarray:
    """One representation of a waveform.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono waveform at ``cfg.sr`` (any length: padded/trimmed to ``cfg.duration``).
    name : str
        Registry name.

    Returns
    -------
    np.ndarray, shape (channels, bins, cfg.n_frames), float32, finite
    """
    return get(name)(y, cfg=cfg)


def compute_all(
    y: np.ndarray, names_: Iterable[str] | None = None, *, cfg: FeatureConfig = DEFAULT_CONFIG
) -> dict[str, np.ndarray]:
    """Several representations of one waveform, sharing intermediate results.

    Returns
    -------
    dict of name -> np.ndarray, shape (channels, bins, cfg.n_frames)
    """
    fe = Frontend(y, cfg=cfg)
    return {n: fe.output(get(n)) for n in (names_ or REGISTRY)}


_SHAPES: dict[tuple[str, FeatureConfig], tuple[int, int, int]] = {}


def output_shape(name: str, *, cfg: FeatureConfig = DEFAULT_CONFIG) -> tuple[int, int, int]:
    """``(channels, bins, frames)`` of a representation under ``cfg``."""
    key = (name, cfg)
    if key not in _SHAPES:
        _SHAPES[key] = tuple(compute(np.zeros(cfg.n_samples, np.float32), name, cfg=cfg).shape)
    return _SHAPES[key]


@dataclass(frozen=True)
class NormStats:
    """Per-channel, per-bin mean and standard deviation, shape ``(channels, bins, 1)``
    (``(dim,)`` for utterance functionals)."""

    mean: np.ndarray
    std: np.ndarray
    #: How many vectors the statistics of utterance functionals come from (0: not counted).
    count: int = 0

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Standardise ``x`` of shape ``(..., channels, bins, frames)``."""
        return ((x - self.mean) / self.std).astype(np.float32, copy=False)

    def to_dict(self) -> dict[str, list]:
        return {
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            **({"count": int(self.count)} if self.count else {}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, list]) -> NormStats:
        return cls(
            np.asarray(d["mean"], np.float32), np.asarray(d["std"], np.float32), int(d.get("count", 0))
        )


def normalization_stats(x: np.ndarray, *, eps: float = 1e-5, chunk: int = 256) -> NormStats:
    """Mean and std per channel and bin over clips and frames.

    Parameters
    ----------
    x : np.ndarray, shape (n_clips, channels, bins, frames) or (n_clips, dim)
        Features of the **training part only** (a memmap is fine: processed in
        chunks, accumulated in float64).  A 2-D array holds one vector per clip
        (utterance functionals): its statistics are per dimension over clips.
    eps : float
        Floor on the standard deviation (constant bins, silence).

    Returns
    -------
    NormStats with arrays of shape (channels, bins, 1), or (dim,) for 2-D input
    """
    n = x.shape[0]
    if n == 0:
        raise ValueError("normalization_stats needs at least one clip")
    if x.ndim == 2:
        s2 = normalization_stats(x[:, None, :, None], eps=eps, chunk=chunk)
        return NormStats(s2.mean[0, :, 0], s2.std[0, :, 0], int(n))
    s = np.zeros(x.shape[1:3], np.float64)
    ss = np.zeros(x.shape[1:3], np.float64)
    count = 0
    for i in range(0, n, chunk):
        b = np.asarray(x[i : i + chunk], dtype=np.float64)
        s += b.sum(axis=(0, 3))
        ss += (b**2).sum(axis=(0, 3))
        count += b.shape[0] * b.shape[3]
    mean = s / count
    std = np.sqrt(np.maximum(ss / count - mean**2, 0.0))
    return NormStats(mean[..., None].astype(np.float32), np.maximum(std, eps)[..., None].astype(np.float32))
