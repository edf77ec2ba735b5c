"""Evaluation of shipped models on a protocol's test part.

* :func:`evaluate_shipped` / :func:`test_probabilities` – a shipped model on a fold's test part;
* :func:`int8_report` – the ONNX and INT8 exports of a model against PyTorch on the test part;
* :func:`loso_report` – a recipe's leave-one-speaker-out runs, from MLflow;
* :func:`adabn_report` / :func:`voice_warp_report` – LOSO with test-time adaptation;
* :func:`xcorpus_report` / :func:`log_xcorpus` – a shipped model on RAVDESS's actors
  (from :mod:`ser_core.crosscorpus`).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd

from . import adapt, data, features, inputs, metrics, models, tracking
from . import leaderboard as lb
from .audio import load_audio
from .config import DEFAULT_CONFIG, EMOTIONS, FeatureConfig
from .crosscorpus import log_xcorpus, xcorpus_report
from .errors import ConfigError, DatasetError, UnknownNameError
from .export import OnnxModel, export_onnx, quantize_int8
from .functionals import input_kind
from .inference import Predictor, best_model_name
from .runs import CONDITIONS_INPUT

__all__ = [
    "evaluate_shipped",
    "test_probabilities",
    "int8_report",
    "loso_report",
    "adabn_report",
    "voice_warp_report",
    "xcorpus_report",
    "log_xcorpus",
]


def test_probabilities(
    pred: Predictor,
    meta: pd.DataFrame,
    *,
    protocol: str = "seed",
    fold: int = 0,
    batch_size: int = 64,
    part: str = "test",
    splits_dir=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated probabilities ``(n, 6)`` and labels ``(n,)`` of a fold's test part.

    ``part`` (``"train"``, ``"val"`` or ``"test"``) picks another part of the
    split (a distillation teacher's targets are its training-part probabilities);
    ``splits_dir`` reads the split from elsewhere than ``artifacts/splits``.
    Feature models read the feature cache (built when missing); the 1-D models
    decode the audio.
    """
    split = data.split_indices(meta, protocol, fold=fold, directory=splits_dir)
    rows = meta.iloc[getattr(split, part)]
    labels = rows["label"].to_numpy()
    if pred.kind == "members":  # an ensemble: every member from its cache
        lp = np.stack(
            [
                np.log(
                    np.maximum(
                        test_probabilities(
                            m,
                            meta,
                            protocol=protocol,
                            fold=fold,
                            batch_size=batch_size,
                            part=part,
                            splits_dir=splits_dir,
                        )[0],
                        1e-30,
                    )
                )
                for m in pred.members
            ],
            1,
        )
        return pred.combine(lp), labels
    if pred.kind in ("features", "functionals"):
        x = inputs.model_features(pred, meta, split, part=part)
        probs = models.predict_logits(
            lambda xb: metrics.softmax(pred.logits(xb), temperature=pred.temperature),
            x,
            batch_size=batch_size,
        )
        return probs, labels
    probs = [pred.predict(load_audio(p, sr=pred.cfg.sr)) for p in rows["path"]]
    return np.stack(probs), labels


def evaluate_shipped(model_name: str | None, meta: pd.DataFrame, *, protocol: str = "seed") -> dict[str, Any]:
    """Accuracy, macro F1/P/R, per-class report, confusion, most-confused pairs, ECE."""
    model_name = model_name or best_model_name()
    pred = Predictor.load(model_name)
    probs, y = test_probabilities(pred, meta, protocol=protocol)
    report = metrics.classification_report(y, probs.argmax(1))
    report.update(
        {
            "model": model_name,
            "protocol": protocol,
            "n_test": int(len(y)),
            "ece": metrics.expected_calibration_error(probs, y),
        }
    )
    return report


