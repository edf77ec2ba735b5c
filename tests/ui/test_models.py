"""Shipped models on the pages (:mod:`ui.models`): the ensemble caption."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from ui import models


def fake_ensemble(members: list[tuple[str, str]], weights: list[float]) -> SimpleNamespace:
    """An object shaped like an EnsemblePredictor: ``members`` are ``(model name,
    representation)``, ``weights`` the module's per-member weights."""
    return SimpleNamespace(
        loaded=SimpleNamespace(card={"input": {"members": [m for m, _ in members]}}),
        module=SimpleNamespace(weights=torch.tensor(weights)),
        members=[SimpleNamespace(model_name=m, representation=r) for m, r in members],
    )


def test_seed_bag_weights_are_grouped_per_input_and_add_up_to_100():
    """Issue #28: seven networks (3 mel seeds, 2 hpss, 2 mfcc) used to be listed as
    "mel 0.50, mel 0.50, mel 0.50, hpss 0.32, ..." (2.52 in all)."""
    members = [(f"mel_s{i}", "mel") for i in range(3)]
    members += [(f"hpss_s{i}", "hpss") for i in range(2)] + [(f"mfcc_s{i}", "mfcc") for i in range(2)]
    weights = [0.496 / 3] * 3 + [0.319 / 2] * 2 + [0.185 / 2] * 2
    pred = fake_ensemble(members, weights)
    shares = models.member_shares(pred)
    assert shares == [("mel", 50, 3), ("hpss", 32, 2), ("mfcc", 18, 2)]
    assert sum(p for _, p, _ in shares) == 100
    assert models.ensemble_summary(pred) == (
        "weighted ensemble of 7 models (mel 50 % over 3 seeds, hpss 32 % over 2 seeds, mfcc 18 % over 2 seeds)"
    )


def test_percentages_always_add_up_to_100():
    assert models.percentages(np.array([1.0, 1.0, 1.0])) == [34, 33, 33]
    assert models.percentages(np.array([0.2] * 5)) == [20] * 5
    assert sum(models.percentages(np.random.default_rng(0).random(9))) == 100
    assert models.percentages(np.zeros(4)) == [25] * 4


def test_model_captions_in_polish():
    """Issue #30: the ensemble caption and a card's missing new-voice figure in Polish
    (plural forms; the card's command kept, its English reason not shown)."""
    from ser_core.i18n import language

    members = [(f"mel_s{i}", "mel") for i in range(3)] + [("hpss_s0", "hpss")]
    pred = fake_ensemble(members, [0.2, 0.2, 0.2, 0.4])
    reason = "not measured: no finished LOSO runs of resnet18 on 'cqt'; train the 9 folds with `python -m x`"
    with language("pl"):
        summary = models.ensemble_summary(pred)
        missing = models.missing_reason(reason)
    assert summary == "ważony zespół: 4 modele (mel 60 % (3 ziarna losowe), hpss 40 %)"
    assert missing == "nie zmierzono; pomiar: `python -m x`"
    assert models.missing_reason(reason) == reason  # English: the card's own sentence
