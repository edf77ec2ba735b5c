"""An attack you cannot hear: Qin et al.'s (ICML 2019) two-stage attack, for a classifier.

Stage 1 is an L-infinity PGD on the samples (through
:class:`ser_core.torch_frontend.WaveformClassifier`) that stops as soon as the label flips
(untargeted: away from the clean prediction; targeted: onto the target).  Stage 2 starts
from there and minimises, with Adam,

    margin(model(y + δ)) + α · mean_{t,f} relu(psd(δ)[t, f] - θ[t, f])

where θ is the clip's frame-wise masking threshold and ``psd(δ)`` the perturbation's PSD
in the same 96-dB normalisation (:mod:`ser_core.attacks.psychoacoustic`), both in dB.  The
classification term is Carlini & Wagner's margin (``z_label - max_{j≠label} z_j + κ``,
clipped at 0; targeted: ``max_{j≠t} z_j - z_t + κ``): unlike the cross-entropy of an
untargeted attack it is bounded, so once the label has flipped only the threshold term acts.
α follows Qin's schedule: raised by 1.2 while the label stays flipped, lowered by 0.8
after a run of steps without.  The result is the flipped iterate with the smallest excess
over the threshold.  ``enforce=True`` then projects it below the threshold everywhere
(:func:`~ser_core.attacks.psychoacoustic.project_below`) and checks the label again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from ..i18n import N_
from .methods import _as_batch, register_attack, snr_db, target_index
from .psychoacoustic import HOP_LENGTH, N_FFT, masking_threshold, project_below, psd

__all__ = ["DEFAULTS", "ImperceptibleResult", "imperceptible", "imperceptible_attack"]

#: Defaults measured to stay within 10 s per 3-s clip with ``resnet18_mel`` on one CPU
#: thread (docs/attacks.md).
#: ``budget_s``: wall-clock seconds per clip, after which the attack returns its best so far
#: (the class's budget of issue #29: at most 10 s a clip on a CPU).
DEFAULTS = {"epsilon": 2e-3, "stage1_steps": 40, "stage2_steps": 100, "budget_s": 10.0}


@dataclass(frozen=True)
class ImperceptibleResult:
    """One clip attacked under its masking threshold.

    Attributes
    ----------
    audio : np.ndarray, shape (samples,), float32
        The adversarial waveform ``y + δ`` in [-1, 1].
    label : int
        The class left (untargeted) or the clean prediction (targeted).
    target : int or None
        The target class of a targeted attack.
    prediction : int
        The model's class for ``audio``.
    flipped : bool
        Untargeted: ``prediction != label``; targeted: ``prediction == target``.
    snr_db : float
        ``10 log10(Σ y² / Σ δ²)``.
    theta, psd_delta : np.ndarray, shape (frames, bins)
        The clip's masking threshold and the perturbation's PSD, dB.
    stage1_steps, stage2_steps : int
        Iterations run in each stage.
    seconds : float
        Wall time of the whole attack.
    enforced : bool
        Whether the result was projected below the threshold.
    """

    audio: np.ndarray
    label: int
    target: int | None
    prediction: int
    flipped: bool
    snr_db: float
    theta: np.ndarray
    psd_delta: np.ndarray
    stage1_steps: int
    stage2_steps: int
    seconds: float
    enforced: bool

    @property
    def excess_db(self) -> np.ndarray:
        """``psd_delta - theta``, shape (frames, bins), dB: negative where masked."""
        return self.psd_delta - self.theta

    @property
    def margin_max_db(self) -> float:
        """The largest ``psd(δ) - θ`` over time and frequency (≤ 0: below the threshold everywhere)."""
        return float(self.excess_db.max())

    @property
    def margin_mean_db(self) -> float:
        """The mean ``psd(δ) - θ`` over time and frequency."""
        return float(self.excess_db.mean())

    @property
    def above_fraction(self) -> float:
        """Fraction of time-frequency bins where ``psd(δ)`` exceeds ``θ``."""
        return float((self.excess_db > 0).mean())


def _margin(logits: torch.Tensor, label: int, target: int | None, kappa: float) -> torch.Tensor:
    """Carlini-Wagner margin of one clip's logits ``(1, 6)``: ≤ 0 once the attack succeeds
    with confidence ``kappa``."""
    z = logits[0]
    keep = target if target is not None else label
    others = torch.cat([z[:keep], z[keep + 1 :]]).max()
    gap = z[keep] - others if target is None else others - z[keep]
    return torch.clamp(gap + kappa, min=0.0)


def _success(logits: torch.Tensor, label: int, target: int | None) -> bool:
    top = int(logits[0].argmax())
    return top == target if target is not None else top != label


def _stage1(y, model, label, target, epsilon, steps, deadline=np.inf) -> tuple[torch.Tensor, int, bool]:
    """L-infinity PGD that stops at the first flipped iterate (or at ``deadline``, a
    ``time.perf_counter()`` value): ``(δ, steps run, flipped)``."""
    delta = torch.zeros_like(y)
    step = epsilon / 8
    for i in range(steps + 1):
        d = delta.clone().requires_grad_(True)
        logits = model(y + d)
        if _success(logits, label, target) or i == steps or time.perf_counter() > deadline:
            return delta, i, _success(logits, label, target)
        (grad,) = torch.autograd.grad(_margin(logits, label, target, 0.0), d)
        delta = torch.clamp(delta - step * grad.sign(), -epsilon, epsilon)
        delta = torch.clamp(y + delta, -1.0, 1.0) - y
    return delta, steps, False


def _stage2(
    y,
    model,
    label,
    target,
    delta0,
    steps,
    theta,
    psd_max,
    *,
    epsilon,
    alpha,
    lr,
    kappa,
    enforce,
    deadline=np.inf,
):
    """Adam on ``margin + α·hinge``: ``(best δ, steps run)``, the best a flipped iterate
    with the smallest mean excess (``enforce``: each step ends with a bin-wise projection
    onto the threshold); it stops early at ``deadline``."""
    th = torch.from_numpy(theta)
    delta = torch.nn.Parameter(delta0.clone())
    best, best_score, run_ok, run_bad = None, np.inf, 0, 0
    opt = torch.optim.Adam([delta], lr=lr)
    for step in range(steps):
        if time.perf_counter() > deadline:
            return best, step
        logits = model(y + delta)
        excess = torch.relu(psd(delta[0].double(), psd_max=psd_max) - th)
        ok = _success(logits, label, target)
        score = float(excess.detach().mean())
        if ok and score < best_score:
            best, best_score = delta.detach().clone(), score
        run_ok, run_bad = (run_ok + 1, 0) if ok else (0, run_bad + 1)
        if run_ok >= 5:
            alpha, run_ok = alpha * 1.2, 0
        if run_bad >= 10:
            alpha, run_bad = alpha * 0.8, 0
        loss = _margin(logits, label, target, kappa) + alpha * excess.mean()
        # the perturbation's gradient only: backward() would also fill the grads of the
        # network's weights, which sessions share
        (delta.grad,) = torch.autograd.grad(loss, delta)
        opt.step()
        with torch.no_grad():
            delta.clamp_(-epsilon, epsilon)
            if enforce:  # one bin-wise projection onto the threshold per step
                delta.copy_(_projected(y, delta.detach(), theta, psd_max, iterations=1, final=False))
            delta.copy_(torch.clamp(y + delta, -1.0, 1.0) - y)
    return best, steps


def _projected(
    y: torch.Tensor, delta: torch.Tensor, theta: np.ndarray, psd_max: float, *, iterations=4, final=True
) -> torch.Tensor:
    d = project_below(delta[0].numpy(), theta, psd_max=psd_max, iterations=iterations, final_gain=final)
    return torch.clamp(y + torch.from_numpy(d)[None], -1.0, 1.0) - y


def _logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)


def imperceptible_attack(
    y: np.ndarray,
    *,
    model: nn.Module,
    epsilon: float = DEFAULTS["epsilon"],
    target: str | int | None = None,
    label: int | None = None,
    stage1_steps: int = DEFAULTS["stage1_steps"],
    stage2_steps: int = DEFAULTS["stage2_steps"],
    alpha: float = 0.05,
    lr: float | None = None,
    kappa: float = 0.5,
    enforce: bool = True,
    start: str = "stage1",
    sr: int = 16000,
    budget_s: float | None = DEFAULTS["budget_s"],
) -> ImperceptibleResult:
    """Attack one clip under its psychoacoustic masking threshold (two stages, see the module).

    Parameters
    ----------
    y : np.ndarray, shape (samples,)
        The clean window the model reads (:func:`ser_core.torch_frontend.prepare_waveform`).
    model : nn.Module
        Waveform ``(1, samples)`` -> logits ``(1, 6)``, e.g. a
        :class:`~ser_core.torch_frontend.WaveformClassifier`.
    epsilon : float
        L-infinity bound of δ in both stages (sample amplitude).
    target : str or int, optional
        Emotion to reach; None: leave ``label``.
    label : int, optional
        The class to leave; default the model's prediction for ``y``.
    stage1_steps, stage2_steps : int
        Iterations of each stage (stage 1 stops at the first flip).
    alpha : float
        Initial weight of the threshold hinge.
    lr : float, optional
        Adam's step in stage 2; default ``epsilon / 20``.
    kappa : float
        Logit margin the classification term asks for.
    enforce : bool
        End every stage-2 step with a bin-wise projection onto the threshold and project
        the result strictly below it in every time-frequency bin (default); False: the
        hinge alone, as Qin et al. (the perturbation may exceed the threshold in places).
    start : {"stage1", "zero"}
        Where stage 2 starts: stage 1's perturbation (Qin et al.) or silence.
    sr : int
        Sample rate of ``y``.
    budget_s : float, optional
        Wall-clock seconds for the whole attack: both stages stop when they are spent
        and the best result so far is returned (None: run every step).

    Returns
    -------
    ImperceptibleResult

    Raises
    ------
    ConfigError
        ``y`` is not one finite, non-silent channel, or an option is out of range.
    UnknownNameError
        ``target`` is not an emotion.
    """
    if not (epsilon > 0 and stage1_steps >= 0 and stage2_steps >= 0):
        raise ConfigError(
            f"need epsilon > 0 and steps >= 0, got {epsilon!r}, {stage1_steps!r}, {stage2_steps!r}"
        )
    t0 = time.perf_counter()
    deadline = np.inf if budget_s is None else t0 + float(budget_s)
    tgt = target_index(target)
    theta, psd_max = masking_threshold(np.asarray(y, np.float64), sr=sr)
    yt = torch.from_numpy(np.asarray(y, np.float32))[None]
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            lab = int(_logits(model, yt)[0].argmax()) if label is None else int(label)
            delta, n1, ok = _stage1(yt, model, lab, tgt, float(epsilon), stage1_steps, deadline)
            n2 = 0
            if ok and stage2_steps:
                best, n2 = _stage2(
                    yt, model, lab, tgt, delta if start == "stage1" else torch.zeros_like(delta),
                    stage2_steps, theta, psd_max, epsilon=float(epsilon), alpha=alpha, lr=lr or epsilon / 20, kappa=kappa, enforce=enforce, deadline=deadline,
                )  # fmt: skip
                delta = best if best is not None else delta
            if enforce:
                delta = _projected(yt, delta, theta, psd_max)
            pred = int(_logits(model, yt + delta)[0].argmax())
    finally:
        model.train(was_training)
    audio = (yt + delta)[0].numpy().astype(np.float32)
    d = torch.from_numpy(audio.astype(np.float64) - np.asarray(y, np.float64))
    return ImperceptibleResult(
        audio=audio,
        label=lab,
        target=tgt,
        prediction=pred,
        flipped=pred == tgt if tgt is not None else pred != lab,
        snr_db=float(snr_db(y, audio)),
        theta=theta,
        psd_delta=psd(d, psd_max=psd_max, n_fft=N_FFT, hop_length=HOP_LENGTH).numpy(),
        stage1_steps=n1,
        stage2_steps=n2,
        seconds=time.perf_counter() - t0,
        enforced=enforce,
    )


@register_attack(
    "imperceptible",
    domain="waveform",
    title=N_("Imperceptible: under the masking threshold (Qin et al.)"),
    menu=False,
)
def imperceptible(
    y: np.ndarray,
    *,
    model: nn.Module,
    epsilon: float = DEFAULTS["epsilon"],
    target: str | int | None = None,
    labels: np.ndarray | None = None,
    **options,
) -> np.ndarray:
    """Psychoacoustic attack (Qin et al. 2019, stage 1 and 2) on the samples, clip by clip.

    Parameters
    ----------
    y : np.ndarray, shape (n, samples) or (samples,)
        Waveforms at 16 kHz, padded/trimmed to the model's window.
    model : nn.Module
        Waveform -> logits (:class:`~ser_core.torch_frontend.WaveformClassifier`).
    epsilon : float
        L-infinity bound of the perturbation (stage 1 and 2).
    target : str or int, optional
        Emotion to push towards; None: away from ``labels``.
    labels : np.ndarray of int, shape (n,) or (1,), optional
        Labels to leave; default the model's predictions.
    **options
        Passed to :func:`imperceptible_attack` (``stage1_steps``, ``stage2_steps``,
        ``enforce``, ...).

    Returns
    -------
    np.ndarray, shape of ``y``, float32 in [-1, 1]; ``|y_adv - y| <= epsilon`` with
    ``enforce=False`` (the projection below the threshold, the default, only shrinks STFT
    bins, but overlap-add may move a sample slightly past epsilon)
    """
    yb, single = _as_batch(y, 2, "a waveform")
    lab = None if labels is None else np.broadcast_to(np.asarray(labels, np.int64).reshape(-1), (len(yb),))
    out = np.stack(
        [
            imperceptible_attack(
                w,
                model=model,
                epsilon=epsilon,
                target=target,
                label=None if lab is None else int(lab[i]),
                **options,
            ).audio
            for i, w in enumerate(yb)
        ]
    )
    return out[0] if single else out
