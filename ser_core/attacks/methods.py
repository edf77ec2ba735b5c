"""The attacks: FGSM and PGD on the normalised spectrogram and on the waveform.

Every attack is a function, data first, registered in :data:`ATTACKS` with
:func:`register_attack` (what epsilon means in each domain: :mod:`ser_core.attacks`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..config import EMOTION_TO_INDEX, EMOTIONS
from ..errors import ConfigError, UnknownNameError
from ..i18n import N_

__all__ = [
    "ATTACKS",
    "DEFAULT_EPSILONS",
    "DOMAINS",
    "WAVEFORM_EPSILONS",
    "Attack",
    "AttackSettings",
    "attack_names",
    "fgsm",
    "fgsm_waveform",
    "get_attack",
    "gradient_sign",
    "mel_snr_db",
    "pgd",
    "pgd_waveform",
    "register_attack",
    "snr_db",
    "target_index",
]

#: The attack domains and what their epsilon is measured in.
DOMAINS: dict[str, str] = {
    "spectrogram": N_("normalised log-mel units (standard deviations of each mel band)"),
    "waveform": N_("sample amplitude (full scale ±1)"),
}
#: Epsilons of the robustness curve and the page's spectrogram slider: fine steps at
#: the low end, as the research project's 0.001..0.1 range.
DEFAULT_EPSILONS: tuple[float, ...] = (
    0.0,
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
)
#: Epsilons of the page's waveform slider, in sample amplitude (nEMO speech peaks around
#: 0.2-0.9; one step of 16-bit PCM is 3.05e-5, so the smallest ones do not survive a WAV file).
WAVEFORM_EPSILONS: tuple[float, ...] = (
    0.0,
    1e-6,
    2e-6,
    5e-6,
    1e-5,
    2e-5,
    5e-5,
    1e-4,
    2e-4,
    5e-4,
    1e-3,
    2e-3,
    5e-3,
    1e-2,
)

AttackFn = Callable[..., np.ndarray]


# ------------------------------------------------------------------ settings and registry
@dataclass(frozen=True)
class AttackSettings:
    """How hard and where to attack.

    Parameters
    ----------
    epsilon : float
        L-infinity bound of the perturbation (units: see :data:`DOMAINS`); 0 changes nothing.
    target : str or None
        Emotion to push the prediction towards; None for an untargeted attack.
    steps : int
        Iterations of iterative attacks (PGD); one-step attacks ignore it.
    step_size : float or None
        Step of iterative attacks; default ``2.5 * epsilon / steps`` (Madry et al.).
    """

    epsilon: float = 0.01
    target: str | None = None
    steps: int = 10
    step_size: float | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.epsilon, numbers.Real) and math.isfinite(self.epsilon) and self.epsilon >= 0):
            raise ConfigError(f"epsilon must be a finite number >= 0, got {self.epsilon!r}")
        if self.target is not None:
            target_index(self.target)
        if not isinstance(self.steps, numbers.Integral) or self.steps < 1:
            raise ConfigError(f"steps must be a positive integer, got {self.steps!r}")
        if self.step_size is not None and not (math.isfinite(self.step_size) and self.step_size > 0):
            raise ConfigError(f"step_size must be positive, got {self.step_size!r}")

    @property
    def alpha(self) -> float:
        """The step of iterative attacks: ``step_size``, or ``2.5 * epsilon / steps`` when None."""
        return self.step_size if self.step_size is not None else 2.5 * self.epsilon / self.steps


@dataclass(frozen=True)
class Attack:
    """One registered attack.

    Attributes
    ----------
    name : str
        Registry key (``"fgsm"``).
    title : str
        Human-readable name for dropdowns, in English (marked with ``N_``: translate
        it where it is shown, ``_(attack.title)``).
    domain : {"spectrogram", "waveform"}
        What it perturbs (see :data:`DOMAINS`).
    fn : callable
        ``fn(x, *, model, epsilon, target=None, labels=None, **kw) -> np.ndarray``.
    iterative : bool
        Whether ``steps`` / ``step_size`` apply.
    description : str
        First line of the function's docstring.
    menu : bool
        Whether the adversarial page's attack radio (and :func:`attack_names` by default)
        lists it: False for an attack whose own constraint is not the epsilon slider's
        L-infinity ball (the imperceptible attack has its own page section).
    """

    name: str
    title: str
    domain: str
    fn: AttackFn = field(repr=False, compare=False)
    iterative: bool = False
    description: str = ""
    menu: bool = True

    def __call__(
        self, x: np.ndarray, *, model: nn.Module, settings: AttackSettings, labels: np.ndarray | None = None
    ) -> np.ndarray:
        """Run the attack with ``settings`` (the keyword arguments it takes)."""
        kw = {"steps": settings.steps, "step_size": settings.step_size} if self.iterative else {}
        return self.fn(x, model=model, epsilon=settings.epsilon, target=settings.target, labels=labels, **kw)


ATTACKS: dict[str, Attack] = {}


def register_attack(
    attack: str, *, domain: str, title: str, iterative: bool = False, menu: bool = True
) -> Callable[[AttackFn], AttackFn]:
    """Decorator adding an attack function to :data:`ATTACKS`.

    The first line of the function's docstring becomes the attack's ``description``.

    Parameters
    ----------
    attack : str
        Registry key.
    domain : {"spectrogram", "waveform"}
        What the attack perturbs (:data:`DOMAINS`).
    title : str
        Human-readable name for dropdowns.
    iterative : bool
        Whether the function takes ``steps`` and ``step_size``.
    menu : bool
        Whether :func:`attack_names` lists it by default (:attr:`Attack.menu`).

    Returns
    -------
    callable
        The decorator; it registers ``fn`` and returns it unchanged.

    Raises
    ------
    ConfigError
        If ``domain`` is not one of :data:`DOMAINS`.
    """
    if domain not in DOMAINS:
        raise ConfigError(f"unknown attack domain {domain!r}; choose one of {list(DOMAINS)}")

    def deco(fn: AttackFn) -> AttackFn:
        doc = (fn.__doc__ or "").strip().split("\n")[0]
        ATTACKS[attack] = Attack(attack, title, domain, fn, iterative, doc, menu)
        return fn

    return deco


def get_attack(attack: str) -> Attack:
    """Look an attack up by name.

    Parameters
    ----------
    attack : str
        A name in :data:`ATTACKS`.

    Returns
    -------
    Attack

    Raises
    ------
    UnknownNameError
        If no attack has that name.
    """
    try:
        return ATTACKS[attack]
    except KeyError:
        raise UnknownNameError(
            N_("unknown attack {attack!r}; choose one of: {known}"), attack=attack, known=", ".join(ATTACKS)
        ) from None


def attack_names(domain: str | None = None, *, everything: bool = False) -> tuple[str, ...]:
    """Registered attack names, in registration order.

    Parameters
    ----------
    domain : {"spectrogram", "waveform"}, optional
        Only the attacks of this domain (default: all).
    everything : bool
        Also the attacks registered with ``menu=False`` (the imperceptible attack).

    Returns
    -------
    tuple of str
    """
    return tuple(
        n for n, a in ATTACKS.items() if (domain is None or a.domain == domain) and (everything or a.menu)
    )


def target_index(target: str | int | None) -> int | None:
    """Class index of a target emotion.

    Parameters
    ----------
    target : str, int or None
        An emotion name (``"sadness"``), a class index 0..5, or None.

    Returns
    -------
    int or None
        The index; None for None (an untargeted attack).

    Raises
    ------
    UnknownNameError
        If ``target`` is neither an emotion nor a valid index.
    """
    if target is None:
        return None
    if isinstance(target, (int, np.integer)) and 0 <= int(target) < len(EMOTIONS):
        return int(target)
    if isinstance(target, str) and target in EMOTION_TO_INDEX:
        return EMOTION_TO_INDEX[target]
    raise UnknownNameError(
        N_("unknown target emotion {target!r}; choose one of: {known}"),
        target=target,
        known=", ".join(EMOTIONS),
    )


# ------------------------------------------------------------------ the gradient
def _as_batch(x: np.ndarray, ndim: int, what: str) -> tuple[np.ndarray, bool]:
    """``(batch, single)``: add a leading axis to a single example of ``ndim - 1`` axes."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim not in (ndim - 1, ndim):
        raise ConfigError(f"{what} must have {ndim - 1} or {ndim} axes, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ConfigError(f"{what} contains NaN or infinite values")
    return (x[None], True) if x.ndim == ndim - 1 else (x, False)


def _labels(x: torch.Tensor, model: nn.Module, labels: np.ndarray | None) -> torch.Tensor:
    if labels is not None:
        lab = torch.from_numpy(np.array(labels, dtype=np.int64)).reshape(-1)
        if lab.numel() == 1 and x.shape[0] > 1:
            lab = lab.expand(x.shape[0])
        if lab.numel() != x.shape[0]:
            raise ConfigError(f"{lab.numel()} labels for {x.shape[0]} inputs")
        return lab
    with torch.no_grad():
        return model(x).argmax(1)


def gradient_sign(
    x: np.ndarray, *, model: nn.Module, target: str | int | None = None, labels: np.ndarray | None = None
) -> np.ndarray:
    """Sign of the gradient that an attack steps along, for a batch.

    Untargeted: ``sign(∇ CE(model(x), labels))`` (labels default to the
    model's predictions), the direction that raises the loss of the label.
    Targeted: ``-sign(∇ CE(model(x), target))``, the direction that lowers
    the loss of the target.

    Parameters
    ----------
    x : np.ndarray, shape (n, ...)
        A batch of model inputs.
    model : nn.Module
        Maps ``x`` to logits ``(n, 6)``; its parameters are left untouched.
    target : str or int, optional
        Emotion to push towards (targeted); None: move away from ``labels``.
    labels : np.ndarray of int, shape (n,) or (1,), optional
        Labels to move away from (one label is used for the whole batch);
        default the model's predictions.  Ignored with ``target``.

    Returns
    -------
    np.ndarray, shape of ``x``, values in {-1, 0, 1}, float32

    Raises
    ------
    UnknownNameError
        If ``target`` is not an emotion.
    ConfigError
        If ``labels`` does not hold one label per input (or one for all).
    """
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            xt = torch.from_numpy(np.ascontiguousarray(x, np.float32)).requires_grad_(True)
            t = target_index(target)
            if t is None:
                lab, sign = _labels(xt.detach(), model, labels), 1.0
            else:
                lab, sign = torch.full((xt.shape[0],), t, dtype=torch.long), -1.0
            loss = nn.functional.cross_entropy(model(xt), lab, reduction="sum")
            (grad,) = torch.autograd.grad(loss, xt)
    finally:
        model.train(was_training)
    return (sign * torch.sign(grad)).numpy().astype(np.float32)


def _fgsm(x: np.ndarray, *, model, epsilon, target, labels, clip: tuple[float, float] | None):
    AttackSettings(epsilon=epsilon, target=target)  # validates
    if epsilon == 0:
        return x.copy()
    out = x + np.float32(epsilon) * gradient_sign(x, model=model, target=target, labels=labels)
    return np.clip(out, *clip) if clip is not None else out


def _pgd(
    x: np.ndarray, *, model, epsilon, target, labels, steps, step_size, clip: tuple[float, float] | None
):
    s = AttackSettings(epsilon=epsilon, target=target, steps=steps, step_size=step_size)
    if epsilon == 0:
        return x.copy()
    if target is None and labels is None:  # fix the label to leave once, at the clean input
        labels = _labels(torch.from_numpy(np.ascontiguousarray(x)), model, None).numpy()
    adv, eps, alpha = x.copy(), np.float32(epsilon), np.float32(s.alpha)
    for _ in range(s.steps):
        adv = adv + alpha * gradient_sign(adv, model=model, target=target, labels=labels)
        adv = np.clip(adv, x - eps, x + eps)
        if clip is not None:
            adv = np.clip(adv, *clip)
    return adv.astype(np.float32)


# ------------------------------------------------------------------ spectrogram attacks
@register_attack("fgsm", domain="spectrogram", title=N_("FGSM on the spectrogram (one step)"))
def fgsm(
    x: np.ndarray,
    *,
    model: nn.Module,
    epsilon: float,
    target: str | int | None = None,
    labels: np.ndarray | None = None,
) -> np.ndarray:
    """Fast gradient sign method on the normalised model input: one step of size epsilon.

    Parameters
    ----------
    x : np.ndarray, shape (n, C, F, T) or (C, F, T)
        Normalised model inputs.
    model : nn.Module
        The network (logits out).
    epsilon : float
        L-infinity bound in normalised units (standard deviations of each band).
    target : str or int, optional
        Emotion to push towards (targeted); None: move away from ``labels``.
    labels : np.ndarray of int, shape (n,), optional
        Labels to move away from; default the model's predictions.

    Returns
    -------
    np.ndarray, shape of ``x``, float32: ``x + epsilon * sign(gradient)``

    Raises
    ------
    ConfigError
        If ``x`` is not 3- or 4-D or holds NaN or infinite values, ``epsilon``
        is negative or not finite, or ``labels`` does not match ``x``.
    UnknownNameError
        If ``target`` is not an emotion.
    """
    xb, single = _as_batch(x, 4, "a spectrogram input")
    out = _fgsm(xb, model=model, epsilon=epsilon, target=target, labels=labels, clip=None)
    return out[0] if single else out


@register_attack("pgd", domain="spectrogram", title=N_("PGD on the spectrogram (iterative)"), iterative=True)
def pgd(
    x: np.ndarray,
    *,
    model: nn.Module,
    epsilon: float,
    target: str | int | None = None,
    labels: np.ndarray | None = None,
    steps: int = 10,
    step_size: float | None = None,
) -> np.ndarray:
    """Projected gradient descent on the normalised model input: FGSM steps kept within epsilon.

    No random start, so the result is repeatable.  Without ``target`` or
    ``labels`` the label to leave is the prediction on the clean input, fixed
    for every step.

    Parameters
    ----------
    x : np.ndarray, shape (n, C, F, T) or (C, F, T)
        Normalised model inputs.
    model : nn.Module
        The network (logits out).
    epsilon : float
        L-infinity bound in normalised units (standard deviations of each band).
    target : str or int, optional
        Emotion to push towards (targeted); None: move away from ``labels``.
    labels : np.ndarray of int, shape (n,), optional
        Labels to move away from; default the model's predictions on ``x``.
    steps : int
        FGSM steps.
    step_size : float, optional
        Size of each step; default ``2.5 * epsilon / steps``.

    Returns
    -------
    np.ndarray, shape of ``x``, float32, ``|x_adv - x| <= epsilon`` everywhere

    Raises
    ------
    ConfigError
        If ``x`` is not 3- or 4-D or holds NaN or infinite values, ``epsilon``,
        ``steps`` or ``step_size`` is invalid, or ``labels`` does not match ``x``.
    UnknownNameError
        If ``target`` is not an emotion.
    """
    xb, single = _as_batch(x, 4, "a spectrogram input")
    out = _pgd(
        xb,
        model=model,
        epsilon=epsilon,
        target=target,
        labels=labels,
        steps=steps,
        step_size=step_size,
        clip=None,
    )
    return out[0] if single else out


# ------------------------------------------------------------------ waveform attacks
@register_attack("fgsm_wave", domain="waveform", title=N_("FGSM on the waveform (one step)"))
def fgsm_waveform(
    y: np.ndarray,
    *,
    model: nn.Module,
    epsilon: float,
    target: str | int | None = None,
    labels: np.ndarray | None = None,
) -> np.ndarray:
    """Fast gradient sign method on the samples, through the differentiable front end.

    Parameters
    ----------
    y : np.ndarray, shape (n, samples) or (samples,)
        Waveforms at the model's sample rate, already padded/trimmed to its window
        (:func:`ser_core.torch_frontend.prepare_waveform`).
    model : nn.Module
        Waveform -> logits, e.g. :class:`ser_core.torch_frontend.WaveformClassifier`.
    epsilon : float
        L-infinity bound in sample amplitude.
    target : str or int, optional
        Emotion to push towards (targeted); None: move away from ``labels``.
    labels : np.ndarray of int, shape (n,), optional
        Labels to move away from; default the model's predictions.

    Returns
    -------
    np.ndarray, shape of ``y``, float32 in [-1, 1]

    Raises
    ------
    ConfigError
        If ``y`` is not 1- or 2-D or holds NaN or infinite values, ``epsilon``
        is negative or not finite, or ``labels`` does not match ``y``.
    UnknownNameError
        If ``target`` is not an emotion.
    """
    yb, single = _as_batch(y, 2, "a waveform")
    out = _fgsm(yb, model=model, epsilon=epsilon, target=target, labels=labels, clip=(-1.0, 1.0))
    return out[0] if single else out


@register_attack("pgd_wave", domain="waveform", title=N_("PGD on the waveform (iterative)"), iterative=True)
def pgd_waveform(
    y: np.ndarray,
    *,
    model: nn.Module,
    epsilon: float,
    target: str | int | None = None,
    labels: np.ndarray | None = None,
    steps: int = 10,
    step_size: float | None = None,
) -> np.ndarray:
    """Projected gradient descent on the samples: the stronger reference attack.

    Parameters
    ----------
    y : np.ndarray, shape (n, samples) or (samples,)
        Waveforms at the model's sample rate, already padded/trimmed to its window
        (:func:`ser_core.torch_frontend.prepare_waveform`).
    model : nn.Module
        Waveform -> logits, e.g. :class:`ser_core.torch_frontend.WaveformClassifier`.
    epsilon : float
        L-infinity bound in sample amplitude.
    target : str or int, optional
        Emotion to push towards (targeted); None: move away from ``labels``.
    labels : np.ndarray of int, shape (n,), optional
        Labels to move away from; default the model's predictions on ``y``.
    steps : int
        FGSM steps, each projected back into the epsilon ball and [-1, 1].
    step_size : float, optional
        Size of each step; default ``2.5 * epsilon / steps``.

    Returns
    -------
    np.ndarray, shape of ``y``, float32 in [-1, 1], ``|y_adv - y| <= epsilon``

    Raises
    ------
    ConfigError
        If ``y`` is not 1- or 2-D or holds NaN or infinite values, ``epsilon``,
        ``steps`` or ``step_size`` is invalid, or ``labels`` does not match ``y``.
    UnknownNameError
        If ``target`` is not an emotion.
    """
    yb, single = _as_batch(y, 2, "a waveform")
    out = _pgd(
        yb,
        model=model,
        epsilon=epsilon,
        target=target,
        labels=labels,
        steps=steps,
        step_size=step_size,
        clip=(-1.0, 1.0),
    )
    return out[0] if single else out


# ------------------------------------------------------------------ signal-to-noise ratios
def snr_db(
    x: np.ndarray, x_adv: np.ndarray, *, axis: int | tuple[int, ...] | None = None
) -> np.ndarray | float:
    """Signal-to-noise ratio of a perturbation, ``10 log10(Σ x² / Σ (x_adv - x)²)`` in dB.

    Parameters
    ----------
    x, x_adv : np.ndarray, same shape
        Clean and perturbed signal.
    axis : int or tuple, optional
        Axes to sum over (e.g. all but the batch axis); default all.

    Returns
    -------
    float (or array over the remaining axes); ``inf`` where nothing changed.

    Raises
    ------
    ConfigError
        If ``x`` and ``x_adv`` differ in shape.
    """
    x, x_adv = np.asarray(x, np.float64), np.asarray(x_adv, np.float64)
    if x.shape != x_adv.shape:
        raise ConfigError(f"snr_db needs equal shapes, got {x.shape} and {x_adv.shape}")
    d = x_adv - x
    sig, noise = (x**2).sum(axis=axis), (d**2).sum(axis=axis)
    with np.errstate(divide="ignore"):
        out = 10 * np.log10(sig) - 10 * np.log10(noise)
    out = np.where(noise == 0, np.inf, out)
    return float(out) if np.ndim(out) == 0 else out


def mel_snr_db(log_mel: np.ndarray, adv_log_mel: np.ndarray) -> float:
    """SNR of a spectrogram perturbation on the mel **magnitudes** (``10^(dB/20)``), in dB.

    The energy of the mel magnitude spectrogram over the energy of its change:
    comparable with the SNR of a waveform perturbation.

    Parameters
    ----------
    log_mel, adv_log_mel : np.ndarray, shape (n_mels, frames)
        Clean and perturbed log-mel in dB (any equal shapes).

    Returns
    -------
    float
        ``inf`` when nothing changed.

    Raises
    ------
    ConfigError
        If the two differ in shape.
    """
    mag = np.power(10.0, np.asarray(log_mel, np.float64) / 20)
    adv = np.power(10.0, np.asarray(adv_log_mel, np.float64) / 20)
    return snr_db(mag, adv)