def _recipe_runs(model_name: str, *, db=None) -> tuple[str, str, pd.DataFrame]:
    """``(architecture, input tag, runs)``: the latest finished LOSO run of every fold
    of a shipped model's recipe (an ensemble: of exactly its members), by fold."""
    card = models.read_card(model_name)
    arch = card["architecture"]["name"]
    mine = card["input"].get("representations") or []  # an ensemble's members
    if arch == "weighted_ensemble":
        arch, tag = lb.ENSEMBLE, lb.ensemble_input(mine)
    else:
        tag = _input_tag(card)
    sel = _fold_runs(lb.load_runs(db), arch, tag, members=mine if arch == lb.ENSEMBLE else None)
    if sel.empty and arch == lb.ENSEMBLE:
        reps = " ".join(f"-r {r}" for r in sorted(set(mine)))
        raise DatasetError(
            f"no LOSO ensemble of the members of {model_name!r} in the MLflow store; train each member's 9 "
            f"folds, then run `python -m ser_core ensemble --protocol loso {reps}`"
        )
    if sel.empty:
        norm = " --norm speaker" if tag.endswith("-spk") else ""
        raise DatasetError(
            f"no finished LOSO runs of {arch} on {tag!r} in the MLflow store; train the 9 folds with "
            f"`python -m ser_core train --model {arch} --representation {tag.removesuffix('-spk')}"
            f"{norm} --protocol loso --fold K` for K = 0..8"
        )
    return arch, tag, sel


def _input_tag(card: dict) -> str:
    """A single model's input as the leaderboard names it (``mel``, ``mel-spk``; ``mel-spk+cond``
    when trained with recording conditions: its recipe is not the plain one)."""
    speaker = card.get("normalization", {}).get("kind") == "speaker"
    conditioned = (card.get("training") or {}).get("conditions")
    return card["input"]["name"] + ("-spk" if speaker else "") + (CONDITIONS_INPUT if conditioned else "")


def _fold_runs(runs: pd.DataFrame, arch: str, tag: str, *, members=None) -> pd.DataFrame:
    """The latest finished LOSO run of every fold of ``arch`` on input ``tag`` (for an
    ensemble, of exactly the ``members``), sorted by fold.  Runs trained on the
    validation speaker too (the leaderboard's ``mel-spk+val``) count as the recipe's:
    the report then states ``train_on_val``."""
    if runs.empty:
        return runs
    base = runs["input"].astype(str).str.removesuffix(lb.TRAINVAL_INPUT)
    sel = runs[
        (runs["model"] == arch) & (base == tag) & (runs["protocol"] == "loso") & runs["accuracy"].notna()
    ]
    if members is not None and len(sel):  # the LOSO ensembles of exactly these members
        sel = sel[[_ensemble_of(r, members) for r in sel.itertuples()]]
    sel = sel.sort_values("start_time", kind="stable").drop_duplicates("fold", keep="last")
    return sel.sort_values("fold")


def _ensemble_of(run, members) -> bool:
    """Whether an ensemble run belongs to the recipe of ``members``: a search that chose
    among exactly them (its ``candidates``, whichever it kept), else one that combined
    exactly them."""
    chosen_from = (run.params or {}).get("candidates") if isinstance(run.params, dict) else None
    logged = chosen_from or run.members
    return isinstance(logged, str) and set(json.loads(logged)) == set(members)


