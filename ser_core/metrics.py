"""Classification metrics, calibration (ECE, temperature scaling).

All functions take integer labels ``(n,)`` and either predictions ``(n,)`` or
probabilities / logits ``(n, n_classes)`` as NumPy arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .config import EMOTIONS

__all__ = [
    "TopClass",
    "classification_report",
    "expected_calibration_error",
    "fit_temperature",
    "softmax",
    "log_softmax",
    "most_confused",
    "unsure_threshold",
    "DEFAULT_UNSURE",
]

#: Fallback "unsure" threshold when a model card sets none.
DEFAULT_UNSURE = 0.5


class TopClass:
    """Mixin: ``label`` and ``confidence`` of an object with ``probs`` of shape ``(6,)``."""

    probs: np.ndarray

    @property
    def label(self) -> str:
        return EMOTIONS[int(np.argmax(self.probs))]

    @property
    def confidence(self) -> float:
        return float(np.max(self.probs))


def softmax(logits: np.ndarray, *, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature``, shape ``(n, k)``."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(logits: np.ndarray, *, temperature: float = 1.0) -> np.ndarray:
    """Row-wise log-softmax of ``logits / temperature`` ``(n, k)``: calibrated
    log-probabilities, float32 (computed in float64)."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    return (z - np.log(np.exp(z).sum(axis=-1, keepdims=True))).astype(np.float32)


def most_confused(cm: np.ndarray, *, k: int = 5) -> list[dict[str, Any]]:
    """The ``k`` largest off-diagonal cells of a confusion matrix."""
    off = [(int(cm[i, j]), i, j) for i in range(cm.shape[0]) for j in range(cm.shape[1]) if i != j]
    off.sort(reverse=True)
    return [{"true": EMOTIONS[i], "predicted": EMOTIONS[j], "count": c} for c, i, j in off[:k] if c]


def classification_report(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    """Accuracy, macro F1 / precision / recall, per-class report, confusion matrix.

    Returns
    -------
    dict with ``accuracy``, ``macro_f1``, ``macro_precision``, ``macro_recall``
    (floats in 0..1), ``per_class`` ({emotion: {precision, recall, f1, support}}),
    ``confusion`` (list of lists, rows = true class in EMOTIONS order) and
    ``most_confused``.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support  # sklearn: slow to import

    labels = list(range(len(EMOTIONS)))
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    return {
        "accuracy": float((y_true == y_pred).mean()) if len(y_true) else 0.0,
        "macro_f1": float(f.mean()),
        "macro_precision": float(p.mean()),
        "macro_recall": float(r.mean()),
        "per_class": {
            e: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, e in enumerate(EMOTIONS)
        },
        "confusion": cm.tolist(),
        "most_confused": most_confused(cm),
    }


def expected_calibration_error(probs: np.ndarray, y_true: np.ndarray, *, n_bins: int = 15) -> float:
    """ECE with equal-width confidence bins (15 by default).

    Parameters
    ----------
    probs : np.ndarray, shape (n, k)
    y_true : np.ndarray, shape (n,)
    """
    probs = np.asarray(probs)
    conf = probs.max(1)
    correct = probs.argmax(1) == np.asarray(y_true)
    edges = np.linspace(0, 1, n_bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def fit_temperature(logits: np.ndarray, y_true: np.ndarray) -> float:
    """Temperature minimising the negative log-likelihood on held-out logits.

    Searched in log space over 0.05..20 (bounded scalar minimisation), so it
    is deterministic and cannot diverge.
    """
    from scipy.optimize import minimize_scalar  # scipy.optimize: slow to import, training only

    logits = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y_true)

    def nll(log_t: float) -> float:
        p = softmax(logits, temperature=float(np.exp(log_t)))
        return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)).mean())

    res = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(res.x))


def unsure_threshold(probs: np.ndarray, labels: np.ndarray, *, min_accuracy: float = 0.5) -> float:
    """Confidence below which a model is unsure, from held-out predictions.

    Fits held-out correctness against the top probability with an increasing
    isotonic regression and returns the lowest confidence at which the fitted
    accuracy reaches ``min_accuracy``: below it, the label is more often wrong
    than right.

    Parameters
    ----------
    probs : np.ndarray, shape (n, 6)
        Calibrated validation probabilities.
    labels : np.ndarray, shape (n,)
        True class indices.
    min_accuracy : float
        Fitted accuracy the threshold must reach.

    Returns
    -------
    float
        The threshold, rounded to 3 decimals: :data:`DEFAULT_UNSURE` for
        fewer than two predictions, the highest confidence when the fit
        never reaches ``min_accuracy``.
    """
    from sklearn.isotonic import IsotonicRegression  # sklearn: a cold path (training)

    conf = probs.max(1)
    correct = (probs.argmax(1) == labels).astype(float)
    if len(conf) < 2:
        return DEFAULT_UNSURE
    iso = IsotonicRegression(increasing=True, out_of_bounds="clip").fit(conf, correct)
    grid = np.linspace(conf.min(), conf.max(), 512)
    ok = np.flatnonzero(iso.predict(grid) >= min_accuracy)
    if ok.size == 0:
        return float(round(conf.max(), 3))
    return float(round(grid[ok[0]], 3))
