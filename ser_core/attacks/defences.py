"""Input-transformation defences: a waveform is transformed before the model sees it.

Each defence keeps the length and the sample rate (16 kHz) of what it is given,
a clip ``(n,)`` or a batch ``(b, n)``:

``mp3`` / ``opus``
    A lossy codec round trip through PyAV (:func:`ser_core.conditions.codec_round_trip`),
    its parameter the bit rate.
``resample``
    Down to a lower sample rate and back (the FFT method of ``scipy.signal.resample``:
    everything above the lower rate's Nyquist frequency is removed).
``median``
    A running median over ``kernel`` samples.
``quantise``
    Rounding to ``bits`` bits (full scale ±1).

A :class:`DefenceSpec` picks one with a fixed parameter or, **randomised**, a new
parameter for every clip and call (seeded), which is what expectation over
transformation (EOT) is for.  :meth:`DefenceSpec.forward` is what an attacker
differentiates: the true gradient where the transform has one (``resample``), the
identity (BPDA, *backward pass differentiable approximation*) where it has none
(the codecs, the median, the rounding).

>>> d = parse_defence("mp3")                  # 32 kb/s
>>> d = parse_defence("resample:random")      # a random rate per clip and call
>>> y_def = d.apply(y, rng=np.random.default_rng(0))          # (n,) -> (n,)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..config import SAMPLE_RATE
from ..errors import ConfigError, UnknownNameError
from ..i18n import N_

__all__ = [
    "DEFENCES",
    "Defence",
    "DefenceSpec",
    "defence_names",
    "get_defence",
    "parse_defence",
    "parse_defences",
]

Transform = Callable[[torch.Tensor, float], torch.Tensor]


@dataclass(frozen=True)
class Defence:
    """One registered input transformation.

    Attributes
    ----------
    name : str
        Registry key (``"mp3"``).
    title : str
        Human-readable name, English, marked with ``N_`` (show it as ``_(title)``).
    parameter : str
        What its value sets (``"bit_rate"``, ``"rate"``, ``"kernel"``, ``"bits"``).
    default : float
        The fixed value.
    choices : tuple of float
        The values a randomised defence draws from.
    differentiable : bool
        True: the attacker gets the transform's own gradient; False: BPDA (identity).
    transform : callable
        ``transform(y, value) -> y'`` on a float32 tensor ``(b, n)``, no gradient needed.
    """

    name: str
    title: str
    parameter: str
    default: float
    choices: tuple[float, ...]
    differentiable: bool
    transform: Transform = field(repr=False, compare=False)


DEFENCES: dict[str, Defence] = {}


def _register(name: str, title: str, parameter: str, default: float, choices, differentiable: bool):
    def deco(fn: Transform) -> Transform:
        DEFENCES[name] = Defence(name, title, parameter, default, tuple(choices), differentiable, fn)
        return fn

    return deco


# ------------------------------------------------------------------ the transforms
def _codec(y: torch.Tensor, codec: str, bit_rate: float) -> torch.Tensor:
    from .. import conditions  # FFmpeg and the condition renderers: only the codecs need them

    rows = [
        conditions.codec_round_trip(r, sr=SAMPLE_RATE, codec=codec, bit_rate=int(bit_rate))
        for r in y.detach().cpu().numpy().astype(np.float32)
    ]
    return torch.from_numpy(np.stack(rows)).to(y.dtype)


@_register("mp3", N_("MP3 round trip"), "bit_rate", 32_000, (24_000, 32_000, 48_000, 64_000), False)
def _mp3(y: torch.Tensor, value: float) -> torch.Tensor:
    return _codec(y, "mp3", value)


@_register("opus", N_("Opus round trip"), "bit_rate", 16_000, (12_000, 16_000, 24_000, 32_000), False)
def _opus(y: torch.Tensor, value: float) -> torch.Tensor:
    return _codec(y, "opus", value)


@_register("resample", N_("Resampling down and back"), "rate", 8_000, (6_000, 8_000, 11_025, 12_000), True)
def _resample(y: torch.Tensor, value: float) -> torch.Tensor:
    n = y.shape[-1]
    keep = int(round(n * value / SAMPLE_RATE)) // 2 + 1  # rfft bins below the new Nyquist
    spec = torch.fft.rfft(y, dim=-1)
    mask = torch.zeros(spec.shape[-1], dtype=spec.real.dtype, device=y.device)
    mask[:keep] = 1.0
    return torch.fft.irfft(spec * mask, n=n, dim=-1)


@_register("median", N_("Median smoothing"), "kernel", 5, (3, 5, 7), False)
def _median(y: torch.Tensor, value: float) -> torch.Tensor:
    k = int(value)
    if k < 1 or k % 2 == 0:
        raise ConfigError(f"the median kernel must be an odd positive integer, got {value!r}")
    padded = torch.nn.functional.pad(y[:, None], (k // 2, k // 2), mode="replicate")[:, 0]
    return padded.unfold(-1, k, 1).median(dim=-1).values


@_register("quantise", N_("Quantisation"), "bits", 8, (6, 7, 8, 9), False)
def _quantise(y: torch.Tensor, value: float) -> torch.Tensor:
    levels = 2.0 ** (int(value) - 1)
    return torch.clamp(torch.round(y * levels) / levels, -1.0, 1.0)


# ------------------------------------------------------------------ registry
def defence_names() -> tuple[str, ...]:
    """Registered defence names, in registration order."""
    return tuple(DEFENCES)


def get_defence(name: str) -> Defence:
    """Look a defence up by name.

    Raises
    ------
    UnknownNameError
        If no defence has that name.
    """
    try:
        return DEFENCES[name]
    except KeyError:
        raise UnknownNameError(
            N_("unknown defence {defence!r}; choose one of: {known}"), defence=name, known=", ".join(DEFENCES)
        ) from None


@dataclass(frozen=True)
class DefenceSpec:
    """A defence with its parameter: fixed (``value``, default the defence's own) or
    ``randomised`` (a value drawn from :attr:`Defence.choices` per clip and call).

    Parameters
    ----------
    name : str
        A name in :data:`DEFENCES`.
    value : float, optional
        The fixed parameter; ignored when ``randomised``.
    randomised : bool
    """

    name: str
    value: float | None = None
    randomised: bool = False

    def __post_init__(self) -> None:
        d = get_defence(self.name)
        if self.value is not None and not (np.isfinite(self.value) and self.value > 0):
            raise ConfigError(f"the {d.parameter} of {self.name!r} must be positive, got {self.value!r}")

    @property
    def defence(self) -> Defence:
        return DEFENCES[self.name]

    @property
    def label(self) -> str:
        """``"mp3"``, ``"median:7"`` or ``"resample:random"``: the spec as parsed."""
        if self.randomised:
            return f"{self.name}:random"
        return self.name if self.value is None else f"{self.name}:{self.value:g}"

    def values(self, n: int, rng: np.random.Generator | None) -> list[float]:
        """The parameter of each of ``n`` clips (random draws need ``rng``; default seed 0)."""
        d = self.defence
        if not self.randomised:
            return [float(d.default if self.value is None else self.value)] * n
        rng = rng if rng is not None else np.random.default_rng(0)
        return [float(v) for v in rng.choice(np.asarray(d.choices, dtype=float), size=n)]

    def _transform(self, y: torch.Tensor, rng: np.random.Generator | None) -> torch.Tensor:
        vals = self.values(y.shape[0], rng)
        with torch.no_grad():
            if len(set(vals)) == 1:
                return self.defence.transform(y.detach(), vals[0])
            return torch.cat([self.defence.transform(y[i : i + 1].detach(), v) for i, v in enumerate(vals)])

    def forward(self, y: torch.Tensor, *, rng: np.random.Generator | None = None) -> torch.Tensor:
        """The defence for an attacker: ``(b, n)`` -> ``(b, n)``, with a gradient.

        The transform's own gradient where it has one (``resample``, per clip the
        same linear filter); elsewhere BPDA: the forward value of the transform, the
        backward pass of the identity (``y + (T(y) - y).detach()``).
        """
        if y.ndim != 2:
            raise ConfigError(f"a defence needs waveforms of shape (b, n), got {tuple(y.shape)}")
        d = self.defence
        if d.differentiable:
            vals = self.values(y.shape[0], rng)
            return torch.cat([d.transform(y[i : i + 1], v) for i, v in enumerate(vals)])
        return y + (self._transform(y, rng) - y).detach()

    def apply(self, y: np.ndarray, *, rng: np.random.Generator | None = None) -> np.ndarray:
        """The defence on a clip ``(n,)`` or a batch ``(b, n)`` (16 kHz): same shape, float32.

        Raises
        ------
        ConfigError
            If ``y`` is not 1- or 2-D or holds NaN or infinite values.
        """
        y = np.asarray(y, dtype=np.float32)
        if y.ndim not in (1, 2) or not np.all(np.isfinite(y)):
            raise ConfigError(f"a defence needs a finite waveform (n,) or (b, n), got shape {y.shape}")
        out = self._transform(torch.from_numpy(np.atleast_2d(y).copy()), rng).numpy().astype(np.float32)
        return out[0] if y.ndim == 1 else out


def parse_defence(text: str) -> DefenceSpec:
    """``"mp3"``, ``"mp3:64000"``, ``"median:7"``, ``"resample:random"`` -> :class:`DefenceSpec`.

    Raises
    ------
    UnknownNameError
        If the name is not a defence.
    ConfigError
        If the value is neither a positive number nor ``random``.
    """
    name, __, value = text.strip().partition(":")
    get_defence(name)
    if not value:
        return DefenceSpec(name)
    if value == "random":
        return DefenceSpec(name, randomised=True)
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"a defence's value must be a number or 'random', got {text!r}") from None
    return DefenceSpec(name, number)


def parse_defences(text: str | Sequence[str]) -> tuple[DefenceSpec, ...]:
    """Comma-separated defences (:func:`parse_defence` each); empty items are skipped.

    Raises
    ------
    ConfigError
        If none is given.
    """
    items = text.split(",") if isinstance(text, str) else list(text)
    specs = tuple(parse_defence(t) for t in items if t.strip())
    if not specs:
        raise ConfigError(f"no defence in {text!r}")
    return specs