def loso_report(model_name: str, *, db=None) -> dict[str, Any]:
    """Leave-one-speaker-out result of a shipped model's recipe, from MLflow.

    LOSO trains one model per held-out speaker, so it is a property of the
    recipe (architecture, representation, normalisation), not of one set of
    weights: the report gathers the latest finished run of every fold with
    the shipped model's architecture and input, and gives the mean and the
    standard deviation over speakers.

    Returns
    -------
    dict with ``model, recipe, folds`` (per fold: fold, speaker, accuracy,
    macro_f1), ``n_folds``, ``accuracy`` / ``macro_f1`` / ``macro_precision``
    / ``macro_recall`` (mean) and ``*_std``, ``worst_speaker`` and
    ``worst_accuracy`` (the held-out speaker it does worst on), ``per_class`` (mean F1),
    ``confusion`` (summed over folds), ``most_confused`` and, for
    speaker-normalised models, ``adaptation`` (accuracy against seconds of
    the new speaker's audio, mean and std).
    """
    arch, tag, sel = _recipe_runs(model_name, db=db)
    try:
        table = data.load_split("loso")
    except DatasetError:  # speaker names are a nicety
        table = None
    folds = []
    cm = np.zeros((len(EMOTIONS), len(EMOTIONS)), dtype=int)
    for r in sel.itertuples():
        k = int(r.fold)
        col = f"fold{k}"
        ids = table.loc[table[col] == "test", "file_id"] if table is not None and col in table else []
        speaker = sorted({str(i).split("_")[0] for i in ids})
        folds.append(
            {
                "fold": k,
                "speaker": ",".join(speaker),
                "accuracy": float(r.accuracy),
                "macro_f1": float(r.macro_f1),
            }
        )
        if arch == lb.ENSEMBLE and isinstance(getattr(r, "members", None), str):
            folds[-1]["members"] = json.loads(r.members)  # searched per fold
        if isinstance(r.confusion, str):
            cm += np.asarray(json.loads(r.confusion), dtype=int)
    recipe: dict[str, Any] = {"architecture": arch, "input": tag}
    if arch == lb.ENSEMBLE:
        recipe["members"] = sorted({m for f in folds for m in f.get("members", [])})
    else:  # the fold runs' schedule, which may differ from the shipped weights' (e.g. narrower)
        for key in ("width", "epochs", "patience"):
            vals = {(r or {}).get(key) for r in sel["params"]} - {None}
            if len(vals) == 1:
                recipe[key] = int(vals.pop())
        for key in ("freq_warp", "time_stretch", "ema"):  # the voice perturbations, when used
            vals = {float((r or {}).get(key) or 0) for r in sel["params"]}
            if len(vals) == 1 and (v := vals.pop()) > 0:
                recipe[key] = v
        on_val = {str((r or {}).get("train_on_val", False)) for r in sel["params"]}
        if on_val == {"True"}:  # trained on the validation speaker too, last epoch kept
            recipe["train_on_val"] = True
    report: dict[str, Any] = {
        "model": model_name,
        "recipe": recipe,
        "protocol": "loso",
        "n_folds": len(folds),
        "folds": folds,
    }
    for key, col in (
        ("accuracy", "accuracy"),
        ("macro_f1", "macro_f1"),
        ("macro_precision", "precision"),
        ("macro_recall", "recall"),
    ):
        v = sel[col].to_numpy(dtype=float)
        report[key] = float(np.mean(v))
        report[f"{key}_std"] = float(np.std(v, ddof=1)) if len(v) > 1 else 0.0
    worst = min(folds, key=lambda f: f["accuracy"])
    report["worst_speaker"], report["worst_accuracy"] = (
        worst["speaker"] or str(worst["fold"]),
        worst["accuracy"],
    )
    report["per_class"] = {e: {"f1": float(sel[f"f1_{e}"].mean())} for e in EMOTIONS}
    report["confusion"] = cm.tolist()
    off = [
        (int(cm[i, j]), EMOTIONS[i], EMOTIONS[j])
        for i in range(len(EMOTIONS))
        for j in range(len(EMOTIONS))
        if i != j and cm[i, j]
    ]
    report["most_confused"] = [
        {"true": t, "predicted": p, "count": c} for c, t, p in sorted(off, reverse=True)[:5]
    ]
    curve = lb.adaptation(sel)
    if curve is not None:
        report["adaptation"] = [
            {
                "seconds": r.label,
                "accuracy": float(r.accuracy),
                "std": float(r.std) if r.std == r.std else 0.0,
                "n_folds": int(r.n_folds),
            }
            for r in curve.itertuples()
        ]
    return report


