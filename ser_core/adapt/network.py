"""Adapting a network to a voice: batch-norm statistics (AdaBN), information maximisation,
and the held-out-speaker protocol that scores them (one half of a speaker's clips adapts,
the other half is scored).  No label is read."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch

from .. import features, models
from ..errors import CalibrationError, ConfigError
from ..i18n import N_
from .voice import voice_stats

__all__ = [
    "ADAPT_SECONDS",
    "INFOMAX_EPOCHS",
    "INFOMAX_LR",
    "adapt_batchnorm",
    "adaptation_curve",
    "adapted_logits",
    "has_batchnorm",
    "infomax",
    "tune_to_voice",
    "view_batchnorm",
]

#: Information maximisation (:func:`infomax`): passes over the voice's clips and Adam's
#: learning rate, chosen on the LOSO folds' *validation* speakers (the best mean accuracy of
#: lr 3e-3 and 1e-2 after 1-10 passes; the test speakers were not looked at).
INFOMAX_EPOCHS = 8
INFOMAX_LR = 1e-2

#: Seconds of held-out-speaker audio the adaptation curve uses (None: all of the pool).
ADAPT_SECONDS: tuple[float | None, ...] = (0, 5, 10, 30, None)


def adaptation_curve(
    x: np.ndarray,
    rows: np.ndarray,
    *,
    logits_fn,
    labels: np.ndarray,
    seconds: np.ndarray,
    fallback: features.NormStats,
    ks: Sequence[float | None] = ADAPT_SECONDS,
    seed: int = 0,
) -> dict[str, float]:
    """Accuracy on one new speaker when adapting from ``k`` seconds of their audio.

    The speaker's clips are split at random into two halves; statistics come
    from the first ``k`` seconds of one half (clips in random order, whole
    clips) and the other half is scored, then the halves swap, so every clip
    is scored once per ``k`` and never by statistics that saw it.  ``k = 0``
    uses the corpus statistics (``fallback``); ``None`` uses the whole half.

    Parameters
    ----------
    x : np.ndarray, shape (n_clips, C, F, T) or (n_clips, dim)
        Un-normalised features of the corpus (memmap fine), or utterance
        functionals, whose statistics are then pulled towards ``fallback`` as
        the predictor does (:func:`ser_core.functionals.shrink`).
    rows : np.ndarray of int
        The held-out speaker's clips.
    logits_fn : callable
        ``(m, C, F, T) normalised -> (m, 6)`` logits.
    labels : np.ndarray, shape (n_clips,)
        Used only to score the predictions, never for the statistics.
    seconds : np.ndarray, shape (n_clips,)
        Audio seconds each clip contributes (its length, at most the 3-s crop).
    fallback : NormStats
        The corpus statistics (for ``k = 0``, and the prior of functionals).
    ks : sequence of float or None
        The budgets in seconds (:data:`ADAPT_SECONDS`).
    seed : int
        The random halves.

    Returns
    -------
    dict of str -> float
        Accuracy per budget: ``{"0": acc, "5": acc, ..., "all": acc}``.
    """
    out: dict[str, float] = {}
    for k in ks:
        correct = total = 0
        for pool, scored in _half_splits(rows, seed=seed, budget=k or None, seconds=seconds):
            stats = fallback if k == 0 or not len(pool) else voice_stats(x[pool], prior=fallback)
            z = logits_fn(stats.apply(np.asarray(x[scored], np.float32)))
            correct += int((np.asarray(z).argmax(1) == labels[scored]).sum())
            total += len(scored)
        out["all" if k is None else f"{k:g}"] = correct / max(total, 1)
    return out


def _half_splits(
    rows: np.ndarray, *, seed: int, budget: float | None = None, seconds: np.ndarray | None = None
):
    """``(pool, scored)`` twice: one speaker's clips split at random into two halves, the
    statistics' clips (the first ``budget`` seconds of one half, sorted; the whole half when
    None) and the other half, then the halves swapped.  Empty scored halves are skipped."""
    perm = np.random.default_rng(seed).permutation(np.asarray(rows))
    halves = (perm[: len(perm) // 2], perm[len(perm) // 2 :])
    for pool, scored in (halves, halves[::-1]):
        if not len(scored):
            continue
        if budget is not None and len(pool):
            if seconds is None:
                raise ConfigError(f"a budget of {budget!r} seconds needs the clips' seconds, got None")
            pool = pool[: int(np.searchsorted(np.cumsum(seconds[pool]), budget)) + 1]
        yield np.sort(pool), scored


def _shared_copy(model):
    """A deep copy of a torch module, in eval mode, that shares its parameters (the buffers,
    batch-norm statistics among them, are its own)."""
    return copy.deepcopy(model, {id(p): p for p in model.parameters()}).eval()


def _batchnorms(model) -> list:
    """``(name, layer)`` of every batch-norm layer of a torch module, in module order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


