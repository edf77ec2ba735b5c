"""The results page (``docs/results.md``), generated from the shipped model cards and MLflow.

Every figure on the page is read from ``artifacts/models/*.json`` (the cards, through
:mod:`ser_core.models`) or from the MLflow store ``artifacts/mlflow.db`` (through
:mod:`ser_core.leaderboard`); none is typed by hand. The text is deterministic: rows
are sorted, numbers rounded to fixed places, and no date is written, so the committed
page can be compared with a fresh one (``python -m ser_core results-page --check``).

:func:`render` is pure (cards and runs in, markdown out); :func:`results_page` reads
the files and renders them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from . import leaderboard, models
from .inference import model_scores, rank

__all__ = ["COMMAND", "render", "results_page"]

COMMAND = "python -m ser_core results-page"

# the LOSO adaptation reports a card can hold ("all of the speaker's clips"), in table order
ADAPTATIONS = (
    ("adabn", "AdaBN"),
    ("voice_warps", "voice warps"),
    ("voice_warps_adabn", "warps + AdaBN"),
    ("voice_warps_adabn_infomax", "warps + AdaBN + information maximisation"),
)
NO_LOSO = "no LOSO figure in its card"


def _pct(value: float, places: int) -> str:
    return f"{100 * value:.{places}f} %"


def _mean_std(mean: float, std: float) -> str:
    return f"{100 * mean:.1f} ± {100 * std:.1f} %"


def _loso(card: Mapping[str, Any]) -> Mapping[str, Any] | None:
    loso = card.get("metrics", {}).get("loso")
    return loso if isinstance(loso, Mapping) and "accuracy" in loso else None


def _seed_accuracy(card: Mapping[str, Any]) -> float | None:
    return model_scores(card).seed


def _is_ensemble(card: Mapping[str, Any]) -> bool:
    return "ensemble" in card


def _what(card: Mapping[str, Any]) -> str:
    arch = card.get("architecture", {}).get("name", "?")
    inp = card.get("input", {})
    if _is_ensemble(card) and inp.get("members"):
        reps = ", ".join(sorted(set(inp.get("representations") or [])))
        return f"ensemble of {len(inp['members'])} models ({reps})"
    speaker = card.get("normalization", {}).get("kind") == "speaker"
    return f"{arch} on {inp.get('name', '?')}{' (speaker-normalised)' if speaker else ''}"


def _worst(loso: Mapping[str, Any]) -> str:
    folds = [f for f in loso.get("folds", []) if "accuracy" in f]
    if not folds:
        return "—"
    f = min(folds, key=lambda f: (f["accuracy"], str(f.get("speaker", ""))))
    return f"{f.get('speaker') or 'fold ' + str(f['fold'])}: {_pct(f['accuracy'], 1)}"


def _best(cards: Mapping[str, Mapping], score) -> str | None:
    scored = [(score(c), n) for n, c in cards.items() if score(c) is not None]
    return min(scored, key=lambda t: (-t[0], t[1]))[1] if scored else None


def _loso_accuracy(card: Mapping[str, Any]) -> float | None:
    return model_scores(card).loso


def _choose(cards: Mapping[str, Mapping]) -> list[str]:
    """The "which model for what" bullets: each pick is the best card by one figure."""
    singles = {n: c for n, c in cards.items() if not _is_ensemble(c)}
    picks = [
        ("A voice the model never heard (yours, in the app)", "best LOSO accuracy", cards, _loso_accuracy),
        ("Clips of the nine nEMO actors", "best seed-split accuracy", cards, _seed_accuracy),
        ("One network, a new voice", "best LOSO accuracy of a single model", singles, _loso_accuracy),
        (
            "One network, the nEMO actors",
            "best seed-split accuracy of a single model",
            singles,
            _seed_accuracy,
        ),
    ]
    out = []
    for what, why, among, score in picks:
        model_name = _best(among, score)
        if model_name is None:
            continue
        loso, seed = _loso(cards[model_name]), _seed_accuracy(cards[model_name])
        parts = [
            f"new voice (LOSO) {_mean_std(loso['accuracy'], loso['accuracy_std'])} over "
            f"{loso['n_folds']} speakers, worst {_worst(loso)}"
            if loso
            else NO_LOSO
        ]
        if seed is not None:
            parts.append(f"voices heard in training (seed split) {_pct(seed, 2)}")
        out.append(f"- **{what}:** `{model_name}`, the {why}: {'; '.join(parts)}.")
    return out


def _shipped_table(cards: Mapping[str, Mapping]) -> list[str]:
    ranked = rank(cards)
    rows = [
        "| model | what it is | new voice: LOSO accuracy, mean ± std over speakers | "
        "worst speaker | voices heard in training: seed-split test accuracy |",
        "| --- | --- | --- | --- | --- |",
    ]
    for model_name in ranked:
        card = cards[model_name]
        loso, seed = _loso(card), _seed_accuracy(card)
        new_voice = (
            f"{_mean_std(loso['accuracy'], loso['accuracy_std'])} ({loso['n_folds']} speakers)"
            if loso
            else NO_LOSO
        )
        rows.append(
            f"| `{model_name}` | {_what(card)} | {new_voice} | {_worst(loso) if loso else '—'} | "
            f"{_pct(seed, 2) if seed is not None else '—'} |"
        )
    notes = [f"- `{n}`: {_why_no_loso(cards[n])}" for n in ranked if not _loso(cards[n])]
    schedules = [
        f"- `{n}`: {_loso(cards[n])['note'].split('; ', 1)[1]}"
        for n in ranked
        if _loso(cards[n]) and "; its folds ran" in _loso(cards[n]).get("note", "")
    ]
    if schedules:
        rows += [
            "",
            "LOSO figures measured with a cheaper schedule than the shipped weights':",
            "",
            *schedules,
        ]
    if notes:
        rows += ["", "Why a card has no new-voice figure:", "", *notes]
    return rows


def _why_no_loso(card: Mapping[str, Any]) -> str:
    return str(card.get("metrics", {}).get("loso_missing", "not measured"))


def _adaptation_table(cards: Mapping[str, Mapping]) -> list[str]:
    adapted = {
        n: _loso(c) for n, c in cards.items() if _loso(c) and any(k in _loso(c) for k, _ in ADAPTATIONS)
    }
    if not adapted:
        return []
    rows = [
        "| model | as the fold runs score it | " + " | ".join(t for _, t in ADAPTATIONS) + " |",
        "| --- | --- | " + " | ".join("---" for _ in ADAPTATIONS) + " |",
    ]
    for model_name in sorted(adapted, key=lambda n: (-adapted[n]["accuracy"], n)):
        loso = adapted[model_name]
        cells = [
            _mean_std(loso[k]["accuracy"], loso[k]["accuracy_std"])
            if isinstance(loso.get(k), Mapping)
            else "—"
            for k, _ in ADAPTATIONS
        ]
        rows.append(
            f"| `{model_name}` | {_mean_std(loso['accuracy'], loso['accuracy_std'])} | "
            + " | ".join(cells)
            + " |"
        )
    return rows


def _loso_of(cards: Mapping[str, Mapping]) -> dict[tuple[str, str], list[str]]:
    """(architecture, input) of a LOSO recipe -> the shipped models whose card reports it."""
    out: dict[tuple[str, str], list[str]] = {}
    for model_name in sorted(cards):
        recipe = (_loso(cards[model_name]) or {}).get("recipe") or {}
        if "architecture" in recipe and "input" in recipe:
            out.setdefault((recipe["architecture"], recipe["input"]), []).append(model_name)
    return out


def _best_seed_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The best finished seed-split run of every recipe, with the recipe's run count."""
    done = runs[(runs["protocol"] == "seed") & runs["accuracy"].notna()]
    if done.empty:
        return done.assign(n_runs=[])
    done = done.sort_values(["accuracy", "run_id"], ascending=[False, True], kind="stable")
    best = done.drop_duplicates(["model", "input"], keep="first").set_index(["model", "input"])
    best["n_runs"] = done.groupby(["model", "input"]).size()
    return best.reset_index()


