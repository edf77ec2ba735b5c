"""The deletion metric of an explanation: remove the most relevant bins first, follow the
class probability (the lower its area, the better the map ranks the bins).

Removed bins are set to the **baseline 0 of the normalised input, i.e. the
training-set mean** of that frequency bin; a random ordering is the reference.

The scores are only meaningful for a class the model gives some probability to start
with: the curve cannot fall below 0, so its drops are at most the starting probability
``p0``.  For a class the model rejects (``p0`` near 0) every curve starts near 0 with
nowhere to fall, and every map gets a near-perfect AUC whatever it shows (removing the
evidence *against* the class may even raise its curve).  The rule here: a curve is
*scored* only when ``p0`` is at least the chance level ``1 / n_classes`` (16.7 % for six
emotions), i.e. when the model rates the class at least as likely as a blind guess
(:func:`scorable`).  The predicted class always passes (the largest of ``n``
probabilities is at least ``1 / n``), so the dataset benchmark, which explains the
predicted class, is unaffected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .. import models
from ..errors import ConfigError
from .registry import XAIOptions, _check_input, _order, predicted_class

__all__ = [
    "DROP_AT",
    "DeletionCurve",
    "chance_level",
    "deletion_curve",
    "deletion_fractions",
    "deletion_test",
    "ordered_inputs",
    "random_relevance",
    "scorable",
]

#: Fraction of bins removed at which the probability drop is reported.
DROP_AT = (0.1, 0.2)


def chance_level(n_classes: int) -> float:
    """The probability of a blind guess, ``1 / n_classes``: the least starting
    probability at which a deletion curve is scored (:func:`scorable`).

    Raises
    ------
    ConfigError
        If ``n_classes`` is below 2.
    """
    if n_classes < 2:
        raise ConfigError(f"a classifier needs at least 2 classes, got {n_classes!r}")
    return 1.0 / n_classes


def scorable(p0: float, *, n_classes: int) -> bool:
    """Whether deletion scores starting at probability ``p0`` mean anything.

    Parameters
    ----------
    p0 : float
        Probability of the explained class before any bin is removed.
    n_classes : int
        Number of classes of the model.

    Returns
    -------
    bool
        ``p0 >= 1 / n_classes`` (:func:`chance_level`): below it the model already
        rejects the class, the curve has (almost) no room to fall, and a small AUC
        says nothing about the map.
    """
    return float(p0) >= chance_level(n_classes) - 1e-9


def _probabilities(
    model: nn.Module, batch: np.ndarray, *, temperature: float = 1.0, batch_size: int = 32
) -> np.ndarray:
    """Calibrated probabilities ``(n, k)`` of a batch of inputs ``(n, C, F, T)``."""
    logits = models.predict_logits(model, batch, batch_size=batch_size, keep_mode=True)
    return torch.softmax(torch.from_numpy(logits) / temperature, dim=1).numpy()


# ------------------------------------------------------------------ deletion test
@dataclass(frozen=True)
class ProbabilityCurve:
    """Class probability against the fraction of the bins changed, most relevant first.

    Attributes
    ----------
    fractions : np.ndarray, shape (k,)
        Fraction of the bins removed (deletion) or put back (insertion), 0 to 1.
    probs : np.ndarray, shape (k,)
        Probability of the explained class at each fraction.
    """

    fractions: np.ndarray
    probs: np.ndarray

    @property
    def auc(self) -> float:
        """Area under the curve (trapezoids over 0..1): lower is better for deletion,
        higher for insertion."""
        return float(np.trapezoid(self.probs, self.fractions))


@dataclass(frozen=True)
class DeletionCurve(ProbabilityCurve):
    """Class probability while the most relevant bins are removed (:class:`ProbabilityCurve`)."""

    def drop_at(self, fraction: float) -> float:
        """Probability drop after removing a fraction of the bins; higher is better.

        Parameters
        ----------
        fraction : float
            Fraction of the bins removed, 0 to 1.

        Returns
        -------
        float
            ``p(0) - p(fraction)``, ``p`` linearly interpolated.
        """
        return float(self.probs[0] - np.interp(fraction, self.fractions, self.probs))

    def scores(self) -> dict[str, float]:
        """The curve's scores.

        Returns
        -------
        dict of str -> float
            ``auc``, ``drop10``, ``drop20`` (one ``drop<pct>`` per
            :data:`DROP_AT`) and ``p0``, the probability before any removal.
        """
        return {
            "auc": self.auc,
            **{f"drop{round(100 * f)}": self.drop_at(f) for f in DROP_AT},
            "p0": float(self.probs[0]),
        }


def deletion_fractions(steps: int) -> np.ndarray:
    """The fractions of bins a deletion curve removes.

    Parameters
    ----------
    steps : int
        Equal steps from 0 to 1.

    Returns
    -------
    np.ndarray, float64, shape (k,)
        ``0, 1/steps, ..., 1`` and :data:`DROP_AT` (0.1, 0.2), sorted, unique.

    Raises
    ------
    ConfigError
        If ``steps`` is below 1.
    """
    if steps < 1:
        raise ConfigError(f"deletion steps must be positive, got {steps!r}")
    return np.unique(np.round(np.r_[np.linspace(0, 1, steps + 1), DROP_AT], 10))


def random_relevance(shape: Sequence[int], *, seed: int = 0) -> np.ndarray:
    """A random map (uniform noise): the reference ordering of the deletion test.

    Parameters
    ----------
    shape : sequence of int
        Shape of the map, e.g. ``(C, F, T)``.
    seed : int
        Seed of the noise.

    Returns
    -------
    np.ndarray, float32, shape ``shape``
        Values in [0, 1).
    """
    return np.random.default_rng(seed).random(tuple(shape)).astype(np.float32)


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
        The network (logits out).
    target : int
        Class whose (calibrated) probability is followed.
    steps : int
        Removal steps from 0 to 100 % (0.1 and 0.2 are added).
    baseline : float
        Value of removed bins in the normalised input (0: the training mean).
    temperature : float
        Calibration temperature of the softmax.
    batch_size : int
        Inputs per forward pass.
    seed : int
        Breaks ties between equally relevant bins at random.

    Returns
    -------
    DeletionCurve
        ``fractions`` and ``probs``, float32, shape (k,) (:func:`deletion_fractions`).

    Raises
    ------
    ConfigError
        If ``x`` is not a finite ``(C, F, T)`` array, ``relevance`` does not
        have its shape, or ``steps`` is below 1.
    """
    x = _check_input(x)
    fr = deletion_fractions(steps)
    batch = ordered_inputs(x, relevance, fr, baseline=baseline, seed=seed)
    probs = _probabilities(model, batch, temperature=temperature, batch_size=batch_size)[:, int(target)]
    return DeletionCurve(fr.astype(np.float32), probs.astype(np.float32))


