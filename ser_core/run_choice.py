"""Which runs the leaderboard page names and opens: a unique label per run, the run that
*Inspect a run* opens on, and the two runs *Compare two runs* starts with."""

from __future__ import annotations

import pandas as pd

from . import leaderboard as lb
from . import models

__all__ = ["run_labels", "history_kind", "default_inspect", "default_compare"]


def run_labels(runs: pd.DataFrame) -> dict[str, str]:
    """A readable label per run, unique even where run names repeat.

    ``"resnet18-mel-seed · 78.1 %"`` (its test accuracy, else its ``state``, else its
    status); a name used by several runs gets the run's start time
    (``· 2026-12-02 17:37``), and the run id's first six characters where that repeats too.

    Returns
    -------
    dict
        Run id -> label, for every row of ``runs`` (:func:`ser_core.leaderboard.load_runs`).
    """
    if runs.empty:
        return {}
    state = runs["state"] if "state" in runs else runs["status"]
    tail = [f"{100 * a:.1f} %" if pd.notna(a) else str(s) for a, s in zip(runs["accuracy"], state)]
    labels = runs["run_name"].astype(str) + " · " + pd.Series(tail, index=runs.index)
    when = pd.to_datetime(runs["start_time"], utc=True).dt.strftime("%Y-%m-%d %H:%M")
    repeated = runs["run_name"].duplicated(keep=False)
    labels = labels.where(~repeated, labels + " · " + when)
    still = labels.duplicated(keep=False)
    labels = labels.where(~still, labels + " · " + runs["run_id"].astype(str).str[:6])
    return dict(zip(runs["run_id"], labels))


def history_kind(model: str) -> str | None:
    """What a run of ``model`` logs step by step: ``"epochs"`` (a network's training curves),
    ``"grid"`` (a closed-form fit per L2 strength C), or None (an ensemble: nothing)."""
    if model == lb.ENSEMBLE:
        return None
    kind = models.MODELS[model].input if model in models.MODELS else "unknown"
    return {"members": None, "functionals": "grid"}.get(kind, "epochs")


def _typical(runs: pd.DataFrame, ids: tuple[str, ...]) -> str:
    """Of a recipe's runs (LOSO folds), the one whose accuracy is nearest their mean."""
    acc = runs.set_index("run_id").loc[list(ids), "accuracy"]
    return str((acc - acc.mean()).abs().idxmin())


def _summary(runs: pd.DataFrame) -> pd.DataFrame:
    return lb.by_new_voices(lb.summarize(runs))


def default_inspect(runs: pd.DataFrame) -> str | None:
    """The run *Inspect a run* opens on: of the recipe best on new voices among those with
    training curves (a network), its typical LOSO fold (else its run); the best run when no
    finished run has curves; None without runs."""
    summary = _summary(runs)
    for _, row in summary.iterrows():
        if history_kind(row["model"]) == "epochs":
            return _typical(runs, row["run_ids"])
    ids = lb.ranked_run_ids(runs)
    return ids[0] if ids else None


def default_compare(runs: pd.DataFrame) -> tuple[str, str] | None:
    """The two runs *Compare two runs* starts with, on the same test clips where possible.

    A: the seed-split run of the recipe best on new voices (its typical LOSO fold when it
    has no seed-split run); B: the best seed-split run of another recipe with another run
    name.  Falls back on the two best runs of different names; None with fewer than two runs.
    """
    summary = _summary(runs)
    if summary.empty:
        ids = lb.ranked_run_ids(runs)
        return (ids[0], ids[1]) if len(ids) > 1 else None
    recipe = summary["model"] + " · " + summary["input"].str.removesuffix(lb.TRAINVAL_INPUT)
    best = recipe.iloc[0]
    seed = summary[summary["protocol"] == "seed"].sort_values("accuracy", ascending=False, kind="stable")
    mine = seed[recipe[seed.index] == best]
    a = mine["run_ids"].iloc[0][0] if len(mine) else _typical(runs, summary["run_ids"].iloc[0])
    names = runs.set_index("run_id")["run_name"]
    others = [
        ids[0]
        for ids, r in zip(seed["run_ids"], recipe[seed.index])
        if r != best and names[ids[0]] != names[a]
    ]
    if not others:  # no other seed-split recipe: the best run of another name
        others = [r for r in lb.ranked_run_ids(runs) if names[r] != names[a]]
    return (a, others[0]) if others else None
