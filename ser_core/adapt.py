"""Speaker adaptation: normalise features with statistics of one voice.

A model trained on a random split knows its speakers; on a new voice its
accuracy collapses (about 46% for a mel ResNet on one held-out nEMO speaker).
Normalising every clip with the mean and standard deviation *of its own
speaker* (per channel and bin, over all frames of that speaker's audio)
removes much of what makes voices differ (vocal-tract length, microphone,
loudness) and keeps what the emotion changes.

Only audio is used, never labels: the statistics of a speaker are the same
whatever the clips' emotions are (a test shuffles them to check).

>>> profile = voice_profile(y_30s, representations=["mel"])   # unlabelled speech
>>> pred = Predictor.load("resnet18_mel_spk").adapted(profile)
>>> pred.predict(y)

* :func:`voice_profile` – statistics from a recording (10–30 s of any speech);
* :class:`RunningStats` – the same, updated frame by frame (live microphone);
* :func:`speaker_stats` – per-speaker statistics of a corpus part (training);
* :func:`voice_warps` – test-time augmentation: the voice with its
  frequencies scaled by each of :data:`VOICE_WARPS`, every copy normalised
  with its own statistics, the predictions averaged;
* :func:`adapt_batchnorm` – re-estimate a network's batch-norm statistics on a
  voice (AdaBN); :func:`adapted_logits` scores it on a held-out speaker.  A
  profile of at least :data:`ADABN_SECONDS` of speech keeps its windows
  (:attr:`VoiceProfile.windows`), and a predictor adapted to it does this too;
* :func:`infomax` – tune the batch-norm scales and shifts to a voice by information
  maximisation (SHOT-IM), :func:`tune_to_voice` on top of AdaBN; a predictor adapted to
  at least :data:`INFOMAX_SECONDS` of speech does this too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import features
from .audio import frame_windows
from .config import DEFAULT_CONFIG, FeatureConfig
from .errors import SERError

__all__ = [
    "CalibrationError",
    "VoiceProfile",
    "RunningStats",
    "voice_profile",
    "speaker_stats",
    "speaker_normalise",
    "adaptation_curve",
    "adapt_batchnorm",
    "adapted_logits",
    "profile_from_source",
    "clip_seconds",
    "window_stats",
    "voice_stats",
    "ADAPT_SECONDS",
    "MIN_SECONDS",
    "MIN_RMS",
    "VOICE_WARPS",
    "voice_warps",
    "ADABN_SECONDS",
    "ADABN_MAX_WINDOWS",
    "has_batchnorm",
    "speech_windows",
    "adabn_windows",
    "view_batchnorm",
    "infomax",
    "tune_to_voice",
    "INFOMAX_EPOCHS",
    "INFOMAX_LR",
    "INFOMAX_SECONDS",
]

#: Shortest speech a voice profile accepts (s of non-silent audio).
MIN_SECONDS = 5.0
#: Windows quieter than this RMS (about -50 dBFS) count as silence.
MIN_RMS = 3e-3
#: Test-time voice warps: a new voice is also heard with every frequency scaled by each
#: factor (a vocal tract up to 16 % shorter or longer), as the models' ``--freq-warp``
#: augmentation does in training; the predictions of the copies are averaged.
VOICE_WARPS: tuple[float, ...] = (0.84, 0.88, 0.92, 0.96, 1.0, 1.04, 1.08, 1.12, 1.16)
#: Speech from which a calibration also re-estimates the networks' batch-norm statistics
#: (AdaBN, :func:`adapt_batchnorm`).  Measured under LOSO with the voice warps
#: (``evaluate --voice-warps --adabn``): from 20 s it adds 3.4 points to the mel model and
#: 1.3 to ``ensemble_spk``, from 30 s 3.5 and 2.6; from 10 s the batch statistics are too
#: noisy (+0.2 and -1.0).
ADABN_SECONDS = 20.0
#: At most this many 3-s windows of a long calibration are kept for AdaBN (evenly spaced; 5 min).
ADABN_MAX_WINDOWS = 200
#: Information maximisation (:func:`infomax`): passes over the voice's clips and Adam's
#: learning rate, chosen on the LOSO folds' *validation* speakers (the best mean accuracy of
#: lr 3e-3 and 1e-2 after 1-10 passes; the test speakers were not looked at).
INFOMAX_EPOCHS = 8
INFOMAX_LR = 1e-2
#: Speech from which a calibration also runs :func:`tune_to_voice` (information maximisation).
INFOMAX_SECONDS = 60.0


class CalibrationError(SERError, ValueError):
    """Audio that cannot give speaker statistics (silent, too short)."""


@dataclass(frozen=True)
class VoiceProfile:
    """Normalisation statistics of one voice, per representation.

    Attributes
    ----------
    stats : mapping of representation -> NormStats
        Mean and std per channel and bin, arrays ``(C, F, 1)`` (a functional
        set's: per dimension, ``(dim,)``).
    seconds : float
        Speech the statistics come from (silent windows excluded).
    name : str
        What the user called it ("" when unnamed).
    windows : np.ndarray, shape (n, samples), or None
        The speech windows the statistics come from (at most
        :data:`ADABN_MAX_WINDOWS`, evenly spaced), kept in memory so that a
        predictor can also re-estimate its batch-norm statistics on the voice
        (from :data:`ADABN_SECONDS` of speech); never in :meth:`to_json` (a
        saved profile holds statistics only), None for live and saved profiles.
    """

    stats: Mapping[str, features.NormStats] = field(default_factory=dict)
    seconds: float = 0.0
    name: str = ""
    windows: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __contains__(self, representation: str) -> bool:
        return representation in self.stats

    @property
    def adapts_batchnorm(self) -> bool:
        """The profile holds the windows of at least :data:`ADABN_SECONDS` of speech."""
        return self.windows is not None and len(self.windows) > 0 and self.seconds >= ADABN_SECONDS

    @property
    def tunes_network(self) -> bool:
        """The profile holds the windows of at least :data:`INFOMAX_SECONDS` of speech
        (a predictor adapted to it also runs :func:`tune_to_voice`)."""
        return self.adapts_batchnorm and self.seconds >= INFOMAX_SECONDS

    def to_json(self) -> str:
        return json.dumps(
            {
                "name": self.name,
                "seconds": self.seconds,
                "stats": {k: v.to_dict() for k, v in self.stats.items()},
            }
        )

    @classmethod
    def from_json(cls, text: str) -> VoiceProfile:
        d = json.loads(text)
        return cls(
            {k: features.NormStats.from_dict(v) for k, v in d["stats"].items()},
            float(d["seconds"]),
            d.get("name", ""),
        )


def voice_profile(
    y: np.ndarray,
    *,
    representations: Sequence[str] = ("mel",),
    cfg: FeatureConfig = DEFAULT_CONFIG,
    min_seconds: float = MIN_SECONDS,
    name: str = "",
) -> VoiceProfile:
    """Speaker statistics from unlabelled speech.

    The recording is cut into 3-s windows (1.5-s hop); silent windows (RMS
    below :data:`MIN_RMS`) are dropped; the statistics are taken over every
    frame of the rest, exactly as for a corpus speaker.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono speech at ``cfg.sr`` (any emotion; 10–30 s is plenty).
    representations : sequence of str
        Which representations (or functional sets) to compute statistics for
        (those of the models that will use the profile).
    min_seconds : float
        Refuse less non-silent speech than this.

    Raises
    ------
    CalibrationError
        When the audio is silent or has less than ``min_seconds`` of speech.
    """
    voiced, speech = speech_windows(y, cfg=cfg, min_seconds=min_seconds)
    return VoiceProfile(
        window_stats(voiced, representations=representations, cfg=cfg), speech, name, adabn_windows(voiced)
    )


def speech_windows(
    y: np.ndarray, *, cfg: FeatureConfig = DEFAULT_CONFIG, min_seconds: float = MIN_SECONDS
) -> tuple[np.ndarray, float]:
    """The speech of a calibration recording as :func:`voice_profile` takes it.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono speech at ``cfg.sr``.

    Returns
    -------
    windows : np.ndarray, shape (m, cfg.n_samples)
        Its 3-s windows (1.5-s hop) louder than :data:`MIN_RMS`.
    seconds : float
        The speech they cover.

    Raises
    ------
    CalibrationError
        When the audio is silent or has less than ``min_seconds`` of speech.
    """
    y = np.asarray(y, np.float32)
    seconds = len(y) / cfg.sr
    if seconds < min_seconds:
        raise CalibrationError(
            f"calibration needs at least {min_seconds:g} s of speech; this recording is {seconds:.1f} s long"
        )
    wins, _ = frame_windows(y, sr=cfg.sr, window=cfg.duration, hop=cfg.duration / 2)
    rms = np.sqrt((wins.astype(np.float64) ** 2).mean(1))
    voiced = wins[rms >= MIN_RMS]
    if len(voiced) == 0:
        raise CalibrationError(
            f"the calibration recording is silent (loudest 3-s window RMS "
            f"{rms.max():.1e} < {MIN_RMS:.0e}); is the microphone muted?"
        )
    speech = min(seconds, len(voiced) * cfg.duration / 2 + cfg.duration / 2)
    if speech < min_seconds:
        raise CalibrationError(
            f"only {speech:.1f} s of the recording is speech; calibration needs at least {min_seconds:g} s"
        )
    return voiced, float(speech)


def adabn_windows(windows: np.ndarray) -> np.ndarray:
    """At most :data:`ADABN_MAX_WINDOWS` of speech windows ``(m, samples)``, evenly spaced
    (what a profile keeps for AdaBN)."""
    pick = np.linspace(0, len(windows) - 1, min(len(windows), ADABN_MAX_WINDOWS)).round().astype(int)
    return np.asarray(windows, np.float32)[np.unique(pick)]


def window_stats(
    windows: np.ndarray, *, representations: Sequence[str], cfg: FeatureConfig = DEFAULT_CONFIG
) -> dict[str, features.NormStats]:
    """Statistics of speech windows ``(n, samples)`` for representations and functional sets.

    A representation's are per channel and bin over every frame of every
    window, ``(C, F, 1)``; a functional set's (:mod:`ser_core.functionals`) are
    per dimension over the windows' vectors, ``(dim,)``.
    """
    from . import functionals

    frame_reps, sets = functionals.partition(representations)
    feats = [features.compute_all(w, frame_reps, cfg=cfg) for w in windows] if frame_reps else []
    stats = {r: features.normalization_stats(np.stack([f[r] for f in feats])) for r in frame_reps}
    for r in sets:
        stats[r] = features.normalization_stats(functionals.compute_batch(windows, r, cfg=cfg))
    return {r: stats[r] for r in representations}


def voice_stats(x: np.ndarray, *, prior: features.NormStats | None = None) -> features.NormStats:
    """Statistics of one voice's clips, as the predictor uses them.

    :func:`~ser_core.features.normalization_stats` of ``x``; for utterance
    functionals ``(n_clips, dim)`` pulled towards ``prior`` by how few clips
    they are (:func:`ser_core.functionals.shrink`; frame-level statistics are
    left as they are).
    """
    from .functionals import shrink

    return shrink(features.normalization_stats(x), prior)


class RunningStats:
    """Per-bin mean and variance over frames, updated one feature block at a time.

    Chan et al.'s parallel form of Welford's algorithm, in float64, so the
    result equals the batch statistics of everything seen so far.

    Parameters
    ----------
    eps : float
        Floor on the standard deviation (as :func:`ser_core.features.normalization_stats`).
    """

    def __init__(self, *, eps: float = 1e-5) -> None:
        self.eps = eps
        self._vectors = False  # fed utterance functional vectors (dim,), not frames
        self.n = 0
        self._mean: np.ndarray | None = None
        self._m2: np.ndarray | None = None

    def update(self, x: np.ndarray) -> RunningStats:
        """Add the frames of ``x``, shape ``(C, F, T)`` (or ``(n, C, F, T)``), or one utterance
        functional vector ``(dim,)`` (then :meth:`stats` is per dimension, ``(dim,)``)."""
        x = np.asarray(x, np.float64)
        self._vectors = x.ndim == 1
        if x.ndim == 1:
            x = x[None, :, None]
        if x.ndim == 3:
            x = x[None]
        m = x.shape[0] * x.shape[3]
        if m == 0:
            return self
        mean_b = x.mean(axis=(0, 3))
        m2_b = ((x - mean_b[None, :, :, None]) ** 2).sum(axis=(0, 3))
        if self._mean is None:
            self._mean, self._m2, self.n = mean_b, m2_b, m
            return self
        delta = mean_b - self._mean
        total = self.n + m
        self._mean = self._mean + delta * m / total
        self._m2 = self._m2 + m2_b + delta**2 * self.n * m / total
        self.n = total
        return self

    @property
    def frames(self) -> int:
        return self.n

    def stats(self) -> features.NormStats:
        """Current statistics as :class:`~ser_core.features.NormStats` ``(C, F, 1)``."""
        if self._mean is None:
            raise CalibrationError("no audio seen yet: running statistics are empty")
        std = np.sqrt(np.maximum(self._m2 / self.n, 0.0))
        if self._vectors:  # functional vectors: (dim,), counted
            return features.NormStats(
                self._mean[0].astype(np.float32), np.maximum(std[0], self.eps).astype(np.float32), self.n
            )
        return features.NormStats(
            self._mean[..., None].astype(np.float32), np.maximum(std, self.eps)[..., None].astype(np.float32)
        )


def speaker_stats(
    x: np.ndarray, speakers: Sequence[str] | np.ndarray, rows: Iterable[int] | None = None
) -> dict[str, features.NormStats]:
    """Statistics of every speaker over their clips among ``rows``.

    Parameters
    ----------
    x : np.ndarray, shape (n_clips, C, F, T) or (n_clips, dim)
        Features of the whole corpus (a memmap is fine).
    speakers : array of str, shape (n_clips,)
        The speaker of each clip (no labels are read).
    rows : iterable of int, optional
        The clips to use (default: all).
    """
    speakers = np.asarray(speakers)
    rows = np.arange(len(speakers)) if rows is None else np.sort(np.asarray(list(rows)))
    out = {}
    for s in pd.unique(speakers[rows]):
        idx = rows[speakers[rows] == s]
        out[str(s)] = features.normalization_stats(x[idx])
    return out


def speaker_normalise(
    x: np.ndarray, speakers: Sequence[str] | np.ndarray, stats: Mapping[str, features.NormStats]
) -> np.ndarray:
    """Normalise clips ``(n, C, F, T)`` (or functionals ``(n, dim)``) each with its speaker's
    statistics."""
    speakers = np.asarray(speakers)
    out = np.empty(x.shape, np.float32)
    for s in pd.unique(speakers):
        idx = np.flatnonzero(speakers == s)
        out[idx] = stats[str(s)].apply(np.asarray(x[idx], np.float32))
    return out


def voice_warps(representation: str, *, warps: Sequence[float] = VOICE_WARPS) -> list[str]:
    """Names of the warped copies of a representation (``["mel@0.84", ...]``).

    Empty when no voice warp reaches it (no frequency axis and not computed
    from the log-mel: chroma, ZCR, the functional sets) or ``warps`` is empty.
    """
    if not features.warpable(representation):
        return []
    return [features.warped_name(representation, a) for a in warps]


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

    Returns
    -------
    dict ``{"0": acc, "5": acc, ..., "all": acc}``
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
                raise ValueError("a budget of seconds needs the clips' seconds")
            pool = pool[: int(np.searchsorted(np.cumsum(seconds[pool]), budget)) + 1]
        yield np.sort(pool), scored


def _shared_copy(model):
    """A deep copy of a torch module, in eval mode, that shares its parameters (the buffers,
    batch-norm statistics among them, are its own)."""
    import copy

    return copy.deepcopy(model, {id(p): p for p in model.parameters()}).eval()


def _batchnorms(model) -> list:
    """``(name, layer)`` of every batch-norm layer of a torch module, in module order."""
    import torch

    return [(n, m) for n, m in model.named_modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


def has_batchnorm(model) -> bool:
    """Whether a torch module has a batch-norm layer (:func:`adapt_batchnorm` can change it)."""
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
    import torch

    if len(x) == 0:
        raise CalibrationError("batch-norm adaptation needs at least one clip of the new voice, got 0")
    adapted = _shared_copy(model)
    for _, layer in _batchnorms(adapted):
        layer.reset_running_stats()
        layer.momentum = None  # a cumulative average over the batches
        layer.train()
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            adapted(torch.from_numpy(np.ascontiguousarray(x[i : i + batch_size], dtype=np.float32)))
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
    import torch

    if len(x) < 2:
        raise CalibrationError(
            f"information maximisation needs at least two clips of the new voice, got {len(x)}"
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
    """:func:`infomax` on top of :func:`adapt_batchnorm`: ``model`` adapted to the voice of
    ``x`` (normalised inputs ``(n_clips, C, F, T)``), statistics and batch-norm affine
    parameters; keyword arguments go to :func:`infomax`.

    Views of the voice (its warped copies) then re-estimate their own statistics on the
    tuned copy (:func:`adapt_batchnorm`, :func:`view_batchnorm`).
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

    Returns
    -------
    torch.nn.Module
        In eval mode; its input is ``(V * m, C, F, T)``, V consecutive blocks of
        ``m`` clips, block ``v`` normalised with the statistics of ``xs[v]``.
    """
    import torch

    from .models import ViewBatchNorm

    adapted = [adapt_batchnorm(model, x, batch_size=batch_size) for x in xs]
    out = _shared_copy(model)
    for name, layer in _batchnorms(out):
        per = [a.get_submodule(name) for a in adapted]
        parent, _, attr = name.rpartition(".")
        setattr(
            out.get_submodule(parent),
            attr,
            ViewBatchNorm(
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

    Returns
    -------
    np.ndarray, shape (m, 6)
        Logits in the order of ``rows``; no label is read.
    """
    from .train import predict_logits

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
        out[[where[int(r)] for r in scored]] = predict_logits(net, z, batch_size=batch_size)
    return out


def profile_from_source(
    source, *, representations: Sequence[str] = ("mel",), cfg: FeatureConfig = DEFAULT_CONFIG, name: str = ""
) -> VoiceProfile:
    """:func:`voice_profile` of a file, or of every audio file in a folder (joined).

    Raises
    ------
    CalibrationError
        Too little speech.
    AudioError
        No audio files in the folder, or a file cannot be decoded (the message names it).
    """
    from pathlib import Path

    from .audio import files_of, load_audio

    src = Path(source)
    y = np.concatenate([load_audio(f, sr=cfg.sr) for f in files_of(src)])
    return voice_profile(y, representations=representations, cfg=cfg, name=name or src.stem)


def clip_seconds(paths: Iterable[str], *, limit: float = 3.0) -> np.ndarray:
    """Length of each audio file in seconds, capped at ``limit`` (the crop)."""
    import soundfile as sf

    return np.array([min(sf.info(p).duration, limit) for p in paths], dtype=np.float64)
