"""Every shipped model loads and, on the real seed test split, reaches at least
its model card's accuracy minus one point."""

from __future__ import annotations

import pytest

from ser_core import models
from ser_core.evaluate import evaluate_shipped

SHIPPED = models.shipped()


def test_models_dir_is_compact():
    total = sum(p.stat().st_size for p in models.models_dir().glob("*")) if SHIPPED else 0
    assert total < 60e6


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_reaches_its_card(name, meta):
    card = models.load(name).card
    claimed = card["metrics"]["seed"]["accuracy"]
    rep = evaluate_shipped(name, meta, protocol="seed")
    assert rep["n_test"] == 897
    assert rep["accuracy"] >= claimed - 0.01, (name, rep["accuracy"], claimed)
    assert 0 < card["decision"]["unsure_below"] < 1