def _run_weights(run_id: str):
    """The model a training run logged as its ``model`` artifact: a
    :class:`~ser_core.models.LoadedModel` (network in eval mode, and its card)."""
    import mlflow  # optional heavy dependency: reading logged runs only

    uri = mlflow.MlflowClient(tracking_uri=tracking.tracking_uri()).get_run(run_id).info.artifact_uri
    if uri.startswith("file:"):  # the local store: read in place (no copy, no progress bar)
        return models.load("model", directory=Path(unquote(urlparse(uri).path)) / "model")
    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="model", dst_path=tmp, tracking_uri=tracking.tracking_uri()
        )
        return models.load("model", directory=Path(path))


def adabn_report(
    model_name: str, meta: pd.DataFrame, *, db=None, splits_dir=None, cfg: FeatureConfig = DEFAULT_CONFIG
) -> dict[str, Any]:
    """Leave-one-speaker-out accuracy of a speaker-normalised recipe with AdaBN.

    Loads the weights of every LOSO fold run of the recipe (the MLflow
    artifacts of the latest finished run per fold; for an ensemble, of each
    member's recipe) and scores the held-out speaker with
    :func:`ser_core.adapt.adapted_logits`: input normalisation and batch-norm
    statistics from half of that speaker's unlabelled clips, the other half
    scored, then swapped; and the same from only 5, 10 and 30 s of that half.
    ``without`` is the same protocol with the input normalisation only (for a
    single model, its runs' adaptation curve).
    An ensemble's members are combined as the shipped ensemble does: the sum
    of their temperature-calibrated log-probabilities (each fold run's own
    temperature) times the shipped weights.

    Parameters
    ----------
    model_name : str
        A shipped speaker-normalised model or an ensemble of such models.
    meta : DataFrame
        The corpus metadata (:func:`ser_core.data.load_metadata`).

    Returns
    -------
    dict with ``model``, ``members`` (input -> weight), ``accuracy``,
    ``accuracy_std``, ``without``, ``without_std`` (the whole half), ``by_seconds``
    (per budget "5", "10", "30", "all": the same four), ``n_folds`` and ``folds``
    (per fold: fold, accuracy, without, by_seconds), accuracies in 0..1.

    Raises
    ------
    ConfigError
        For a model (or member) without speaker normalisation.
    DatasetError
        When a member has no LOSO run of a fold, or a run's weights are not in
        the artifact store (they stay on the machine that trained them).
    """
    weights, member_runs, folds_all = _member_fold_runs(model_name, what="AdaBN", db=db)
    labels = meta["label"].to_numpy()
    xs = {
        t: inputs.model_inputs(meta, input_kind(t.removesuffix("-spk")), t.removesuffix("-spk"))
        for t in weights
    }
    budgets = [b for b in adapt.ADAPT_SECONDS if b != 0]  # 0 s: no statistics to adapt to
    folds = []
    for k in folds_all:
        rows = data.split_indices(meta, "loso", fold=k, directory=splits_dir).test
        secs = np.zeros(len(meta))
        secs[rows] = adapt.clip_seconds(meta["path"].to_numpy()[rows], limit=cfg.duration)
        score = {(b, bn): 0.0 for b in budgets for bn in (True, False)}
        for tag, w in weights.items():
            r = member_runs[tag].loc[k]
            loaded, seed, temperature = _fold_model(r)
            for b, bn in score:
                z = adapt.adapted_logits(
                    xs[tag],
                    rows,
                    model=loaded.module,
                    batchnorm=bn,
                    budget=b,
                    seconds=secs,
                    seed=seed,
                    fallback=_corpus_stats(loaded.card),
                )
                score[b, bn] = score[b, bn] + w * np.log(metrics.softmax(z, temperature=temperature) + 1e-12)
        y = labels[rows]
        acc = {key: float((z.argmax(1) == y).mean()) for key, z in score.items()}
        folds.append(
            {
                "fold": k,
                "accuracy": acc[None, True],
                "without": acc[None, False],
                "by_seconds": {
                    _budget_label(b): {"accuracy": acc[b, True], "without": acc[b, False]} for b in budgets
                },
            }
        )
    return {
        "model": model_name,
        "members": weights,
        **_fold_summary(folds, list(map(_budget_label, budgets))),
    }