def has_batchnorm(model) -> bool:
    """Whether a torch module has a batch-norm layer (:func:`adapt_batchnorm` can change it).

    Parameters
    ----------
    model : torch.nn.Module
        Any network.

    Returns
    -------
    bool
    """
    return bool(_batchnorms(model))


def adapt_batchnorm(model, x: np.ndarray, *, batch_size: int = 64):
    """A copy of ``model`` whose batch-norm statistics are those of one voice (AdaBN).

    Adaptive batch normalisation (Li et al., 2016): every batch-norm layer's
    running mean and variance are re-estimated, as a plain average over the
    batches, from the activations ``x`` produces; no weight changes and no
    label is read.  It goes one step beyond :func:`speaker_normalise`, which
    adapts only the input.  The copy shares ``model``'s parameters (only the
    batch-norm buffers are its own), so many adapted copies cost little memory.

    Parameters
    ----------
    model : torch.nn.Module
        A network with batch-norm layers; it is not modified.
    x : np.ndarray, shape (n_clips, C, F, T)
        Already normalised inputs of the new voice (any emotions, unlabelled).
    batch_size : int
        Clips per forward pass.

    Returns
    -------
    torch.nn.Module
        The adapted copy, in eval mode.

    Raises
    ------
    CalibrationError
        When ``x`` holds no clip.
    """
    if len(x) == 0:
        raise CalibrationError(N_("batch-norm adaptation needs at least one clip of the new voice, got 0"))
    adapted = _shared_copy(model)
    for _, layer in _batchnorms(adapted):
        layer.reset_running_stats()
        layer.momentum = None  # a cumulative average over the batches
        layer.train()
    models.predict_logits(adapted, x, batch_size=batch_size, keep_mode=True)  # the statistics pass
    return adapted.eval()


