"""The explanation methods: Grad-CAM, LRP, SmoothGrad and LIME, and listening to a map.

Each is registered in :data:`ser_core.explain.EXPLAINERS` (in this order) and maps a
normalised model input ``(C, F, T)`` to a relevance map of the same shape.
"""

from __future__ import annotations

import copy
import threading
import weakref
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .. import features
from ..config import DEFAULT_CONFIG, FeatureConfig
from ..errors import ConfigError
from ..sonify import masked_audio, mel_to_audio
from .lrp import lrp
from .registry import _check_input, _check_target, _order, _tensor, register_explainer

__all__ = [
    "PHASES",
    "gradcam",
    "gradcam_layer",
    "lime",
    "listen",
    "lrp",
    "smoothgrad",
    "time_frequency_segments",
    "top_k_mask",
]


# ------------------------------------------------------------------ Grad-CAM
_OWN = threading.local()


def _own_copy(model: nn.Module) -> nn.Module:
    """This thread's copy of ``model``, made once per network and thread.

    Grad-CAM hooks a layer to keep its activations, and a hook on a network that sessions
    share (a cached model) fires in every thread's forward pass: another session's
    prediction would replace the activations this one differentiates.  The copy shares
    the network's parameters (a forward pass never changes them), so it costs only its
    modules and buffers; it is weakly keyed by the network, so it goes when the network does.
    """
    copies = getattr(_OWN, "copies", None)
    if copies is None:
        copies = _OWN.copies = weakref.WeakKeyDictionary()
    own = copies.get(model)
    if own is None:
        own = copies[model] = copy.deepcopy(model, {id(p): p for p in model.parameters()}).eval()
    return own


def gradcam_layer(model: nn.Module) -> nn.Module:
    """The last convolutional block of a model (``layer4`` of ResNets, else ``body``).

    Parameters
    ----------
    model : nn.Module
        A feature model.

    Returns
    -------
    nn.Module
        The block Grad-CAM reads.

    Raises
    ------
    ConfigError
        The model has neither (waveform and frame models are not explained).
    """
    for attr in ("layer4", "body"):
        layer = getattr(model, attr, None)
        if isinstance(layer, nn.Module):
            return layer
    raise ConfigError(
        f"Grad-CAM needs a convolutional model with `layer4` or `body`; {type(model).__name__} has neither"
    )


@register_explainer(
    "gradcam",
    title="Grad-CAM",
    signed=False,
    description="class-weighted activations of the last convolutional block, "
    "upsampled (coarse, positive evidence only)",
)
def gradcam(x: np.ndarray, *, model: nn.Module, target: int | None = None) -> np.ndarray:
    """Grad-CAM map, shape ``(C, F, T)`` like ``x`` (the same map on every channel).

    Parameters
    ----------
    x : np.ndarray, shape (C, F, T)
        Normalised model input.
    model : nn.Module
        In eval mode, with a :func:`gradcam_layer`.
    target : int, optional
        Class to explain (default: the predicted one).

    Returns
    -------
    np.ndarray, float32, shape (C, F, T)
        Non-negative (ReLU'd), bilinearly upsampled to ``(F, T)``.

    Raises
    ------
    ConfigError
        If ``x`` is not a finite ``(C, F, T)`` array, ``target`` is out of
        range, or the model has no :func:`gradcam_layer`.
    """
    from captum.attr import LayerAttribution, LayerGradCam  # optional heavy dependency

    x = _check_input(x)
    xt = _tensor(x)
    target = _check_target(target, model, xt)
    gradcam_layer(model)  # its ConfigError before the copy
    own = _own_copy(model)  # hooked below: never the network other threads run
    cam = LayerGradCam(own, gradcam_layer(own)).attribute(xt, target=target, relu_attributions=True)
    up = LayerAttribution.interpolate(cam.detach(), x.shape[1:], interpolate_mode="bilinear")
    return np.broadcast_to(up[0, :1].numpy(), x.shape).astype(np.float32).copy()


register_explainer(
    "lrp",
    title="LRP",
    signed=True,
    description="layer-wise relevance propagation (z^B input layer, z+ "
    "convolutions, epsilon dense layer, proportional residual "
    "split); sums to the logit",
)(lrp)


