"""A model's input arrays: cached corpus inputs, a protocol part's, normalised as in training.

* :func:`model_inputs` / :func:`part_inputs` – the inputs of every clip, or of a part's
  clips, for a model input kind (representation, functionals, waveform, ZCR/RMS frames);
* :func:`fit_norm` – the corpus normalisation statistics of a training part;
* :func:`split_speaker_stats` / :func:`normalised_inputs` – per-speaker statistics of a
  fold and the inputs normalised with them (or with the corpus statistics);
* :func:`model_features` / :func:`training_speakers` – a shipped predictor's inputs on a
  split part, and the training-speaker statistics stored beside it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from . import adapt, cache, data, features, functionals, models
from .audio import load_audio, pad_or_trim
from .config import DEFAULT_CONFIG, FeatureConfig
from .errors import ConfigError

if TYPE_CHECKING:  # only the type: a predictor sits above this layer
    from .inference import Predictor

__all__ = [
    "model_inputs",
    "part_inputs",
    "fit_norm",
    "split_speaker_stats",
    "normalised_inputs",
    "model_features",
    "training_speakers",
    "waveform_input",
]


def model_inputs(
    meta: pd.DataFrame, kind: str, representation: str, *, cfg: FeatureConfig = DEFAULT_CONFIG
) -> np.ndarray:
    """Inputs of every clip of ``meta`` for a model input kind.

    A frame with RAVDESS's clips (a ``corpus`` column, :func:`ser_core.data.combined_metadata`)
    is read corpus by corpus, RAVDESS's from its own cache root
    (:func:`ser_core.data.ravdess_cache_root`), so neither replaces the other's entry.

    Returns
    -------
    features: the cached representation ``(n, C, F, T)`` (memmap, float16);
    functionals: ``(n, dim)`` float32 openSMILE functionals (cached as ``<set>-<key>``);
    waveform: ``(n, 1, samples)`` float16 (cached as ``waveform-<key>``);
    frames: ``(n, 2, 301)`` float32 (cached likewise).
    (Both corpora: an in-memory array, not a memmap.)
    """
    corpus = meta["corpus"].to_numpy() if "corpus" in meta else np.full(len(meta), "nemo")
    if len(set(corpus)) > 1:  # each corpus from its own cache, stacked in meta's order
        parts = {c: model_inputs(meta[corpus == c], kind, representation, cfg=cfg) for c in set(corpus)}
        first = next(iter(parts.values()))
        out = np.empty((len(meta), *first.shape[1:]), dtype=first.dtype)
        for c, x in parts.items():
            out[corpus == c] = x
        return out
    root = data.ravdess_cache_root() if len(corpus) and corpus[0] == "ravdess" else None
    if kind == "features":
        cache.build(meta, [representation], cfg=cfg, progress=True, root=root)
        return cache.load(representation, meta, cfg=cfg, root=root)
    key, compute = _array_input(kind, representation, cfg=cfg)
    return cache.array_entry(key, meta, compute, workers=_array_workers(kind), root=root)


def part_inputs(
    meta: pd.DataFrame,
    rows: np.ndarray,
    kind: str,
    representation: str,
    *,
    cfg: FeatureConfig = DEFAULT_CONFIG,
) -> np.ndarray:
    """Inputs of the clips ``rows`` of ``meta`` (a protocol part), as :func:`model_inputs`
    gives them, without caching the corpus: read from a complete cache, else computed
    for these clips alone and kept as a part of the cache entry for the next time
    (:func:`ser_core.cache.features_of`, :func:`ser_core.cache.array_of`).

    Returns
    -------
    np.ndarray, shape (len(rows), ...)
    """
    clips = meta.iloc[rows]
    if kind == "features":
        return cache.features_of(clips, representation, corpus=meta, cfg=cfg, keep=True)
    key, compute = _array_input(kind, representation, cfg=cfg)
    return cache.array_of(key, clips, compute, corpus=meta, workers=_array_workers(kind), keep=True)


def _array_input(
    kind: str, representation: str, *, cfg: FeatureConfig
) -> tuple[str, Callable[[str], np.ndarray]]:
    """Cache key and per-clip function of a non-representation input kind."""
    salt = representation + (
        json.dumps(functionals.get(representation).params(), sort_keys=True) if kind == "functionals" else ""
    )
    key = cfg.digest(("sr", "duration", "align"), salt=salt)
    return f"{representation}-{key}", partial(_clip_input, kind=kind, representation=representation, cfg=cfg)


def _array_workers(kind: str) -> int | None:
    # openSMILE is the slow one (about 40 ms a clip): one process per core
    return None if kind == "functionals" else 1


def _clip_input(path: str, *, kind: str, representation: str, cfg: FeatureConfig) -> np.ndarray:
    """One clip's input for the 1-D and functionals models (picklable for worker processes)."""
    return waveform_input(load_audio(path, sr=cfg.sr), kind=kind, representation=representation, cfg=cfg)


def waveform_input(
    y: np.ndarray, *, kind: str, representation: str, cfg: FeatureConfig = DEFAULT_CONFIG
) -> np.ndarray:
    """One waveform's input for a model input kind, un-normalised, as the cache holds a clip's.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono waveform at ``cfg.sr`` (any length: cropped or padded to ``cfg.duration``).
    kind : {"features", "functionals", "waveform", "frames"}
    representation : str

    Returns
    -------
    np.ndarray
        ``(C, F, T)`` float32 features, ``(dim,)`` float32 functionals, ``(1, samples)``
        float16 waveform or ``(2, 301)`` float32 ZCR/RMS frames.
    """
    if kind == "features":
        return features.compute(y, representation, cfg=cfg)
    y = pad_or_trim(y, n_samples=cfg.n_samples, align=cfg.align)
    if kind == "functionals":
        return functionals.compute(y, representation, cfg=cfg)
    return y[None].astype(np.float16) if kind == "waveform" else features.zcr_rms_frames(y)


