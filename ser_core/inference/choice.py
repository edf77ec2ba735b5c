"""Which shipped model to use: the most accurate, or the most accurate that can adapt to a voice."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .. import models
from ..errors import UnknownNameError

__all__ = ["best_adaptable_model", "best_model_name"]


def best_model_name(
    directory: Path | None = None, *, protocol: str = "seed", among: Iterable[str] | None = None
) -> str:
    """The shipped model with the highest ``protocol`` accuracy in its card.

    Parameters
    ----------
    directory : Path, optional
        Where the shipped models are (default ``artifacts/models``).  Damaged
        cards are left out with a warning.
    protocol : str
        The card's metrics entry to rank by (``"seed"``, ``"loso"``...); a
        model without it ranks last.
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
    cards = models.shipped_cards(directory)  # (damaged ones left out, with a warning)
    names = [n for n in (among if among is not None else cards) if n in cards]
    if not names:
        raise UnknownNameError(
            "no shipped model in artifacts/models; train one with `python -m ser_core train --ship NAME`"
        )

    def score(n: str) -> float:
        return float(cards[n].get("metrics", {}).get(protocol, {}).get("accuracy", -1))

    return max(names, key=score)


def best_adaptable_model(directory: Path | None = None, *, protocol: str | None = None) -> str:
    """The best shipped model trained on speaker-normalised features (it can be calibrated).

    Parameters
    ----------
    directory : Path, optional
        Where the shipped models are (default ``artifacts/models``).
    protocol : str, optional
        The card's metrics entry to rank by.  ``None`` ranks by the ``loso``
        accuracy (how the recipe does on a voice it never heard, which is what
        calibration is for) when every candidate's card has one, else by the
        ``seed`` accuracy.

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

    def adapts(card: dict) -> bool:  # speaker-normalised, or an ensemble of such members only
        members = card.get("input", {}).get("members")
        if members:
            return all(m in cards and adapts(cards[m]) for m in members)
        return card.get("normalization", {}).get("kind") == "speaker"

    names = [n for n, c in cards.items() if adapts(c)]
    if not names:
        raise UnknownNameError(
            "no shipped model can adapt to a voice; train one with "
            "`python -m ser_core train --norm speaker --ship NAME`"
        )
    if protocol is None:
        protocol = "loso" if all("loso" in cards[n].get("metrics", {}) for n in names) else "seed"
    return best_model_name(directory, protocol=protocol, among=names)