# ------------------------------------------------------------------ SmoothGrad
@register_explainer(
    "smoothgrad",
    title="SmoothGrad",
    signed=False,
    description="absolute input gradient averaged over noisy copies (fine-grained, unsigned)",
)
def smoothgrad(
    x: np.ndarray,
    *,
    model: nn.Module,
    target: int | None = None,
    samples: int = 16,
    noise: float = 0.15,
    batch_size: int = 32,
    seed: int = 0,
) -> np.ndarray:
    """SmoothGrad map: mean ``|d logit / d x|`` over noisy copies of ``x``.

    Parameters
    ----------
    x : np.ndarray, shape (C, F, T)
        Normalised model input.
    model : nn.Module
        In eval mode.
    target : int, optional
        Class whose logit is differentiated (default: the predicted one).
    samples : int
        Noisy copies averaged.
    noise : float
        Gaussian noise std as a fraction of ``max(x) - min(x)``.
    batch_size : int
        Copies per forward pass (at most ``samples``).
    seed : int
        Seed of the noise (the global torch RNG is left as it was).

    Returns
    -------
    np.ndarray, float32, shape (C, F, T)
        Non-negative.

    Raises
    ------
    ConfigError
        If ``x`` is not a finite ``(C, F, T)`` array or ``target`` is out of range.
    """
    from captum.attr import NoiseTunnel, Saliency  # optional heavy dependency

    x = _check_input(x)
    xt = _tensor(x)
    target = _check_target(target, model, xt)
    sd = float(noise * (x.max() - x.min()))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        att = NoiseTunnel(Saliency(model)).attribute(
            xt,
            nt_type="smoothgrad",
            nt_samples=samples,
            stdevs=sd,
            target=target,
            nt_samples_batch_size=min(samples, batch_size),
        )
    return att[0].detach().numpy().astype(np.float32)