def fit_norm(x_train: np.ndarray, *, kind: str) -> features.NormStats | None:
    """Corpus normalisation statistics of a training part's inputs (None: left as they are).

    Parameters
    ----------
    x_train : np.ndarray
        Inputs of the training clips: ``(n, C, F, T)`` features, ``(n, dim)``
        functionals, ``(n, 2, steps)`` frames or ``(n, 1, samples)`` waveforms.
    kind : str
        The model's input kind (waveforms are not normalised).

    Returns
    -------
    NormStats or None
        Per channel and bin for features, per dimension for functionals, per
        channel for frames.
    """
    if kind == "waveform":
        return None  # raw audio is left as it is
    if kind == "functionals":
        return features.normalization_stats(x_train)  # per dimension, (dim,)
    if kind == "frames":
        m = x_train.mean(axis=(0, 2))[:, None]
        s = np.maximum(x_train.std(axis=(0, 2)), 1e-5)[:, None]
        return features.NormStats(m.astype(np.float32), s.astype(np.float32))
    return features.normalization_stats(x_train)


def split_speaker_stats(
    x_all: np.ndarray, speakers: np.ndarray, train: np.ndarray, val: np.ndarray, test: np.ndarray
) -> dict[str, features.NormStats]:
    """Speaker statistics for one fold, never mixing parts.

    A speaker with clips in the training part is normalised with statistics
    of those clips (for the ``seed`` protocol: the same speakers appear in
    validation and test, whose audio is then never used).  A speaker absent
    from training (the held-out speakers of ``loso``) gets statistics of its
    own unlabelled clips in the part it belongs to.
    """
    stats = adapt.speaker_stats(x_all, speakers, train)
    for part in (val, test):
        new = [i for i in part if speakers[i] not in stats]
        if new:
            stats.update(adapt.speaker_stats(x_all, speakers, new))
    return stats


def normalised_inputs(
    x_all: np.ndarray,
    rows: np.ndarray,
    *,
    meta: pd.DataFrame,
    split: data.Split,
    speaker: bool,
    norm: features.NormStats | None,
) -> np.ndarray:
    """The inputs of ``rows`` of a fold, normalised as its models were trained.

    ``speaker``: each clip with its speaker's statistics (:func:`split_speaker_stats`);
    otherwise the corpus statistics ``norm`` (None: as they are).

    Returns
    -------
    np.ndarray, float32, ``(len(rows), ...)``
    """
    if speaker:
        spk = meta["speaker"].astype(str).to_numpy()
        stats = split_speaker_stats(x_all, spk, split.train, split.val, split.test)
        return adapt.speaker_normalise(x_all[rows], spk[rows], stats)
    x = np.asarray(x_all[rows], dtype=np.float32)
    return norm.apply(x) if norm is not None else x


def model_features(
    pred: Predictor, meta: pd.DataFrame, split: data.Split, *, part: str = "test"
) -> np.ndarray:
    """Normalised inputs ``(n, C, F, T)`` (functionals: ``(n, dim)``) of a split part, as
    the model expects them.

    Corpus-normalised models use their card's statistics; speaker-normalised
    ones use each speaker's statistics exactly as in training
    (:func:`split_speaker_stats`): those stored with the model
    (:class:`ser_core.models.TrainingSpeakers`) when this split's training part
    is the one they were taken over, else recomputed from it.  Only the part's
    clips are then needed: without a complete feature cache they alone are
    computed and kept as a part of the cache (:func:`part_inputs`)
    when the part is under half of the corpus (validation, test) or the
    statistics are stored; else the whole cache is built.
    """
    rows = getattr(split, part)
    spk = meta["speaker"].astype(str).to_numpy()
    known = pred.loaded.speakers
    if (
        pred.speaker_normalised
        and known is not None
        and known.covers(spk[rows], meta["file_id"].to_numpy()[split.train])
    ):
        x = part_inputs(meta, rows, pred.kind, pred.representation, cfg=pred.cfg)
        return adapt.speaker_normalise(x, spk[rows], known.stats)
    if not pred.speaker_normalised and 2 * len(rows) < len(meta):
        x = np.asarray(part_inputs(meta, rows, pred.kind, pred.representation, cfg=pred.cfg), np.float32)
        return pred.norm.apply(x) if pred.norm is not None else x

    x_all = model_inputs(meta, pred.kind, pred.representation, cfg=pred.cfg)  # cached
    return normalised_inputs(
        x_all, rows, meta=meta, split=split, speaker=pred.speaker_normalised, norm=pred.norm
    )


def training_speakers(
    pred: Predictor, meta: pd.DataFrame, *, protocol: str = "seed", fold: int = 0, splits_dir=None
) -> models.TrainingSpeakers:
    """The statistics a speaker-normalised model's training speakers are normalised with
    on a protocol fold (recomputed from the whole training part, which is cached), to
    store beside it (:func:`ser_core.models.save_speakers`)."""
    if not pred.speaker_normalised or pred.kind == "members":
        raise ConfigError(f"{pred.model_name!r} is not a speaker-normalised single model")
    split = data.split_indices(meta, protocol, fold=fold, directory=splits_dir)
    spk = meta["speaker"].astype(str).to_numpy()
    x_all = model_inputs(meta, pred.kind, pred.representation, cfg=pred.cfg)
    stats = split_speaker_stats(x_all, spk, split.train, split.val, split.test)
    return models.TrainingSpeakers.of(
        stats, speakers=spk[split.train], file_ids=meta["file_id"].to_numpy()[split.train]
    )
