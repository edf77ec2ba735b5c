"""The registry of representations: what a representation is, how one is registered,
looked up (voice-warped names included), computed and shaped."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np

from ..config import DEFAULT_CONFIG, FeatureConfig
from ..errors import ConfigError, ShapeError, UnknownNameError
from .frontend import Frontend, _finish

__all__ = [
    "FEATURE_VERSION",
    "REGISTRY",
    "WARP_MARK",
    "WARP_RANGE",
    "Representation",
    "compute",
    "compute_all",
    "get",
    "names",
    "output_shape",
    "register",
    "warp_features",
    "warp_frequencies",
    "warpable",
    "warped_name",
]

#: Bump when a representation's code changes meaning: invalidates every cache.
FEATURE_VERSION = "1"


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
        """Centre frequency (Hz) of each bin.

        Parameters
        ----------
        cfg : FeatureConfig
            The feature configuration the bins come from.

        Returns
        -------
        np.ndarray, float64, shape (bins,), or None
            ``None`` when the bins are not frequencies (no ``bin_hz``).
        """
        return None if self.bin_hz is None else np.asarray(self.bin_hz(cfg), dtype=np.float64)

    def cache_key(self, cfg: FeatureConfig = DEFAULT_CONFIG) -> str:
        """Hash of this representation's parameters (keys the feature cache).

        Parameters
        ----------
        cfg : FeatureConfig
            Only the fields in :attr:`depends` enter the hash, salted with the
            name and :data:`FEATURE_VERSION`.

        Returns
        -------
        str
            Hex digest.
        """
        return cfg.digest(self.depends, salt=f"{self.name}/v{FEATURE_VERSION}")

    def params(self, cfg: FeatureConfig = DEFAULT_CONFIG) -> dict:
        """The config values this representation depends on.

        Parameters
        ----------
        cfg : FeatureConfig
            The configuration to read the values from.

        Returns
        -------
        dict
            Field name -> value for the fields in :attr:`depends`, sorted by name.
        """
        return cfg.subset(self.depends)

    def __call__(self, y: np.ndarray, *, cfg: FeatureConfig = DEFAULT_CONFIG) -> np.ndarray:
        return _finish(self.fn(Frontend(y, cfg=cfg)))


REGISTRY: dict[str, Representation] = {}


def register(
    representation: str,
    *,
    title: str,
    family: str,
    depends: Iterable[str],
    y_label: str = "bin",
    unit: str = "",
    channels: tuple[str, ...] = ("",),
    description: str = "",
    bin_hz: Callable[[FeatureConfig], np.ndarray] | None = None,
    from_log_mel: Callable[[np.ndarray, FeatureConfig], np.ndarray] | None = None,
) -> Callable[[Callable[[Frontend], np.ndarray]], Callable[[Frontend], np.ndarray]]:
    """Decorator adding ``fn(frontend) -> array`` to :data:`REGISTRY`.

    The fields are those of :class:`Representation`; without a ``description`` the first
    line of ``fn``'s docstring is used.  Text people read (``title``, ``y_label``, ``unit``,
    ``channels``, ``description``) is marked with :func:`ser_core.i18n.N_` and translated
    where it is shown.

    Parameters
    ----------
    representation : str
        Registry key.
    title : str
        Human-readable name.
    family : {"spectral", "temporal", "harmonic", "energy"}
        Selects the augmentations that make sense for it.
    depends : iterable of str
        The :class:`FeatureConfig` fields it depends on.
    y_label, unit : str
        Meaning of the bin axis and unit of the values (for plots).
    channels : tuple of str
        Channel names, one per output channel.
    description : str, optional
        One sentence for the docs and the app.
    bin_hz : callable, optional
        ``bin_hz(cfg) -> np.ndarray, shape (bins,)``, when bins are frequencies.
    from_log_mel : callable, optional
        ``from_log_mel(log_mel, cfg) -> np.ndarray``, when computed from the log-mel.

    Returns
    -------
    callable
        The decorator; it registers ``fn`` and returns it unchanged.

    Raises
    ------
    ConfigError
        If ``family`` is not one of the four families.
    """
    if family not in ("spectral", "temporal", "harmonic", "energy"):
        raise ConfigError(f"unknown family {family!r}; use spectral, temporal, harmonic or energy")

    def deco(fn: Callable[[Frontend], np.ndarray]) -> Callable[[Frontend], np.ndarray]:
        doc = description or (fn.__doc__ or "").strip().split("\n")[0]
        REGISTRY[representation] = Representation(
            representation,
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


def names() -> tuple[str, ...]:
    """Registered representation names, in registration order.

    Returns
    -------
    tuple of str
        The keys of :data:`REGISTRY` (no warped names).
    """
    return tuple(REGISTRY)


def get(representation: str) -> Representation:
    """Look a representation up by name.

    ``"<name>@<alpha>"`` (:func:`warped_name`) is ``representation`` of
    the voice with every frequency scaled by ``alpha`` (:func:`warp_features`).

    Parameters
    ----------
    representation : str
        A registry name, or a warped name ``"<name>@<alpha>"``.

    Returns
    -------
    Representation

    Raises
    ------
    UnknownNameError
        If ``representation`` is not registered, or is a warped name whose base is not
        :func:`warpable` or whose factor is outside :data:`WARP_RANGE`.
    """
    if WARP_MARK in representation:
        return _warped_representation(representation)
    try:
        return REGISTRY[representation]
    except KeyError:
        raise UnknownNameError(
            f"unknown representation {representation!r}; choose one of: {', '.join(REGISTRY)}"
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
        A spectrogram whose bins are frequencies (leading axes: channels, clips).
    hz : np.ndarray, shape (bins,)
        Centre frequency of each bin, increasing.
    alpha : float
        The factor (> 0; 1 leaves ``x`` as it is).

    Returns
    -------
    np.ndarray, same shape and dtype as ``x``

    Raises
    ------
    ValueError
        If ``hz`` does not have one frequency per bin of ``x``.
    """
    hz = np.asarray(hz, dtype=np.float64)
    if x.shape[-2] != len(hz):
        raise ShapeError(f"{len(hz)} bin frequencies for an input of {x.shape[-2]} bins")
    src = np.interp(hz / alpha, hz, np.arange(len(hz)))
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, len(hz) - 1)
    w = (src - lo).astype(x.dtype)[:, None]
    return x[..., lo, :] * (1 - w) + x[..., hi, :] * w


