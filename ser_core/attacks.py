"""Adversarial attacks on the emotion models: FGSM and PGD, on the spectrogram and on the waveform.

Every attack is a function, data first, registered in :data:`ATTACKS` with
:func:`register_attack`; the adversarial page fills its dropdown from it.

>>> from ser_core import attacks, models
>>> m = models.load("resnet18_mel").module
>>> x_adv = attacks.fgsm(x, model=m, epsilon=0.01)                   # x: normalised (n, 1, 128, 188)
>>> x_adv = attacks.fgsm(x, model=m, epsilon=0.01, target="sadness")  # towards an emotion
>>> clf = torch_frontend.WaveformClassifier.from_loaded(models.load("resnet18_mel"))
>>> y_adv = attacks.pgd_waveform(y[None], model=clf, epsilon=1e-3)    # y: (n, 48000) samples

What epsilon means depends on the **domain**:

``"spectrogram"``
    The attack changes the model's *normalised* input (the log-mel minus the
    training mean, divided by the training standard deviation, per mel band),
    as the research project did: ``epsilon`` is an L-infinity bound in those
    units.  One unit is one standard deviation of the band over the training
    clips (8 to 25 dB for the shipped mel model, 17 dB on average), so
    ``epsilon = 0.01`` moves every bin by at most 0.08 to 0.25 dB.
``"waveform"``
    The attack changes the samples (16 kHz, full scale ±1) through the
    differentiable front end :mod:`ser_core.torch_frontend`: ``epsilon`` is an
    L-infinity bound in sample amplitude.  The result is real audio.

Untargeted attacks raise the cross-entropy of the label to leave (by default
the model's own prediction on the clean input; the robustness evaluation passes
the true labels); targeted ones lower the cross-entropy of the target emotion.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .config import EMOTION_TO_INDEX, EMOTIONS
from .errors import ConfigError, UnknownNameError

__all__ = [
    "ATTACKS",
    "DEFAULT_EPSILONS",
    "DOMAINS",
    "EXPERIMENT",
    "WAVEFORM_EPSILONS",
    "Attack",
    "AttackSettings",
    "ClipAttack",
    "attack_clip",
    "attack_names",
    "evaluate_shipped",
    "fgsm",
    "fgsm_waveform",
    "get_attack",
    "gradient_sign",
    "load_robustness",
    "log_robustness",
    "mel_snr_db",
    "parse_epsilons",
    "pgd",
    "pgd_waveform",
    "reconstruct",
    "register_attack",
    "robustness",
    "robustness_path",
    "save_robustness",
    "snr_db",
    "target_index",
]

#: The attack domains and what their epsilon is measured in.
DOMAINS: dict[str, str] = {
    "spectrogram": "normalised log-mel units (standard deviations of each mel band)",
    "waveform": "sample amplitude (full scale ±1)",
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
        """The step of iterative attacks."""
        return self.step_size if self.step_size is not None else 2.5 * self.epsilon / self.steps


@dataclass(frozen=True)
class Attack:
    """One registered attack.

    Attributes
    ----------
    name : str
        Registry key (``"fgsm"``).
    title : str
        Human-readable name for dropdowns.
    domain : {"spectrogram", "waveform"}
        What it perturbs (see :data:`DOMAINS`).
    fn : callable
        ``fn(x, *, model, epsilon, target=None, labels=None, **kw) -> np.ndarray``.
    iterative : bool
        Whether ``steps`` / ``step_size`` apply.
    description : str
        First line of the function's docstring.
    """

    name: str
    title: str
    domain: str
    fn: AttackFn = field(repr=False, compare=False)
    iterative: bool = False
    description: str = ""

    def __call__(
        self, x: np.ndarray, *, model: nn.Module, settings: AttackSettings, labels: np.ndarray | None = None
    ) -> np.ndarray:
        """Run the attack with ``settings`` (the keyword arguments it takes)."""
        kw = {"steps": settings.steps, "step_size": settings.step_size} if self.iterative else {}
        return self.fn(x, model=model, epsilon=settings.epsilon, target=settings.target, labels=labels, **kw)


ATTACKS: dict[str, Attack] = {}


def register_attack(
    name: str, *, domain: str, title: str, iterative: bool = False
) -> Callable[[AttackFn], AttackFn]:
    """Decorator adding an attack function to :data:`ATTACKS`."""
    if domain not in DOMAINS:
        raise ConfigError(f"unknown attack domain {domain!r}; choose one of {list(DOMAINS)}")

    def deco(fn: AttackFn) -> AttackFn:
        doc = (fn.__doc__ or "").strip().split("\n")[0]
        ATTACKS[name] = Attack(name, title, domain, fn, iterative, doc)
        return fn

    return deco


def get_attack(name: str) -> Attack:
    """Look an attack up by name (raises :class:`UnknownNameError`)."""
    try:
        return ATTACKS[name]
    except KeyError:
        raise UnknownNameError(f"unknown attack {name!r}; choose one of: {', '.join(ATTACKS)}") from None


def attack_names(domain: str | None = None) -> tuple[str, ...]:
    """Registered attack names (of one domain), in registration order."""
    return tuple(n for n, a in ATTACKS.items() if domain is None or a.domain == domain)


def target_index(target: str | int | None) -> int | None:
    """Class index of a target emotion (name or index); None stays None."""
    if target is None:
        return None
    if isinstance(target, (int, np.integer)) and 0 <= int(target) < len(EMOTIONS):
        return int(target)
    if isinstance(target, str) and target in EMOTION_TO_INDEX:
        return EMOTION_TO_INDEX[target]
    raise UnknownNameError(f"unknown target emotion {target!r}; choose one of: {', '.join(EMOTIONS)}")


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

    Returns
    -------
    np.ndarray, shape of ``x``, values in {-1, 0, 1}, float32
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
@register_attack("fgsm", domain="spectrogram", title="FGSM on the spectrogram (one step)")
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
    """
    xb, single = _as_batch(x, 4, "a spectrogram input")
    out = _fgsm(xb, model=model, epsilon=epsilon, target=target, labels=labels, clip=None)
    return out[0] if single else out