def ordered_inputs(
    x: np.ndarray,
    relevance: np.ndarray,
    fractions: np.ndarray,
    *,
    baseline: float = 0.0,
    seed: int = 0,
    insert: bool = False,
) -> np.ndarray:
    """The inputs of a deletion (or insertion) curve, most relevant bins first.

    Parameters
    ----------
    x : np.ndarray, shape (C, F, T)
        Normalised model input.
    relevance : np.ndarray, shape (C, F, T)
        The map ranking the bins (larger = earlier).
    fractions : np.ndarray, shape (k,)
        Fractions of the bins removed (inserted), 0 to 1.
    baseline : float
        Value of an absent bin in the normalised input (0: the training mean).
    seed : int
        Breaks ties between equally relevant bins at random.
    insert : bool
        False: ``x`` with its top bins set to ``baseline`` (deletion); True: the
        baseline with the top bins of ``x`` put back (insertion).

    Returns
    -------
    np.ndarray, float32, shape (k, C, F, T)

    Raises
    ------
    ConfigError
        If ``relevance`` does not have ``x``'s shape.
    """
    x = np.asarray(x, dtype=np.float32)
    relevance = np.asarray(relevance)
    if relevance.shape != x.shape:
        raise ConfigError(f"relevance shape {relevance.shape} does not match the input {x.shape}")
    order = _order(relevance, seed)
    counts = np.round(np.asarray(fractions) * x.size).astype(int)
    flat = x.reshape(1, -1)
    batch = (
        np.full((len(counts), x.size), baseline, np.float32) if insert else np.repeat(flat, len(counts), 0)
    )
    for i, c in enumerate(counts):
        batch[i, order[:c]] = flat[0, order[:c]] if insert else baseline
    return batch.reshape(len(counts), *x.shape)


def with_reference(
    x: np.ndarray,
    maps: Mapping[str, np.ndarray],
    *,
    model: nn.Module,
    target: int | None,
    random: bool,
    seed: int,
) -> tuple[int, dict[str, np.ndarray]]:
    """``(target, maps)`` of a test of several maps: the explained class (default: the
    predicted one) and the maps plus, with ``random``, the ``"random"`` reference map."""
    if target is None:
        target = predicted_class(x, model=model)
    all_maps = dict(maps)
    if random:
        all_maps["random"] = random_relevance(np.shape(x), seed=seed)
    return target, all_maps


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
    """Deletion curves of several maps of one input, plus ``"random"`` (reference).

    Parameters
    ----------
    x : np.ndarray, shape (C, F, T)
        Normalised model input.
    maps : mapping of str -> np.ndarray, shape (C, F, T)
        Relevance maps by method.
    model : nn.Module
        The network.
    target : int, optional
        Class whose probability is followed (default: the predicted one).
    temperature : float
        Calibration temperature of the softmax.
    options : XAIOptions
        Steps, baseline, batch size and seed of the test.
    random : bool
        Add the ``"random"`` reference curve (:func:`random_relevance`).

    Returns
    -------
    dict of str -> DeletionCurve

    Raises
    ------
    ConfigError
        As :func:`deletion_curve`.
    """
    target, all_maps = with_reference(x, maps, model=model, target=target, random=random, seed=options.seed)
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
