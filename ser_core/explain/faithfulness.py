"""Faithfulness beyond deletion: the insertion curve and the mask metrics of SpeechBrain's
interpretability recipes (AI, AD, AG, faithfulness, input fidelity), all of one clip at once.

Insertion is deletion run backwards: start from the **baseline** (0 in the normalised
input, the training mean of every bin), put the bins of ``x`` back most relevant first and
follow the calibrated probability of the explained class; the area under that curve is
**higher** for a better map.

The mask metrics follow Paissan et al., "Listenable Maps for Audio Classifiers" (L-MAC,
ICML 2024) and Paissan et al., "Posthoc Interpretation via Quantization" (PIQ), as
SpeechBrain computes them in ``recipes/ESC50/interpret/interpreter_brain.py``
(``compute_AI``, ``compute_AD``, ``compute_AG``, ``compute_faithfulness``,
``compute_fidelity``: read, not copied).  The explanation becomes a mask ``M`` in [0, 1]
over the model input; ``p(.)`` is the calibrated probability of the explained class and
``b`` the baseline:

* masked in, ``x_in = x * M + (1 - M) * b``: what the explanation keeps;
* masked out, ``x_out = x * (1 - M) + M * b``: the clip without it;
* **AI** (average increase) ``= 100 * [p(x_in) > p(x)]``, higher is better;
* **AD** (average drop) ``= 100 * max(0, p(x) - p(x_in)) / p(x)``, lower is better;
* **AG** (average gain) ``= 100 * max(0, p(x_in) - p(x)) / (1 - p(x))``, higher is better;
* **FF** (faithfulness) ``= p(x) - p(x_out)``, higher is better;
* **Fid-In** (input fidelity) ``= [argmax f(x_in) = argmax f(x)]``, higher is better.

Per clip AI and Fid-In are 0 or 100 % and 0 or 1; a benchmark averages them over clips.

Two choices differ from SpeechBrain, both for this project's models: the class is the
*explained* one (the predicted class in the benchmark, as in SpeechBrain, but any class on
the page), and an absent bin is the training mean (0 in the normalised input, as in the
deletion test) rather than silence (SpeechBrain masks a log1p power spectrogram, where 0
is silence).  A relevance map becomes a binary mask of its **top 20 %** bins
(:data:`MASK_TOP_K`, :func:`explanation_mask`): the page's listening default and the
deletion test's second drop point, so AI, AD and AG score exactly what one hears and every
method is judged on a mask of the same size.  A method that yields a mask itself (L-MAC)
can pass it as ``mask=``.  With a top-k mask, ``x_out`` is the deletion curve's input at
``k`` and ``x_in`` the insertion curve's (same order, same ties): FF is then the deletion
drop at ``k``, and AI, AD, AG read the insertion curve there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from torch import nn

from ..errors import ConfigError
from .methods import top_k_mask
from .metrics import (
    DeletionCurve,
    ProbabilityCurve,
    _probabilities,
    deletion_fractions,
    ordered_inputs,
    scorable,
    with_reference,
)
from .registry import XAIOptions, _check_input

__all__ = [
    "FAITHFULNESS_SCORES",
    "MASK_TOP_K",
    "Faithfulness",
    "InsertionCurve",
    "explanation_mask",
    "faithfulness_scores",
    "faithfulness_test",
    "insertion_curve",
    "mask_scores",
]

#: Fraction of the bins a relevance map's mask keeps (the page's listening default).
MASK_TOP_K = 0.2
#: Every score of :meth:`Faithfulness.scores`, in table order (``p0`` left out).
FAITHFULNESS_SCORES = ("auc", "drop10", "drop20", "insertion_auc", "ai", "ad", "ag", "ff", "fid_in")


@dataclass(frozen=True)
class InsertionCurve(ProbabilityCurve):
    """Class probability while the most relevant bins are put back onto the baseline
    (:class:`~ser_core.explain.metrics.ProbabilityCurve`; its AUC is higher for a better map)."""


def insertion_curve(
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
) -> InsertionCurve:
    """Insert the most relevant bins first onto the baseline, in ``steps``, recording the
    class probability (the mirror of :func:`~ser_core.explain.deletion_curve`).

    Parameters
    ----------
    x : np.ndarray, shape (C, F, T)
        Normalised model input.
    relevance : np.ndarray, shape (C, F, T)
        The map ranking the bins (larger = inserted earlier).
    model : nn.Module
        The network (logits out).
    target : int
        Class whose (calibrated) probability is followed.
    steps, baseline, temperature, batch_size, seed
        As :func:`~ser_core.explain.deletion_curve`.

    Returns
    -------
    InsertionCurve
        ``fractions`` and ``probs``, float32, shape (k,) (the deletion test's fractions).

    Raises
    ------
    ConfigError
        If ``x`` is not a finite ``(C, F, T)`` array, ``relevance`` does not have its
        shape, or ``steps`` is below 1.
    """
    x = _check_input(x)
    fr = deletion_fractions(steps)
    batch = ordered_inputs(x, relevance, fr, baseline=baseline, seed=seed, insert=True)
    probs = _probabilities(model, batch, temperature=temperature, batch_size=batch_size)[:, int(target)]
    return InsertionCurve(fr.astype(np.float32), probs.astype(np.float32))


def explanation_mask(relevance: np.ndarray, *, top_k: float = MASK_TOP_K, seed: int = 0) -> np.ndarray:
    """A relevance map as a mask over the model input: its top ``top_k`` bins.

    Parameters
    ----------
    relevance : np.ndarray, shape (C, F, T)
        A relevance map (channels summed to rank the bins, as when listening).
    top_k : float
        Fraction of the time-frequency bins kept, 0 to 1.
    seed : int
        Breaks ties between equally relevant bins at random.

    Returns
    -------
    np.ndarray, float32, shape (C, F, T)
        1 on the kept bins (every channel), 0 elsewhere.

    Raises
    ------
    ConfigError
        If ``top_k`` is outside 0..1 or the map is not 3-D.
    """
    r = np.asarray(relevance)
    if r.ndim != 3:
        raise ConfigError(f"a relevance map has shape (C, F, T), got {r.shape}")
    m = top_k_mask(r, top_k, seed=seed).astype(np.float32)
    return np.ascontiguousarray(np.broadcast_to(m, r.shape))


def mask_scores(p_x: float, p_in: float, p_out: float, *, same_class: bool) -> dict[str, float]:
    """AI, AD, AG, FF and Fid-In from the three probabilities of the explained class.

    Parameters
    ----------
    p_x, p_in, p_out : float
        Probability of the class for the input, masked in and masked out.
    same_class : bool
        Whether the masked-in input gets the input's top class.

    Returns
    -------
    dict of str -> float
        ``ai``, ``ad``, ``ag`` (0..100), ``ff`` (-1..1), ``fid_in`` (0 or 1).
    """
    eps = 1e-9
    return {
        "ai": 100.0 * float(p_in > p_x),
        "ad": 100.0 * max(0.0, p_x - p_in) / (p_x + eps),
        "ag": 100.0 * max(0.0, p_in - p_x) / (1.0 - p_x + eps),
        "ff": float(p_x - p_out),
        "fid_in": float(same_class),
    }


@dataclass(frozen=True)
class Faithfulness:
    """Every faithfulness score of one map of one clip.

    Attributes
    ----------
    deletion : DeletionCurve
    insertion : InsertionCurve
    p_in, p_out : float
        Probability of the explained class masked in and masked out.
    fid_in : bool
        Whether the masked-in input keeps the input's top class.
    """

    deletion: DeletionCurve
    insertion: InsertionCurve
    p_in: float
    p_out: float
    fid_in: bool

    @property
    def p0(self) -> float:
        """Probability of the explained class for the input itself."""
        return float(self.deletion.probs[0])

    def scores(self) -> dict[str, float]:
        """The deletion scores (``auc``, ``drop10``, ``drop20``, ``p0``), ``insertion_auc``
        and :func:`mask_scores` (``ai``, ``ad``, ``ag``, ``ff``, ``fid_in``)."""
        return {
            **self.deletion.scores(),
            "insertion_auc": self.insertion.auc,
            **mask_scores(self.p0, self.p_in, self.p_out, same_class=self.fid_in),
        }

    def scored(self, *, n_classes: int) -> dict[str, float | None]:
        """:meth:`scores`, each None when the class starts below chance
        (:func:`~ser_core.explain.scorable`); ``p0`` is always given."""
        sc = self.scores()
        ok = scorable(sc["p0"], n_classes=n_classes)
        return {k: (v if ok or k == "p0" else None) for k, v in sc.items()}


def faithfulness_scores(
    x: np.ndarray,
    relevance: np.ndarray,
    *,
    model: nn.Module,
    target: int,
    mask: np.ndarray | None = None,
    top_k: float = MASK_TOP_K,
    options: XAIOptions = XAIOptions(),
    temperature: float = 1.0,
) -> Faithfulness:
    """Deletion, insertion and mask scores of one map, in one batch of forward passes.

    Parameters
    ----------
    x : np.ndarray, shape (C, F, T)
        Normalised model input.
    relevance : np.ndarray, shape (C, F, T)
        The map ranking the bins (deletion and insertion orders).
    model : nn.Module
        The network (logits out).
    target : int
        The explained class.
    mask : np.ndarray, shape (C, F, T), optional
        The explanation as a mask in [0, 1] (a method that yields one, e.g. L-MAC);
        default the map's top ``top_k`` bins (:func:`explanation_mask`).
    top_k : float
        Fraction of the bins the default mask keeps.
    options : XAIOptions
        Steps, baseline, batch size and seed (as the deletion test).
    temperature : float
        Calibration temperature of the softmax.

    Returns
    -------
    Faithfulness

    Raises
    ------
    ConfigError
        If ``x`` is not a finite ``(C, F, T)`` array, the map or mask does not have its
        shape, or the mask leaves [0, 1].
    """
    x = _check_input(x)
    b, seed = options.baseline, options.seed
    m = explanation_mask(relevance, top_k=top_k, seed=seed) if mask is None else np.asarray(mask, np.float32)
    if m.shape != x.shape or not (np.isfinite(m).all() and m.min() >= 0 and m.max() <= 1):
        raise ConfigError(f"the mask must lie in [0, 1] with the input's shape {x.shape}, got {m.shape}")
    fr = deletion_fractions(options.deletion_steps)
    batch = np.concatenate(
        [
            ordered_inputs(x, relevance, fr, baseline=b, seed=seed),
            ordered_inputs(x, relevance, fr, baseline=b, seed=seed, insert=True),
            np.stack([x * m + (1 - m) * b, x * (1 - m) + m * b]).astype(np.float32),
        ]
    )
    probs = _probabilities(model, batch, temperature=temperature, batch_size=options.batch_size)
    k, t = len(fr), int(target)
    fr32 = fr.astype(np.float32)
    return Faithfulness(
        deletion=DeletionCurve(fr32, probs[:k, t].astype(np.float32)),
        insertion=InsertionCurve(fr32, probs[k : 2 * k, t].astype(np.float32)),
        p_in=float(probs[2 * k, t]),
        p_out=float(probs[2 * k + 1, t]),
        fid_in=bool(probs[2 * k].argmax() == probs[0].argmax()),
    )


def faithfulness_test(
    x: np.ndarray,
    maps: Mapping[str, np.ndarray],
    *,
    model: nn.Module,
    target: int | None = None,
    masks: Mapping[str, np.ndarray] | None = None,
    top_k: float = MASK_TOP_K,
    temperature: float = 1.0,
    options: XAIOptions = XAIOptions(),
    random: bool = True,
) -> dict[str, Faithfulness]:
    """:func:`faithfulness_scores` of several maps of one input, plus ``"random"`` (reference).

    Parameters
    ----------
    x : np.ndarray, shape (C, F, T)
        Normalised model input.
    maps : mapping of str -> np.ndarray, shape (C, F, T)
        Relevance maps by method.
    model : nn.Module
        The network.
    target : int, optional
        The explained class (default: the predicted one).
    masks : mapping of str -> np.ndarray, shape (C, F, T), optional
        Methods' own masks in [0, 1] (others use their top ``top_k`` bins).
    top_k : float
        Fraction of the bins a map's mask keeps.
    temperature : float
        Calibration temperature of the softmax.
    options : XAIOptions
        Steps, baseline, batch size and seed.
    random : bool
        Add the ``"random"`` reference (:func:`~ser_core.explain.random_relevance`).

    Returns
    -------
    dict of str -> Faithfulness

    Raises
    ------
    ConfigError
        As :func:`faithfulness_scores`.
    """
    target, all_maps = with_reference(x, maps, model=model, target=target, random=random, seed=options.seed)
    own = dict(masks or {})
    return {
        k: faithfulness_scores(
            x,
            m,
            model=model,
            target=target,
            mask=own.get(k),
            top_k=top_k,
            options=options,
            temperature=temperature,
        )
        for k, m in all_maps.items()
    }