def _fold_summary(folds: list[dict], budgets: list[str]) -> dict[str, Any]:
    """``n_folds``, ``folds``, the mean and std (ddof 1) over folds of ``accuracy`` and
    ``without``, and ``by_seconds``: the same per budget label."""

    def mean_std(values) -> tuple[float, float]:
        v = np.asarray(list(values), dtype=float)
        return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0

    report: dict[str, Any] = {"n_folds": len(folds), "folds": folds, "by_seconds": []}
    for key in ("accuracy", "without"):
        report[key], report[f"{key}_std"] = mean_std(f[key] for f in folds)
    for b in budgets:
        row: dict[str, Any] = {"seconds": b}
        for key in ("accuracy", "without"):
            row[key], row[f"{key}_std"] = mean_std(f["by_seconds"][b][key] for f in folds)
        report["by_seconds"].append(row)
    return report


#: Separates a recipe's architecture from its input tag (``resnet18/mel-spk+cond``).
RECIPE_SEP = "/"


def parse_recipe(recipe: str) -> tuple[str, str]:
    """``"resnet18/mel-spk+cond"`` -> ``("resnet18", "mel-spk+cond")``: a recipe as the
    leaderboard names it (architecture, then the input tag of its runs).

    Raises
    ------
    UnknownNameError
        For an architecture that is not registered (the message lists them).
    """
    arch, _, tag = recipe.partition(RECIPE_SEP)
    models.get(arch)  # an unknown architecture raises, listing the valid ones
    if not tag:
        raise ConfigError(f"a recipe is 'architecture/input', e.g. 'resnet18/mel-spk'; got {recipe!r}")
    return arch, tag


def _card_members(card: dict) -> tuple[dict[str, float], dict[str, str]]:
    """``(weights, architectures)`` by input tag of a shipped card: its one input, or an
    ensemble's members."""
    if card["architecture"]["name"] != "weighted_ensemble":
        return {_input_tag(card): 1.0}, {_input_tag(card): card["architecture"]["name"]}
    weights = {str(k): float(v) for k, v in card["ensemble"]["weights"].items()}
    members = (models.read_card(m)["architecture"]["name"] for m in card["input"]["members"])
    return weights, dict(zip(card["input"]["representations"], members))


def _member_fold_runs(
    model_name: str, *, what: str, db=None, speaker_only: bool = True
) -> tuple[dict[str, float], dict[str, pd.DataFrame], list[int]]:
    """``(weights, runs, folds)`` of a speaker-normalised shipped model (or ensemble of such;
    any model with ``speaker_only=False``): the weight of each member's input tag (1 for a
    single model), the latest finished LOSO run of every fold of each member's recipe
    (indexed by fold) and the folds.  ``model_name`` may also be a recipe that was never
    shipped, ``architecture/input tag`` (:func:`parse_recipe`)."""
    if RECIPE_SEP in model_name:
        arch, tag = parse_recipe(model_name)
        weights, archs = {tag: 1.0}, {tag: arch}
    else:
        weights, archs = _card_members(models.read_card(model_name))
    plain = sorted(t for t in weights if not t.removesuffix(CONDITIONS_INPUT).endswith("-spk"))
    if plain and speaker_only:
        raise ConfigError(
            f"{what} is scored for speaker-normalised models; {model_name!r} has {', '.join(plain)}"
        )
    runs = lb.load_runs(db)
    member_runs = {t: _fold_runs(runs, archs[t], t).set_index("fold") for t in weights}
    folds_all = sorted({int(k) for sel in member_runs.values() for k in sel.index})
    missing = {
        t: sorted(set(folds_all) - {int(k) for k in sel.index}) or "all"
        for t, sel in member_runs.items()
        if len(sel) < max(len(folds_all), 1)
    }
    if missing:
        raise DatasetError(
            f"no finished LOSO run of {', '.join(f'{t} (folds {m})' for t, m in missing.items())}"
            f" for {model_name!r}; train them with `python -m ser_core train"
            f"{' --norm speaker' if speaker_only or all(t.endswith('-spk') for t in missing) else ''} "
            f"--protocol loso --fold K`"
        )
    return weights, member_runs, folds_all