@register_attack("pgd", domain="spectrogram", title="PGD on the spectrogram (iterative)", iterative=True)
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

    Same arguments as :func:`fgsm`, plus ``steps`` and ``step_size`` (default
    ``2.5 * epsilon / steps``); no random start, so the result is repeatable.

    Returns
    -------
    np.ndarray, shape of ``x``, float32, ``|x_adv - x| <= epsilon`` everywhere
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
@register_attack("fgsm_wave", domain="waveform", title="FGSM on the waveform (one step)")
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

    Returns
    -------
    np.ndarray, shape of ``y``, float32 in [-1, 1]
    """
    yb, single = _as_batch(y, 2, "a waveform")
    out = _fgsm(yb, model=model, epsilon=epsilon, target=target, labels=labels, clip=(-1.0, 1.0))
    return out[0] if single else out


@register_attack("pgd_wave", domain="waveform", title="PGD on the waveform (iterative)", iterative=True)
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

    Same arguments as :func:`fgsm_waveform`, plus ``steps`` and ``step_size``.

    Returns
    -------
    np.ndarray, shape of ``y``, float32 in [-1, 1], ``|y_adv - y| <= epsilon``
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
    """
    mag = np.power(10.0, np.asarray(log_mel, np.float64) / 20)
    adv = np.power(10.0, np.asarray(adv_log_mel, np.float64) / 20)
    return snr_db(mag, adv)


