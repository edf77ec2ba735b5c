"""Row-level helpers of the leaderboard's run table (:func:`ser_core.leaderboard.load_runs`):
one run by id, two runs side by side, and the parameter count of an ensemble run."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from . import tracking
from .config import EMOTIONS
from .errors import TrackingError

__all__ = ["get_run", "compare", "ensemble_parameters"]

F1_COLUMNS = [f"f1_{e}" for e in EMOTIONS]
_PERCENT = {"accuracy", "macro_f1", "precision", "recall", "best_val_accuracy", *F1_COLUMNS}


def get_run(runs: pd.DataFrame, run_id: str) -> pd.Series:
    """The row of run ``run_id``; :class:`~ser_core.errors.TrackingError` naming it when absent."""
    hit = runs.loc[runs["run_id"] == run_id]
    if hit.empty:
        raise TrackingError(
            f"No run {run_id!r} among the {len(runs)} runs read from the MLflow "
            f"tracking database {tracking.db_path()}."
        )
    return hit.iloc[0]


def ensemble_parameters(df: pd.DataFrame, *, ensemble: str = "ensemble") -> pd.Series:
    """Trainable parameters of each ensemble run: the sum over its member networks.

    A member refitted with several seeds (param ``refit_seeds``) counts once per seed; each
    member's count is read from a run of the same protocol and input.

    Returns
    -------
    pd.Series, indexed like ``df``
        NaN for other runs, and where a member has no such run.
    """
    out = pd.Series(np.nan, index=df.index)
    known = df[df["model"] != ensemble].dropna(subset=["parameters"])
    count = known.groupby(["protocol", "input"])["parameters"].max()
    for i in df.index[(df["model"] == ensemble) & df["members"].map(lambda m: isinstance(m, str))]:
        try:
            members = json.loads(df.at[i, "members"])
            bags = json.loads((df.at[i, "params"] or {}).get("refit_seeds") or "{}")
        except (TypeError, ValueError):
            continue
        sizes = [count.get((df.at[i, "protocol"], str(m)), np.nan) * len(bags.get(m, [0])) for m in members]
        out[i] = float(np.sum(sizes)) if sizes else np.nan  # NaN when a member is unknown
    return out


def _fmt(field: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, (float, np.floating)):
        if field in _PERCENT:
            return f"{100 * value:.2f} %"
        return f"{value:,.0f}" if field in ("parameters", "best_epoch", "fold") else f"{value:.4g}"
    return str(value)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (float, np.floating)) and isinstance(b, (float, np.floating)):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def compare(
    runs: pd.DataFrame, run_a: str, run_b: str, *, labels: tuple[str, str] | None = None
) -> pd.DataFrame:
    """Side-by-side metrics and parameters of two runs.

    Parameters
    ----------
    labels : (str, str), optional
        How to name the two runs in the column headers (default: their run names).

    Returns
    -------
    DataFrame, shape (n_fields, 4)
        Columns ``field``, ``A: <label>``, ``B: <label>`` (values formatted
        as text: ratios as percentages) and ``differs`` (bool).  The test
        metrics come first, then every logged parameter (union of both runs);
        ``status`` is the run's ``state`` where the table has one
        (:func:`ser_core.run_state.with_states`).
    """
    a, b = get_run(runs, run_a), get_run(runs, run_b)
    status = "state" if "state" in runs else "status"
    fields: list[tuple[str, Any, Any]] = [("status", a[status], b[status])]
    fields += [
        (f, a[f], b[f])
        for f in [
            "model",
            "input",
            "protocol",
            "fold",
            "accuracy",
            "macro_f1",
            "precision",
            "recall",
            *F1_COLUMNS,
            "best_val_accuracy",
            "best_epoch",
            "ece_before",
            "ece_after",
            "temperature",
            "train_seconds",
            "parameters",
        ]
    ]
    shown = {"model", "input", "protocol", "fold", "parameters"}
    pa, pb = a["params"] or {}, b["params"] or {}
    fields += [(f"param {k}", pa.get(k), pb.get(k)) for k in sorted(set(pa) | set(pb)) if k not in shown]
    name_a, name_b = labels or (a["run_name"], b["run_name"])
    col_a, col_b = f"A: {name_a}", f"B: {name_b}"
    return pd.DataFrame(
        {
            "field": [f for f, _, _ in fields],
            col_a: [_fmt(f, x) for f, x, _ in fields],
            col_b: [_fmt(f, y) for f, _, y in fields],
            "differs": [not _same(x, y) for f, x, y in fields],
        }
    )