def _fold_model(run: pd.Series):
    """``(loaded model, seed, temperature)`` of one LOSO fold run (its logged weights)."""
    import mlflow  # optional heavy dependency: reading logged runs only

    try:
        loaded = _run_weights(run["run_id"])
    except (OSError, mlflow.exceptions.MlflowException, UnknownNameError) as e:
        raise DatasetError(
            f"the weights of LOSO run {run['run_name']!r} ({run['run_id']}) are not in the "
            f"artifact store (they stay on the machine that trained them): {e}"
        ) from None
    seed = int(float((run["params"] or {}).get("seed", 0)))
    temperature = float(run["temperature"]) if run["temperature"] == run["temperature"] else 1.0
    return loaded, seed, temperature


def voice_warp_report(
    model_name: str,
    meta: pd.DataFrame,
    *,
    db=None,
    splits_dir=None,
    warps=None,
    budgets=(10, 30),
    batchnorm: bool = False,
    infomax: bool = False,
    cfg: FeatureConfig = DEFAULT_CONFIG,
) -> dict[str, Any]:
    """Leave-one-speaker-out accuracy of a speaker-normalised recipe with test-time voice warps.

    Loads the weights of every LOSO fold run of the recipe (as
    :func:`adabn_report`) and scores the held-out speaker with and without
    averaging the probabilities over the speaker's voice warped by each factor
    of ``warps`` (every copy normalised with its own statistics of the
    speaker), which is what the predictor
    does once adapted to a voice.  Two protocols:

    * ``accuracy`` / ``without``: as the runs were scored, every clip
      normalised with the statistics of all of the speaker's clips;
    * ``by_seconds``: as a calibration would, statistics from the first
      ``budget`` seconds of one half of the speaker's clips, the other half
      scored, then swapped (the halves of :func:`ser_core.adapt.adapted_logits`).

    Members no warp reaches (the functional sets) are scored as they are.  An
    ensemble combines its members' calibrated log-probabilities with the
    shipped weights.

    Parameters
    ----------
    model_name : str
        A shipped speaker-normalised model or an ensemble of such models.
    meta : DataFrame
        The corpus metadata.
    warps : sequence of float, optional
        The warp factors (default :data:`ser_core.adapt.VOICE_WARPS`).
    budgets : sequence of float or None
        Calibration seconds of ``by_seconds`` (None: the whole half).
    batchnorm : bool
        Also re-estimate the networks' batch-norm statistics (AdaBN,
        :func:`ser_core.adapt.adapt_batchnorm`) from the clips the input
        statistics come from, for each warped copy its own (with and without
        the warps alike).
    infomax : bool
        With ``batchnorm``, also tune the batch-norm scales and shifts on the
        same clips by information maximisation
        (:func:`ser_core.adapt.tune_to_voice`, on the voice as it is; each
        warped copy then re-estimates its statistics on the tuned network).

    Returns
    -------
    dict with ``model``, ``members`` (input -> weight), ``warps``, ``batchnorm``, ``accuracy``,
    ``accuracy_std`` (with the warps), ``without``, ``without_std``,
    ``by_seconds`` (per budget: ``seconds``, the same four), ``by_member`` (per
    member input and protocol, "all" or a budget: mean accuracy with and
    without), ``n_folds`` and ``folds`` (fold, speaker, accuracy, without,
    by_seconds, members), accuracies in 0..1.

    Raises
    ------
    ConfigError
        For a model (or member) without speaker normalisation.
    DatasetError
        When a member has no LOSO run of a fold or its weights are not at hand.
    """
    warps = tuple(adapt.VOICE_WARPS if warps is None else warps)
    weights, member_runs, folds_all = _member_fold_runs(model_name, what="voice warping", db=db)
    labels = meta["label"].to_numpy()
    speakers = meta["speaker"].astype(str).to_numpy()
    bases = {t: t.removesuffix("-spk") for t in weights}
    xs = {t: inputs.model_inputs(meta, input_kind(b), b, cfg=cfg) for t, b in bases.items()}
    log_mel = (
        inputs.model_inputs(meta, "features", "mel", cfg=cfg)  # MFCC's copies come from the warped log-mel
        if any(features.warpable(b) and features.get(b).from_log_mel is not None for b in bases.values())
        else None
    )
    protocols = ["all", *map(_budget_label, budgets)]
    folds = []
    for k in folds_all:
        rows = data.split_indices(meta, "loso", fold=k, directory=splits_dir).test
        secs = adapt.clip_seconds(meta["path"].to_numpy()[rows], limit=cfg.duration)
        y = labels[rows]
        score = {(b, warped): 0.0 for b in protocols for warped in (True, False)}
        members = {}
        for tag, w in weights.items():
            loaded, seed, temperature = _fold_model(member_runs[tag].loc[k])
            fallback = _corpus_stats(loaded.card)
            raw = np.asarray(xs[tag][rows], np.float32)
            factors = warps if features.warpable(bases[tag]) else ()
            lm = (
                np.asarray(log_mel[rows], np.float32)
                if factors and features.get(bases[tag]).from_log_mel is not None
                else None
            )
            # each warped copy once (1.0: the voice as it is), scored under every protocol below
            views = {
                a: raw
                if a == 1.0
                else features.warp_features(raw, representation=bases[tag], alpha=a, log_mel=lm, cfg=cfg)
                for a in (*factors, 1.0)
            }

            tune = infomax and batchnorm and adapt.has_batchnorm(loaded.module)
            # tuned once on the voice as it is; every view re-estimates its statistics on it
            tuned = (
                adapt.tune_to_voice(loaded.module, features.normalization_stats(raw).apply(raw))
                if tune and "all" in protocols
                else loaded.module
            )
            halves: dict = {}  # and for a budget each adapting half once, whatever the view

            def probs(x: np.ndarray, budget) -> np.ndarray:
                if budget == "all":  # the runs' protocol: the speaker's statistics of all their clips
                    xn = features.normalization_stats(x).apply(x)
                    net = adapt.adapt_batchnorm(tuned, xn) if batchnorm else loaded.module
                    z = models.predict_logits(net, xn)
                else:
                    z = adapt.adapted_logits(
                        x,
                        np.arange(len(rows)),
                        model=loaded.module,
                        batchnorm=batchnorm,
                        budget=budget,
                        seconds=secs,
                        seed=seed,
                        fallback=fallback,
                        infomax=tune,
                        reference=raw,
                        tuned=halves,
                    )
                return metrics.softmax(z, temperature=temperature)

            members[tag] = {}
            for b, budget in zip(protocols, ("all", *budgets)):
                each = {a: probs(x, budget) for a, x in views.items()}
                p = {False: each[1.0], True: np.mean([each[a] for a in factors], 0) if factors else each[1.0]}
                for warped in (True, False):
                    score[b, warped] = score[b, warped] + w * np.log(p[warped] + 1e-12)
                members[tag][b] = {
                    "accuracy": float((p[True].argmax(1) == y).mean()),
                    "without": float((p[False].argmax(1) == y).mean()),
                }
        acc = {key: float((z.argmax(1) == y).mean()) for key, z in score.items()}
        folds.append(
            {
                "fold": k,
                "speaker": str(speakers[rows[0]]),
                "accuracy": acc["all", True],
                "without": acc["all", False],
                "by_seconds": {
                    b: {"accuracy": acc[b, True], "without": acc[b, False]} for b in protocols[1:]
                },
                "members": members,
            }
        )
    report = {
        "model": model_name,
        "members": weights,
        "warps": list(warps),
        "batchnorm": batchnorm,
        "infomax": infomax,
        **_fold_summary(folds, protocols[1:]),
    }
    report["by_member"] = {
        t: {
            b: {
                key: float(np.mean([f["members"][t][b][key] for f in folds]))
                for key in ("accuracy", "without")
            }
            for b in protocols
        }
        for t in weights
    }
    return report