def warpable(representation: str) -> bool:
    """Whether a voice warp reaches ``representation``.

    Parameters
    ----------
    representation : str
        A registry name (a warped or unknown name gives ``False``).

    Returns
    -------
    bool
        True when its bins are frequencies or it is computed from the log-mel.
    """
    spec = REGISTRY.get(representation)
    return spec is not None and (spec.bin_hz is not None or spec.from_log_mel is not None)


def warped_name(representation: str, alpha: float) -> str:
    """The name of ``representation`` of a voice warped by ``alpha``.

    Parameters
    ----------
    representation : str
        A :func:`warpable` representation.
    alpha : float
        The warp factor, written with ``%g``.

    Returns
    -------
    str
        ``"<name>@<alpha>"``, e.g. ``"mel@0.92"``.
    """
    return f"{representation}{WARP_MARK}{alpha:g}"


def warp_features(
    x: np.ndarray | None,
    *,
    representation: str,
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
    representation : str
        A :func:`warpable` representation.
    alpha : float
        The warp factor.
    log_mel : np.ndarray, shape (..., 1, n_mels, T), optional
        The log-mel, for one computed from it (MFCC, delta-MFCC): the log-mel
        is warped and the representation recomputed.
    cfg : FeatureConfig
        Gives the bin frequencies and the recomputation's parameters.

    Returns
    -------
    np.ndarray, float32, shape of the representation ``(..., C, F, T)``

    Raises
    ------
    UnknownNameError
        If ``representation`` is unknown or has no frequency axis to warp.
    ValueError
        If the input the warp needs (``x`` or ``log_mel``) is ``None``, or
        its bins do not match the representation's.
    """
    spec = get(representation)
    if spec.bin_hz is not None:
        if x is None:
            raise ConfigError(f"warping {representation!r} needs its features, got x=None")
        return warp_frequencies(np.asarray(x, np.float32), hz=spec.frequencies(cfg), alpha=alpha)
    if spec.from_log_mel is None:
        raise UnknownNameError(
            f"{representation!r} has no frequency axis to warp; warpable: "
            f"{', '.join(n for n in REGISTRY if warpable(n))}"
        )
    if log_mel is None:
        raise ConfigError(
            f"warping {representation!r} needs the log-mel it is computed from, got log_mel=None"
        )
    lm = warp_frequencies(np.asarray(log_mel, np.float32), hz=REGISTRY["mel"].frequencies(cfg), alpha=alpha)
    return np.asarray(spec.from_log_mel(lm, cfg), np.float32)


def _warped_representation(representation: str) -> Representation:
    base, _, factor = representation.partition(WARP_MARK)
    try:
        alpha = float(factor)
    except ValueError:
        alpha = float("nan")
    lo, hi = WARP_RANGE
    if not warpable(base) or not lo <= alpha <= hi:
        raise UnknownNameError(
            f"unknown representation {representation!r}: a voice warp is <name>@<factor> with a factor in "
            f"[{lo:g}, {hi:g}] and one of: {', '.join(n for n in REGISTRY if warpable(n))}"
        )
    spec = REGISTRY[base]
    return replace(
        spec,
        name=representation,
        title=f"{spec.title}, voice ×{alpha:g}",
        fn=partial(_warped_fn, base=spec, alpha=alpha),
        description=f"{spec.description} Every frequency scaled by {alpha:g}.",
    )


def _warped_fn(fe: Frontend, *, base: Representation, alpha: float) -> np.ndarray:
    if base.bin_hz is not None:
        return warp_features(fe.output(base), representation=base.name, alpha=alpha, cfg=fe.cfg)
    return warp_features(None, representation=base.name, alpha=alpha, log_mel=fe.log_mel, cfg=fe.cfg)


def compute(y: np.ndarray, representation: str, *, cfg: FeatureConfig = DEFAULT_CONFIG) -> np.ndarray:
    """One representation of a waveform.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono waveform at ``cfg.sr`` (any length: padded/trimmed to ``cfg.duration``).
    representation : str
        Registry name (or warped name, :func:`get`).
    cfg : FeatureConfig
        Feature parameters.

    Returns
    -------
    np.ndarray, shape (channels, bins, cfg.n_frames), float32, finite

    Raises
    ------
    UnknownNameError
        If ``representation`` is not a representation.
    """
    return get(representation)(y, cfg=cfg)


def compute_all(
    y: np.ndarray, names_: Iterable[str] | None = None, *, cfg: FeatureConfig = DEFAULT_CONFIG
) -> dict[str, np.ndarray]:
    """Several representations of one waveform, sharing intermediate results.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono waveform at ``cfg.sr`` (padded/trimmed to ``cfg.duration``).
    names_ : iterable of str, optional
        Representation names; all of :data:`REGISTRY` when None or empty.
    cfg : FeatureConfig
        Feature parameters.

    Returns
    -------
    dict of representation -> np.ndarray, shape (channels, bins, cfg.n_frames), float32

    Raises
    ------
    UnknownNameError
        If a name is not a representation.
    """
    fe = Frontend(y, cfg=cfg)
    return {n: fe.output(get(n)) for n in (names_ or REGISTRY)}


_SHAPES: dict[tuple[str, FeatureConfig], tuple[int, int, int]] = {}


def output_shape(representation: str, *, cfg: FeatureConfig = DEFAULT_CONFIG) -> tuple[int, int, int]:
    """The shape of a representation under ``cfg`` (computed once on silence, then cached).

    Parameters
    ----------
    representation : str
        Registry name.
    cfg : FeatureConfig
        Feature parameters.

    Returns
    -------
    tuple of int
        ``(channels, bins, cfg.n_frames)``.

    Raises
    ------
    UnknownNameError
        If ``representation`` is not a representation.
    """
    key = (representation, cfg)
    if key not in _SHAPES:
        _SHAPES[key] = tuple(compute(np.zeros(cfg.n_samples, np.float32), representation, cfg=cfg).shape)
    return _SHAPES[key]
