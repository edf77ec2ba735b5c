"""LOSO accuracy under real rooms, microphones and codecs (:mod:`ser_core.conditions`).

:func:`conditions_report` re-scores every leave-one-speaker-out fold model of a shipped
model's recipe (the weights its MLflow fold runs logged, as
:func:`ser_core.evaluate.adabn_report` loads them) on the held-out speaker's clips played
through each recording condition; :func:`log_conditions` logs one MLflow run per
(model, condition) to :data:`ser_core.leaderboard.CONDITIONS_EXPERIMENT`, which
:func:`ser_core.leaderboard.condition_runs` reads back for the leaderboard's heatmap.

>>> report = conditions_report("logreg_egemaps_spk", meta, conditions=["clean", "telephone"])
>>> report["conditions"]["telephone"]["drop"]  # accuracy lost against clean, 0..1
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import conditions as cond
from . import data, features, metrics, models, tracking
from . import leaderboard as lb
from .audio import load_audio
from .config import FeatureConfig
from .errors import ConfigError
from .evaluate import RECIPE_SEP, _fold_model, _member_fold_runs, parse_recipe
from .inputs import waveform_input

__all__ = ["REFERENCE", "conditions_report", "log_conditions", "resolve_conditions", "stratified_sample"]

#: The condition every other is compared with.
REFERENCE = "clean"
#: Whose clips a fold scores: the held-out speaker's, or the validation speaker's.
PARTS = ("test", "val")

Progress = Callable[[int, int, str], None]


def resolve_conditions(names: Sequence[str]) -> list[str]:
    """The conditions to score: ``names`` (``["all"]``: every registered one) with
    :data:`REFERENCE` first, each once, in the order given.

    Raises
    ------
    UnknownNameError
        For a name that is not a registered condition (the message lists them).
    """
    if list(names) == ["all"]:
        return cond.condition_names()
    for n in names:
        cond.get(n)  # an unknown name raises, listing the valid ones
    return list(dict.fromkeys([REFERENCE, *names]))


def stratified_sample(labels: np.ndarray, *, max_clips: int | None, seed: int = 0) -> np.ndarray:
    """At most ``max_clips`` positions of ``labels``, each emotion in its share.

    Each emotion's clips are shuffled (``seed``) and interleaved by their position within
    the emotion, so any prefix keeps the emotions' proportions; the first ``max_clips``
    are kept.

    Parameters
    ----------
    labels : np.ndarray, shape (n,)
    max_clips : int or None
        None (or at least ``n``) keeps every clip.
    seed : int

    Returns
    -------
    np.ndarray, int, shape (min(n, max_clips),)
        Sorted positions into ``labels``.
    """
    n = len(labels)
    if max_clips is None or max_clips >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    key = np.empty(n)
    for lab in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == lab))
        key[idx] = (np.arange(len(idx)) + rng.uniform(size=len(idx))) / len(idx)
    return np.sort(np.argsort(key, kind="stable")[:max_clips])


def _member_log_probs(
    waves: list[np.ndarray], fold_model: tuple[models.LoadedModel, int, float]
) -> np.ndarray:
    """Calibrated log-probabilities ``(n, 6)`` of one member's fold model (:func:`_fold_model`)
    on waveforms.

    Inputs are computed from the waveforms (:func:`ser_core.inputs.waveform_input`) and
    normalised as the fold was scored: a speaker-normalised model with statistics of
    these clips (all of one held-out speaker), any other with its card's statistics.
    """
    loaded, _seed, temperature = fold_model
    card = loaded.card
    kind, rep = card["input"]["kind"], card["input"]["name"]
    cfg = FeatureConfig(**card["input"].get("feature_config", {}))
    x = np.stack([waveform_input(w, kind=kind, representation=rep, cfg=cfg) for w in waves])
    x = np.asarray(x, np.float32)
    norm = card.get("normalization", {})
    if norm.get("kind") == "speaker":
        x = features.normalization_stats(x).apply(x)
    elif "mean" in norm:
        x = features.NormStats.from_dict(norm).apply(x)
    z = models.predict_logits(loaded.module, x)
    return np.log(metrics.softmax(z, temperature=temperature) + 1e-12)


def _fold_scores(
    waves: list[np.ndarray],
    rows: np.ndarray,
    *,
    conditions: list[str],
    members: dict[str, tuple[float, Any]],
    babble: np.ndarray | None,
    seed: int,
    sr: int,
) -> dict[str, np.ndarray]:
    """Predicted labels ``(n,)`` of one fold's clips under each condition (clip ``i`` is
    rendered with seed ``seed + rows[i]``)."""
    out = {}
    for name in conditions:
        heard = [cond.render(w, name, sr=sr, seed=seed + int(r), babble=babble) for w, r in zip(waves, rows)]
        score = sum(w * _member_log_probs(heard, fm) for w, fm in members.values())
        out[name] = np.asarray(score).argmax(1)
    return out


def _summary(folds: list[dict], name: str, clean: float | None) -> dict[str, Any]:
    acc = np.array([f["accuracy"] for f in folds], dtype=float)
    worst = folds[int(acc.argmin())]
    mean = float(acc.mean())
    return {
        "condition": name,
        "accuracy": mean,
        "accuracy_std": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
        "drop": (clean if clean is not None else mean) - mean,
        "worst_speaker": worst["speaker"],
        "worst_accuracy": worst["accuracy"],
        "folds": folds,
    }


def conditions_report(
    model_name: str,
    meta: pd.DataFrame,
    *,
    conditions: Sequence[str],
    seed: int = 0,
    max_clips: int | None = None,
    part: str = "test",
    db=None,
    splits_dir=None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """LOSO accuracy of a shipped model's recipe under recording conditions.

    For every LOSO fold, the fold models of the recipe (the weights logged by the latest
    finished run of the fold; an ensemble: each member's, with a non-zero shipped weight,
    combined as the shipped ensemble does, the weighted sum of their temperature-calibrated
    log-probabilities) score the held-out speaker's test clips (``part="val"``: the
    validation speaker's clips instead; at most ``max_clips`` of
    them, :func:`stratified_sample` with ``seed``) played through each condition:
    clip ``i`` of the corpus is rendered with seed ``seed + i``, the babble conditions from
    one :func:`ser_core.conditions.babble_pool` per fold (``seed``, every speaker but the
    held-out one).  The inputs are computed from the conditioned audio.  A
    speaker-normalised model is normalised, as LOSO scored it on clean audio, with the
    held-out speaker's own statistics: here the mean and standard deviation over the
    *scored* clips as heard under that condition (so with ``max_clips`` the clean figure
    can differ a little from the runs' own, whose statistics came from all of the
    speaker's clips); any other model with its card's corpus statistics.

    Parameters
    ----------
    model_name : str
        A shipped model whose recipe has LOSO runs with logged weights, or a recipe that
        was never shipped, ``architecture/input tag`` as the leaderboard names it
        (``"resnet18/mel-spk+cond"``: trained with ``train --conditions``).
    meta : DataFrame
        The corpus metadata (:func:`ser_core.data.load_metadata`).
    conditions : sequence of str
        Condition names (:func:`resolve_conditions`; ``clean`` is always added).
    seed : int
        Draws the clip sample, the rooms, the noises and the babble pool.
    max_clips : int, optional
        Clips scored per fold (None: all of the held-out speaker's).
    part : {"test", "val"}
        Whose clips each fold scores: its held-out speaker's (``"test"``, the figure to
        report), or its validation speaker's (``"val"``: for choosing between recipes,
        e.g. with or without conditions as augmentation, without reading a test speaker).
    db, splits_dir : optional
        The MLflow database and the splits folder (defaults: the project's).
    progress : callable, optional
        ``progress(fold_index, n_folds, speaker)`` before each fold.

    Returns
    -------
    dict with ``model``, ``recipe`` (``architecture``, ``input``, ``members``: input ->
    weight), ``seed``, ``max_clips``, ``n_folds``, ``order`` (the conditions) and
    ``part``, ``conditions``: per condition ``accuracy`` and ``accuracy_std`` (mean and sample std
    over folds), ``drop`` (clean's mean minus this one's), ``worst_speaker``,
    ``worst_accuracy`` and ``folds`` (fold, speaker, n_clips, accuracy); accuracies in 0..1.

    Raises
    ------
    UnknownNameError
        For an unknown condition.
    DatasetError
        When the recipe has no LOSO runs, or their weights are not in the artifact store.
    """
    names = resolve_conditions(conditions)
    if part not in PARTS:
        raise ConfigError(f"part must be one of {PARTS}, got {part!r}")
    weights, member_runs, folds_all = _member_fold_runs(
        model_name, what="recording conditions", db=db, speaker_only=False
    )
    weights = {t: w for t, w in weights.items() if w > 0}
    labels, speakers = meta["label"].to_numpy(), meta["speaker"].astype(str).to_numpy()
    per_cond: dict[str, list[dict]] = {n: [] for n in names}
    for i, k in enumerate(folds_all):
        scored = getattr(data.split_indices(meta, "loso", fold=k, directory=splits_dir), part)
        rows = scored[stratified_sample(labels[scored], max_clips=max_clips, seed=seed)]
        speaker = ",".join(sorted(set(speakers[rows])))
        if progress is not None:
            progress(i, len(folds_all), speaker)
        members = {t: (w, _fold_model(member_runs[t].loc[k])) for t, w in weights.items()}
        sr = _sample_rate(members)
        babble = (
            cond.babble_pool(meta, exclude_speakers=set(speakers[rows]), seed=seed, sr=sr)
            if any(cond.get(n).needs_babble for n in names)
            else None
        )
        waves = [load_audio(p, sr=sr) for p in meta["path"].to_numpy()[rows]]
        pred = _fold_scores(waves, rows, conditions=names, members=members, babble=babble, seed=seed, sr=sr)
        for n in names:
            acc = float((pred[n] == labels[rows]).mean())
            per_cond[n].append({"fold": k, "speaker": speaker, "n_clips": len(rows), "accuracy": acc})
    clean = _summary(per_cond[REFERENCE], REFERENCE, None)["accuracy"]
    return {
        "model": model_name,
        "recipe": _recipe(model_name, weights),
        "seed": seed,
        "max_clips": max_clips,
        "part": part,
        "n_folds": len(folds_all),
        "order": names,
        "conditions": {n: _summary(per_cond[n], n, clean) for n in names},
    }


def _recipe(model_name: str, weights: dict[str, float]) -> dict[str, Any]:
    """The report's ``recipe``: architecture, input (tag) and member weights."""
    if RECIPE_SEP in model_name:
        arch = parse_recipe(model_name)[0]
    else:
        arch = models.read_card(model_name)["architecture"]["name"]
    single = arch != "weighted_ensemble"
    return {
        "architecture": arch if single else lb.ENSEMBLE,
        "input": next(iter(weights)) if single else lb.ensemble_input(list(weights)),
        "members": weights,
    }


def _sample_rate(members: dict[str, tuple[float, Any]]) -> int:
    """The one sample rate of the members' fold models."""
    rates = {FeatureConfig(**fm[0].card["input"].get("feature_config", {})).sr for _, fm in members.values()}
    if len(rates) != 1:
        raise ConfigError(f"the members' fold models take audio at different rates: {sorted(rates)}")
    return rates.pop()


def log_conditions(report: dict[str, Any]) -> list[str]:
    """Log a :func:`conditions_report` to MLflow: one run per condition.

    Each run (experiment :data:`ser_core.leaderboard.CONDITIONS_EXPERIMENT`, named
    ``<model> <condition>``) has params ``model``, ``architecture``, ``input``,
    ``condition``, ``seed``, ``max_clips``, ``n_folds``; metrics ``accuracy``,
    ``accuracy_std``, ``drop``, ``worst_accuracy`` and ``acc_<speaker>`` per fold; tag
    ``worst_speaker``.

    Returns
    -------
    list of str
        The run ids, in the report's condition order.

    Raises
    ------
    ConfigError
        For a report on the validation speakers: they choose recipes, the leaderboard shows
        held-out speakers only.
    """
    if report.get("part", "test") != "test":
        raise ConfigError(
            f"only held-out speakers are logged; this report scored the {report['part']!r} speakers "
            "(print it with --no-mlflow)"
        )
    import mlflow  # optional heavy dependency: only when logging

    exp = tracking.experiment_id(lb.CONDITIONS_EXPERIMENT)
    recipe, ids = report["recipe"], []
    for name in report["order"]:
        r = report["conditions"][name]
        with mlflow.start_run(experiment_id=exp, run_name=f"{report['model']} {name}") as run:
            mlflow.log_params(
                {
                    "model": report["model"],
                    "architecture": recipe["architecture"],
                    "input": recipe["input"],
                    "condition": name,
                    "seed": report["seed"],
                    "max_clips": report["max_clips"] or "all",
                    "n_folds": report["n_folds"],
                }
            )
            mlflow.log_metrics(
                {k: float(r[k]) for k in ("accuracy", "accuracy_std", "drop", "worst_accuracy")}
            )
            mlflow.log_metrics({f"acc_{f['speaker']}": float(f["accuracy"]) for f in r["folds"]})
            mlflow.set_tag("worst_speaker", r["worst_speaker"])
            ids.append(run.info.run_id)
    return ids