# ------------------------------------------------------------------ one clip, end to end
@dataclass(frozen=True)
class ClipAttack:
    """An attack on one clip, and what happens when it is played back.

    Attributes
    ----------
    attack, domain : str
    settings : AttackSettings
    label : int
        The class the clean clip is predicted as (what an untargeted attack leaves).
    log_mel, adv_log_mel : np.ndarray, shape (n_mels, frames)
        Clean and adversarial log-mel in dB (spectrogram attacks: the de-normalised
        adversarial model input; waveform attacks: the features of the adversarial audio).
    probs_before, probs_after : np.ndarray, shape (6,)
        Calibrated probabilities of the clean and the adversarial model input.
    snr_db : float
        SNR of the perturbation on what the attack changes: the normalised input
        (spectrogram) or the samples (waveform).
    mel_snr_db : float
        SNR of the change of the mel magnitudes (:func:`mel_snr_db`).
    audio : np.ndarray, shape (n_samples,)
        Adversarial audio: Griffin-Lim of ``adv_log_mel`` (spectrogram) or the
        perturbed waveform itself (waveform).
    probs_audio : np.ndarray, shape (6,)
        The full pipeline's prediction for ``audio`` after 16-bit WAV encoding.
    timings_ms : dict
        Wall time of each stage.
    """

    attack: str
    domain: str
    settings: AttackSettings
    label: int
    log_mel: np.ndarray
    adv_log_mel: np.ndarray
    probs_before: np.ndarray
    probs_after: np.ndarray
    snr_db: float
    mel_snr_db: float
    audio: np.ndarray
    probs_audio: np.ndarray
    timings_ms: dict = field(default_factory=dict)

    @property
    def perturbation_db(self) -> np.ndarray:
        """``adv_log_mel - log_mel``, shape (n_mels, frames), dB."""
        return self.adv_log_mel - self.log_mel

    def _fooled(self, probs: np.ndarray) -> bool:
        top = int(np.argmax(probs))
        t = target_index(self.settings.target)
        return top == t if t is not None else top != self.label

    @property
    def fooled(self) -> bool:
        """The model input fools the model (untargeted: label changed; targeted: target reached)."""
        return self._fooled(self.probs_after)

    @property
    def survives(self) -> bool:
        """The played-back audio still fools the full pipeline."""
        return self._fooled(self.probs_audio)


def _check_mel_predictor(predictor) -> None:
    if predictor.kind != "features" or predictor.representation != "mel":
        raise ConfigError(
            f"the attacks need a model on the 'mel' representation; "
            f"{predictor.name!r} reads {predictor.representation!r}"
        )


