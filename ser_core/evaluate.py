"""Evaluation of shipped models on a protocol's test part."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from . import cache, data, metrics
from .inference import Predictor, best_model_name

__all__ = ["evaluate_shipped", "test_probabilities"]


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
        cache.build(meta, [pred.representation], cfg=pred.cfg)  # a no-op when up to date
        x = cache.load(pred.representation, test, cfg=pred.cfg)
        out = []
        for i in range(0, len(x), batch_size):
            xb = np.asarray(x[i : i + batch_size], dtype=np.float32)
            xb = pred.norm.apply(xb) if pred.norm is not None else xb
            out.append(metrics.softmax(pred.logits(xb), temperature=pred.temperature))
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
