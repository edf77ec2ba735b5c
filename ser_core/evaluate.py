"""Evaluation of shipped models on a protocol's test part."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from . import cache, data, metrics
from .inference import Predictor, best_model_name

__all__ = ["evaluate_shipped", "test_probabilities", "model_features"]


def model_features(pred: Predictor, meta: pd.DataFrame, split: data.Split, *,
                   part: str = "test") -> np.ndarray:
    """Normalised inputs ``(n, C, F, T)`` of a split part, as the model expects them.

    Corpus-normalised models use their card's statistics; speaker-normalised
    ones use each speaker's statistics exactly as in training
    (:func:`ser_core.train.split_speaker_stats`).
    """
    from .train import split_speaker_stats

    cache.build(meta, [pred.representation], cfg=pred.cfg)  # a no-op when up to date
    x_all = cache.load(pred.representation, meta, cfg=pred.cfg)
    idx = getattr(split, part)
    if pred.speaker_normalised:
        from .adapt import speaker_normalise

        spk = meta["speaker"].astype(str).to_numpy()
        stats = split_speaker_stats(x_all, spk, split.train, split.val, split.test)
        return speaker_normalise(x_all[idx], spk[idx], stats)
    x = np.asarray(x_all[idx], dtype=np.float32)
    return pred.norm.apply(x) if pred.norm is not None else x


def test_probabilities(pred: Predictor, meta: pd.DataFrame, *, protocol: str = "seed",
                       fold: int = 0, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated probabilities ``(n_test, 6)`` and labels ``(n_test,)`` of a fold's test part.

    Feature models read the feature cache (built when missing); the 1-D models
    decode the audio.
    """
    split = data.split_indices(meta, protocol, fold=fold)
    test = meta.iloc[split.test]
    labels = test["label"].to_numpy()
    if pred.kind == "members":  # an ensemble: every member from its cache
        lp = np.stack([np.log(np.maximum(test_probabilities(m, meta, protocol=protocol, fold=fold,
                                                              batch_size=batch_size)[0], 1e-30))
                       for m in pred.members], 1)
        return pred.combine(lp), labels
    if pred.kind == "features":
        x = model_features(pred, meta, split)
        out = [metrics.softmax(pred.logits(x[i : i + batch_size]), temperature=pred.temperature)
               for i in range(0, len(x), batch_size)]
        return np.concatenate(out), labels
    from .audio import load_audio

    probs = [pred.predict(load_audio(p, sr=pred.cfg.sr)) for p in test["path"]]
    return np.stack(probs), labels


def evaluate_shipped(name: str | None, meta: pd.DataFrame, *, protocol: str = "seed") -> dict[str, Any]:
    """Accuracy, macro F1/P/R, per-class report, confusion, most-confused pairs, ECE."""
    name = name or best_model_name()
    pred = Predictor.load(name)
    probs, y = test_probabilities(pred, meta, protocol=protocol)
    rep = metrics.classification_report(y, probs.argmax(1))
    rep.update({"model": name, "protocol": protocol, "n_test": int(len(y)),
                "ece": metrics.expected_calibration_error(probs, y)})
    return rep
