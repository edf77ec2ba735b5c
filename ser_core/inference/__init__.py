"""Prediction with a shipped model: waveform in, calibrated probabilities out.

>>> p = Predictor.load()                  # the best shipped model on new voices (LOSO)
>>> probs = p.predict(y)                  # (6,) for a waveform at 16 kHz
>>> tl = p.timeline(y_long)               # sliding 3-s windows, 1-s hop

The front end (representation, feature config, normalisation, temperature) is
read from the model card, so a model is always fed what it was trained on.

:mod:`~ser_core.inference.predictor` holds :class:`Predictor`,
:mod:`~ser_core.inference.ensemble` the ensemble's :class:`EnsemblePredictor`, and
:mod:`~ser_core.inference.choice` which shipped model to use.
"""

from ..metrics import DEFAULT_UNSURE
from .choice import (
    ModelScores,
    ModelUse,
    best_adaptable_model,
    best_model_name,
    can_adapt,
    model_scores,
    model_uses,
    rank,
    ranked_models,
    scores_table,
)
from .ensemble import EnsemblePredictor
from .predictor import BACKENDS, Predictor, Timeline, Verdict, onnx_cache_dir, predict_files

__all__ = [
    "Predictor",
    "EnsemblePredictor",
    "Timeline",
    "Verdict",
    "best_model_name",
    "best_adaptable_model",
    "model_scores",
    "ModelScores",
    "ModelUse",
    "model_uses",
    "scores_table",
    "rank",
    "ranked_models",
    "can_adapt",
    "predict_files",
    "DEFAULT_UNSURE",
    "BACKENDS",
    "onnx_cache_dir",
]