def _corpus_stats(card: dict):
    """A speaker-normalised card's corpus statistics (its fallback), or None."""
    norm = card.get("normalization", {})
    return features.NormStats.from_dict(norm) if "mean" in norm else None


def _budget_label(budget: float | None) -> str:
    return "all" if budget is None else f"{budget:g}"


def int8_report(
    model_name: str, meta, *, dest: str | Path, protocol: str = "seed", batch_size: int = 64
) -> dict:
    """Export a shipped model to ONNX and INT8 and compare all three on a test part.

    Parameters
    ----------
    model_name : str
        A shipped single model (ensembles: export their members).
    meta : DataFrame
        The corpus metadata (:func:`ser_core.data.load_metadata`).
    dest : path
        Folder for ``<model_name>.onnx`` and ``<model_name>.int8.onnx``.

    Returns
    -------
    dict with the file sizes (MB), the largest |logit| difference of ONNX and
    INT8 against PyTorch, the test accuracy of each, and how often INT8 and
    PyTorch agree on the label.
    """
    pred = Predictor.load(model_name)
    if pred.kind not in ("features", "functionals"):
        raise ConfigError(
            f"{model_name!r} is not a single spectrogram or functionals model; export an "
            "ensemble's members one by one"
        )
    dest = Path(dest)
    fp32 = export_onnx(pred.loaded, dest / f"{model_name}.onnx")
    int8 = quantize_int8(fp32, dest / f"{model_name}.int8.onnx")
    split = data.split_indices(meta, protocol)
    x = inputs.model_features(pred, meta, split)
    y = meta["label"].to_numpy()[split.test]
    runs = {"torch": pred.module, "onnx": OnnxModel(fp32).logits, "int8": OnnxModel(int8).logits}
    logits = {k: models.predict_logits(m, x, batch_size=batch_size) for k, m in runs.items()}
    acc = {k: float((z.argmax(1) == y).mean()) for k, z in logits.items()}
    return {
        "model": model_name,
        "protocol": protocol,
        "n_test": int(len(y)),
        "size_mb": {
            "safetensors_fp16": round(
                (models.models_dir() / f"{model_name}.safetensors").stat().st_size / 1e6, 2
            ),
            "onnx_fp32": round(fp32.stat().st_size / 1e6, 2),
            "onnx_int8": round(int8.stat().st_size / 1e6, 2),
        },
        "max_abs_logit_diff": {
            "onnx": float(np.abs(logits["onnx"] - logits["torch"]).max()),
            "int8": float(np.abs(logits["int8"] - logits["torch"]).max()),
        },
        "accuracy": acc,
        "int8_accuracy_change": acc["int8"] - acc["torch"],
        "int8_label_agreement": float((logits["int8"].argmax(1) == logits["torch"].argmax(1)).mean()),
        "files": {"onnx": str(fp32), "int8": str(int8)},
    }