def _leaderboard_table(
    runs: pd.DataFrame, shipped_runs: Mapping[str, str], cards: Mapping[str, Mapping]
) -> list[str]:
    loso = leaderboard.summarize(runs[runs["protocol"] == "loso"]) if len(runs) else runs
    seed = _best_seed_runs(runs) if len(runs) else runs
    if loso.empty and seed.empty:
        return ["No finished training runs in the MLflow store."]
    rows = [
        "| recipe (architecture · input) | protocol | test accuracy | macro F1 | shipped model |",
        "| --- | --- | --- | --- | --- |",
    ]
    loso_of = _loso_of(cards)
    for r in (
        loso.assign(_acc=-loso["accuracy"].round(9)).sort_values(["_acc", "model", "input"]).itertuples()
    ):
        names = loso_of.get((r.model, r.input), [])
        shipped = ", ".join(f"its recipe: `{n}`" for n in names) or "—"
        rows.append(
            f"| {r.model} · {r.input} | LOSO, {r.n_folds} speakers | {_mean_std(r.accuracy, r.accuracy_std)} "
            f"| {_mean_std(r.macro_f1, r.macro_f1_std)} | {shipped} |"
        )
    for r in (
        seed.assign(_acc=-seed["accuracy"].round(9)).sort_values(["_acc", "model", "input"]).itertuples()
    ):
        group = runs[(runs["protocol"] == "seed") & (runs["model"] == r.model) & (runs["input"] == r.input)]
        shipped = ", ".join(
            f"`{shipped_runs[g.run_id]}` {_pct(g.accuracy, 2)}"
            for g in group.assign(_name=[shipped_runs.get(i, "") for i in group["run_id"]])
            .sort_values("_name")
            .itertuples()
            if g.run_id in shipped_runs and pd.notna(g.accuracy)
        )
        shipped = shipped or "—"
        best_of = f"best of {r.n_runs} runs" if r.n_runs > 1 else "1 run"
        rows.append(
            f"| {r.model} · {r.input} | seed ({best_of}) | {_pct(r.accuracy, 2)} | {_pct(r.macro_f1, 2)} "
            f"| {shipped} |"
        )
    return rows