def reconstruct(log_mel: np.ndarray, *, predictor, n_iter: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Griffin-Lim audio of a dB log-mel and the full pipeline's prediction for it.

    Returns
    -------
    audio : np.ndarray, shape (n_samples,)
    probs : np.ndarray, shape (6,), calibrated, after 16-bit WAV encoding
    """
    from .sonify import mel_to_audio

    y = mel_to_audio(log_mel, cfg=predictor.cfg, n_iter=n_iter)
    return y, _predict_as_played(y, predictor)


def _predict_as_played(y: np.ndarray, predictor) -> np.ndarray:
    from .audio import encode_wav, load_audio

    played = load_audio(encode_wav(y, sr=predictor.cfg.sr), name="adversarial.wav", sr=predictor.cfg.sr)
    return predictor.predict(played).astype(np.float64)


def attack_clip(
    y: np.ndarray,
    *,
    predictor,
    attack: str = "fgsm",
    settings: AttackSettings = AttackSettings(),
    n_iter: int = 32,
) -> ClipAttack:
    """Attack one clip with a mel model and play the result back through the full pipeline.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Waveform at the model's sample rate (its centre 3 s are used).
    predictor : ser_core.inference.Predictor
        A shipped model on the ``mel`` representation (gradients go through its
        PyTorch module whatever its back end; the playback prediction uses the back end).
    attack : str
        A name in :data:`ATTACKS`.
    settings : AttackSettings
    n_iter : int
        Griffin-Lim iterations (spectrogram attacks).

    Raises
    ------
    ConfigError
        The model does not read the ``mel`` representation.
    """
    from . import features
    from .metrics import softmax
    from .torch_frontend import WaveformClassifier, prepare_waveform

    _check_mel_predictor(predictor)
    a = get_attack(attack)
    cfg, norm, module = predictor.cfg, predictor.norm, predictor.module
    mean = norm.mean if norm is not None else np.float32(0)
    std = norm.std if norm is not None else np.float32(1)
    t = {}

    def probs_of(x_norm: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            logits = module(torch.from_numpy(np.ascontiguousarray(x_norm[None], np.float32))).numpy()
        return softmax(logits, temperature=predictor.temperature)[0]

    t0 = time.perf_counter()
    w = prepare_waveform(y, cfg=cfg)
    S = features.compute(w, "mel", cfg=cfg)  # (1, F, T) dB
    x = ((S - mean) / std).astype(np.float32)
    probs_before = probs_of(x)
    label = int(np.argmax(probs_before))
    t["features"] = 1000 * (time.perf_counter() - t0)

    t0 = time.perf_counter()
    if a.domain == "spectrogram":
        x_adv = a(x, model=module, settings=settings, labels=np.array([label]))
        S_adv = np.where(x_adv == x, S, x_adv * std + mean)  # unchanged bins stay exact
        snr = snr_db(x, x_adv)
        t["attack"] = 1000 * (time.perf_counter() - t0)
        t0 = time.perf_counter()
        from .sonify import mel_to_audio

        audio = mel_to_audio(S_adv[0], cfg=cfg, n_iter=n_iter)
        t["griffin_lim"] = 1000 * (time.perf_counter() - t0)
    else:
        clf = WaveformClassifier(
            module, mean=mean if norm is not None else None, std=std if norm is not None else None, cfg=cfg
        ).eval()
        audio = a(w, model=clf, settings=settings, labels=np.array([label]))
        snr = snr_db(w, audio)
        t["attack"] = 1000 * (time.perf_counter() - t0)
        S_adv = features.compute(audio, "mel", cfg=cfg)
        x_adv = ((S_adv - mean) / std).astype(np.float32)
    probs_after = probs_of(x_adv)
    t0 = time.perf_counter()
    probs_audio = _predict_as_played(audio, predictor)
    t["playback_prediction"] = 1000 * (time.perf_counter() - t0)
    return ClipAttack(
        attack,
        a.domain,
        settings,
        label,
        S[0],
        np.asarray(S_adv[0], np.float32),
        probs_before,
        probs_after,
        float(snr),
        mel_snr_db(S[0], S_adv[0]),
        np.asarray(audio, np.float32),
        probs_audio,
        t,
    )


# ------------------------------------------------------------------ robustness curve
def robustness(
    x: np.ndarray,
    labels: np.ndarray,
    *,
    model: nn.Module,
    epsilons: Sequence[float] = DEFAULT_EPSILONS,
    attack: str = "fgsm",
    norm=None,
    batch_size: int = 64,
    steps: int = 10,
    progress: Callable[[int, int], None] | None = None,
):
    """Accuracy against epsilon of a spectrogram attack, overall and per emotion.

    Untargeted, away from the **true** labels.  For FGSM the gradient sign does
    not depend on epsilon, so each batch costs one forward + backward pass plus
    one forward pass per epsilon.

    Parameters
    ----------
    x : np.ndarray, shape (n, C, F, T)
        Model inputs, normalised, or raw features (a float16 cache memmap is fine)
        when ``norm`` is given.
    labels : np.ndarray of int, shape (n,)
    model : nn.Module
    epsilons : sequence of float
    attack : str
        A spectrogram attack in :data:`ATTACKS`.
    norm : ser_core.features.NormStats, optional
        Applied to each batch of ``x`` first.
    progress : callable, optional
        ``progress(done, total)`` after each batch.

    Returns
    -------
    pandas.DataFrame
        One row per epsilon: ``epsilon, n, accuracy, snr_db`` (median SNR of the
        perturbation on the normalised input) and one accuracy column per emotion
        (the share of that emotion's clips still classified correctly).
    """
    import pandas as pd

    a = get_attack(attack)
    if a.domain != "spectrogram":
        raise ConfigError(f"robustness needs a spectrogram attack, {attack!r} is a {a.domain} attack")
    eps = [float(e) for e in epsilons]
    for e in eps:
        AttackSettings(epsilon=e)
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    if n == 0 or len(x) != n:
        raise ConfigError(f"robustness needs as many inputs as labels, got {len(x)} and {n}")
    correct = np.zeros((len(eps), n), dtype=bool)
    snrs = np.zeros((len(eps), n))
    model.eval()

    def predict(xb: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(np.ascontiguousarray(xb, np.float32))).argmax(1).numpy()

    for i in range(0, n, batch_size):
        xb = np.asarray(x[i : i + batch_size], dtype=np.float32)
        xb = norm.apply(xb) if norm is not None else xb
        lb = labels[i : i + batch_size]
        axes = tuple(range(1, xb.ndim))
        direction = gradient_sign(xb, model=model, labels=lb) if a.name == "fgsm" else None
        for k, e in enumerate(eps):
            if e == 0:
                adv = xb
            elif direction is not None:
                adv = xb + np.float32(e) * direction
            else:
                adv = a(xb, model=model, settings=AttackSettings(epsilon=e, steps=steps), labels=lb)
            correct[k, i : i + len(lb)] = predict(adv) == lb
            snrs[k, i : i + len(lb)] = snr_db(xb, adv, axis=axes)
        if progress is not None:
            progress(min(i + batch_size, n), n)
    rows = []
    for k, e in enumerate(eps):
        row = {
            "epsilon": e,
            "n": n,
            "accuracy": float(correct[k].mean()),
            "snr_db": float(np.median(snrs[k])),
        }
        for c, emo in enumerate(EMOTIONS):
            m = labels == c
            row[emo] = float(correct[k, m].mean()) if m.any() else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def parse_epsilons(text: str | Iterable[float]) -> tuple[float, ...]:
    """``"0,0.001,0.01"`` (or numbers) -> sorted unique epsilons (raises ConfigError)."""
    items = text.split(",") if isinstance(text, str) else list(text)
    try:
        vals = sorted({float(v) for v in items if str(v).strip()})
    except ValueError:
        raise ConfigError(f"epsilons must be comma-separated numbers, got {text!r}") from None
    if not vals:
        raise ConfigError(f"no epsilon in {text!r}")
    for v in vals:
        AttackSettings(epsilon=v)
    return tuple(vals)


# ------------------------------------------------------------------ shipped models, files, MLflow
#: MLflow experiment of the robustness runs (kept apart from the training runs of the leaderboard).
EXPERIMENT = "nemo-ser-attacks"
#: Columns of the robustness file, before the six per-emotion accuracies.
ROBUSTNESS_COLUMNS = ("model", "attack", "domain", "steps", "protocol", "epsilon", "n", "accuracy", "snr_db")


def robustness_path() -> Path:
    """``artifacts/attacks/robustness.csv`` (under ``$SER_ARTIFACTS`` when set)."""
    from .config import artifacts_dir

    return artifacts_dir() / "attacks" / "robustness.csv"


def evaluate_shipped(
    name: str,
    meta,
    *,
    attack: str = "fgsm",
    epsilons: Sequence[float] = DEFAULT_EPSILONS,
    protocol: str = "seed",
    max_clips: int | None = None,
    batch_size: int = 64,
    steps: int = 10,
    progress: Callable[[int, int], None] | None = None,
):
    """:func:`robustness` of a shipped mel model on a protocol's test part.

    The features come from the feature cache (built when missing); a
    ``max_clips`` sample without a cache computes only its own clips.

    Parameters
    ----------
    name : str
        Shipped model (``python -m ser_core models``) reading the ``mel`` representation.
    meta : pandas.DataFrame
        Corpus metadata (:func:`ser_core.data.load_metadata`).
    max_clips : int, optional
        A random subset of the test clips (seed 0), for quick runs and tests.

    Returns
    -------
    pandas.DataFrame with the :data:`ROBUSTNESS_COLUMNS` and one column per emotion.
    """
    from . import cache, data, models
    from .config import FeatureConfig
    from .features import NormStats

    a = get_attack(attack)
    if a.domain != "spectrogram":
        raise ConfigError(
            f"attack-eval runs spectrogram attacks ({', '.join(attack_names('spectrogram'))}); "
            f"{attack!r} is a {a.domain} attack"
        )
    loaded = models.load(name)
    inp = loaded.card.get("input", {})
    if inp.get("kind") != "features" or inp.get("name") != "mel":
        raise ConfigError(
            f"attack-eval needs a model on the 'mel' representation; {name!r} reads {inp.get('name')!r}"
        )
    cfg = FeatureConfig(**inp.get("feature_config", {}))
    norm = loaded.card.get("normalization", {})
    stats = NormStats.from_dict(norm) if norm.get("kind") == "corpus" else None
    test = meta.iloc[data.split_indices(meta, protocol).test]
    if max_clips is not None and max_clips < len(test):
        if max_clips < 1:
            raise ConfigError(f"max_clips must be positive, got {max_clips!r}")
        test = test.sample(n=max_clips, random_state=0).sort_index()
    if max_clips is None:  # the whole test part: worth caching (a no-op when up to date)
        cache.build(meta, ["mel"], cfg=cfg)
    x = cache.features_of(test, "mel", corpus=meta, cfg=cfg, keep=True)
    df = robustness(
        x,
        test["label"].to_numpy(),
        model=loaded.module,
        epsilons=epsilons,
        attack=attack,
        norm=stats,
        batch_size=batch_size,
        steps=steps,
        progress=progress,
    )
    df.insert(0, "model", name)
    df.insert(1, "attack", attack)
    df.insert(2, "domain", a.domain)
    df.insert(3, "steps", steps if a.iterative else 1)
    df.insert(4, "protocol", protocol)
    return df


def load_robustness(path=None):
    """The robustness file as a DataFrame, or None when it does not exist."""
    import pandas as pd

    p = Path(path) if path is not None else robustness_path()
    if not p.exists():
        return None
    try:
        df = pd.read_csv(p)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the robustness file {p}: {exc}") from None
    missing = [c for c in ROBUSTNESS_COLUMNS if c not in df.columns]
    if missing:
        raise ConfigError(f"the robustness file {p} lacks the columns {missing}")
    return df


def save_robustness(df, path=None):
    """Write ``df`` to the robustness file, replacing earlier rows of the same model,
    attack and protocol and keeping the others. Returns the path."""
    import pandas as pd

    p = Path(path) if path is not None else robustness_path()
    old = load_robustness(p)
    if old is not None:
        keys = set(zip(df["model"], df["attack"], df["protocol"]))
        keep = [k not in keys for k in zip(old["model"], old["attack"], old["protocol"])]
        df = pd.concat([old[keep], df], ignore_index=True)
    p.parent.mkdir(parents=True, exist_ok=True)
    df.sort_values(["model", "attack", "protocol", "epsilon"]).round(5).to_csv(p, index=False)
    return p


def log_robustness(df, *, run_name: str | None = None, artifact=None) -> str:
    """Log a robustness table to MLflow (experiment :data:`EXPERIMENT`); returns the run id.

    Metrics ``accuracy`` / ``acc_<emotion>`` / ``snr_db`` are stepped by the epsilon's
    index in ``df`` and ``accuracy_eps_<epsilon>`` name each point; parameter
    ``epsilons`` lists them.
    """
    import mlflow

    from . import tracking

    first = df.iloc[0]
    name = run_name or f"attack-eval {first['model']} {first['attack']}"
    with mlflow.start_run(experiment_id=tracking.experiment_id(EXPERIMENT), run_name=name) as run:
        mlflow.log_params(
            {
                "model": first["model"],
                "attack": first["attack"],
                "domain": first["domain"],
                "steps": int(first["steps"]),
                "protocol": first["protocol"],
                "n_clips": int(first["n"]),
                "epsilons": ",".join(f"{e:g}" for e in df["epsilon"]),
            }
        )
        for k, row in enumerate(df.itertuples(index=False)):
            m = {"accuracy": row.accuracy, f"accuracy_eps_{row.epsilon:g}": row.accuracy}
            if np.isfinite(row.snr_db):
                m["snr_db"] = row.snr_db
            for emo in EMOTIONS:
                v = getattr(row, emo)
                if np.isfinite(v):
                    m[f"acc_{emo}"] = v
            mlflow.log_metrics({k_: float(v) for k_, v in m.items()}, step=k)
        if artifact is not None:
            mlflow.log_artifact(str(artifact))
        return run.info.run_id
