"""Weighted ensemble of per-representation AudioResNets, tuned with Optuna.

The members are AudioResNets trained on different representations
(``resnet18_<representation>``).  Their held-out logits are written by every
training run to ``artifacts/predictions/<run>.npz`` (validation and test
parts of the fold), so the search never touches the members' weights:

1. each member's logits are calibrated with its own temperature and turned
   into log-probabilities ``l_m``;
2. :class:`WeightedEnsemble` combines them as ``sum_m w_m * l_m / T`` with
   learnable non-negative weights ``w`` (``relu`` of a free parameter, so a
   weight can be exactly zero), a learnable temperature ``T`` and an L1
   penalty ``lambda * sum |w|`` that prunes members;
3. Optuna searches which members join, the L1 strength, the learning rate,
   the number of steps and the initial temperature; a trial's score is the
   mean accuracy of 5-fold (stratified) cross-validation *over the validation
   predictions*: weights are fitted on four fifths and scored on the fifth,
   which guards against overfitting the weights to the validation part;
4. the best setting is refitted on the whole validation part and scored once
   on the test part.

With ``refit`` (:func:`refit`), the test part is scored with each member
retrained on training *and* validation clips by the same recipe
(``train --train-on-val``, predictions ``<run>-trainval.npz``, shipped as
``resnet18_<representation>_trainval``): the members see a quarter more data,
while the weights, the temperatures (the ensemble's and each member's) and the
unsure threshold stay those fitted on the held-out runs' validation
predictions, since the refits have no held-out part left to fit them on.
A recipe refitted with several seeds (``train --seed 1 --train-on-val``:
``<run>-s1-trainval.npz``, shipped as ``resnet18_<representation>_trainval_s1``)
joins as a seed bag: its member's weight is shared equally by the seeds, so
the member's log-probabilities are their mean.

``python -m ser_core ensemble --trials 300 --ship ensemble``
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import data, functionals, inputs, metrics, models
from .config import EMOTIONS
from .errors import ConfigError, DatasetError
from .inference import Predictor
from .leaderboard import log_ensemble
from .models import WeightedEnsemble
from .runs import TRAINVAL_SUFFIX, predictions_dir

__all__ = [
    "WeightedEnsemble",
    "MemberPredictions",
    "SearchResult",
    "load_member_predictions",
    "predictions_from_shipped",
    "member_name",
    "log_probs",
    "fit_weights",
    "cross_validate",
    "search",
    "equal_weights",
    "refit",
    "refit_predictions",
    "refit_seeds",
    "TRAINVAL_MEMBER",
    "log_search",
    "ensemble_card",
    "summary",
    "MEMBER_MODEL",
]

#: Members whose share of the fitted weight is below this are dropped from the ensemble
#: (the shipped search gave CQT 0.2 %: dropping it changed no validation or test decision
#: and saves its features and network at every prediction).
PRUNE_BELOW = 1e-2
#: Architecture of the members, and the shipped-name convention ``resnet18_<representation>``.
MEMBER_MODEL = "resnet18"
#: Architecture of members on utterance functionals (``logreg_<set>``, e.g. ``logreg_compare_spk``).
FUNCTIONALS_MODEL = "logreg"
#: Shipped-name suffix of a member retrained on training and validation clips (:func:`refit`).
TRAINVAL_MEMBER = "_trainval"


def member_model(key: str) -> str:
    """The architecture of member ``key``: ``logreg`` on a functional set, else ``resnet18``."""
    return FUNCTIONALS_MODEL if functionals.is_functional(key.split("-")[0]) else MEMBER_MODEL


# ---------------------------------------------------------------- member predictions
@dataclass(frozen=True)
class MemberPredictions:
    """Held-out logits of one member (one training run)."""

    representation: str
    val_logits: np.ndarray  # (n_val, 6)
    test_logits: np.ndarray  # (n_test, 6)
    val_labels: np.ndarray
    test_labels: np.ndarray
    val_index: np.ndarray
    test_index: np.ndarray
    temperature: float

    @property
    def shipped_name(self) -> str:
        return member_name(self.representation)


def member_name(key: str, *, trainval: bool = False, seed: int = 0) -> str:
    """Shipped name of a member: ``mel`` -> ``resnet18_mel``, ``mel-spk`` -> ``resnet18_mel_spk``,
    ``compare-spk`` -> ``logreg_compare_spk``; with ``trainval``, its refit on training and
    validation clips (``resnet18_mel_trainval``), and with ``seed`` other than 0 that refit
    trained with another seed (``resnet18_mel_trainval_s1``)."""
    return (
        f"{member_model(key)}_{key.replace('-', '_')}"
        + (TRAINVAL_MEMBER if trainval else "")
        + (f"_s{seed}" if seed else "")
    )


def load_member_predictions(
    directory: Path | None = None,
    *,
    protocol: str = "seed",
    fold: int = 0,
    representations: Sequence[str] | None = None,
) -> dict[str, MemberPredictions]:
    """The members' held-out logits of one protocol fold, by input: the AudioResNet runs by
    representation (``mel``, ``mel-spk``) and the logistic regressions by functional set
    (``compare-spk``).

    Raises :class:`DatasetError` when none is there or when they disagree on
    the split (different validation/test clips).
    """
    d = Path(directory) if directory is not None else predictions_dir()
    suffix = f"-{protocol}" + (f"-fold{fold}" if protocol == "loso" else "")
    out: dict[str, MemberPredictions] = {}
    paths = [
        (arch, p)
        for arch in (MEMBER_MODEL, FUNCTIONALS_MODEL)
        for p in sorted(d.glob(f"{arch}-*{suffix}.npz"))
    ]
    for arch, path in paths:
        representation = path.name[len(arch) + 1 : -len(suffix) - 4]
        if member_model(representation) != arch:
            continue
        if representations is not None and representation not in representations:
            continue
        if representations is None and representation.endswith("-spk") and protocol == "seed":
            continue  # speaker-normalised members only when asked for: they need a voice profile
        z = np.load(path)
        out[representation] = MemberPredictions(
            representation,
            z["val_logits"],
            z["test_logits"],
            z["val_labels"],
            z["test_labels"],
            z["val_index"],
            z["test_index"],
            float(z["temperature"]),
        )
    if not out:
        raise DatasetError(
            f"no member predictions for {protocol}{suffix} in {d}; train members "
            f"with `python -m ser_core train --representation R`"
        )
    first = next(iter(out.values()))
    for m in out.values():
        if not (
            np.array_equal(m.val_index, first.val_index) and np.array_equal(m.test_index, first.test_index)
        ):
            raise DatasetError(
                f"member {m.representation!r} was evaluated on other clips than "
                f"{first.representation!r}; retrain it on the committed split"
            )
    return out


def predictions_from_shipped(
    model_name: str,
    meta,
    *,
    protocol: str = "seed",
    fold: int = 0,
    directory: Path | None = None,
    model_dir: Path | None = None,
) -> Path:
    """Write ``<run>.npz`` held-out logits for an already shipped AudioResNet.

    For members shipped before training runs wrote their predictions: the
    validation and test logits are recomputed from the weights and the
    feature cache, exactly as :func:`ser_core.runs.save_predictions` stores them.
    ``model_dir`` loads the weights from elsewhere than ``artifacts/models``
    (a LOSO fold's MLflow artifact folder, ``model_name`` then being ``model``).
    """
    pred = Predictor.load(model_name, directory=model_dir)
    if pred.kind != "features" or pred.loaded.card["architecture"]["name"] != MEMBER_MODEL:
        raise ConfigError(f"{model_name!r} is not a {MEMBER_MODEL} on a representation")
    split = data.split_indices(meta, protocol, fold=fold)
    labels = meta["label"].to_numpy().astype(np.int64)
    out = {"temperature": np.float32(pred.temperature)}
    for part in ("val", "test"):
        idx = getattr(split, part)
        xs = inputs.model_features(pred, meta, split, part=part)
        out.update(
            {
                f"{part}_index": idx,
                f"{part}_labels": labels[idx],
                f"{part}_logits": models.predict_logits(pred.module, xs),
            }
        )
    d = Path(directory) if directory is not None else predictions_dir()
    d.mkdir(parents=True, exist_ok=True)
    tag = pred.representation + ("-spk" if pred.speaker_normalised else "")
    run = f"{MEMBER_MODEL}-{tag}-{protocol}" + (f"-fold{fold}" if protocol == "loso" else "")
    path = d / f"{run}.npz"
    np.savez_compressed(path, **out)
    return path


#: Calibrated log-probabilities ``(n, 6)`` of logits ``(n, 6)`` (:func:`ser_core.metrics.log_softmax`).
log_probs = metrics.log_softmax


def _stack(members: Sequence[MemberPredictions], part: str) -> np.ndarray:
    """``(n, M, 6)`` member log-probabilities of the ``val`` or ``test`` part."""
    return np.stack([log_probs(getattr(m, f"{part}_logits"), temperature=m.temperature) for m in members], 1)


# ---------------------------------------------------------------- fitting
def fit_weights(
    member_log_probs: np.ndarray,
    labels: np.ndarray,
    *,
    l1: float = 1e-3,
    lr: float = 0.05,
    steps: int = 300,
    init_temperature: float = 1.0,
    seed: int = 0,
    train_weights: bool = True,
) -> WeightedEnsemble:
    """Fit weights and temperature by full-batch Adam on cross-entropy + L1.

    Parameters
    ----------
    member_log_probs : np.ndarray, shape (n, M, 6)
    labels : np.ndarray, shape (n,)
    train_weights : bool
        False keeps the weights equal and fits the temperature alone.
    """
    torch.manual_seed(seed)
    x = torch.from_numpy(np.ascontiguousarray(member_log_probs, np.float32))
    y = torch.from_numpy(np.asarray(labels, np.int64))
    ens = WeightedEnsemble(x.shape[1], init_temperature=init_temperature)
    ens.raw.requires_grad_(train_weights)
    opt = torch.optim.Adam([q for q in ens.parameters() if q.requires_grad], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(ens(x), y) + l1 * ens.l1()
        loss.backward()
        opt.step()
    return ens.eval()


@torch.no_grad()
def _predict(ens: WeightedEnsemble, member_log_probs: np.ndarray) -> np.ndarray:
    return ens(torch.from_numpy(np.ascontiguousarray(member_log_probs, np.float32))).numpy()


def cross_validate(
    member_log_probs: np.ndarray, labels: np.ndarray, *, folds: int = 5, seed: int = 0, **fit: Any
) -> dict[str, float]:
    """Stratified k-fold CV of :func:`fit_weights` over held-out predictions.

    Returns ``{"accuracy", "nll"}`` averaged over the folds.
    """
    from sklearn.model_selection import StratifiedKFold  # sklearn: a cold path (searching)

    accs, nlls = [], []
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(labels, labels):
        ens = fit_weights(member_log_probs[tr], labels[tr], seed=seed, **fit)
        z = _predict(ens, member_log_probs[te])
        accs.append(float((z.argmax(1) == labels[te]).mean()))
        p = metrics.softmax(z)
        nlls.append(float(-np.log(np.maximum(p[np.arange(len(te)), labels[te]], 1e-12)).mean()))
    return {"accuracy": float(np.mean(accs)), "nll": float(np.mean(nlls))}


@dataclass
class SearchResult:
    """The outcome of :func:`search`."""

    members: list[str]  # representations, in the order of the weights
    weights: dict[str, float]  # normalised to sum 1
    temperature: float
    params: dict[str, Any]
    cv: dict[str, float]
    val_accuracy: float
    report: dict[str, Any]  # test classification report
    ece: float
    importance: dict[str, float]
    trials: int
    seconds: float
    module: WeightedEnsemble = field(repr=False)
    test_probs: np.ndarray = field(repr=False)
    single_best: dict[str, float] = field(default_factory=dict)
    unsure_below: float = 0.5
    #: Each member's temperature (its held-out run's), by representation.
    member_temperatures: dict[str, float] = field(default_factory=dict)
    #: Whether the test part was scored with the members retrained on train + validation.
    refit: bool = False
    #: The training seeds of each member's refits (a seed bag when more than one), by
    #: representation; empty before :func:`refit`.
    seeds: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def _bag(self, member: str) -> tuple[int, ...]:
        return self.seeds.get(member, (0,))

    @property
    def refit_seeds(self) -> dict[str, list[int]]:
        """Each member's refit seeds (``[0]`` for a single run), for the card and MLflow."""
        return {m: list(self._bag(m)) for m in self.members}

    @property
    def shipped_representations(self) -> list[str]:
        """The representation of each shipped member (a seed bag's repeated)."""
        return [m for m in self.members for _ in self._bag(m)]

    @property
    def shipped_members(self) -> list[str]:
        """The members' shipped names (their ``_trainval`` refits after :func:`refit`, one per
        seed of a seed bag), in the order of :attr:`shipped_module`'s weights."""
        return [member_name(m, trainval=self.refit, seed=s) for m in self.members for s in self._bag(m)]

    @property
    def shipped_module(self) -> WeightedEnsemble:
        """:attr:`module` with one weight per shipped member: a seed bag's weight is split
        equally among its seeds (the sum of ``w / k`` times each seed's log-probabilities is
        ``w`` times their mean), the temperature unchanged."""
        sizes = [len(self._bag(m)) for m in self.members]
        out = WeightedEnsemble(sum(sizes))
        raw = self.module.raw.detach()
        with torch.no_grad():
            out.raw.copy_(torch.cat([raw[i : i + 1].repeat(k) / k for i, k in enumerate(sizes)]))
            out.log_t.copy_(self.module.log_t.detach())
        return out.eval()


def search(
    preds: Mapping[str, MemberPredictions],
    *,
    trials: int = 200,
    folds: int = 5,
    seed: int = 0,
    min_members: int = 2,
    progress: bool = False,
) -> SearchResult:
    """Optuna search over members, L1, learning rate, steps and initial temperature.

    Parameters
    ----------
    preds : mapping of representation -> MemberPredictions
        From :func:`load_member_predictions`.
    trials : int
        Optuna trials (TPE sampler, seeded).
    folds : int
        Cross-validation folds over the validation predictions.
    min_members : int
        Trials with fewer members are scored as the best of them alone would be
        (they are allowed, they just rarely win).
    """
    import optuna  # optional heavy dependency: only to search

    if not preds:
        raise ConfigError("the ensemble search needs at least one member")
    reps = sorted(preds)
    y_val = preds[reps[0]].val_labels
    val_all = _stack([preds[r] for r in reps], "val")
    t0 = time.time()

    def objective(trial: optuna.Trial) -> float:
        use = [i for i, r in enumerate(reps) if trial.suggest_categorical(f"use_{r}", [True, False])]
        if len(use) < max(1, min(min_members, len(reps))):
            raise optuna.TrialPruned()
        fit = {
            "l1": trial.suggest_float("l1", 1e-5, 3e-1, log=True),
            "lr": trial.suggest_float("lr", 5e-3, 3e-1, log=True),
            "steps": trial.suggest_int("steps", 50, 600, step=50),
            "init_temperature": trial.suggest_float("init_temperature", 0.5, 3.0),
        }
        cv = cross_validate(val_all[:, use], y_val, folds=folds, seed=seed, **fit)
        trial.set_user_attr("nll", cv["nll"])
        return cv["accuracy"] - 1e-3 * cv["nll"]  # accuracy first; NLL breaks ties

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial(
        {**{f"use_{r}": True for r in reps}, "l1": 1e-3, "lr": 0.05, "steps": 300, "init_temperature": 1.0}
    )
    study.optimize(objective, n_trials=trials, show_progress_bar=progress)
    best = study.best_trial
    use = [r for r in reps if best.params[f"use_{r}"]]
    fit = {k: best.params[k] for k in ("l1", "lr", "steps", "init_temperature")}
    idx = [reps.index(r) for r in use]
    cv = cross_validate(val_all[:, idx], y_val, folds=folds, seed=seed, **fit)
    ens = fit_weights(val_all[:, idx], y_val, seed=seed, **fit)
    w_fit = ens.weights.detach().numpy()
    # members the L1 penalty (nearly) zeroed are dropped: below 1 % of the weight a member
    # changes (next to) no decision but would cost its features, its network and its weights
    kept = [i for i, v in enumerate(w_fit) if v > PRUNE_BELOW * w_fit.sum()]
    if 0 < len(kept) < len(use):
        pruned = WeightedEnsemble(len(kept))
        with torch.no_grad():
            pruned.raw.copy_(ens.raw.detach()[kept])
            pruned.log_t.copy_(ens.log_t.detach())
        ens, use, idx = pruned.eval(), [use[i] for i in kept], [idx[i] for i in kept]
    try:
        importance = {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
    except (RuntimeError, ValueError, ZeroDivisionError):  # too few completed trials
        importance = {}
    return _finish(
        preds,
        use,
        ens,
        params=dict(best.params),
        cv=cv,
        importance=importance,
        trials=len(study.trials),
        seconds=time.time() - t0,
    )


def equal_weights(preds: Mapping[str, MemberPredictions], *, folds: int = 5, seed: int = 0) -> SearchResult:
    """Every member with the same weight; only the temperature is fitted (on validation).

    No choice is made on the validation part but the temperature, so this rule
    cannot overfit it: under ``loso``, where validation is one other speaker,
    it transfers to the held-out speaker better than searched weights.
    """
    if not preds:
        raise ConfigError("an ensemble needs at least one member")
    t0 = time.time()
    use = sorted(preds)
    val_all = _stack([preds[r] for r in use], "val")
    fit = {"l1": 0.0, "lr": 0.05, "steps": 300, "init_temperature": 1.0, "train_weights": False}
    y_val = preds[use[0]].val_labels
    cv = cross_validate(val_all, y_val, folds=folds, seed=seed, **fit)
    ens = fit_weights(val_all, y_val, seed=seed, **fit)
    return _finish(
        preds,
        use,
        ens,
        params={"rule": "equal weights"},
        cv=cv,
        importance={},
        trials=0,
        seconds=time.time() - t0,
    )


def from_card(card: Mapping[str, Any], preds: Mapping[str, MemberPredictions]) -> SearchResult:
    """The ensemble a shipped card describes, rebuilt on the held-out predictions ``preds``.

    No search: the weights by representation and the ensemble temperature are the
    card's (fitted on validation when it was made), so the members can be refitted
    with other seeds (:func:`refit`) without searching again, which with another
    thread count can choose other members.

    Parameters
    ----------
    card : Mapping
        A shipped ensemble's card (``ensemble.weights``, ``calibration.ensemble_temperature``).
    preds : Mapping of str to MemberPredictions
        Held-out predictions of at least the card's members.

    Returns
    -------
    SearchResult
        Scored on ``preds``' validation and test parts, with the card's search record.
    """
    info = card.get("ensemble", {})
    weights = {r: float(w) for r, w in info.get("weights", {}).items() if float(w) > 0}
    missing = sorted(set(weights) - set(preds))
    if not weights or missing:
        raise ConfigError(f"the card's ensemble members {missing or '(none)'} have no held-out predictions")
    use = sorted(weights)
    ens = WeightedEnsemble(len(use), card.get("calibration", {}).get("ensemble_temperature", 1.0))
    with torch.no_grad():
        ens.raw.copy_(torch.tensor([weights[r] for r in use], dtype=torch.float32))
    return _finish(
        preds,
        use,
        ens,
        params={**info.get("search", {}), "weights_from_card": True},
        cv={"accuracy": float(info.get("cv_accuracy", "nan")), "nll": float(info.get("cv_nll", "nan"))},
        importance=dict(info.get("param_importance", {})),
        trials=int(info.get("trials", 0)),
        seconds=0.0,
    )


def _finish(
    preds: Mapping[str, MemberPredictions],
    use: list[str],
    ens: WeightedEnsemble,
    *,
    params: dict[str, Any],
    cv: dict[str, float],
    importance: dict[str, float],
    trials: int,
    seconds: float,
) -> SearchResult:
    """Score a fitted ensemble of members ``use`` on validation and test."""
    first = preds[use[0]]
    y_val, y_test = first.val_labels, first.test_labels
    val_z = _predict(ens, _stack([preds[r] for r in use], "val"))
    val_acc = float((val_z.argmax(1) == y_val).mean())
    unsure = metrics.unsure_threshold(metrics.softmax(val_z), y_val)
    test_z = _predict(ens, _stack([preds[r] for r in use], "test"))
    probs = metrics.softmax(test_z)
    report = metrics.classification_report(y_test, probs.argmax(1))
    w = ens.weights.detach().numpy()
    total = float(w.sum()) or 1.0
    single = {r: float((preds[r].test_logits.argmax(1) == y_test).mean()) for r in preds}
    return SearchResult(
        use,
        {r: float(v) / total for r, v in zip(use, w)},
        ens.temperature,
        params,
        cv,
        val_acc,
        report,
        metrics.expected_calibration_error(probs, y_test),
        importance,
        trials,
        seconds,
        ens,
        probs,
        single,
        unsure,
        {r: float(preds[r].temperature) for r in use},
    )


def refit_seeds(key: str, *, directory: Path | None = None) -> dict[int, Path]:
    """The refits of member ``key`` on train + validation, by training seed: seed 0's
    ``<run>-trainval.npz`` and any ``<run>-s<seed>-trainval.npz`` (:func:`ser_core.runs.predictions_name`)."""
    d = Path(directory) if directory is not None else predictions_dir()
    stem = f"{member_model(key)}-{key}-seed"
    pattern = re.compile(rf"{re.escape(stem)}(?:-s([1-9][0-9]*))?{TRAINVAL_SUFFIX}\.npz")
    found = {
        int(m[1] or 0): p for p in d.glob(f"{stem}*{TRAINVAL_SUFFIX}.npz") if (m := pattern.fullmatch(p.name))
    }
    return dict(sorted(found.items()))


def refit_predictions(
    preds: Mapping[str, MemberPredictions],
    *,
    members: Sequence[str] | None = None,
    directory: Path | None = None,
    seeds: Sequence[int] | None = None,
) -> tuple[dict[str, MemberPredictions], dict[str, tuple[int, ...]]]:
    """The members' predictions with the test part of their refits on train + validation.

    Each member ``m`` of ``preds`` (held-out seed-protocol predictions) is paired
    with its refits, the same recipe trained with ``--train-on-val``
    (:func:`refit_seeds`): the test logits become the refits', while the
    validation logits and the temperature ``T`` stay the held-out run's (the
    refits' validation logits are in-sample).  The test logits are ``T`` times
    the mean of the seeds' log-probabilities at ``T``, so that the member's
    calibrated log-probabilities are that mean (up to a constant per clip,
    which no softmax sees; one seed's are its own).  ``seeds`` keeps the refits
    of those training seeds only (default: every refit found).

    Returns
    -------
    predictions : dict of representation -> MemberPredictions
    seeds : dict of representation -> tuple of int
        The seeds of each member's refits.

    Raises :class:`DatasetError` when a member has no refit or one scored other test clips.
    """
    out: dict[str, MemberPredictions] = {}
    bags: dict[str, tuple[int, ...]] = {}
    for key in members if members is not None else sorted(preds):
        held = preds[key]
        found = refit_seeds(key, directory=directory)
        if seeds is not None:
            found = {s: p for s, p in found.items() if s in set(seeds)}
        if not found:
            raise DatasetError(
                f"no refit of member {key!r} (no {member_model(key)}-{key}-seed[-s<seed>]-trainval.npz "
                f"in {Path(directory) if directory is not None else 'artifacts/predictions'}): train its "
                f"recipe on training and validation clips with `python -m ser_core train --representation "
                f"{key.split('-')[0]} ... --train-on-val --ship {member_name(key, trainval=True)}`"
            )
        lps = []
        for path in found.values():
            z = np.load(path)
            if not np.array_equal(z["test_index"], held.test_index):
                raise DatasetError(
                    f"the refit of {key!r} ({path.name}) was tested on other clips than "
                    f"its held-out run; retrain it on the committed split"
                )
            lps.append(log_probs(np.asarray(z["test_logits"]), temperature=held.temperature))
        out[key] = replace(held, test_logits=(held.temperature * np.mean(lps, 0)).astype(np.float32))
        bags[key] = tuple(found)
    return out, bags


def refit(
    res: SearchResult,
    preds: Mapping[str, MemberPredictions],
    *,
    directory: Path | None = None,
    seeds: Sequence[int] | None = None,
) -> SearchResult:
    """Score a fitted ensemble with its members retrained on train + validation.

    The weights, the ensemble temperature, each member's temperature and the
    unsure threshold stay those fitted on the held-out predictions ``preds``;
    only the test part changes (:func:`refit_predictions`, with ``seeds``).  A member refitted
    with several seeds is their seed bag (:attr:`SearchResult.shipped_module`).
    """
    mixed, bags = refit_predictions(preds, members=res.members, directory=directory, seeds=seeds)
    out = _finish(
        mixed,
        res.members,
        res.module,
        params=res.params,
        cv=res.cv,
        importance=res.importance,
        trials=res.trials,
        seconds=res.seconds,
    )
    return replace(out, refit=True, seeds=bags)


def log_search(
    res: SearchResult,
    *,
    candidates: Sequence[str] | None = None,
    protocol: str = "seed",
    fold: int = 0,
    run_name: str | None = None,
) -> str:
    """Log a search to MLflow (the leaderboard's ensemble convention plus the
    CV score, the search parameters and Optuna's parameter importance); ``candidates``:
    the representations it chose the members from."""
    import mlflow  # optional heavy dependency: only when a search is logged

    run_id = log_ensemble(
        res.weights,
        members=res.members,
        candidates=candidates,
        protocol=protocol,
        fold=fold,
        report=res.report,
        temperature=res.temperature,
        run_name=run_name,
    )
    client = mlflow.MlflowClient()
    for k, v in {
        "cv_accuracy": res.cv["accuracy"],
        "cv_nll": res.cv["nll"],
        "val_accuracy": res.val_accuracy,
        "ece_after": res.ece,
        "train_seconds": res.seconds,
        "trials": res.trials,
        **{f"importance_{p}": v for p, v in res.importance.items()},
    }.items():
        client.log_metric(run_id, k, float(v))
    for k, v in res.params.items():
        client.log_param(run_id, f"search_{k}", v)
    client.log_param(run_id, "refit_on_train_val", res.refit)
    if res.refit:
        client.log_param(run_id, "refit_seeds", json.dumps(res.refit_seeds))
    return run_id


def ensemble_card(
    res: SearchResult, *, protocol: str = "seed", fold: int = 0, command: str = "", run_id: str | None = None
) -> dict[str, Any]:
    """Model card of a shipped ensemble: members, weights, search, metrics."""
    r = res.report
    members, reps = res.shipped_members, res.shipped_representations
    return {
        "architecture": {
            "name": "weighted_ensemble",
            "kwargs": {"n_members": len(members)},
            "parameters": models.count_parameters(res.shipped_module),
        },
        "input": {"kind": "members", "name": "ensemble", "members": members, "representations": reps},
        "normalization": {"kind": "per member (see each member's card)"},
        "classes": list(EMOTIONS),
        "calibration": {
            "temperature": 1.0,
            "ensemble_temperature": res.temperature,
            "member_temperatures": {m: res.member_temperatures[r] for m, r in zip(members, reps)},
            "note": "member log-probabilities use these member temperatures (each "
            "held-out run's own, fitted on validation); the combined logits "
            "already include the ensemble temperature",
            "ece_after": res.ece,
            "ece_bins": 15,
        },
        "decision": {
            "unsure_below": res.unsure_below,
            "rule": "top probability below this: validation predictions there are "
            "wrong more often than right",
        },
        "ensemble": {
            "weights": res.weights,
            "search": res.params,
            "cv_folds": 5,
            "cv_accuracy": res.cv["accuracy"],
            "cv_nll": res.cv["nll"],
            "val_accuracy": res.val_accuracy,
            "param_importance": res.importance,
            "trials": res.trials,
            "single_member_test_accuracy": res.single_best,
            "refit_on_train_val": res.refit,
            **(
                {
                    "refit_note": "members retrained on training + validation clips with "
                    "their recipes (train --train-on-val); weights, "
                    "temperatures and the unsure threshold were fitted on the "
                    "held-out runs' validation predictions; a member refitted "
                    "with several seeds shares its weight equally among them",
                    "refit_seeds": res.refit_seeds,
                }
                if res.refit
                else {}
            ),
            "mlflow_run_id": run_id,
        },
        "metrics": {
            protocol: {
                "accuracy": r["accuracy"],
                "macro_f1": r["macro_f1"],
                "macro_precision": r["macro_precision"],
                "macro_recall": r["macro_recall"],
                "per_class_f1": {e: v["f1"] for e, v in r["per_class"].items()},
                "confusion": r["confusion"],
                "fold": fold,
            }
        },
        "reproduce": command,
    }


def summary(res: SearchResult) -> str:
    """Human-readable lines about a search."""
    bags = "".join(f"; {m}: seeds {', '.join(map(str, s))}" for m, s in res.refit_seeds.items() if len(s) > 1)
    refit = f" (members refit on train + validation{bags})" if res.refit else ""
    lines = [
        f"ensemble of {len(res.members)}: "
        + ", ".join(f"{m} {res.weights[m]:.3f}" for m in sorted(res.members, key=lambda m: -res.weights[m])),
        f"temperature {res.temperature:.3f}; CV accuracy on validation {res.cv['accuracy']:.2%} "
        f"({res.trials} trials, {res.seconds:.0f} s)",
        f"test accuracy {res.report['accuracy']:.2%}, macro F1 {res.report['macro_f1']:.2%}, "
        f"ECE {res.ece:.3f}{refit}; best single member "
        + (f"{max(res.single_best.values()):.2%}" if res.single_best else "n/a"),
        "parameter importance: " + json.dumps({k: round(v, 3) for k, v in res.importance.items()}),
    ]
    return "\n".join(lines)
