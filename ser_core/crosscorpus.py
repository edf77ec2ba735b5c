"""Cross-corpus evaluation: a shipped model, trained on nEMO, on RAVDESS's actors.

:func:`xcorpus_report` scores every RAVDESS clip of nEMO's six emotions the
way the product does (:class:`~ser_core.inference.Predictor` on the clip's
centred 3-s window), per actor, uncalibrated and, for a model that can adapt,
calibrated to each actor from that actor's own unlabelled clips
(:func:`ser_core.adapt.voice_profile` then :meth:`Predictor.adapted`, as
``predict --calibrate`` does).  :func:`log_xcorpus` logs a report to MLflow.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from . import adapt, metrics, tracking
from .audio import load_audio, pad_or_trim
from .config import EMOTIONS
from .errors import ConfigError, DatasetError
from .inference import Predictor

__all__ = ["XCORPUS_EXPERIMENT", "CALIBRATION_SECONDS", "xcorpus_report", "calibration_clips", "log_xcorpus"]

#: MLflow experiment of the cross-corpus reports (kept out of the leaderboard's runs).
XCORPUS_EXPERIMENT = "nemo-ser-xcorpus"
#: Default calibration budget: seconds of an actor's clips (as recorded, silences included).
CALIBRATION_SECONDS = 30.0


def calibration_clips(seconds: np.ndarray, *, budget: float | None, seed: int = 0) -> np.ndarray:
    """Which of a speaker's clips calibrate: all, or a seeded random choice filling ``budget``.

    Parameters
    ----------
    seconds : np.ndarray, shape (n_clips,)
        Each clip's length.
    budget : float or None
        Seconds of audio to take (None: every clip).  Clips are taken in a
        random order until their lengths reach the budget.
    seed : int
        Seed of the order.

    Returns
    -------
    np.ndarray, int, shape (m,)
        Sorted positions of the chosen clips.
    """
    n = len(seconds)
    if budget is None:
        return np.arange(n)
    order = np.random.default_rng(seed).permutation(n)
    upto = np.searchsorted(np.cumsum(np.asarray(seconds, float)[order]), budget) + 1
    return np.sort(order[: min(upto, n)])


def _predict(pred: Predictor, windows: np.ndarray, *, batch_size: int) -> np.ndarray:
    """Calibrated probabilities ``(n, 6)`` of centred windows, in batches."""
    return np.concatenate(
        [pred.predict_batch(windows[i : i + batch_size]) for i in range(0, len(windows), batch_size)]
    )


def _summary(y: np.ndarray, y_hat: np.ndarray, actors: list[dict], key: str) -> dict[str, Any]:
    """Pooled classification report plus the mean and std over actors of their accuracy."""
    report = metrics.classification_report(y, y_hat)
    report["ua"] = report["macro_recall"]  # unweighted average recall
    acc = np.array([a[key] for a in actors], dtype=float)
    report["actor_mean"] = float(acc.mean())
    report["actor_std"] = float(acc.std(ddof=1)) if len(acc) > 1 else 0.0
    report["worst_actor"] = actors[int(acc.argmin())]["actor"]
    return report


def xcorpus_report(
    model_name: str,
    meta: pd.DataFrame,
    *,
    calibrate: bool = False,
    seconds: float | None = CALIBRATION_SECONDS,
    seed: int = 0,
    batch_size: int = 32,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """A shipped model's accuracy on another corpus, per actor.

    Every clip is cut as the predictor cuts a recording of its length: the
    centred ``cfg.duration`` window (RAVDESS's clips are 2.9–5.3 s).

    Parameters
    ----------
    model_name : str
        A shipped model.
    meta : DataFrame
        The clips to score (:func:`ser_core.data.load_ravdess_metadata`):
        ``path``, ``label``, ``speaker``, optionally ``gender``.
    calibrate : bool
        Also score each actor with the predictor adapted to that actor's voice.
    seconds : float or None
        The calibration's audio per actor (:func:`calibration_clips`; None: all
        of the actor's clips).  The calibration clips are scored too: the
        profile reads their audio, never their labels.
    seed : int
        Seed of the calibration clips' choice.
    batch_size : int
        Windows predicted at once.
    progress : callable, optional
        ``progress(done, total, actor)`` after each actor.

    Returns
    -------
    dict
        ``model``, ``protocol`` ("xcorpus"), ``n_test``, ``n_actors``, ``emotions``;
        ``uncalibrated``: :func:`ser_core.metrics.classification_report` of all
        clips pooled plus ``ua`` (macro recall), ``actor_mean``, ``actor_std``
        (over actors, ddof 1) and ``worst_actor``; with ``calibrate`` the same
        as ``calibrated`` and ``calibration`` (``seconds``: the budget or
        "all", ``seed``); ``actors``: per actor ``actor``, ``gender``, ``n``,
        ``accuracy`` (and ``calibrated``, ``speech_seconds``, ``adabn``,
        ``infomax``).  Accuracies are fractions.

    Raises
    ------
    ConfigError
        ``calibrate`` with a model that cannot adapt to a voice.
    DatasetError
        An empty ``meta``.
    """
    if meta.empty:
        raise DatasetError("no clips to score: the cross-corpus frame is empty")
    pred = Predictor.load(model_name)
    if calibrate and not pred.speaker_normalised:
        raise ConfigError(
            f"model {model_name!r} uses corpus-level normalisation and cannot adapt to a voice; "
            "score it without calibration, or pick a speaker-normalised model"
        )
    cfg, speakers = pred.cfg, meta["speaker"].astype(str).to_numpy()
    y_all = meta["label"].to_numpy(int)
    hat = {"accuracy": np.zeros(len(meta), int), "calibrated": np.zeros(len(meta), int)}
    actors = []
    names = sorted(set(speakers))
    for i, actor in enumerate(names):
        rows = np.flatnonzero(speakers == actor)
        audio = [load_audio(p, sr=cfg.sr) for p in meta["path"].to_numpy()[rows]]
        windows = np.stack([pad_or_trim(y, n_samples=cfg.n_samples, align=cfg.align) for y in audio])
        hat["accuracy"][rows] = _predict(pred, windows, batch_size=batch_size).argmax(1)
        row = {
            "actor": actor,
            "gender": str(meta["gender"].to_numpy()[rows[0]]) if "gender" in meta else "",
            "n": int(len(rows)),
            "accuracy": float((hat["accuracy"][rows] == y_all[rows]).mean()),
        }
        if calibrate:
            pick = calibration_clips(np.array([len(y) / cfg.sr for y in audio]), budget=seconds, seed=seed)
            profile = adapt.voice_profile(
                np.concatenate([audio[j] for j in pick]),
                representations=pred.profile_representations(),
                cfg=cfg,
                profile_name=actor,
            )
            tuned = pred.adapted(profile)
            hat["calibrated"][rows] = _predict(tuned, windows, batch_size=batch_size).argmax(1)
            row.update(
                calibrated=float((hat["calibrated"][rows] == y_all[rows]).mean()),
                calibration_clips=int(len(pick)),
                speech_seconds=round(float(profile.seconds), 1),
                adabn=bool(tuned.adabn),
                infomax=bool(tuned.infomax),
            )
        actors.append(row)
        if progress:
            progress(i + 1, len(names), actor)
    report: dict[str, Any] = {
        "model": model_name,
        "protocol": "xcorpus",
        "n_test": int(len(meta)),
        "n_actors": len(actors),
        "emotions": list(EMOTIONS),
        "uncalibrated": _summary(y_all, hat["accuracy"], actors, "accuracy"),
        "actors": actors,
    }
    if calibrate:
        report["calibrated"] = _summary(y_all, hat["calibrated"], actors, "calibrated")
        report["calibration"] = {"seconds": "all" if seconds is None else seconds, "seed": seed}
    return report


def log_xcorpus(report: dict[str, Any], *, run_name: str | None = None) -> str:
    """Log a :func:`xcorpus_report` to MLflow (experiment :data:`XCORPUS_EXPERIMENT`).

    Metrics ``<condition>_accuracy`` / ``_ua`` / ``_macro_f1`` / ``_actor_mean`` /
    ``_actor_std`` and ``<condition>_acc_<actor>`` per actor, the confusion as tag
    ``<condition>_confusion``, the whole report as ``xcorpus.json``.

    Returns
    -------
    str
        The run id.
    """
    import mlflow  # optional heavy dependency: only when logging

    cal = report.get("calibration", {})
    name = run_name or f"xcorpus {report['model']}" + (f" calibrated {cal['seconds']}" if cal else "")
    with mlflow.start_run(experiment_id=tracking.experiment_id(XCORPUS_EXPERIMENT), run_name=name) as run:
        mlflow.log_params(
            {
                "model": report["model"],
                "protocol": report["protocol"],
                "n_test": report["n_test"],
                "calibration_seconds": cal.get("seconds", "none"),
            }
        )
        for cond in ("uncalibrated", "calibrated"):
            if cond not in report:
                continue
            r, key = report[cond], "accuracy" if cond == "uncalibrated" else "calibrated"
            mlflow.log_metrics(
                {
                    f"{cond}_{k}": float(r[k])
                    for k in ("accuracy", "ua", "macro_f1", "actor_mean", "actor_std")
                }
            )
            mlflow.log_metrics({f"{cond}_acc_{a['actor']}": float(a[key]) for a in report["actors"]})
            mlflow.set_tag(f"{cond}_confusion", json.dumps(r["confusion"]))
        mlflow.log_text(json.dumps(report, indent=2), "xcorpus.json")
        return run.info.run_id
