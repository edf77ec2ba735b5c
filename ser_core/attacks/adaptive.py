"""Attackers of a defended model: the naive one and the adaptive one.

The **naive** attacker attacks the undefended model (:func:`fgsm_waveform`,
:func:`pgd_waveform`) and the defence then transforms the result before the model
sees it (:func:`naive_attack`).  The **adaptive** attacker knows the defence and
attacks through it (:func:`eot_pgd`): projected gradient descent on the waveform
whose gradient goes through :meth:`DefenceSpec.forward` (BPDA where the transform
has no gradient), averaged over ``eot`` random draws of a randomised defence
(expectation over transformation; Athalye et al. 2018).

>>> d = parse_defence("mp3")
>>> y_naive = naive_attack(y, model=clf, epsilon=1e-3)                  # then d.apply(y_naive)
>>> y_adapt = eot_pgd(y, model=clf, defence=d, epsilon=1e-3, eot=4)     # y: (b, n) samples
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from ..metrics import softmax
from ..torch_frontend import WaveformClassifier, prepare_waveform
from .defences import DefenceSpec
from .methods import AttackSettings, get_attack, snr_db, target_index

__all__ = ["ClipDefence", "defend_clip", "defended_logits", "eot_pgd", "naive_attack"]


def _batch(y: np.ndarray) -> tuple[np.ndarray, bool]:
    y = np.asarray(y, dtype=np.float32)
    if y.ndim not in (1, 2) or not np.all(np.isfinite(y)):
        raise ConfigError(f"a waveform must be finite with shape (n,) or (b, n), got {y.shape}")
    return (y[None], True) if y.ndim == 1 else (y, False)


def defended_logits(
    y: np.ndarray, *, model: nn.Module, defence: DefenceSpec | None, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Logits of the defended model: ``model(defence(y))``, no gradient.

    Parameters
    ----------
    y : np.ndarray, shape (b, n) or (n,)
        Waveforms (16 kHz, the model's window).
    model : nn.Module
        Waveform -> logits (:class:`ser_core.torch_frontend.WaveformClassifier`).
    defence : DefenceSpec or None
        None: the undefended model.
    rng : np.random.Generator, optional
        Draws of a randomised defence.

    Returns
    -------
    np.ndarray, shape (b, 6) (or (6,) for one clip), float32
    """
    yb, single = _batch(y)
    x = torch.from_numpy(yb if defence is None else defence.apply(yb, rng=rng))
    with torch.no_grad():
        out = model.eval()(x).numpy()
    return out[0] if single else out


def naive_attack(
    y: np.ndarray,
    *,
    model: nn.Module,
    epsilon: float,
    attack: str = "pgd_wave",
    labels: np.ndarray | None = None,
    steps: int = 10,
) -> np.ndarray:
    """The naive attacker: a waveform attack on the **undefended** model.

    The defence is applied afterwards, by whoever evaluates the result.

    Parameters
    ----------
    y : np.ndarray, shape (b, n) or (n,)
    model : nn.Module
        The undefended waveform classifier.
    epsilon : float
        L-infinity bound in sample amplitude.
    attack : str
        A waveform attack in :data:`ATTACKS` (``"fgsm_wave"``, ``"pgd_wave"``).
    labels : np.ndarray of int, optional
        Labels to move away from (default the model's predictions).
    steps : int
        Iterations of an iterative attack.

    Returns
    -------
    np.ndarray, shape of ``y``, float32

    Raises
    ------
    ConfigError
        If ``attack`` is not a waveform attack or a setting is invalid.
    """
    a = get_attack(attack)
    if a.domain != "waveform":
        raise ConfigError(f"the naive attacker needs a waveform attack; {attack!r} is a {a.domain} attack")
    return a(y, model=model, settings=AttackSettings(epsilon=epsilon, steps=steps), labels=labels)


def _eot_gradient_sign(
    adv: torch.Tensor,
    *,
    model: nn.Module,
    defence: DefenceSpec,
    labels: torch.Tensor,
    sign: float,
    eot: int,
    rng: np.random.Generator,
) -> torch.Tensor:
    """Sign of the loss gradient summed over ``eot`` draws of the defence."""
    total = torch.zeros_like(adv)
    for _draw in range(eot):
        x = adv.detach().requires_grad_(True)
        loss = nn.functional.cross_entropy(model(defence.forward(x, rng=rng)), labels, reduction="sum")
        (g,) = torch.autograd.grad(loss, x)
        total += g
    return sign * torch.sign(total)


