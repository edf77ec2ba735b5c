"""Explanations of one prediction, scored by a deletion test, made audible.

Four explainers fill the registry :data:`EXPLAINERS`; each maps a normalised
model input ``x`` of shape ``(C, F, T)`` (channels, frequency bins, frames) to
a relevance map of the same shape for one output class:

==============  =============================================================
``gradcam``     Grad-CAM (captum ``LayerGradCam``) on the last convolutional
                block, ReLU'd, bilinearly upsampled to ``(F, T)``
``lrp``         Layer-wise relevance propagation on a copy of the network with
                batch norm folded into the convolutions (rules below); signed,
                sums to the explained logit
``smoothgrad``  SmoothGrad: absolute input gradient averaged over noisy copies
                (captum ``NoiseTunnel`` over ``Saliency``)
``lime``        LIME (captum ``Lime``, ridge surrogate) over a grid of
                time-frequency segments; signed, in probability units
==============  =============================================================

>>> loaded = models.load("resnet18_mel")
>>> maps = explain_all(x, model=loaded.module)               # predicted class
>>> curves = deletion_test(x, maps, model=loaded.module, temperature=loaded.temperature)
>>> curves["lrp"].auc, curves["lrp"].drop_at(0.1)

LRP rules
---------
The network is first turned into a chain of *units* that compute exactly the
same logits (checked by :func:`lrp_forward`): every ``Conv2d`` followed by a
``BatchNorm2d`` becomes one convolution with folded weights
``W * gamma / sqrt(var + eps)`` and bias ``beta - gamma * mean / sqrt(var + eps)``
(exact in eval mode).  Relevance starts as the explained logit and flows back:

* dense layers: **LRP-epsilon**, ``R_j = sum_k a_j w_jk / (z_k + eps sign z_k) R_k``
  with ``z_k = sum_j a_j w_jk`` (the bias is *not* a sink, so its share is
  redistributed in proportion to the contributions);
* convolutions on ReLU activations: **LRP-z+** (alpha=1, beta=0),
  ``R_j = sum_k a_j w_jk^+ / sum_j a_j w_jk^+ R_k`` (biases ignored);
* the first convolution, whose input (the normalised spectrogram) is signed:
  the **z^B** (bounded-input) rule with bounds ``l = min(x)``, ``h = max(x)``;
* residual sums ``out = relu(main + shortcut)``: the z+ rule applied to the
  addition, i.e. each branch receives the relevance in proportion to its
  positive part, ``R_main = main^+ / (main^+ + shortcut^+) R``;
* max pooling: winner takes all; average pooling: proportional (z rule);
  ReLU, dropout (eval), flatten: relevance passes unchanged;
* fallback: an output with relevance but no contributing input (``z = 0``,
  e.g. a neuron active through its folded bias only) spreads its relevance
  evenly over its receptive field (flat rule), so none is lost.

Every rule conserves relevance, so the map sums to the logit up to the dense
layer's epsilon share and float32 rounding: the tests allow 0.5 % of
``|logit|`` + 1e-4.

Deletion test
-------------
:func:`deletion_curve` "removes" the most relevant input bins first by setting
them to the **baseline 0 of the normalised input, i.e. the training-set mean**
of that frequency bin (the model's notion of "nothing unusual here"), in steps
up to 100 %, and records the class probability (temperature-calibrated
softmax).  Scores: the area under that curve (lower is better) and the
probability drop after removing 10 % and 20 % of the bins (higher is better).
A random ordering is the reference.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .errors import ConfigError, UnknownNameError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "EXPLAINERS",
    "XAI_EXPERIMENT",
    "DeletionCurve",
    "Explainer",
    "XAIOptions",
    "deletion_benchmark",
    "deletion_curve",
    "deletion_fractions",
    "deletion_table_path",
    "deletion_test",
    "evaluate_deletion",
    "explain",
    "explain_all",
    "explainer_names",
    "get_explainer",
    "gradcam_layer",
    "listen",
    "load_deletion_table",
    "lrp_forward",
    "normalise",
    "predicted_class",
    "random_relevance",
    "register_explainer",
    "save_deletion_table",
    "stratified_sample",
    "summarise_deletion",
    "time_frequency_segments",
    "top_k_mask",
]

#: Fraction of bins removed at which the probability drop is reported.
DROP_AT = (0.1, 0.2)


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
        for name in ("lime_samples", "smoothgrad_samples", "deletion_steps", "batch_size"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ConfigError(f"{name} must be a positive integer, got {v!r}")
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
        """Keyword options of one explainer (``explain``'s ``**options``)."""
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
    """

    name: str
    title: str
    fn: Callable[..., np.ndarray]
    signed: bool
    description: str = ""


EXPLAINERS: dict[str, Explainer] = {}


def register_explainer(name: str, *, title: str, signed: bool = True, description: str = "") -> Callable:
    """Function decorator adding an explainer to :data:`EXPLAINERS`."""

    def deco(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        doc = description or (fn.__doc__ or "").strip().split("\n")[0]
        EXPLAINERS[name] = Explainer(name, title, fn, signed, doc)
        return fn

    return deco


def explainer_names() -> tuple[str, ...]:
    return tuple(EXPLAINERS)


def get_explainer(name: str) -> Explainer:
    """The registered explainer ``name`` (raises :class:`UnknownNameError`)."""
    try:
        return EXPLAINERS[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown explainer {name!r}; choose one of: {', '.join(EXPLAINERS)}"
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
    """Index of the largest logit of one input ``(C, F, T)``."""
    with torch.no_grad():
        return int(model(_tensor(_check_input(x))).argmax(1)[0])


def normalise(relevance: np.ndarray, *, percentile: float = 100.0) -> np.ndarray:
    """Scale a map for display: divide by a percentile of ``|relevance|`` (default the
    largest) and clip, so signed maps lie in [-1, 1] and non-negative ones in [0, 1]
    (a zero map stays zero), float32.  ``percentile=99.5`` keeps a few extreme bins
    from washing out the rest."""
    r = np.nan_to_num(np.asarray(relevance, dtype=np.float32))
    peak = float(np.percentile(np.abs(r), percentile)) if r.size else 0.0
    if peak <= 0:
        peak = float(np.max(np.abs(r))) if r.size else 0.0
    return np.clip(r / peak, -1.0, 1.0) if peak > 0 else np.zeros_like(r)


def _probabilities(
    model: nn.Module, batch: np.ndarray, *, temperature: float = 1.0, batch_size: int = 32
) -> np.ndarray:
    out = []
    with torch.no_grad():
        for i in range(0, len(batch), batch_size):
            logits = model(torch.from_numpy(np.ascontiguousarray(batch[i : i + batch_size])))
            out.append(torch.softmax(logits / temperature, dim=1).numpy())
    return np.concatenate(out)


# ------------------------------------------------------------------ Grad-CAM
def gradcam_layer(model: nn.Module) -> nn.Module:
    """The last convolutional block of a model (``layer4`` of ResNets, else ``body``).

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
    """
    from captum.attr import LayerAttribution, LayerGradCam

    x = _check_input(x)
    xt = _tensor(x)
    target = _check_target(target, model, xt)
    cam = LayerGradCam(model, gradcam_layer(model)).attribute(xt, target=target, relu_attributions=True)
    up = LayerAttribution.interpolate(cam.detach(), x.shape[1:], interpolate_mode="bilinear")
    return np.broadcast_to(up[0, :1].numpy(), x.shape).astype(np.float32).copy()


# ------------------------------------------------------------------ LRP
class _Unit:
    """One step of the LRP chain: ``forward`` stores what ``relprop`` needs."""

    def forward(self, a: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def relprop(self, r: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError


def _safe_div(r: torch.Tensor, z: torch.Tensor, eps: float = 1e-9) -> torch.Tensor:
    """``r / z`` with ``z`` stabilised away from 0 (and 0 where ``z`` is exactly 0)."""
    return torch.where(z == 0, torch.zeros_like(r), r / (z + eps * torch.sign(z)))


class _Pass(_Unit):
    """ReLU, dropout (eval), identity: relevance passes unchanged."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module

    def forward(self, a):
        return self.module(a)

    def relprop(self, r):
        return r


class _Flatten(_Unit):
    def forward(self, a):
        self.shape = a.shape
        return a.flatten(1)

    def relprop(self, r):
        return r.reshape(self.shape)


class _Pool(_Unit):
    """Max pooling: winner takes all; average pooling: the z rule (a >= 0)."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        self.is_max = isinstance(module, (nn.MaxPool1d, nn.MaxPool2d))

    def forward(self, a):
        self.a = a
        return self.module(a)

    def relprop(self, r):
        a = self.a.detach().requires_grad_(True)
        with torch.enable_grad():
            z = self.module(a)
            if self.is_max:
                (g,) = torch.autograd.grad(z, a, r)
                return g
            (g,) = torch.autograd.grad(z, a, _safe_div(r, z))
        return a.detach() * g


class _Weighted(_Unit):
    """A convolution or dense layer (batch norm folded in) with its LRP rule."""

    def __init__(
        self, layer: nn.Module, weight: torch.Tensor, bias: torch.Tensor | None, rule: str, eps: float
    ) -> None:
        self.layer, self.weight, self.bias, self.rule, self.eps = layer, weight, bias, rule, eps

    def _apply(self, a: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        if isinstance(self.layer, nn.Linear):
            return F.linear(a, w, b)
        L = self.layer
        return F.conv2d(a, w, b, L.stride, L.padding, L.dilation, L.groups)

    def forward(self, a):
        self.a = a
        return self._apply(a, self.weight, self.bias)

    def relprop(self, r):
        a = self.a.detach()
        with torch.enable_grad():
            if self.rule == "zb":
                lo = torch.full_like(a, float(a.min())).requires_grad_(True)
                hi = torch.full_like(a, float(a.max())).requires_grad_(True)
                x = a.clone().requires_grad_(True)
                wp, wn = self.weight.clamp(min=0), self.weight.clamp(max=0)
                z = self._apply(x, self.weight, None) - self._apply(lo, wp, None) - self._apply(hi, wn, None)
                gx, gl, gh = torch.autograd.grad(z, (x, lo, hi), _safe_div(r, z))
                return (
                    x.detach() * gx
                    + lo.detach() * gl
                    + hi.detach() * gh
                    + self._flat(a, torch.where(z == 0, r, torch.zeros_like(r)))
                )
            x = a.clone().requires_grad_(True)
            if self.rule == "zplus":
                z = self._apply(x, self.weight.clamp(min=0), None)
                (g,) = torch.autograd.grad(z, x, _safe_div(r, z))
            else:  # epsilon
                z = self._apply(x, self.weight, None)
                s = torch.where(
                    z == 0, torch.zeros_like(r), r / (z + self.eps * torch.where(z >= 0, 1.0, -1.0))
                )
                (g,) = torch.autograd.grad(z, x, s)
        return a * g + self._flat(a, torch.where(z == 0, r, torch.zeros_like(r)))

    def _flat(self, a: torch.Tensor, rest: torch.Tensor) -> torch.Tensor:
        """Flat-rule fallback: relevance of outputs no input contributes to (``z = 0``)
        is spread evenly over their receptive field, so none is lost."""
        if not bool(rest.any()):
            return torch.zeros_like(a)
        ones = torch.ones_like(a).requires_grad_(True)
        with torch.enable_grad():
            z = self._apply(ones, torch.ones_like(self.weight), None)
            (g,) = torch.autograd.grad(z, ones, _safe_div(rest, z))
        return g


class _Residual(_Unit):
    """``relu(main(x) + shortcut(x))``: relevance split by positive parts (z+ on the sum)."""

    def __init__(self, main: list[_Unit], shortcut: list[_Unit], out: nn.Module) -> None:
        self.main, self.shortcut, self.out = main, shortcut, out

    def forward(self, a):
        m, s = a, a
        for u in self.main:
            m = u.forward(m)
        for u in self.shortcut:
            s = u.forward(s)
        self.m, self.s = m, s
        return self.out(m + s)

    def relprop(self, r):
        mp, sp = self.m.clamp(min=0), self.s.clamp(min=0)
        den = mp + sp
        safe = torch.where(den > 0, den, torch.ones_like(den))
        rm = torch.where(den > 0, r * mp / safe, 0.5 * r)
        rs = torch.where(den > 0, r * sp / safe, 0.5 * r)
        for u in reversed(self.main):
            rm = u.relprop(rm)
        for u in reversed(self.shortcut):
            rs = u.relprop(rs)
        return rm + rs


def _fold(conv: nn.Module, bn: nn.Module | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    w = conv.weight.detach().clone()
    b = conv.bias.detach().clone() if getattr(conv, "bias", None) is not None else None
    if bn is None:
        return w, b
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias.detach() - bn.running_mean * scale
    w = w * scale.reshape(-1, *([1] * (w.dim() - 1)))
    b = shift + (b * scale if b is not None else 0)
    return w, b


_PASS = (nn.ReLU, nn.Dropout, nn.Dropout2d, nn.Identity)
_POOL = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d)


def _compile(module: nn.Module, eps: float) -> list[_Unit]:
    """The LRP chain of a module (batch norm folded into the preceding convolution)."""
    from .models import BasicBlock

    if isinstance(module, BasicBlock):
        w1, b1 = _fold(module.conv1, module.bn1)
        w2, b2 = _fold(module.conv2, module.bn2)
        main = [
            _Weighted(module.conv1, w1, b1, "zplus", eps),
            _Pass(module.relu1),
            _Weighted(module.conv2, w2, b2, "zplus", eps),
        ]
        short = [] if isinstance(module.downsample, nn.Identity) else _compile(module.downsample, eps)
        return [_Residual(main, short, module.relu2)]
    if hasattr(module, "layer4") and hasattr(module, "stem"):  # AudioResNet
        parts = [
            module.stem,
            module.layer1,
            module.layer2,
            module.layer3,
            module.layer4,
            module.pool,
            module.head,
        ]
        return [u for p in parts for u in _compile(p, eps)]
    if all(hasattr(module, k) for k in ("body", "pool", "head")):  # SmallCNN, VGG16
        return [u for p in (module.body, module.pool, module.head) for u in _compile(p, eps)]
    if isinstance(module, nn.Sequential):
        kids, units, i = list(module), [], 0
        while i < len(kids):
            k = kids[i]
            if isinstance(k, nn.Conv2d):
                bn = kids[i + 1] if i + 1 < len(kids) and isinstance(kids[i + 1], nn.BatchNorm2d) else None
                w, b = _fold(k, bn)
                units.append(_Weighted(k, w, b, "zplus", eps))
                i += 2 if bn is not None else 1
                continue
            units += _compile(k, eps)
            i += 1
        return units
    if isinstance(module, nn.Linear):
        return [
            _Weighted(
                module,
                module.weight.detach(),
                None if module.bias is None else module.bias.detach(),
                "epsilon",
                eps,
            )
        ]
    if isinstance(module, nn.Flatten):
        return [_Flatten()]
    if isinstance(module, _POOL):
        return [_Pool(module)]
    if isinstance(module, _PASS):
        return [_Pass(module)]
    raise ConfigError(f"LRP does not support {type(module).__name__} layers")


def _lrp_chain(model: nn.Module, eps: float) -> list[_Unit]:
    units = _compile(model, eps)
    first = units[0] if units else None
    if not isinstance(first, _Weighted):
        raise ConfigError(f"LRP needs a convolution first in {type(model).__name__}")
    first.rule = "zb"  # the input layer sees signed, bounded inputs
    return units


def lrp_forward(x: np.ndarray, *, model: nn.Module) -> np.ndarray:
    """Logits ``(n_classes,)`` of the folded LRP chain (must equal the model's)."""
    a = _tensor(_check_input(x))
    with torch.no_grad():
        for u in _lrp_chain(model, 0.0):
            a = u.forward(a)
    return a[0].numpy()


@register_explainer(
    "lrp",
    title="LRP",
    signed=True,
    description="layer-wise relevance propagation (z^B input layer, z+ "
    "convolutions, epsilon dense layer, proportional residual "
    "split); sums to the logit",
)
def lrp(x: np.ndarray, *, model: nn.Module, target: int | None = None, epsilon: float = 1e-6) -> np.ndarray:
    """LRP relevance of every input bin, shape ``(C, F, T)``; sums to the target's logit.

    Parameters
    ----------
    x : np.ndarray, shape (C, F, T)
    model : nn.Module
        An ``AudioResNet``, ``SmallCNN`` or ``VGG16`` (or any network built from
        their layers) in eval mode.
    target : int, optional
        Class whose logit is explained (default: the predicted one).
    epsilon : float
        Stabiliser of the dense layers' LRP-epsilon rule.
    """
    x = _check_input(x)
    xt = _tensor(x)
    units = _lrp_chain(model, epsilon)
    with torch.no_grad():
        a = xt
        for u in units:
            a = u.forward(a)
    target = int(a.argmax(1)[0]) if target is None else _check_target(target, model, xt)
    r = torch.zeros_like(a)
    r[0, target] = a[0, target]
    for u in reversed(units):
        r = u.relprop(r)
    return r[0].detach().numpy().astype(np.float32)


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
    """SmoothGrad map ``(C, F, T)``: mean ``|d logit / d x|`` over ``samples`` copies of
    ``x`` plus Gaussian noise of std ``noise * (max(x) - min(x))``."""
    from captum.attr import NoiseTunnel, Saliency

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
    """Segment id of every bin of a ``(C, F, T)`` input: a grid of ``segments =
    (bands, times)`` rectangles shared by all channels, ids ``0..bands*times-1``."""
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
    """
    from captum._utils.models.linear_model import SkLearnRidge
    from captum.attr import Lime

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
    """``{method: map (C, F, T)}`` for several methods (default: all registered)."""
    if target is None:
        target = predicted_class(x, model=model)
    return {m: explain(x, m, model=model, target=target, options=options) for m in (methods or EXPLAINERS)}


# ------------------------------------------------------------------ deletion test
@dataclass(frozen=True)
class DeletionCurve:
    """Class probability while the most relevant bins are removed.

    Attributes
    ----------
    fractions : np.ndarray, shape (k,)
        Fraction of the bins removed, 0 to 1.
    probs : np.ndarray, shape (k,)
        Probability of the explained class at each fraction.
    """

    fractions: np.ndarray
    probs: np.ndarray

    @property
    def auc(self) -> float:
        """Area under the curve (trapezoids over 0..1); lower is better."""
        return float(np.trapezoid(self.probs, self.fractions))

    def drop_at(self, fraction: float) -> float:
        """``p(0) - p(fraction)`` (linear interpolation); higher is better."""
        return float(self.probs[0] - np.interp(fraction, self.fractions, self.probs))

    def scores(self) -> dict[str, float]:
        """``{"auc", "drop10", "drop20", "p0"}``."""
        return {
            "auc": self.auc,
            **{f"drop{round(100 * f)}": self.drop_at(f) for f in DROP_AT},
            "p0": float(self.probs[0]),
        }


def deletion_fractions(steps: int) -> np.ndarray:
    """``0, 1/steps, ..., 1`` plus the reported fractions 0.1 and 0.2."""
    if steps < 1:
        raise ConfigError(f"deletion steps must be positive, got {steps!r}")
    return np.unique(np.round(np.r_[np.linspace(0, 1, steps + 1), DROP_AT], 10))


def random_relevance(shape: Sequence[int], *, seed: int = 0) -> np.ndarray:
    """A random map (uniform noise): the reference ordering of the deletion test."""
    return np.random.default_rng(seed).random(tuple(shape)).astype(np.float32)


def _order(relevance: np.ndarray, seed: int) -> np.ndarray:
    """Flat bin indices, most relevant first; ties (segments, upsampling) in random order."""
    r = np.nan_to_num(np.asarray(relevance, dtype=np.float64).ravel(), nan=-np.inf)
    tie = np.random.default_rng(seed + 1).random(r.size)
    return np.lexsort((tie, -r))


def deletion_curve(
    x: np.ndarray,
    relevance: np.ndarray,
    *,
    model: nn.Module,
    target: int,
    steps: int = 20,
    baseline: float = 0.0,
    temperature: float = 1.0,
    batch_size: int = 32,
    seed: int = 0,
) -> DeletionCurve:
    """Remove the most relevant bins first, in ``steps``, recording the class probability.

    Parameters
    ----------
    x : np.ndarray, shape (C, F, T)
        Normalised model input.
    relevance : np.ndarray, shape (C, F, T)
        The map ranking the bins (larger = removed earlier).
    model : nn.Module
    target : int
        Class whose (calibrated) probability is followed.
    steps : int
        Removal steps from 0 to 100 % (0.1 and 0.2 are added).
    baseline : float
        Value of removed bins in the normalised input (0: the training mean).
    temperature : float
        Calibration temperature of the softmax.
    """
    x = _check_input(x)
    relevance = np.asarray(relevance)
    if relevance.shape != x.shape:
        raise ConfigError(f"relevance shape {relevance.shape} does not match the input {x.shape}")
    fr = deletion_fractions(steps)
    order = _order(relevance, seed)
    counts = np.round(fr * x.size).astype(int)
    batch = np.repeat(x.reshape(1, -1), len(fr), axis=0)
    for i, c in enumerate(counts):
        batch[i, order[:c]] = baseline
    probs = _probabilities(
        model, batch.reshape(len(fr), *x.shape), temperature=temperature, batch_size=batch_size
    )[:, int(target)]
    return DeletionCurve(fr.astype(np.float32), probs.astype(np.float32))


def deletion_test(
    x: np.ndarray,
    maps: Mapping[str, np.ndarray],
    *,
    model: nn.Module,
    target: int | None = None,
    temperature: float = 1.0,
    options: XAIOptions = XAIOptions(),
    random: bool = True,
) -> dict[str, DeletionCurve]:
    """Deletion curves of several maps of one input, plus ``"random"`` (reference)."""
    if target is None:
        target = predicted_class(x, model=model)
    all_maps = dict(maps)
    if random:
        all_maps["random"] = random_relevance(np.shape(x), seed=options.seed)
    return {
        k: deletion_curve(
            x,
            m,
            model=model,
            target=target,
            steps=options.deletion_steps,
            baseline=options.baseline,
            temperature=temperature,
            batch_size=options.batch_size,
            seed=options.seed,
        )
        for k, m in all_maps.items()
    }


# ------------------------------------------------------------------ listening
def top_k_mask(relevance: np.ndarray, k: float, *, seed: int = 0) -> np.ndarray:
    """Boolean ``(F, T)`` mask of the ``k`` (0..1) most relevant time-frequency bins
    (channels summed first)."""
    if not 0 <= k <= 1:
        raise ConfigError(f"top-k fraction must be within 0..1, got {k!r}")
    r = np.asarray(relevance, dtype=np.float64)
    r = r.sum(0) if r.ndim == 3 else r
    mask = np.zeros(r.size, bool)
    mask[_order(r, seed)[: round(k * r.size)]] = True
    return mask.reshape(r.shape)


def listen(
    log_mel_db: np.ndarray, relevance: np.ndarray, *, top_k: float = 0.2, n_iter: int = 32
) -> np.ndarray:
    """Audio of only the top-``k`` bins of a map: Griffin-Lim of the masked log-mel.

    Parameters
    ----------
    log_mel_db : np.ndarray, shape (n_mels, frames) or (1, n_mels, frames)
        The un-normalised ``mel`` representation of the clip (dB).
    relevance : np.ndarray, shape (1, n_mels, frames) or (n_mels, frames)
    top_k : float
        Fraction of bins kept (the others are set to the silence floor).

    Returns
    -------
    np.ndarray, shape (n_samples,), float32 at 16 kHz
    """
    from .sonify import mel_to_audio

    S = np.asarray(log_mel_db)
    S = S[0] if S.ndim == 3 else S
    mask = top_k_mask(relevance, top_k)
    if mask.shape != S.shape:
        raise ConfigError(f"relevance {mask.shape} and spectrogram {S.shape} differ in shape")
    return mel_to_audio(S, mask=mask, n_iter=n_iter)


# ------------------------------------------------------------------ dataset-level evaluation
def stratified_sample(labels: Sequence, n: int, *, seed: int = 0) -> np.ndarray:
    """Positions of ``n`` items with every label as equally represented as possible."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    groups = {v: rng.permutation(np.flatnonzero(labels == v)) for v in np.unique(labels)}
    picked: list[int] = []
    i = 0
    while len(picked) < min(n, len(labels)):
        for v in sorted(groups):
            if i < len(groups[v]) and len(picked) < n:
                picked.append(int(groups[v][i]))
        i += 1
    return np.sort(np.array(picked, dtype=int))


def evaluate_deletion(
    inputs: Iterable[tuple[str, str, np.ndarray]],
    *,
    model: nn.Module,
    temperature: float = 1.0,
    options: XAIOptions = XAIOptions(),
    methods: Sequence[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Deletion scores of every method on many clips (the predicted class of each).

    Parameters
    ----------
    inputs : iterable of (clip_id, emotion, x)
        ``x`` the normalised input ``(C, F, T)``; ``emotion`` the true label.

    Returns
    -------
    DataFrame, one row per clip and method (``random`` included): ``clip, emotion,
    target, method, auc, drop10, drop20, p0``.
    """
    import pandas as pd

    rows = []
    for i, (clip, emotion, x) in enumerate(inputs):
        target = predicted_class(x, model=model)
        maps = explain_all(x, model=model, target=target, methods=methods, options=options)
        curves = deletion_test(x, maps, model=model, target=target, temperature=temperature, options=options)
        for method, c in curves.items():
            rows.append({"clip": clip, "emotion": emotion, "target": target, "method": method, **c.scores()})
        if progress is not None:
            progress(i + 1)
    return pd.DataFrame(rows)


def summarise_deletion(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean scores per method and emotion, plus an ``all`` row per method.

    Returns columns ``method, emotion, n, auc, drop10, drop20``.
    """
    import pandas as pd

    cols = ["auc", "drop10", "drop20"]
    per = scores.groupby(["method", "emotion"])[cols].mean()
    per["n"] = scores.groupby(["method", "emotion"]).size()
    total = scores.groupby("method")[cols].mean()
    total["n"] = scores.groupby("method").size()
    total["emotion"] = "all"
    out = pd.concat([total.reset_index(), per.reset_index()], ignore_index=True)
    rank = {m: i for i, m in enumerate([*EXPLAINERS, "random"])}
    out["_e"] = (out["emotion"] != "all").astype(int)
    out["_m"] = out["method"].map(rank).fillna(len(rank))
    out = out.sort_values(["_e", "emotion", "_m"], kind="stable")
    return out[["method", "emotion", "n", *cols]].reset_index(drop=True)


# ------------------------------------------------------------------ the dataset-level table
#: MLflow experiment of the ``xai-eval`` runs (kept apart from the training leaderboard).
XAI_EXPERIMENT = "nemo-ser-xai"


def deletion_table_path() -> Path:
    """``artifacts/xai/deletion.json``: the committed result of ``xai-eval``."""
    from .config import artifacts_dir

    return artifacts_dir() / "xai" / "deletion.json"


def _sample_inputs(
    meta: pd.DataFrame, rows: np.ndarray, *, representation: str, cfg, norm
) -> Iterable[tuple[str, str, np.ndarray]]:
    """``(file_id, emotion, normalised x)`` of the rows: from the feature cache
    when it is built, else computed from the audio."""
    from . import cache, features
    from .audio import load_audio, pad_or_trim
    from .errors import SERError

    try:
        feats = cache.load(representation, meta, cfg=cfg)
    except SERError:
        feats = None
    for i in rows:
        r = meta.iloc[int(i)]
        if feats is not None:
            raw = np.asarray(feats[int(i)], dtype=np.float32)
        else:
            y = pad_or_trim(load_audio(r["path"], sr=cfg.sr), n_samples=cfg.n_samples, align=cfg.align)
            raw = features.compute(y, representation, cfg=cfg)
        x = norm.apply(raw) if norm is not None else raw.astype(np.float32)
        yield str(r["file_id"]), str(r["emotion"]), x


def deletion_benchmark(
    meta: pd.DataFrame,
    *,
    model: str = "resnet18_mel",
    n: int = 300,
    protocol: str = "seed",
    options: XAIOptions = XAIOptions(),
    methods: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[pd.DataFrame, dict]:
    """The deletion test of every method on a stratified sample of a test split.

    Parameters
    ----------
    meta : DataFrame
        Corpus metadata (:func:`ser_core.data.load_metadata`).
    model : str
        A shipped feature model.
    n : int
        Clips, stratified by emotion, from the ``protocol`` test part.
    progress : callable, optional
        ``progress(done, total)`` after each clip.

    Returns
    -------
    scores : DataFrame
        One row per clip and method (:func:`evaluate_deletion`).
    info : dict
        ``model, protocol, n_clips, target, baseline, options`` for the result file.
    """
    from . import data, features, models

    if n < 1:
        raise ConfigError(f"n must be positive, got {n!r}")
    loaded = models.load(model)
    card = loaded.card
    if card["input"]["kind"] != "features":
        raise ConfigError(f"xai-eval explains spectrogram models; {model!r} eats {card['input']['kind']}")
    from .config import FeatureConfig

    cfg = FeatureConfig(**card["input"].get("feature_config", {}))
    norm_d = card.get("normalization", {})
    norm = features.NormStats.from_dict(norm_d) if norm_d.get("kind") == "corpus" else None
    test = np.asarray(data.split_indices(meta, protocol).test)
    rows = test[stratified_sample(meta["emotion"].to_numpy()[test], n, seed=options.seed)]
    total = len(rows)
    inputs = _sample_inputs(meta, rows, representation=card["input"]["name"], cfg=cfg, norm=norm)
    scores = evaluate_deletion(
        inputs,
        model=loaded.module.eval(),
        temperature=loaded.temperature,
        options=options,
        methods=methods,
        progress=None if progress is None else (lambda d: progress(d, total)),
    )
    info = {
        "model": model,
        "protocol": protocol,
        "split": "test",
        "n_clips": int(total),
        "target": "predicted class",
        "baseline": "0 in the normalised input (training mean)",
        "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.__dict__.items()},
    }
    return scores, info


def save_deletion_table(summary: pd.DataFrame, info: Mapping, path: Path | None = None) -> Path:
    """Write ``info`` and the summary rows to a small JSON file (default
    :func:`deletion_table_path`)."""
    import json

    p = Path(path or deletion_table_path())
    p.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            k: (
                round(float(v), 4)
                if isinstance(v, (float, np.floating))
                else int(v)
                if isinstance(v, (np.integer,))
                else v
            )
            for k, v in r.items()
        }
        for r in summary.to_dict("records")
    ]
    p.write_text(json.dumps({**info, "rows": rows}, indent=1, ensure_ascii=False) + "\n")
    return p


def load_deletion_table(path: Path | None = None) -> tuple[pd.DataFrame, dict]:
    """``(summary rows, info)`` of a file written by :func:`save_deletion_table`.

    Raises
    ------
    ConfigError
        The file is missing or malformed.
    """
    import json

    import pandas as pd

    p = Path(path or deletion_table_path())
    try:
        d = json.loads(p.read_text())
        rows = pd.DataFrame(d.pop("rows"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot read the deletion table {p}: {exc}") from None
    return rows, d