def render(
    cards: Mapping[str, Mapping[str, Any]],
    runs: pd.DataFrame,
    *,
    shipped_runs: Mapping[str, str] | None = None,
) -> str:
    """The markdown of ``docs/results.md``.

    Parameters
    ----------
    cards : mapping of str to dict
        The shipped models' cards by name (:func:`ser_core.models.shipped_cards`).
    runs : DataFrame, shape (n_runs, ...)
        The MLflow runs (:func:`ser_core.leaderboard.load_runs`; may be empty).
    shipped_runs : mapping of str to str, optional
        MLflow run id -> shipped model name (:func:`ser_core.leaderboard.shipped_runs`).

    Returns
    -------
    str
        The page, ending in one newline; the same inputs always give the same text.
    """
    lines = [
        "# Results",
        "",
        f"<!-- generated by `{COMMAND}` from artifacts/models/*.json and artifacts/mlflow.db; "
        "do not edit by hand -->",
        "",
        "Two protocols measure every model (see [reference.md](reference.md#evaluation-protocols)):",
        "",
        "- **LOSO** (leave one speaker out): nine runs of a model's recipe, each tested on one "
        "speaker it never heard. This is what holds for a new voice, yours included.",
        "- **Seed split**: the shipped weights on the 897 test clips of the stratified random split. "
        "Its test speakers are the same nine actors the model trained on, so it measures "
        "**voices heard in training**, and it is far higher than what a new voice gets.",
        "",
        "## Which model to use for what",
        "",
        *_choose(cards),
        "",
        "## Shipped models",
        "",
        "LOSO first: it is a property of the model's recipe (one model per held-out speaker, "
        "logged to MLflow and written into the card by `python -m ser_core evaluate --protocol loso "
        "--model NAME --update-card`); the shipped weights are the seed-split model. "
        f'A model whose card holds no LOSO figure says "{NO_LOSO}".',
        "",
        *_shipped_table(cards),
        "",
    ]
    adaptation = _adaptation_table(cards)
    if adaptation:
        lines += [
            "## Adapted to the new voice",
            "",
            "LOSO accuracy, mean ± std over the held-out speakers, when the model adapts to the "
            "speaker's unlabelled clips (all of them; see [new-voices.md](new-voices.md)). "
            "Figures from the cards; — where a card has none.",
            "",
            *adaptation,
            "",
        ]
    lines += [
        "## Leaderboard of recipes",
        "",
        "Every finished training run of the MLflow store, one row per recipe and protocol. "
        "LOSO rows: the mean ± sample standard deviation over the held-out speakers (of each fold, "
        "the run a card names, else the latest). Seed rows: the best run of the recipe, and each "
        "shipped model among its runs with its own accuracy. The **Leaderboard** page shows the same store.",
        "",
        *_leaderboard_table(runs, shipped_runs or {}, cards),
    ]
    return "\n".join(lines) + "\n"


def results_page(*, models_dir: str | Path | None = None, db: str | Path | None = None) -> str:
    """Read the cards (``artifacts/models``) and the MLflow store and render the page.

    Parameters
    ----------
    models_dir : str or Path, optional
        The cards' folder; default :func:`ser_core.models.models_dir`.
    db : str or Path, optional
        The MLflow SQLite file; default :func:`ser_core.tracking.db_path`.
    """
    d = Path(models_dir) if models_dir is not None else None
    cards = models.shipped_cards(d)
    runs = leaderboard.load_runs(db, models_dir=d)
    return render(cards, runs, shipped_runs=leaderboard.shipped_runs(d))
