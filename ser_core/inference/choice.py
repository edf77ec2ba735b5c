"""Which shipped model to use, and the two numbers that say how good it is.

Every user of the app is a voice no model heard in training, so the product
ranks and chooses by the **new-voice** accuracy: the mean over the nine
leave-one-speaker-out (LOSO) folds of the model's recipe, read from its card's
``metrics.loso``.  The seed-split accuracy (``metrics.seed``) stays visible,
labelled, because its test voices were also in training: it says how well a
model knows the nine nEMO speakers, not how it does on yours.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import models
from ..errors import UnknownNameError
from ..i18n import N_

__all__ = [
    "ModelScores",
    "ModelUse",
    "best_adaptable_model",
    "best_model_name",
    "can_adapt",
    "model_scores",
    "model_uses",
    "rank",
    "ranked_models",
    "scores_table",
]

log = logging.getLogger(__name__)

#: The ranking protocol: the LOSO mean over the nine held-out speakers.
RANK_PROTOCOL = "loso"


@dataclass(frozen=True)
class ModelScores:
    """A card's headline numbers (fractions in [0, 1]; ``None`` where not measured).

    Attributes
    ----------
    loso, loso_std : float or None
        Mean and standard deviation of the accuracy over the LOSO folds of the
        model's recipe: how it does on a voice it never heard.
    worst_speaker : str or None
        The held-out speaker with the lowest LOSO accuracy, and ``worst`` that accuracy.
    n_folds : int
        How many LOSO folds the mean is over (0 when not measured).
    seed : float or None
        Accuracy on the seed split's test clips, whose voices were in training.
    loso_missing : str
        Why the card has no LOSO figure ("" when it has one).
    loso_note : str
        How the LOSO figure was measured (e.g. that its folds ran a cheaper
        schedule than the shipped weights); "" when the card has none.
    """

    loso: float | None
    loso_std: float | None
    worst_speaker: str | None
    worst: float | None
    n_folds: int
    seed: float | None
    loso_missing: str = ""
    loso_note: str = ""

    @property
    def cheaper_schedule(self) -> bool:
        """Whether the LOSO folds ran another schedule than the shipped weights."""
        return "different schedule" in self.loso_note

    @property
    def has_loso(self) -> bool:
        return self.loso is not None


def _worst_fold(loso: dict) -> tuple[str | None, float | None]:
    if "worst_speaker" in loso and "worst_accuracy" in loso:
        return str(loso["worst_speaker"]), float(loso["worst_accuracy"])
    folds = [f for f in loso.get("folds", []) if "accuracy" in f]
    if not folds:
        return None, None
    worst = min(folds, key=lambda f: f["accuracy"])
    return str(worst.get("speaker", worst.get("fold"))), float(worst["accuracy"])


def model_scores(card: dict) -> ModelScores:
    """The LOSO and seed numbers of a model card.

    Parameters
    ----------
    card : dict
        A model card (``models.read_card``).

    Returns
    -------
    ModelScores
    """
    metrics = card.get("metrics", {})
    loso, seed = metrics.get("loso", {}), metrics.get("seed", {})
    worst_speaker, worst = _worst_fold(loso)
    has = "accuracy" in loso
    return ModelScores(
        loso=float(loso["accuracy"]) if has else None,
        loso_std=float(loso["accuracy_std"]) if has and "accuracy_std" in loso else None,
        worst_speaker=worst_speaker,
        worst=worst,
        n_folds=int(loso.get("n_folds", len(loso.get("folds", [])))) if has else 0,
        seed=float(seed["accuracy"]) if "accuracy" in seed else None,
        loso_missing="" if has else str(metrics.get("loso_missing", "not measured")),
        loso_note=str(loso.get("note", "")) if has else "",
    )


def _score(card: dict, protocol: str) -> float | None:
    acc = card.get("metrics", {}).get(protocol, {}).get("accuracy")
    return None if acc is None else float(acc)


def ranked_models(
    directory: Path | None = None, *, protocol: str = RANK_PROTOCOL, among: Iterable[str] | None = None
) -> list[str]:
    """Shipped models, best first by ``protocol`` accuracy; models without it last.

    Those without the ranking figure follow in the order of their seed
    accuracy, then by name.

    Parameters
    ----------
    directory : Path, optional
        Where the shipped models are (default ``artifacts/models``).
    protocol : str
        The card's metrics entry to rank by (default ``"loso"``).
    among : iterable of str, optional
        Candidate names (default: every shipped model).

    Returns
    -------
    list of str
    """
    # (damaged cards are left out, with a warning)
    return rank(models.shipped_cards(directory), protocol=protocol, among=among)


def rank(
    cards: Mapping[str, dict], *, protocol: str = RANK_PROTOCOL, among: Iterable[str] | None = None
) -> list[str]:
    """:func:`ranked_models` on cards already read (name -> card)."""
    names = [n for n in (among if among is not None else cards) if n in cards]

    def key(n: str) -> tuple:
        main, seed = _score(cards[n], protocol), _score(cards[n], "seed")
        return (main is None, -(main or 0.0), -(seed or 0.0), n)

    return sorted(names, key=key)


def _best(cards: Mapping[str, dict], *, protocol: str, among: Iterable[str] | None = None) -> str:
    """:func:`best_model_name` on cards already read."""
    ranked = rank(cards, protocol=protocol, among=among)
    if not ranked:
        raise UnknownNameError(
            N_("no shipped model in artifacts/models; train one with `python -m ser_core train --ship NAME`")
        )
    if _score(cards[ranked[0]], protocol) is None and protocol != "seed":
        log.warning("no shipped model has a %s figure; choosing by seed-split accuracy", protocol)
        return rank(cards, protocol="seed", among=ranked)[0]
    return ranked[0]


def best_model_name(
    directory: Path | None = None, *, protocol: str = RANK_PROTOCOL, among: Iterable[str] | None = None
) -> str:
    """The shipped model with the highest ``protocol`` accuracy in its card.

    A model without that figure cannot be chosen while another has it; only when
    no candidate has any does the choice fall back to the seed accuracy (with a
    warning), so a fresh project with seed-split models still has a default.

    Parameters
    ----------
    directory : Path, optional
        Where the shipped models are (default ``artifacts/models``).  Damaged
        cards are left out with a warning.
    protocol : str
        The card's metrics entry to rank by: ``"loso"`` (default, new voices)
        or ``"seed"``.
    among : iterable of str, optional
        Candidate names (default: every shipped model).

    Returns
    -------
    str
        The model's name.

    Raises
    ------
    UnknownNameError
        If no candidate is shipped.
    """
    return _best(models.shipped_cards(directory), protocol=protocol, among=among)


def can_adapt(name: str, cards: dict[str, dict]) -> bool:
    """Whether shipped model ``name`` is speaker-normalised (an ensemble: all its members).

    Parameters
    ----------
    name : str
        A model name.
    cards : dict
        Model cards by name (``models.shipped_cards``).

    Returns
    -------
    bool
    """
    card = cards.get(name)
    if card is None:
        return False
    members = card.get("input", {}).get("members")
    if members:
        return all(can_adapt(m, cards) for m in members)
    return card.get("normalization", {}).get("kind") == "speaker"


def best_adaptable_model(directory: Path | None = None, *, protocol: str = RANK_PROTOCOL) -> str:
    """The best shipped model trained on speaker-normalised features (it can be calibrated).

    Parameters
    ----------
    directory : Path, optional
        Where the shipped models are (default ``artifacts/models``).
    protocol : str
        The card's metrics entry to rank by (default ``"loso"``: how the recipe
        does on a voice it never heard, which is what calibration is for).

    Returns
    -------
    str
        The model's name.  An ensemble qualifies when all its members are
        speaker-normalised.

    Raises
    ------
    UnknownNameError
        If no shipped model is speaker-normalised.
    """
    cards = models.shipped_cards(directory)
    names = [n for n in cards if can_adapt(n, cards)]
    if not names:
        raise UnknownNameError(
            N_(
                "no shipped model can adapt to a voice; train one with "
                "`python -m ser_core train --norm speaker --ship NAME`"
            )
        )
    return _best(cards, protocol=protocol, among=names)


@dataclass(frozen=True)
class ModelUse:
    """One line of "which model for what": a purpose, the model for it, and why."""

    purpose: str
    model_name: str
    why: str


def model_uses(directory: Path | None = None) -> list[ModelUse]:
    """Which shipped model to use for what, each chosen from the cards' numbers.

    Parameters
    ----------
    directory : Path, optional
        Where the shipped models are (default ``artifacts/models``).

    Returns
    -------
    list of ModelUse
        Your voice (best LOSO mean), calibrated to your voice (best adaptable by
        LOSO) and nEMO's own speakers (best seed accuracy); a purpose no shipped
        model serves is left out.
    """
    cards = models.shipped_cards(directory)
    if not cards:
        return []
    uses = [
        ModelUse(
            N_("Predicting a new voice (yours, a student's)"),
            _best(cards, protocol=RANK_PROTOCOL),
            N_("highest accuracy on speakers it never heard"),
        )
    ]
    adaptable = [n for n in cards if can_adapt(n, cards)]
    if adaptable:
        uses.append(
            ModelUse(
                N_("After calibrating to your voice (20 s of speech)"),
                _best(cards, protocol=RANK_PROTOCOL, among=adaptable),
                N_("best on new voices among the models that can adapt"),
            )
        )
    uses.append(
        ModelUse(
            N_("Demonstrating on nEMO's own clips"),
            _best(cards, protocol="seed"),
            N_("highest on the seed split, whose voices it heard in training; not for new voices"),
        )
    )
    return uses


def scores_table(directory: Path | None = None) -> pd.DataFrame:
    """Every shipped model's two numbers, best on new voices first.

    Parameters
    ----------
    directory : Path, optional
        Where the shipped models are (default ``artifacts/models``).

    Returns
    -------
    pd.DataFrame
        One row per model in :func:`ranked_models` order: ``model, architecture,
        loso, loso_std, worst_speaker, worst, n_folds, seed, adapts, loso_missing,
        cheaper_schedule`` (accuracies as fractions, NaN where not measured).
    """
    cards = models.shipped_cards(directory)
    rows = []
    for name in rank(cards):
        sc = model_scores(cards[name])
        rows.append(
            {
                "model": name,
                "architecture": cards[name].get("architecture", {}).get("name", "?"),
                "loso": sc.loso,
                "loso_std": sc.loso_std,
                "worst_speaker": sc.worst_speaker,
                "worst": sc.worst,
                "n_folds": sc.n_folds,
                "seed": sc.seed,
                "adapts": can_adapt(name, cards),
                "loso_missing": sc.loso_missing,
                "cheaper_schedule": sc.cheaper_schedule,
            }
        )
    columns = ["model", "architecture", "loso", "loso_std", "worst_speaker", "worst", "n_folds", "seed"]
    return pd.DataFrame(rows, columns=[*columns, "adapts", "loso_missing", "cheaper_schedule"]).astype(
        {c: float for c in ("loso", "loso_std", "worst", "seed")}
    )
