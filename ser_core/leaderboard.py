"""The leaderboard: every training run of the MLflow store as tidy tables.

Reads the SQLite tracking database of :mod:`ser_core.tracking` (``$SER_MLFLOW_DB``
or ``artifacts/mlflow.db``); needs neither the corpus nor the weights.

Tables
------
:func:`load_runs`
    One row per run (LOSO folds separately), see :data:`RUN_COLUMNS`.
:func:`summarize`
    One row per ``(model, input, protocol)``: the latest finished run of each
    fold, folds aggregated into mean, sample standard deviation and ``n_folds``.

Ensemble convention
-------------------
An ensemble of trained models is logged to the same experiment as one run with

* params ``model = "ensemble"``, ``input = "ensemble"``, ``protocol``, ``fold``
  and ``members``: a JSON list of the members (their representations, or run
  names);
* metrics ``weight_<representation>``: the member weights, normalised to sum 1;
* optionally metric ``temperature`` (calibration of the combined logits) and
  the usual test metrics and confusion tag of :func:`ser_core.tracking.log_report`.

:func:`log_ensemble` writes such a run; :func:`ensemble_weights` reads the weights back.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import models, run_table, tracking
from .config import EMOTIONS
from .errors import TrackingError
from .run_table import compare

__all__ = [
    "CONDITIONS_EXPERIMENT",
    "condition_runs",
    "by_new_voices",
    "HOW_TO_TRAIN",
    "ENSEMBLE",
    "WEIGHT_PREFIX",
    "CURVE_KEYS",
    "RUN_COLUMNS",
    "METRICS",
    "load_runs",
    "summarize",
    "filter_runs",
    "ranked_run_ids",
    "run_label",
    "confusion",
    "curves",
    "ensemble_weights",
    "adaptation",
    "ensemble_importance",
    "compare",
    "shipped_runs",
    "log_ensemble",
    "ADAPT_PREFIX",
    "IMPORTANCE_PREFIX",
]

#: What to run to get a first row on the leaderboard.
HOW_TO_TRAIN = "python -m ser_core train --model resnet18 --representation mel --protocol seed"
#: ``params.model`` of an ensemble run.
ENSEMBLE = "ensemble"
#: Prefix of the metrics holding an ensemble's member weights.
WEIGHT_PREFIX = "weight_"
#: Prefix of the metrics holding the accuracy after adapting to k seconds of a new speaker.
ADAPT_PREFIX = "adapt_accuracy_"
#: Prefix of the metrics holding Optuna's parameter importance of an ensemble search.
IMPORTANCE_PREFIX = "importance_"
_EXTRA_PREFIXES = (WEIGHT_PREFIX, ADAPT_PREFIX, IMPORTANCE_PREFIX)
#: Per-epoch metric histories logged by :func:`ser_core.train.train` (step = epoch).
CURVE_KEYS = ("train_loss", "val_loss", "val_accuracy", "lr", "speaker_accuracy", "C")
# (speaker_accuracy: the speaker adversary's training accuracy, in speaker-adversarial runs only;
# C: a closed-form run's L2 strength, one step per strength tried)
F1_COLUMNS = [f"f1_{e}" for e in EMOTIONS]
#: Metrics averaged over folds by :func:`summarize` (all but the last four in 0..1).
METRICS = [
    "accuracy",
    "macro_f1",
    "precision",
    "recall",
    *F1_COLUMNS,
    "ece_before",
    "ece_after",
    "temperature",
    "train_seconds",
]
#: Columns of :func:`load_runs` (followed by one ``weight_<representation>`` column per ensemble member).
RUN_COLUMNS = [
    "run_id",
    "run_name",
    "status",
    "model",
    "input",
    "protocol",
    "fold",
    "accuracy",
    "macro_f1",
    "precision",
    "recall",
    *F1_COLUMNS,
    "parameters",
    "train_seconds",
    "best_val_accuracy",
    "best_epoch",
    "ece_before",
    "ece_after",
    "temperature",
    "start_time",
    "confusion",
    "members",
    "shipped",
    "params",
    "host",
    "pid",
    "last_seen",
]
GROUP = ["model", "input", "protocol"]
#: Appended to the input of a run trained on its validation part too (``train --train-on-val``).
TRAINVAL_INPUT = "+val"
# tidy column <- MLflow metric key
_METRIC_KEYS = {
    "accuracy": "test_accuracy",
    "macro_f1": "test_macro_f1",
    "precision": "test_macro_precision",
    "recall": "test_macro_recall",
    **{f"f1_{e}": f"test_f1_{e}" for e in EMOTIONS},
    **{
        k: k
        for k in (
            "train_seconds",
            "best_val_accuracy",
            "best_epoch",
            "ece_before",
            "ece_after",
            "temperature",
        )
    },
}


# --------------------------------------------------------------------- reading the store
def _path(db: str | Path | None) -> Path:
    return Path(db) if db is not None else tracking.db_path()


def _fail(path: Path, err: BaseException) -> TrackingError:
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return TrackingError(
        f"Cannot read the MLflow tracking database {path}: {first}. Point SER_MLFLOW_DB at a "
        "valid database (or move this one away and train again)."
    )


def _read_errors() -> tuple[type[BaseException], ...]:
    from mlflow.exceptions import MlflowException  # optional heavy dependency (MLflow)
    from sqlalchemy.exc import SQLAlchemyError  # (comes with MLflow)

    return MlflowException, SQLAlchemyError, sqlite3.Error, OSError


def _client(path: Path):
    """An ``MlflowClient`` on the SQLite file (which must exist and be non-empty)."""
    import mlflow  # optional heavy dependency: only to read or log runs

    return mlflow.MlflowClient(tracking_uri=f"sqlite:///{path.resolve()}")


def _has_store(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size > 0
    except OSError:
        return False


def _num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _row(run) -> dict[str, Any]:
    """One tidy row of an MLflow ``Run``."""
    info, m, p, t = run.info, run.data.metrics, run.data.params, run.data.tags
    model = p.get("model", "?")
    row: dict[str, Any] = {
        "run_id": info.run_id,
        "run_name": info.run_name or t.get("mlflow.runName") or info.run_id[:8],
        "status": info.status,
        "model": model,
        # a refit on training + validation clips is its own row (mel+val), not another mel run
        "input": (p.get("input") or p.get("representation") or "?")
        + (TRAINVAL_INPUT if p.get("train_on_val") == "True" else ""),
        "protocol": p.get("protocol", "?"),
        "fold": _num(p.get("fold")),
        "parameters": _num(p.get("parameters")),
        "start_time": info.start_time,
        "confusion": t.get("test_confusion") or t.get("confusion"),
        "members": p.get("members"),
        "params": dict(p),
        "host": t.get(tracking.HOST_TAG),
        "pid": t.get(tracking.PID_TAG),
        # the last sign of life: its end, else (still RUNNING) its newest metric (_last_metrics)
        "last_seen": info.end_time or info.start_time,
    }
    row.update({col: m.get(key, math.nan) for col, key in _METRIC_KEYS.items()})
    row.update({k: v for k, v in m.items() if k.startswith(_EXTRA_PREFIXES)})
    return row


def shipped_runs(directory: str | Path | None = None) -> dict[str, str]:
    """MLflow run id -> shipped model name, read from the model cards.

    A card names its run under ``training.mlflow_run_id`` (trained models) or
    ``ensemble.mlflow_run_id`` (ensembles). Unreadable cards are skipped.

    Parameters
    ----------
    directory : str or Path, optional
        The cards' folder; default :func:`ser_core.models.models_dir`.
    """
    d = Path(directory) if directory is not None else models.models_dir()
    out: dict[str, str] = {}
    for path in sorted(d.glob("*.json")) if d.is_dir() else ():
        try:
            card = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for section in ("training", "ensemble"):
            run_id = (card.get(section) or {}).get("mlflow_run_id") if isinstance(card, dict) else None
            if isinstance(run_id, str) and run_id:
                out[run_id] = path.stem
    return out


def load_runs(db: str | Path | None = None, *, models_dir: str | Path | None = None) -> pd.DataFrame:
    """Every (non-deleted) run of the ``nemo-ser`` experiment as a tidy table.

    Parameters
    ----------
    db : str or Path, optional
        The SQLite file; default :func:`ser_core.tracking.db_path`.
    models_dir : str or Path, optional
        Where the model cards are (:func:`shipped_runs`); default ``artifacts/models``.

    Returns
    -------
    DataFrame, shape (n_runs, len(RUN_COLUMNS) + n_weights)
        Columns :data:`RUN_COLUMNS`: ``accuracy, macro_f1, precision, recall`` and
        ``f1_<emotion>`` are the test metrics in 0..1 (NaN while a run is still
        training), ``fold`` and ``parameters`` floats (NaN when not logged),
        ``start_time`` a UTC timestamp, ``confusion`` the JSON of the test
        confusion matrix (or None), ``shipped`` the name of the shipped model a
        card ties to the run (or None), ``params`` a dict of every logged parameter,
        ``host`` and ``pid`` the training process's tags (:func:`ser_core.tracking.liveness_tags`;
        None before they existed), ``last_seen`` a UTC timestamp: its end, or for a RUNNING run
        its newest per-epoch metric (:mod:`ser_core.run_state` decides from these whether it
        still trains); then ``weight_<representation>`` columns of ensemble runs.  An
        ensemble's ``parameters`` are its members' (:func:`ser_core.run_table.ensemble_parameters`).
        Sorted newest first.
        Empty (with these columns) when the database or the experiment does not exist.

    Raises
    ------
    TrackingError
        When the file is not a readable MLflow database.
    """
    path = _path(db)
    empty = pd.DataFrame(columns=RUN_COLUMNS)
    if not _has_store(path):
        return empty
    try:
        client = _client(path)
        exp = client.get_experiment_by_name(tracking.EXPERIMENT)
        if exp is None:
            return empty
        found, token = [], None
        while True:
            page = client.search_runs([exp.experiment_id], max_results=1000, page_token=token)
            found.extend(page)
            token = page.token
            if not token:
                break
        if not found:
            return empty
        df = pd.DataFrame([_row(r) for r in found])
        _last_metrics(client, df)
    except _read_errors() as err:
        raise _fail(path, err) from err
    names = shipped_runs(models_dir)
    df["shipped"] = pd.Series([names.get(r) for r in df["run_id"]], dtype=object)
    weights = sorted(c for c in df.columns if c.startswith(_EXTRA_PREFIXES))
    df = df[RUN_COLUMNS + weights]
    df["start_time"] = pd.to_datetime(df["start_time"], unit="ms", utc=True)
    df["last_seen"] = pd.to_datetime(df["last_seen"], unit="ms", utc=True)
    num = [c for c in RUN_COLUMNS if c in _METRIC_KEYS] + ["fold", "parameters"] + weights
    df[num] = df[num].astype(float)
    df["parameters"] = df["parameters"].fillna(run_table.ensemble_parameters(df, ensemble=ENSEMBLE))
    for col in ("confusion", "members", "host", "pid"):  # object columns holding None, not str/NaN
        df[col] = pd.Series([v if isinstance(v, str) else None for v in df[col]], dtype=object)
    return df.sort_values("start_time", ascending=False, kind="stable").reset_index(drop=True)


def _last_metrics(client, df: pd.DataFrame) -> None:
    """``last_seen`` of each RUNNING run: its newest per-epoch metric (ms), else its start."""
    for i in df.index[df["status"] == "RUNNING"]:
        stamps = [
            m.timestamp for key in CURVE_KEYS for m in client.get_metric_history(df.at[i, "run_id"], key)
        ]
        df.at[i, "last_seen"] = max([df.at[i, "last_seen"], *stamps])


#: MLflow experiment of the recording-condition reports (:mod:`ser_core.robustness`).
CONDITIONS_EXPERIMENT = "nemo-ser-conditions"
#: Columns of :func:`condition_runs`.
CONDITION_COLUMNS = [
    *("model", "input", "condition", "accuracy", "accuracy_std", "drop", "worst_speaker"),
    *("worst_accuracy", "seed", "max_clips", "n_folds", "start_time", "run_id"),
]


def condition_runs(db: str | Path | None = None) -> pd.DataFrame:
    """The latest finished run of every (model, condition) of :data:`CONDITIONS_EXPERIMENT`.

    Returns
    -------
    DataFrame, shape (n, len(CONDITION_COLUMNS))
        Columns :data:`CONDITION_COLUMNS`: ``accuracy``, ``accuracy_std`` (over the LOSO
        folds), ``drop`` (clean's accuracy minus this one's) and ``worst_accuracy`` in
        0..1, ``max_clips`` NaN for every clip; empty when nothing was logged.

    Raises
    ------
    TrackingError
        When the file is not a readable MLflow database.
    """
    path = _path(db)
    if not _has_store(path):
        return pd.DataFrame(columns=CONDITION_COLUMNS)
    try:
        client = _client(path)
        exp = client.get_experiment_by_name(CONDITIONS_EXPERIMENT)
        found = [] if exp is None else client.search_runs([exp.experiment_id], max_results=10_000)
    except _read_errors() as err:
        raise _fail(path, err) from err
    rows = [
        {
            **{k: r.data.params.get(k) for k in ("model", "input", "condition")},
            **{k: r.data.metrics.get(k, math.nan) for k in ("accuracy", "accuracy_std", "drop")},
            "worst_speaker": r.data.tags.get("worst_speaker"),
            "worst_accuracy": r.data.metrics.get("worst_accuracy", math.nan),
            **{k: _num(r.data.params.get(k)) for k in ("seed", "max_clips", "n_folds")},
            "start_time": r.info.start_time,
            "run_id": r.info.run_id,
        }
        for r in found
        if r.info.status == "FINISHED"
    ]
    df = pd.DataFrame(rows, columns=CONDITION_COLUMNS).sort_values("start_time", kind="stable")
    return df.drop_duplicates(["model", "condition"], keep="last").reset_index(drop=True)


# --------------------------------------------------------------------- tables
def _shipped_last(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` ordered so that the last of a group is its shipped run (a card names it),
    else its newest: unshipped runs by start time, then shipped runs by start time."""
    shipped = runs["shipped"].notna() if "shipped" in runs else pd.Series(False, index=runs.index)
    return (
        runs.assign(_shipped=shipped)
        .sort_values(["_shipped", "start_time"], kind="stable")
        .drop(columns="_shipped")
    )


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per ``(model, input, protocol)``, LOSO folds aggregated.

    Only runs with test metrics count.  When a fold was trained more than once,
    the shipped run is used (a model card names it; see :func:`shipped_runs`),
    else the latest; the folds are then averaged.

    Parameters
    ----------
    runs : DataFrame
        :func:`load_runs` (or a filtered part of it).

    Returns
    -------
    DataFrame, shape (n_groups, ...)
        ``label, model, input, protocol, n_folds``, the mean of every column of
        :data:`METRICS` and its sample standard deviation over folds as
        ``<metric>_std`` (NaN for a single run), ``parameters``, ``start_time``
        (latest fold) and ``run_ids`` (tuple, by fold).  Sorted by accuracy, best first.
    """
    std_cols = [f"{m}_std" for m in METRICS]
    cols = ["label", *GROUP, "n_folds", *METRICS, *std_cols, "parameters", "start_time", "run_ids"]
    done = runs[runs["accuracy"].notna()] if len(runs) else runs
    if done.empty:
        return pd.DataFrame(columns=cols)
    latest = (
        _shipped_last(done)
        .drop_duplicates([*GROUP, "fold"], keep="last")
        .sort_values([*GROUP, "fold"], kind="stable")
    )
    g = latest.groupby(GROUP, sort=False, dropna=False)
    out = g[METRICS].mean()
    out[std_cols] = g[METRICS].std(ddof=1).to_numpy()
    out["n_folds"] = g.size()
    out["parameters"] = g["parameters"].max()
    out["start_time"] = g["start_time"].max()
    out["run_ids"] = g["run_id"].agg(tuple)
    out = out.reset_index()
    out["label"] = out["model"] + " · " + out["input"] + " · " + out["protocol"]
    out = out.sort_values(["accuracy", "start_time"], ascending=False, kind="stable")
    return out[cols].reset_index(drop=True)


def by_new_voices(summary: pd.DataFrame) -> pd.DataFrame:
    """``summary`` with its recipe's two numbers side by side, best on new voices first.

    A recipe is a model on an input, whether or not it also trained on the
    validation part (``mel`` and ``mel+val`` are one recipe).

    Parameters
    ----------
    summary : DataFrame
        :func:`summarize` rows.

    Returns
    -------
    DataFrame
        The same rows plus ``new_voices`` (the recipe's LOSO mean accuracy) and
        ``seed_split`` (its best seed-split accuracy), NaN where not measured;
        ordered by ``new_voices`` (recipes without one last, by ``seed_split``),
        then LOSO rows before seed rows, then accuracy.
    """
    if summary.empty:
        return summary.assign(new_voices=pd.Series(dtype=float), seed_split=pd.Series(dtype=float))
    recipe = list(zip(summary["model"], summary["input"].astype(str).str.removesuffix(TRAINVAL_INPUT)))
    df = summary.assign(_recipe=recipe)
    best = {p: df[df["protocol"] == p].groupby("_recipe")["accuracy"].max() for p in ("loso", "seed")}
    df["new_voices"] = df["_recipe"].map(best["loso"]).astype(float)
    df["seed_split"] = df["_recipe"].map(best["seed"]).astype(float)
    df["_loso_last"] = df["protocol"] != "loso"
    keys, ascending = (
        ["new_voices", "seed_split", "_recipe", "_loso_last", "accuracy"],
        [False, False, True, True, False],
    )
    df = df.sort_values(keys, ascending=ascending, na_position="last", kind="stable")
    return df.drop(columns=["_recipe", "_loso_last"]).reset_index(drop=True)


def filter_runs(
    table: pd.DataFrame,
    *,
    models: Sequence[str] = (),
    inputs: Sequence[str] = (),
    protocols: Sequence[str] = (),
) -> pd.DataFrame:
    """Rows of ``table`` (runs or summary) whose model / input / protocol is selected.

    An empty selection keeps every value of that column.
    """
    keep = np.ones(len(table), dtype=bool)
    for col, chosen in (("model", models), ("input", inputs), ("protocol", protocols)):
        if chosen:
            keep &= table[col].isin(list(chosen)).to_numpy()
    return table[keep]


def ranked_run_ids(runs: pd.DataFrame) -> list[str]:
    """Run ids by test accuracy (best first); runs without test metrics last, newest first."""
    order = runs.sort_values(["accuracy", "start_time"], ascending=False, na_position="last", kind="stable")
    return order["run_id"].tolist()


def run_label(runs: pd.DataFrame, run_id: str) -> str:
    """``"resnet18-mel-seed · 78.1 %"`` (or ``· RUNNING`` while it has no test metrics)."""
    row = _get(runs, run_id)
    acc = row["accuracy"]
    tail = f"{100 * acc:.1f} %" if pd.notna(acc) else str(row["status"])
    return f"{row['run_name']} · {tail}"


def _get(runs: pd.DataFrame, run_id: str) -> pd.Series:
    return run_table.get_run(runs, run_id)


def confusion(runs: pd.DataFrame, run_id: str) -> np.ndarray | None:
    """Test confusion matrix of a run.

    Returns
    -------
    np.ndarray, shape (6, 6), int64, or None
        Rows = true class, columns = predicted class, both in ``EMOTIONS`` order;
        None when the run has no confusion matrix (still training).

    Raises
    ------
    TrackingError
        Unknown run id, or a confusion tag that is not a 6 x 6 JSON list.
    """
    raw = _get(runs, run_id)["confusion"]
    if raw is None or (isinstance(raw, float) and math.isnan(raw)) or raw == "":
        return None
    try:
        cm = np.asarray(json.loads(raw), dtype=np.int64)
    except (TypeError, ValueError) as err:
        raise TrackingError(f"Run {run_id} has a malformed confusion matrix tag: {err}") from err
    k = len(EMOTIONS)
    if cm.shape != (k, k):
        raise TrackingError(f"Run {run_id} has a confusion matrix of shape {cm.shape}, expected ({k}, {k}).")
    return cm


def curves(run_id: str, db: str | Path | None = None) -> pd.DataFrame:
    """Per-epoch training curves of a run (metric histories of :data:`CURVE_KEYS`).

    Returns
    -------
    DataFrame, shape (n_points, 3)
        Columns ``epoch`` (int, the logged step), ``metric`` (one of
        :data:`CURVE_KEYS`) and ``value``; sorted by metric then epoch.  A step
        logged twice keeps its latest value.  Empty when nothing was logged.

    Raises
    ------
    TrackingError
        When the database is missing or unreadable.
    """
    path = _path(db)
    if not _has_store(path):
        raise TrackingError(
            f"No MLflow tracking database at {path} (set SER_MLFLOW_DB, or train a model: {HOW_TO_TRAIN})."
        )
    try:
        client = _client(path)
        points = [
            (m.step, key, m.value, m.timestamp)
            for key in CURVE_KEYS
            for m in client.get_metric_history(run_id, key)
        ]
    except _read_errors() as err:
        raise _fail(path, err) from err
    df = pd.DataFrame(points, columns=["epoch", "metric", "value", "ts"])
    df = df.sort_values(["metric", "epoch", "ts"], kind="stable").drop_duplicates(
        ["metric", "epoch"], keep="last"
    )
    df["epoch"] = df["epoch"].astype(int)
    df["value"] = df["value"].astype(float)
    return df[["epoch", "metric", "value"]].reset_index(drop=True)


def adaptation(runs: pd.DataFrame) -> pd.DataFrame | None:
    """Accuracy against seconds of adaptation audio, over the LOSO folds.

    Returns
    -------
    DataFrame or None
        Columns ``model, input, seconds, label, accuracy, std, n_folds``; one row
        per model/input and adaptation budget (``seconds`` numeric, inf for
        "all"); None when no run logged an adaptation curve.
    """
    cols = [c for c in runs.columns if c.startswith(ADAPT_PREFIX)]
    if not cols or runs.empty:
        return None
    done = runs[runs[cols].notna().any(axis=1)]
    if done.empty:
        return None
    latest = _shipped_last(done).drop_duplicates([*GROUP, "fold"], keep="last")
    long = (
        latest[["model", "input", "fold", *cols]]
        .melt(id_vars=["model", "input", "fold"], value_vars=cols, var_name="label", value_name="accuracy")
        .dropna(subset=["accuracy"])
    )
    long["label"] = long["label"].str.removeprefix(ADAPT_PREFIX)
    g = long.groupby(["model", "input", "label"], sort=False)
    out = g["accuracy"].agg(["mean", "std", "size"]).reset_index()
    out = out.rename(columns={"mean": "accuracy", "size": "n_folds"})
    out["seconds"] = [math.inf if k == "all" else float(k) for k in out["label"]]
    return out.sort_values(["model", "input", "seconds"], kind="stable")[
        ["model", "input", "seconds", "label", "accuracy", "std", "n_folds"]
    ].reset_index(drop=True)


def ensemble_importance(runs: pd.DataFrame, *, protocol: str = "seed") -> pd.DataFrame | None:
    """Optuna parameter importance of the shipped (else the newest) ensemble run of ``protocol``.

    Returns
    -------
    DataFrame or None
        Columns ``parameter, importance`` (sums to 1), most important first.
    """
    cols = [c for c in runs.columns if c.startswith(IMPORTANCE_PREFIX)]
    ens = (
        runs[(runs["model"] == ENSEMBLE) & (runs["protocol"] == protocol)]
        if len(runs) and cols
        else runs.iloc[0:0]
    )
    ens = ens[ens[cols].notna().any(axis=1)] if len(ens) else ens
    if ens.empty:
        return None
    row = _shipped_last(ens).iloc[-1]
    out = pd.DataFrame(
        {
            "parameter": [c.removeprefix(IMPORTANCE_PREFIX) for c in cols],
            "importance": [float(row[c]) for c in cols],
        }
    ).dropna()
    return out.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)


def ensemble_weights(runs: pd.DataFrame, *, protocol: str | None = "seed") -> pd.DataFrame | None:
    """Member weights of each ensemble of ``protocol`` (None: all), long format.

    An ensemble searched more than once (the same run name, protocol and fold)
    shows one run: the one a model card names, else the newest; so each
    ensemble's weights sum to 1.

    Returns
    -------
    DataFrame, shape (n_ensembles * n_members, 6), or None
        Columns ``run_id, run_name, protocol, fold, representation, weight``
        (newest run first, members by weight); None when no ensemble run logged weights.
    """
    cols = [c for c in runs.columns if c.startswith(WEIGHT_PREFIX)]
    ens = runs[runs["model"] == ENSEMBLE] if len(runs) else runs
    if protocol is not None and len(ens):
        ens = ens[ens["protocol"] == protocol]
    if ens.empty or not cols:
        return None
    ens = _shipped_last(ens).groupby(["run_name", "protocol", "fold"], dropna=False, sort=False).tail(1)
    long = ens.melt(
        id_vars=["run_id", "run_name", "protocol", "fold", "start_time"],
        value_vars=cols,
        var_name="representation",
        value_name="weight",
    )
    long = long[long["weight"].notna()]
    if long.empty:
        return None
    long["representation"] = long["representation"].str.removeprefix(WEIGHT_PREFIX)
    long = long.sort_values(["start_time", "weight"], ascending=False, kind="stable")
    return long.drop(columns="start_time").reset_index(drop=True)


def loso_ensemble(runs: pd.DataFrame) -> pd.DataFrame | None:
    """The leave-one-speaker-out ensembles (one fit per held-out speaker) of the newest
    ensemble recipe (``ensemble`` or ``ensemble-spk``).

    Returns
    -------
    DataFrame, shape (n_folds, 3 + n_members), or None
        Columns ``fold, accuracy, macro_f1`` and the weight of each member
        (NaN where a fold's search left it out); the newest run of each fold.
        None when no LOSO ensemble was logged.
    """
    ens = (
        runs[(runs["model"] == ENSEMBLE) & (runs["protocol"] == "loso") & runs["accuracy"].notna()]
        if len(runs)
        else runs
    )
    if ens.empty:
        return None
    ens = ens.sort_values("start_time", kind="stable")
    ens = ens[ens["input"] == ens["input"].iloc[-1]]  # the newest recipe (ensemble / ensemble-spk)
    ens = ens.drop_duplicates("fold", keep="last")
    cols = [c for c in runs.columns if c.startswith(WEIGHT_PREFIX) and ens[c].notna().any()]
    out = ens[["fold", "accuracy", "macro_f1", *cols]].rename(
        columns={c: c.removeprefix(WEIGHT_PREFIX) for c in cols}
    )
    out["fold"] = out["fold"].astype(int)
    return out.sort_values("fold").reset_index(drop=True)


# --------------------------------------------------------------------- writing an ensemble
def ensemble_input(members: Sequence[str]) -> str:
    """The leaderboard's input name of an ensemble: ``ensemble``, or ``ensemble-spk`` when
    every member is speaker-normalised (the ``-spk`` convention of single models)."""
    members = list(members)
    return ENSEMBLE + ("-spk" if members and all(str(m).endswith("-spk") for m in members) else "")


def log_ensemble(
    weights: Mapping[str, float],
    *,
    members: Sequence[str] | None = None,
    candidates: Sequence[str] | None = None,
    protocol: str = "seed",
    fold: int = 0,
    report: Mapping[str, Any] | None = None,
    temperature: float | None = None,
    run_name: str | None = None,
) -> str:
    """Log an ensemble run following the convention of this module.

    Parameters
    ----------
    weights : mapping
        ``{representation: weight}`` (any non-negative scale; normalised to sum 1).
    members : sequence of str, optional
        What was combined (default: the keys of ``weights``), logged as JSON.
    candidates : sequence of str, optional
        What a search chose the members from (logged as JSON, sorted): the recipe a LOSO
        fold belongs to, whichever members its search kept.
    protocol, fold :
        The evaluation protocol fold.
    report : mapping, optional
        A :func:`ser_core.metrics.classification_report` of the ensemble on test.
    temperature : float, optional
        Temperature of the combined logits.
    run_name : str, optional
        Default ``ensemble-<protocol>`` (``-fold<k>`` for LOSO).

    Returns
    -------
    str
        The MLflow run id.
    """
    import mlflow  # optional heavy dependency: only to read or log runs

    total = float(sum(weights.values()))
    if not weights or total <= 0 or any(w < 0 for w in weights.values()):
        raise TrackingError(
            f"Ensemble weights must be non-negative with a positive sum, got {dict(weights)!r}."
        )
    run_name = run_name or f"{ENSEMBLE}-{protocol}" + (f"-fold{fold}" if protocol == "loso" else "")
    with mlflow.start_run(experiment_id=tracking.experiment_id(), run_name=run_name) as run:
        mlflow.log_params(
            {
                "model": ENSEMBLE,
                "input": ensemble_input(members or weights),
                "protocol": protocol,
                "fold": fold,
                "members": json.dumps(list(members or weights)),
                **({"candidates": json.dumps(sorted(candidates))} if candidates else {}),
            }
        )
        mlflow.log_metrics({f"{WEIGHT_PREFIX}{k}": float(w) / total for k, w in weights.items()})
        if temperature is not None:
            mlflow.log_metric("temperature", float(temperature))
        if report is not None:
            tracking.log_report(report)
        return run.info.run_id
