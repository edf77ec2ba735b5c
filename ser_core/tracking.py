"""Experiment tracking with MLflow on a SQLite store.

The tracking database is ``artifacts/mlflow.db`` (or ``$SER_MLFLOW_DB``);
run artifacts (weights) go to ``.cache/mlartifacts`` (or
``$SER_MLFLOW_ARTIFACTS``), because shipped weights live in
``artifacts/models`` and the leaderboard needs only what the database holds:
parameters, per-epoch curves, metrics, per-class F1 (metrics ``f1_<emotion>``)
and the confusion matrix (tag ``confusion``, JSON).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .config import artifacts_dir, project_root

__all__ = ["EXPERIMENT", "db_path", "tracking_uri", "experiment_id", "log_report", "runs"]

EXPERIMENT = "nemo-ser"


def db_path() -> Path:
    return Path(os.environ.get("SER_MLFLOW_DB", artifacts_dir() / "mlflow.db"))


def tracking_uri() -> str:
    return f"sqlite:///{db_path().resolve()}"


def _artifact_root() -> Path:
    return Path(os.environ.get("SER_MLFLOW_ARTIFACTS", project_root() / ".cache" / "mlartifacts"))


def experiment_id(experiment: str = EXPERIMENT) -> str:
    """Point MLflow at the SQLite store and return the experiment's id."""
    import mlflow  # optional heavy dependency: imported when runs are logged or read

    db_path().parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking_uri())
    exp = mlflow.get_experiment_by_name(experiment)
    if exp is not None:
        return exp.experiment_id
    loc = _artifact_root() / experiment
    loc.mkdir(parents=True, exist_ok=True)
    return mlflow.create_experiment(experiment, artifact_location=loc.resolve().as_uri())


def log_report(report: Mapping[str, Any], *, prefix: str = "test_") -> None:
    """Log a :func:`~ser_core.metrics.classification_report` into the active run."""
    import mlflow  # optional heavy dependency: imported when runs are logged or read

    mlflow.log_metrics(
        {
            f"{prefix}{k}": float(report[k])
            for k in ("accuracy", "macro_f1", "macro_precision", "macro_recall")
        }
    )
    mlflow.log_metrics({f"{prefix}f1_{e}": float(v["f1"]) for e, v in report["per_class"].items()})
    mlflow.set_tag(f"{prefix}confusion", json.dumps(report["confusion"]))


def runs(experiment: str = EXPERIMENT):
    """All runs of an experiment as a pandas DataFrame (empty when none)."""
    import mlflow  # optional heavy dependency: imported when runs are logged or read

    if not db_path().exists():
        return pd.DataFrame()
    mlflow.set_tracking_uri(tracking_uri())
    exp = mlflow.get_experiment_by_name(experiment)
    if exp is None:
        return pd.DataFrame()
    return mlflow.search_runs([exp.experiment_id], output_format="pandas")