def infomax(
    model,
    x: np.ndarray,
    *,
    epochs: int = INFOMAX_EPOCHS,
    lr: float = INFOMAX_LR,
    batch_size: int = 64,
    diversity: float = 1.0,
    seed: int = 0,
    callback=None,
):
    """A copy of ``model`` whose batch-norm scales and shifts are tuned to one voice by
    information maximisation (SHOT-IM), from unlabelled clips.

    Liang et al. (2020), *Do we really need to access the source data?*: the
    loss is the mean entropy of the clips' predictions (each clip should be
    decided) minus ``diversity`` times the entropy of their mean (the clips
    should not all be decided alike), minimised with Adam over the affine
    parameters of every batch-norm layer only (Wang et al.'s TENT); the
    batch-norm statistics stay those ``model`` has, so pass an
    :func:`adapt_batchnorm` copy.  Entropy alone (TENT) collapses a new voice
    onto a few classes; the diversity term is what keeps it balanced.  No
    label is read.

    Parameters
    ----------
    model : torch.nn.Module
        A network with batch-norm layers, usually already AdaBN-adapted to the
        voice; not modified.
    x : np.ndarray, shape (n_clips, C, F, T)
        Normalised inputs of the new voice (any emotions, unlabelled).
    epochs : int
        Passes over ``x`` in random order (:data:`INFOMAX_EPOCHS`).
    lr : float
        Adam's learning rate (:data:`INFOMAX_LR`).
    batch_size : int
        Clips per step.
    diversity : float
        Weight of the entropy of the mean prediction (0: TENT's entropy alone).
    seed : int
        Order of the clips.
    callback : callable, optional
        ``callback(epoch, net)`` after every epoch (1-based), the copy in eval mode.

    Returns
    -------
    torch.nn.Module
        The copy, in eval mode: its own batch-norm buffers and affine
        parameters, every other parameter shared with ``model``.

    Raises
    ------
    CalibrationError
        When ``x`` holds fewer than two clips (their mean prediction says nothing).
    """
    if len(x) < 2:
        raise CalibrationError(
            N_("information maximisation needs at least two clips of the new voice, got {n}"), n=len(x)
        )
    net = _shared_copy(model)
    tuned = []
    for _, layer in _batchnorms(net):
        if layer.affine:
            layer.weight = torch.nn.Parameter(layer.weight.detach().clone())
            layer.bias = torch.nn.Parameter(layer.bias.detach().clone())
            tuned += [layer.weight, layer.bias]
    if not tuned:
        return net
    opt = torch.optim.Adam(tuned, lr=lr)
    order_rng = np.random.default_rng(seed)
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    for epoch in range(1, epochs + 1):
        order = order_rng.permutation(len(x))
        for i in range(0, len(x), batch_size):
            b = order[i : i + batch_size]
            if len(b) < 2:
                continue  # a lone clip's mean prediction is itself
            prob = torch.softmax(net(xt[b]), dim=1)
            mean = prob.mean(0)
            loss = (
                -(prob * torch.log(prob + 1e-8)).sum(1).mean()
                + diversity * (mean * torch.log(mean + 1e-8)).sum()
            )
            # gradients of the tuned parameters only: the shared weights are left untouched
            for p, g in zip(tuned, torch.autograd.grad(loss, tuned)):
                p.grad = g
            opt.step()
        if callback is not None:
            callback(epoch, net)
    for p in tuned:
        p.requires_grad_(False)
        p.grad = None
    return net.eval()


def tune_to_voice(model, x: np.ndarray, *, batch_size: int = 64, **kwargs):
    """:func:`infomax` on top of :func:`adapt_batchnorm`: statistics and batch-norm affine
    parameters of ``model`` adapted to one voice.

    Views of the voice (its warped copies) then re-estimate their own statistics on the
    tuned copy (:func:`adapt_batchnorm`, :func:`view_batchnorm`).

    Parameters
    ----------
    model : torch.nn.Module
        A network with batch-norm layers; not modified.
    x : np.ndarray, shape (n_clips, C, F, T)
        Normalised inputs of the voice (unlabelled).
    batch_size : int
        Clips per forward pass and per step.
    **kwargs
        Passed to :func:`infomax` (``epochs``, ``lr``, ``diversity``, ``seed``, ``callback``).

    Returns
    -------
    torch.nn.Module
        The tuned copy, in eval mode, sharing ``model``'s other parameters.

    Raises
    ------
    CalibrationError
        When ``x`` holds fewer than two clips.
    """
    return infomax(adapt_batchnorm(model, x, batch_size=batch_size), x, batch_size=batch_size, **kwargs)


def view_batchnorm(model, xs: Sequence[np.ndarray], *, batch_size: int = 64):
    """One copy of ``model`` that scores several views of the same clips in one batch, each
    view with batch-norm statistics of its own inputs (:func:`adapt_batchnorm` per view).

    The predictor's voice warps are such views: every warped copy of the voice
    gets its own statistics, and all copies of a clip still go through the
    network as one batch.

    Parameters
    ----------
    model : torch.nn.Module
        A network with batch-norm layers; not modified (the copy shares its parameters).
    xs : sequence of V np.ndarray, each shape (n_v, C, F, T)
        Normalised inputs of the new voice, one array per view.
    batch_size : int
        Clips per forward pass while estimating each view's statistics.

    Returns
    -------
    torch.nn.Module
        In eval mode; its input is ``(V * m, C, F, T)``, V consecutive blocks of
        ``m`` clips, block ``v`` normalised with the statistics of ``xs[v]``.

    Raises
    ------
    CalibrationError
        When a view holds no clip.
    """
    adapted = [adapt_batchnorm(model, x, batch_size=batch_size) for x in xs]
    out = _shared_copy(model)
    for layer_name, layer in _batchnorms(out):
        per = [a.get_submodule(layer_name) for a in adapted]
        parent, _, attr = layer_name.rpartition(".")
        setattr(
            out.get_submodule(parent),
            attr,
            models.ViewBatchNorm(
                layer, torch.stack([p.running_mean for p in per]), torch.stack([p.running_var for p in per])
            ),
        )
    return out


def adapted_logits(
    x: np.ndarray,
    rows: np.ndarray,
    *,
    model,
    batchnorm: bool = True,
    budget: float | None = None,
    seconds: np.ndarray | None = None,
    seed: int = 0,
    batch_size: int = 64,
    fallback: features.NormStats | None = None,
    infomax: bool = False,
    reference: np.ndarray | None = None,
    tuned: dict | None = None,
) -> np.ndarray:
    """Logits of one new speaker's clips, each adapted to the *other* half of their clips.

    The protocol of :func:`adaptation_curve` (same halves for the same
    ``seed``): the statistics of the first ``budget`` seconds of one half of
    the speaker's clips (the whole half when None) normalise the input and,
    with ``batchnorm``, re-estimate the network's batch-norm statistics
    (AdaBN, :func:`adapt_batchnorm`); the other half is scored, then the
    halves swap.

    Parameters
    ----------
    x : np.ndarray, shape (n_clips, C, F, T)
        Un-normalised features of the corpus (memmap fine).
    rows : np.ndarray of int, shape (m,)
        The held-out speaker's clips.
    model : torch.nn.Module
        A speaker-normalised network (not modified).
    batchnorm : bool
        Also adapt the batch-norm statistics (else the input only).
    budget : float, optional
        Seconds of audio to adapt to (whole clips, in random order).
    seconds : np.ndarray, shape (n_clips,)
        Audio seconds each clip contributes; needed with ``budget``.
    fallback : NormStats, optional
        The model's corpus statistics: utterance functionals ``(n_clips, dim)``
        pull the voice's statistics towards them as the predictor does
        (:func:`ser_core.functionals.shrink`).
    infomax : bool
        With ``batchnorm``, also tune the batch-norm affine parameters on the
        adapting half (:func:`infomax`, on top of its AdaBN statistics).
    reference : np.ndarray, shape (n_clips, C, F, T), optional
        Features the information maximisation runs on instead of ``x`` (the
        voice as it is when ``x`` is one of its warped copies: the tuned
        network's batch-norm statistics are then re-estimated on the copy, as
        :meth:`ser_core.inference.Predictor.adapted` does).
    tuned : dict, optional
        Networks already tuned to an adapting half, by its clips; filled here.
        Pass one dict for every warped copy ``x`` of the same voice and
        ``reference``, and each half is tuned once instead of once per copy.
    seed : int
        The random halves (as :func:`adaptation_curve`).
    batch_size : int
        Clips per forward pass.

    Returns
    -------
    np.ndarray, float32, shape (m, 6)
        Logits in the order of ``rows``; no label is read.

    Raises
    ------
    CalibrationError
        When the speaker has fewer than two clips.
    ValueError
        When ``budget`` is given without ``seconds``.
    """
    rows = np.asarray(rows)
    out = np.zeros((len(rows), 6), np.float32)
    where = {int(r): i for i, r in enumerate(rows)}
    tuned = {} if tuned is None else tuned
    for pool, scored in _half_splits(rows, seed=seed, budget=budget, seconds=seconds):
        if not len(pool):
            raise CalibrationError(f"a speaker needs at least two clips to adapt to, got {len(rows)}")
        stats = voice_stats(x[pool], prior=fallback)
        net = model
        if batchnorm:
            if infomax:
                key = tuple(int(r) for r in pool)
                if key not in tuned:
                    ref = np.asarray((x if reference is None else reference)[pool], np.float32)
                    tuned[key] = tune_to_voice(
                        model, voice_stats(ref, prior=fallback).apply(ref), batch_size=batch_size
                    )
                net = tuned[key]
            net = adapt_batchnorm(net, stats.apply(np.asarray(x[pool], np.float32)), batch_size=batch_size)
        z = stats.apply(np.asarray(x[scored], np.float32))
        out[[where[int(r)] for r in scored]] = models.predict_logits(net, z, batch_size=batch_size)
    return out
