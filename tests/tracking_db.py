"""A small synthetic MLflow tracking database for the leaderboard tests.

:func:`make_tracking_db` writes, with ``mlflow.MlflowClient`` directly (no global
tracking URI), the runs listed in :data:`RUNS` into a fresh SQLite file, in the
layout :func:`ser_core.train.train` and the ensemble convention of
:mod:`ser_core.leaderboard` produce: parameters, test metrics, per-class F1,
the confusion tag and per-epoch histories of ``train_loss, val_loss,
val_accuracy, lr``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from ser_core import tracking
from ser_core.config import EMOTIONS

#: (run name, model, input, protocol, fold, test accuracy or None while running, epochs).
RUNS = [
    ("resnet18-mel-loso-fold1-old", "resnet18", "mel", "loso", 1, 0.20, 3),  # retrained below
    ("resnet18-mel-seed", "resnet18", "mel", "seed", 0, 0.80, 5),
    ("resnet18-hpss-seed", "resnet18", "hpss", "seed", 0, 0.70, 4),
    ("resnet18-mel-loso-fold0", "resnet18", "mel", "loso", 0, 0.50, 4),
    ("resnet18-mel-loso-fold1", "resnet18", "mel", "loso", 1, 0.60, 4),
    ("resnet18-mel-loso-fold2", "resnet18", "mel", "loso", 2, 0.70, 4),
    ("ensemble-seed", "ensemble", "ensemble", "seed", 0, 0.82, 0),
    ("cnn1d-waveform-seed", "cnn1d", "waveform", "seed", 0, None, 3),  # still training
]
ENSEMBLE_WEIGHTS = {"mel": 3.0, "hpss": 1.0}  # logged normalised: 0.75, 0.25
T0 = 1_790_000_000_000  # ms; runs start one minute apart in RUNS order


def confusion_for(k: int) -> np.ndarray:
    """A distinct 6 x 6 integer confusion matrix for run number ``k``."""
    rng = np.random.default_rng(k)
    cm = rng.integers(0, 5, size=(len(EMOTIONS), len(EMOTIONS)))
    return cm + np.diag(20 + 3 * k + np.arange(len(EMOTIONS)))


def f1_for(k: int) -> dict[str, float]:
    """Per-class F1 of run number ``k`` (in 0.3..0.95)."""
    rng = np.random.default_rng(100 + k)
    return {e: float(v) for e, v in zip(EMOTIONS, rng.uniform(0.3, 0.95, len(EMOTIONS)))}


def _log(client, exp_id: str, k: int, spec: tuple) -> str:
    from mlflow.entities import Metric, Param, RunTag

    name, model, inp, protocol, fold, acc, epochs = spec
    t = T0 + 60_000 * k
    run = client.create_run(exp_id, start_time=t, run_name=name)
    rid = run.info.run_id
    params = {
        "model": model,
        "representation": "mel" if inp == "ensemble" else inp,
        "input": inp,
        "protocol": protocol,
        "fold": fold,
        "seed": 0,
    }
    if model == "ensemble":
        params["members"] = json.dumps(list(ENSEMBLE_WEIGHTS))
    else:
        params.update(
            {"parameters": 1_000_000 + 1000 * k, "width": 32, "epochs": 40, "lr": 0.003 if k % 2 else 0.001}
        )
    metrics = []
    for e in range(1, epochs + 1):
        for key, v in {
            "train_loss": 2.0 / e + 0.01 * k,
            "val_loss": 2.2 / e + 0.02 * k,
            "val_accuracy": min(0.95, 0.2 + 0.1 * e + 0.01 * k),
            "lr": 0.003 / e,
        }.items():
            metrics.append(Metric(key, v, t + 1000 * e, e))
    tags = []
    if acc is not None:
        f1 = f1_for(k)
        final = {
            "test_accuracy": acc,
            "test_macro_f1": float(np.mean(list(f1.values()))),
            "test_macro_precision": acc - 0.01,
            "test_macro_recall": acc + 0.01,
            **{f"test_f1_{e}": v for e, v in f1.items()},
        }
        if model == "ensemble":
            total = sum(ENSEMBLE_WEIGHTS.values())
            final.update({f"weight_{r}": w / total for r, w in ENSEMBLE_WEIGHTS.items()})
            final["temperature"] = 1.3
        else:
            final.update(
                {
                    "train_seconds": 100.0 * (k + 1),
                    "best_val_accuracy": acc + 0.05,
                    "best_epoch": float(epochs),
                    "ece_before": 0.08,
                    "ece_after": 0.03,
                    "temperature": 1.5,
                }
            )
        metrics += [Metric(key, float(v), t + 50_000, 0) for key, v in final.items()]
        tags.append(RunTag("test_confusion", json.dumps(confusion_for(k).tolist())))
    client.log_batch(rid, metrics=metrics, params=[Param(p, str(v)) for p, v in params.items()], tags=tags)
    if acc is not None:
        client.set_terminated(rid, "FINISHED", end_time=t + 55_000)
    return rid


def make_tracking_db(path: Path, artifacts: Path) -> dict[str, str]:
    """Write :data:`RUNS` into a new SQLite file ``path``; return ``{run name: run id}``."""
    import mlflow

    path.parent.mkdir(parents=True, exist_ok=True)
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{path.resolve()}")
    artifacts.mkdir(parents=True, exist_ok=True)
    exp_id = client.create_experiment(tracking.EXPERIMENT, artifact_location=artifacts.as_uri())
    return {spec[0]: _log(client, exp_id, k, spec) for k, spec in enumerate(RUNS)}


def copy_db(src: Path, dst: Path) -> Path:
    """Copy a tracking database (cheaper than building one: MLflow's migrations are slow)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst
