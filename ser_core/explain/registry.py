"""The explainers' registry, their options and the two entry points.

Every explanation method is a function ``fn(x, *, model, target, **options)`` of one
normalised input ``x`` ``(C, F, T)`` returning a relevance map of the same shape,
registered with :func:`register_explainer` (:mod:`ser_core.explain.methods` fills it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError, UnknownNameError
from ..i18n import N_

__all__ = [
    "EXPLAINERS",
    "Explainer",
    "XAIOptions",
    "explain",
    "explain_all",
    "explainer_names",
    "get_explainer",
    "normalise",
    "predicted_class",
    "register_explainer",
]


# ------------------------------------------------------------------ options
@dataclass(frozen=True)
class XAIOptions:
    """Settings of the explainers and of the deletion test.

    Attributes
    ----------
    lime_samples : int
        Perturbed inputs LIME evaluates (its cost: one forward pass each).
    lime_segments : tuple of int
        ``(frequency bands, time segments)`` of LIME's grid of interpretable
        features (8 x 12 = 96 segments of 16 mel bins x 0.25 s by default).
    smoothgrad_samples : int
        Noisy copies SmoothGrad averages.
    smoothgrad_noise : float
        Noise standard deviation as a fraction of the input's range (max - min).
    lrp_epsilon : float
        Stabiliser of the LRP-epsilon rule of dense layers.
    deletion_steps : int
        The deletion curve removes ``1/steps`` of the bins per step (10 % and
        20 % are always added to the grid).
    baseline : float
        Value of a removed bin in the *normalised* input (0: the training mean).
    batch_size : int
        Inputs per forward pass (LIME, SmoothGrad, deletion).
    seed : int
        Seed of LIME's samples, SmoothGrad's noise and the random ordering.
    """

    lime_samples: int = 256
    lime_segments: tuple[int, int] = (8, 12)
    smoothgrad_samples: int = 16
    smoothgrad_noise: float = 0.15
    lrp_epsilon: float = 1e-6
    deletion_steps: int = 20
    baseline: float = 0.0
    batch_size: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        for option in ("lime_samples", "smoothgrad_samples", "deletion_steps", "batch_size"):
            v = getattr(self, option)
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ConfigError(f"{option} must be a positive integer, got {v!r}")
        if self.lime_samples < 2:
            raise ConfigError(f"lime_samples must be at least 2, got {self.lime_samples!r}")
        seg = tuple(self.lime_segments)
        if len(seg) != 2 or any(int(s) < 1 for s in seg):
            raise ConfigError(f"lime_segments must be two positive integers, got {self.lime_segments!r}")
        object.__setattr__(self, "lime_segments", (int(seg[0]), int(seg[1])))
        if not (self.smoothgrad_noise >= 0 and np.isfinite(self.smoothgrad_noise)):
            raise ConfigError(f"smoothgrad_noise must be >= 0, got {self.smoothgrad_noise!r}")
        if not (self.lrp_epsilon >= 0 and np.isfinite(self.lrp_epsilon)):
            raise ConfigError(f"lrp_epsilon must be >= 0, got {self.lrp_epsilon!r}")
        if not np.isfinite(self.baseline):
            raise ConfigError(f"baseline must be finite, got {self.baseline!r}")

    def kwargs(self, method: str) -> dict:
        """Keyword options of one explainer (what :func:`explain` passes to it).

        Parameters
        ----------
        method : str
            An explainer name.

        Returns
        -------
        dict
            ``{}`` for Grad-CAM and for unknown names; LRP's ``epsilon``;
            SmoothGrad's and LIME's samples, noise or segments, batch size and seed.
        """
        return {
            "gradcam": {},
            "lrp": {"epsilon": self.lrp_epsilon},
            "smoothgrad": {
                "samples": self.smoothgrad_samples,
                "noise": self.smoothgrad_noise,
                "batch_size": self.batch_size,
                "seed": self.seed,
            },
            "lime": {
                "samples": self.lime_samples,
                "segments": self.lime_segments,
                "batch_size": self.batch_size,
                "seed": self.seed,
            },
        }.get(method, {})


# ------------------------------------------------------------------ registry
@dataclass(frozen=True)
class Explainer:
    """A registered explanation method.

    Attributes
    ----------
    name, title : str
    fn : callable
        ``fn(x, *, model, target, **options) -> np.ndarray`` of ``x``'s shape.
    signed : bool
        Whether the map has meaningful negative values (evidence against).
    description : str
    available : callable, optional
        ``available(model) -> bool``: whether the method can explain that network
        (L-MAC needs a decoder trained on it); None: every network.
    mask : bool
        The map is itself a mask in 0..1 (gains), so it can be played as it is
        (:func:`~ser_core.explain.listen` with ``top_k=None``).
    """

    name: str
    title: str
    fn: Callable[..., np.ndarray]
    signed: bool
    description: str = ""
    available: Callable[[nn.Module], bool] | None = None
    mask: bool = False

    def explains(self, model: nn.Module) -> bool:
        """Whether this method can explain ``model``."""
        return self.available is None or bool(self.available(model))


EXPLAINERS: dict[str, Explainer] = {}


def register_explainer(
    method: str,
    *,
    title: str,
    signed: bool = True,
    description: str = "",
    available: Callable[[nn.Module], bool] | None = None,
    mask: bool = False,
) -> Callable:
    """Function decorator adding an explainer to :data:`EXPLAINERS`.

    Parameters
    ----------
    method : str
        Registry key.
    title : str
        Human-readable name.
    signed : bool
        Whether the maps have meaningful negative values.
    description : str
        One line for the app; default the first line of the function's docstring.
    available : callable, optional
        ``available(model) -> bool`` for a method that cannot explain every network.
    mask : bool
        Whether the maps are masks in 0..1 that can be played as they are.

    Returns
    -------
    callable
        The decorator; it registers ``fn(x, *, model, target, **options)`` and
        returns it unchanged.
    """

    def deco(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        doc = description or (fn.__doc__ or "").strip().split("\n")[0]
        EXPLAINERS[method] = Explainer(method, title, fn, signed, doc, available, mask)
        return fn

    return deco


def explainer_names(*, model: nn.Module | None = None) -> tuple[str, ...]:
    """Registered explainer names, in registration order.

    Parameters
    ----------
    model : nn.Module, optional
        Only the methods that can explain this network (:meth:`Explainer.explains`).

    Returns
    -------
    tuple of str
    """
    return tuple(k for k, ex in EXPLAINERS.items() if model is None or ex.explains(model))


def get_explainer(method: str) -> Explainer:
    """The registered explainer ``method``.

    Parameters
    ----------
    method : str
        A name in :data:`EXPLAINERS`.

    Returns
    -------
    Explainer

    Raises
    ------
    UnknownNameError
        If no explainer has that name.
    """
    try:
        return EXPLAINERS[method]
    except KeyError:
        raise UnknownNameError(
            N_("unknown explainer {method!r}; choose one of: {known}"),
            method=method,
            known=", ".join(EXPLAINERS),
        ) from None


# ------------------------------------------------------------------ helpers
def _check_input(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 3:
        raise ConfigError(f"explanations need one input of shape (C, F, T), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ConfigError("the model input contains NaN or infinite values")
    return x


def _tensor(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x, np.float32))[None]


def _check_target(target: int | None, model: nn.Module, xt: torch.Tensor) -> int:
    if target is None:
        with torch.no_grad():
            return int(model(xt).argmax(1)[0])
    t = int(target)
    n = _n_classes(model, xt)
    if not 0 <= t < n:
        raise ConfigError(f"target class {target!r} out of range 0..{n - 1}")
    return t


def _n_classes(model: nn.Module, xt: torch.Tensor) -> int:
    for m in reversed(list(model.modules())):
        if isinstance(m, nn.Linear):
            return m.out_features
    with torch.no_grad():
        return int(model(xt).shape[1])


def predicted_class(x: np.ndarray, *, model: nn.Module) -> int:
    """Index of the largest logit of one input.

    Parameters
    ----------
    x : np.ndarray, shape (C, F, T)
        Normalised model input.
    model : nn.Module
        The network (logits out).

    Returns
    -------
    int

    Raises
    ------
    ConfigError
        If ``x`` is not 3-D or holds NaN or infinite values.
    """
    with torch.no_grad():
        return int(model(_tensor(_check_input(x))).argmax(1)[0])


def normalise(relevance: np.ndarray, *, percentile: float = 100.0) -> np.ndarray:
    """Scale a map for display.

    Divides by a percentile of ``|relevance|`` (default the largest; the
    largest again when that percentile is 0) and clips, so signed maps lie in
    [-1, 1] and non-negative ones in [0, 1]; a zero map stays zero.

    Parameters
    ----------
    relevance : np.ndarray, any shape
        A relevance map (NaN counts as 0).
    percentile : float
        ``99.5`` keeps a few extreme bins from washing out the rest.

    Returns
    -------
    np.ndarray, float32, shape of ``relevance``
    """
    r = np.nan_to_num(np.asarray(relevance, dtype=np.float32))
    peak = float(np.percentile(np.abs(r), percentile)) if r.size else 0.0
    if peak <= 0:
        peak = float(np.max(np.abs(r))) if r.size else 0.0
    return np.clip(r / peak, -1.0, 1.0) if peak > 0 else np.zeros_like(r)


def _order(relevance: np.ndarray, seed: int) -> np.ndarray:
    """Flat bin indices, most relevant first; ties (segments, upsampling) in random order."""
    r = np.nan_to_num(np.asarray(relevance, dtype=np.float64).ravel(), nan=-np.inf)
    tie = np.random.default_rng(seed + 1).random(r.size)
    return np.lexsort((tie, -r))


# ------------------------------------------------------------------ entry points
def explain(
    x: np.ndarray,
    method: str,
    *,
    model: nn.Module,
    target: int | None = None,
    options: XAIOptions = XAIOptions(),
) -> np.ndarray:
    """Relevance map of ``x`` ``(C, F, T)`` by one registered method (same shape, finite).

    Parameters
    ----------
    x : np.ndarray, shape (C, F, T)
        Normalised model input.
    method : str
        A name in :data:`EXPLAINERS`.
    model : nn.Module
        In eval mode.
    target : int, optional
        Class to explain (default: the predicted one).
    options : XAIOptions
        The method's settings (:meth:`XAIOptions.kwargs`).

    Returns
    -------
    np.ndarray, float32, shape (C, F, T)
        Finite (NaN and infinities set to 0).

    Raises
    ------
    UnknownNameError
        If ``method`` is not registered.
    ConfigError
        If ``x`` is not a finite ``(C, F, T)`` array, ``target`` is out of
        range, or the model does not suit the method.
    """
    ex = get_explainer(method)
    x = _check_input(x)
    model.eval()
    if target is None:
        target = predicted_class(x, model=model)
    m = ex.fn(x, model=model, target=target, **options.kwargs(method))
    return np.nan_to_num(np.asarray(m, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)


def explain_all(
    x: np.ndarray,
    *,
    model: nn.Module,
    target: int | None = None,
    methods: Iterable[str] | None = None,
    options: XAIOptions = XAIOptions(),
) -> dict[str, np.ndarray]:
    """Relevance maps of one input by several methods, for the same class.

    Parameters
    ----------
    x : np.ndarray, shape (C, F, T)
        Normalised model input.
    model : nn.Module
        The network.
    target : int, optional
        Class to explain (default: the predicted one).
    methods : iterable of str, optional
        Explainer names (default: every one of :data:`EXPLAINERS` that explains ``model``).
    options : XAIOptions
        The methods' settings.

    Returns
    -------
    dict of str -> np.ndarray, float32, shape (C, F, T)

    Raises
    ------
    UnknownNameError
        If a method is not registered.
    ConfigError
        As :func:`explain`.
    """
    if target is None:
        target = predicted_class(x, model=model)
    names = methods or explainer_names(model=model)
    return {m: explain(x, m, model=model, target=target, options=options) for m in names}