def eot_pgd(
    y: np.ndarray,
    *,
    model: nn.Module,
    defence: DefenceSpec,
    epsilon: float,
    labels: np.ndarray | None = None,
    target: str | int | None = None,
    steps: int = 10,
    step_size: float | None = None,
    eot: int = 1,
    seed: int = 0,
) -> np.ndarray:
    """The adaptive attacker: PGD on the samples through ``defence`` and ``model``.

    Each step follows the sign of the cross-entropy gradient of
    ``model(defence(y_adv))``, summed over ``eot`` draws of the defence
    (expectation over transformation; one draw is enough for a fixed defence),
    with BPDA through the transforms that have no gradient; then it projects back
    into the epsilon ball and full scale.

    Parameters
    ----------
    y : np.ndarray, shape (b, n) or (n,)
        Waveforms (16 kHz, the model's window).
    model : nn.Module
        Waveform -> logits (:class:`ser_core.torch_frontend.WaveformClassifier`).
    defence : DefenceSpec
        The defence in front of the model.
    epsilon : float
        L-infinity bound in sample amplitude.
    labels : np.ndarray of int, optional
        Labels to move away from; default the defended model's predictions on ``y``.
    target : str or int, optional
        Emotion to push towards instead (targeted).
    steps : int
        PGD iterations.
    step_size : float, optional
        Default ``2.5 * epsilon / steps``.
    eot : int
        Draws of a randomised defence per step (a fixed defence takes one).
    seed : int
        Seeds the draws of a randomised defence.

    Returns
    -------
    np.ndarray, shape of ``y``, float32 in [-1, 1], ``|y_adv - y| <= epsilon``

    Raises
    ------
    ConfigError
        If ``y`` or a setting is invalid.
    UnknownNameError
        If ``target`` is not an emotion.
    """
    s = AttackSettings(epsilon=epsilon, target=target, steps=steps, step_size=step_size)
    if not isinstance(eot, int) or eot < 1:
        raise ConfigError(f"eot must be a positive integer, got {eot!r}")
    yb, single = _batch(y)
    if epsilon == 0:
        return (yb[0] if single else yb).copy()
    draws = eot if defence.randomised else 1  # a fixed defence gives the same gradient every draw
    rng = np.random.default_rng(seed)
    model.eval()
    t = target_index(target)
    if t is not None:
        lab, sign = torch.full((len(yb),), t, dtype=torch.long), -1.0
    elif labels is not None:
        lab, sign = torch.as_tensor(np.broadcast_to(np.asarray(labels, np.int64), (len(yb),)).copy()), 1.0
    else:
        lab, sign = (
            torch.from_numpy(defended_logits(yb, model=model, defence=defence, rng=rng).argmax(1)),
            1.0,
        )
    x0 = torch.from_numpy(yb)
    adv = x0.clone()
    with torch.enable_grad():
        for _step in range(s.steps):
            g = _eot_gradient_sign(
                adv, model=model, defence=defence, labels=lab, sign=sign, eot=draws, rng=rng
            )
            adv = torch.clamp(
                torch.minimum(torch.maximum(adv + s.alpha * g, x0 - epsilon), x0 + epsilon), -1, 1
            )
    out = adv.numpy().astype(np.float32)
    return out[0] if single else out


# ------------------------------------------------------------------ one clip, for the page
@dataclass(frozen=True)
class ClipDefence:
    """One clip, clean and under both attackers, with and without the defence in front.

    Attributes
    ----------
    defence : str
        The defence as parsed (:attr:`DefenceSpec.label`).
    epsilon : float
    label : int
        The undefended model's prediction on the clean clip (what the attacks leave).
    audio : dict of str to np.ndarray, shape (cfg.n_samples,)
        What reaches the defence: ``"clean"``, ``"naive"`` (PGD on the undefended model)
        and ``"adaptive"`` (EOT + BPDA PGD through the defence).
    probs : dict of str to np.ndarray, shape (6,)
        Calibrated probabilities of the **defended** model for each.
    probs_undefended : dict of str to np.ndarray, shape (6,)
        The same without the defence.
    snr_db : dict of str to float
        SNR of each attack's perturbation.
    seconds : float
    """

    defence: str
    epsilon: float
    label: int
    audio: dict
    probs: dict
    probs_undefended: dict
    snr_db: dict
    seconds: float


def defend_clip(
    y: np.ndarray,
    *,
    predictor,
    defence: DefenceSpec,
    epsilon: float,
    steps: int = 10,
    eot: int = 8,
    seed: int = 0,
) -> ClipDefence:
    """The naive and the adaptive attacker on one clip, judged through ``defence``.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Waveform at the model's sample rate (its model window is attacked).
    predictor : ser_core.inference.Predictor
        A shipped model on the ``mel`` representation.
    defence : DefenceSpec
    epsilon : float
        L-infinity bound in sample amplitude.
    steps, eot, seed
        PGD steps (both attackers), EOT draws of a randomised defence, the draws' seed.

    Returns
    -------
    ClipDefence

    Raises
    ------
    ConfigError
        If the model does not read the ``mel`` representation or a setting is invalid.
    """
    t0 = time.perf_counter()
    cfg, norm = predictor.cfg, predictor.norm
    if predictor.kind != "features" or predictor.representation != "mel":
        raise ConfigError(
            f"the defences need a model on the 'mel' representation; {predictor.model_name!r} is not"
        )
    clf = WaveformClassifier(
        predictor.module,
        mean=None if norm is None else norm.mean,
        std=None if norm is None else norm.std,
        cfg=cfg,
    ).eval()
    w = prepare_waveform(y, cfg=cfg)
    label = int(defended_logits(w, model=clf, defence=None).argmax())
    lab = np.array([label])
    audio = {
        "clean": w,
        "naive": naive_attack(w, model=clf, epsilon=epsilon, attack="pgd_wave", labels=lab, steps=steps),
        "adaptive": eot_pgd(
            w, model=clf, defence=defence, epsilon=epsilon, labels=lab, steps=steps, eot=eot, seed=seed
        ),
    }

    def probs(x: np.ndarray, d: DefenceSpec | None) -> np.ndarray:
        logits = defended_logits(x, model=clf, defence=d, rng=np.random.default_rng(seed + 1))
        return softmax(logits[None], temperature=predictor.temperature)[0]

    return ClipDefence(
        defence.label,
        float(epsilon),
        label,
        audio,
        {k: probs(v, defence) for k, v in audio.items()},
        {k: probs(v, None) for k, v in audio.items()},
        {k: float(snr_db(w, v)) for k, v in audio.items() if k != "clean"},
        time.perf_counter() - t0,
    )
