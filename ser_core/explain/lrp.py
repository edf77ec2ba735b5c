"""Layer-wise relevance propagation (LRP) of the model zoo's CNNs.

The network is turned into a chain of *units* computing exactly the same
logits (:func:`lrp_forward` checks it), batch norm folded into the
convolutions; the rules are described in :mod:`ser_core.explain`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import models
from ..errors import ConfigError
from .registry import _check_input, _check_target, _tensor

__all__ = ["lrp", "lrp_forward"]


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
    if isinstance(module, models.BasicBlock):
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
    """Logits of the folded LRP chain (they must equal the model's: a check of the folding).

    Parameters
    ----------
    x : np.ndarray, shape (C, F, T)
        Normalised model input.
    model : nn.Module
        A network LRP supports (see :func:`lrp`), in eval mode.

    Returns
    -------
    np.ndarray, float32, shape (n_classes,)

    Raises
    ------
    ConfigError
        If ``x`` is not a finite ``(C, F, T)`` array, or the model has a layer
        LRP does not support or does not start with a convolution.
    """
    a = _tensor(_check_input(x))
    with torch.no_grad():
        for u in _lrp_chain(model, 0.0):
            a = u.forward(a)
    return a[0].numpy()


def lrp(x: np.ndarray, *, model: nn.Module, target: int | None = None, epsilon: float = 1e-6) -> np.ndarray:
    """LRP relevance of every input bin, shape ``(C, F, T)``; sums to the target's logit.

    Parameters
    ----------
    x : np.ndarray, shape (C, F, T)
        Normalised model input.
    model : nn.Module
        An ``AudioResNet``, ``SmallCNN`` or ``VGG16`` (or any network built from
        their layers) in eval mode.
    target : int, optional
        Class whose logit is explained (default: the predicted one).
    epsilon : float
        Stabiliser of the dense layers' LRP-epsilon rule.

    Returns
    -------
    np.ndarray, float32, shape (C, F, T)
        Signed relevance; sums to the target's logit (up to the epsilon share).

    Raises
    ------
    ConfigError
        If ``x`` is not a finite ``(C, F, T)`` array, ``target`` is out of
        range, or the model has a layer LRP does not support.
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
