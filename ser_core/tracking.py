"""Experiment tracking with MLflow on a SQLite store.

The tracking database is ``artifacts/mlflow.db`` (or ``$SER_MLFLOW_DB``);
run artifacts (weights) go to ``.cache/mlartifacts`` (or
``$SER_MLFLOW_ARTIFACTS``), because shipped weights live in
``artifacts/models`` and the leaderboard needs only what the database holds:
parameters, per-epoch curves, metrics, per-class F1 (metrics ``f1_<emotion>``)
and the confusion matrix (tag ``confusion``, JSON).

A training run also carries the tags :data:`HOST_TAG` and :data:`PID_TAG` (the machine and
process that train it, :func:`liveness_tags`), so that a run left ``RUNNING`` by a process
that died can be told apart from one still training (:func:`process_alive`).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .config import artifacts_dir, project_root

__all__ = [
    "EXPERIMENT",
    "HOST_TAG",
    "PID_TAG",
    "db_path",
    "tracking_uri",
    "experiment_id",
    "liveness_tags",
    "process_alive",
    "log_report",
    "runs",
]

EXPERIMENT = "nemo-ser"
#: Tag of a training run: the host name of the machine that trains it.
HOST_TAG = "ser.host"
#: Tag of a training run: the id of the process that trains it (on :data:`HOST_TAG`).
PID_TAG = "ser.pid"


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


def liveness_tags() -> dict[str, str]:
    """``{HOST_TAG: this host, PID_TAG: this process id}``, set when a training run starts."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def _process_start(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), from Linux's ``/proc``; None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(ln for ln in Path("/proc/stat").read_text().splitlines() if ln.startswith("btime"))
        return int(boot.split()[1]) + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, StopIteration):
        return None


def process_alive(host: str | None, pid: str | int | None, *, started: float | None = None) -> bool | None:
    """Whether process ``pid`` of machine ``host`` still runs.

    Parameters
    ----------
    started : float, optional
        When the run started (seconds since the epoch): a process of that id born later
        is another one that reuses the id (after a reboot), so it does not count.

    Returns
    -------
    bool or None
        True or False for a process of this machine; None when that cannot be told
        (another machine, or no host or pid recorded).
    """
    if not host or pid in (None, "") or host != socket.gethostname():
        return None
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        pass
    except (OverflowError, ValueError):
        return None
    born = _process_start(int(pid)) if started is not None else None
    return born is None or born <= started + 5  # later: the id now names another process


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