# ------------------------------------------------------------------ LIME
def time_frequency_segments(shape: Sequence[int], segments: tuple[int, int]) -> np.ndarray:
    """Segment id of every bin of an input: a grid of rectangles shared by all channels.

    Parameters
    ----------
    shape : sequence of int
        ``(C, F, T)`` of the input.
    segments : tuple of int
        ``(bands, times)``; each is capped at ``F`` and ``T``.

    Returns
    -------
    np.ndarray, int64, shape (C, F, T)
        Ids ``0 .. bands * times - 1``, row-major over (band, time).
    """
    _, f, t = shape
    nb, nt = min(segments[0], f), min(segments[1], t)
    rows = np.minimum(np.arange(f) * nb // f, nb - 1)
    cols = np.minimum(np.arange(t) * nt // t, nt - 1)
    grid = rows[:, None] * nt + cols[None, :]
    return np.broadcast_to(grid, tuple(shape)).astype(np.int64).copy()


@register_explainer(
    "lime",
    title="LIME",
    signed=True,
    description="weights of a ridge surrogate over on/off time-frequency segments (probability units)",
)
def lime(
    x: np.ndarray,
    *,
    model: nn.Module,
    target: int | None = None,
    samples: int = 256,
    segments: tuple[int, int] = (8, 12),
    baseline: float = 0.0,
    batch_size: int = 32,
    seed: int = 0,
) -> np.ndarray:
    """LIME map ``(C, F, T)``: every bin carries its segment's surrogate weight.

    Segments are switched off by setting them to ``baseline`` (0 = training mean);
    the surrogate (ridge regression, exponential cosine kernel) explains the
    target's softmax probability.

    Parameters
    ----------
    x : np.ndarray, shape (C, F, T)
        Normalised model input.
    model : nn.Module
        In eval mode.
    target : int, optional
        Class to explain (default: the predicted one).
    samples : int
        Perturbed inputs evaluated.
    segments : tuple of int
        ``(bands, times)`` of the grid (:func:`time_frequency_segments`).
    baseline : float
        Value of a switched-off segment in the normalised input.
    batch_size : int
        Perturbed inputs per forward pass.
    seed : int
        Seed of the samples (the global torch RNG is left as it was).

    Returns
    -------
    np.ndarray, float32, shape (C, F, T)
        Signed, in probability units; constant within each segment.

    Raises
    ------
    ConfigError
        If ``x`` is not a finite ``(C, F, T)`` array or ``target`` is out of range.
    """
    from captum._utils.models.linear_model import SkLearnRidge  # optional heavy dependency
    from captum.attr import Lime  # optional heavy dependency

    x = _check_input(x)
    xt = _tensor(x)
    target = _check_target(target, model, xt)
    mask = torch.from_numpy(time_frequency_segments(x.shape, segments))[None]

    def forward(inp: torch.Tensor) -> torch.Tensor:
        return torch.softmax(model(inp), dim=1)

    explainer = Lime(forward, interpretable_model=SkLearnRidge(alpha=1.0))
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        att = explainer.attribute(
            xt,
            target=target,
            baselines=float(baseline),
            feature_mask=mask,
            n_samples=samples,
            perturbations_per_eval=batch_size,
        )
    return att[0].detach().numpy().astype(np.float32)


# ------------------------------------------------------------------ listening
def top_k_mask(relevance: np.ndarray, k: float, *, seed: int = 0) -> np.ndarray:
    """Mask of the most relevant time-frequency bins (channels summed first).

    Parameters
    ----------
    relevance : np.ndarray, shape (C, F, T) or (F, T)
        A relevance map.
    k : float
        Fraction of the bins kept, 0 to 1.
    seed : int
        Breaks ties between equally relevant bins at random.

    Returns
    -------
    np.ndarray, bool, shape (F, T)

    Raises
    ------
    ConfigError
        If ``k`` is outside 0..1.
    """
    if not 0 <= k <= 1:
        raise ConfigError(f"top-k fraction must be within 0..1, got {k!r}")
    r = np.asarray(relevance, dtype=np.float64)
    r = r.sum(0) if r.ndim == 3 else r
    mask = np.zeros(r.size, bool)
    mask[_order(r, seed)[: round(k * r.size)]] = True
    return mask.reshape(r.shape)


#: How :func:`listen` gets a phase: the clip's own (the default), or Griffin-Lim's guess.
PHASES = ("original", "griffin-lim")


def listen(
    y: np.ndarray,
    relevance: np.ndarray,
    *,
    top_k: float | None = 0.2,
    phase: str = "original",
    cfg: FeatureConfig = DEFAULT_CONFIG,
    n_iter: int = 32,
) -> np.ndarray:
    """Audio of only the top-``k`` bins of a map.

    ``phase="original"`` masks the clip's complex STFT and keeps its own phase
    (:func:`ser_core.sonify.masked_audio`): with ``top_k=1`` it is the clip itself.
    ``phase="griffin-lim"`` sets the other bins of the log-mel to the silence floor
    and guesses a phase (:func:`ser_core.sonify.mel_to_audio`): metallic even with
    every bin, so compare it with its own all-bins reconstruction.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        The clip at ``cfg.sr`` (or the model's window of it, already cut).
    relevance : np.ndarray, shape (1, n_mels, frames) or (n_mels, frames)
        A relevance map of the clip's ``mel`` model input.
    top_k : float or None
        Fraction of bins kept; None plays the map itself as a soft mask (its values,
        in 0..1, are the gains: an L-MAC mask as trained), with the original phase only.
    phase : {"original", "griffin-lim"}
        Where the phase comes from (:data:`PHASES`).
    cfg : FeatureConfig
        The model's front end.
    n_iter : int
        Griffin-Lim iterations (``phase="griffin-lim"`` only).

    Returns
    -------
    np.ndarray, shape (cfg.n_samples,), float32 at ``cfg.sr``

    Raises
    ------
    ConfigError
        If ``top_k`` is outside 0..1, ``phase`` is unknown, or the map and the
        clip's spectrogram differ in shape.
    """
    if phase not in PHASES:
        raise ConfigError(f"phase must be one of {PHASES}, got {phase!r}")
    if top_k is None:
        if phase != "original":
            raise ConfigError(f"a soft mask plays with the original phase only, not {phase!r}")
        soft = np.asarray(relevance, dtype=np.float64)
        return masked_audio(y, soft.mean(0) if soft.ndim == 3 else soft, cfg=cfg)
    mask = top_k_mask(relevance, top_k)
    if mask.shape != (cfg.n_mels, cfg.n_frames):
        raise ConfigError(
            f"relevance {mask.shape} and spectrogram {(cfg.n_mels, cfg.n_frames)} differ in shape"
        )
    if phase == "original":
        return masked_audio(y, mask, cfg=cfg)
    log_mel = features.compute(np.asarray(y, dtype=np.float32), "mel", cfg=cfg)[0]
    return mel_to_audio(log_mel, cfg=cfg, mask=mask, n_iter=n_iter)
