"""Every shipped model loads and, on the real seed test split, reaches at least
its model card's accuracy minus one point."""

from __future__ import annotations

import pytest

from ser_core import models
from ser_core.evaluate import evaluate_shipped

SHIPPED = models.shipped()


def test_models_dir_is_compact():
    total = sum(p.stat().st_size for p in models.models_dir().rglob("*") if p.is_file()) if SHIPPED else 0
    assert total < 60e6


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_reaches_its_card(name, meta):
    card = models.load(name).card
    claimed = card["metrics"]["seed"]["accuracy"]
    report = evaluate_shipped(name, meta, protocol="seed")
    assert report["n_test"] == 897
    assert report["accuracy"] >= claimed - 0.01, (name, report["accuracy"], claimed)
    assert 0 < card["decision"]["unsure_below"] < 1


@pytest.mark.skipif("resnet18_mel_spk" not in SHIPPED, reason="resnet18_mel_spk is not shipped")
def test_stored_training_speakers_are_those_of_the_seed_training_part(meta):
    """The statistics shipped beside a speaker-normalised model (which let its seed test
    part be scored from the test clips alone) are those of its speakers' training clips."""
    import numpy as np

    from ser_core import data, features
    from ser_core.inference import Predictor
    from ser_core.inputs import part_inputs

    pred = Predictor.load("resnet18_mel_spk")
    known = pred.loaded.speakers
    split = data.split_indices(meta, "seed")
    spk = meta["speaker"].astype(str).to_numpy()
    assert known.covers(spk, meta["file_id"].to_numpy()[split.train])
    rows = split.train[spk[split.train] == "MP0"]  # one speaker's training clips
    stats = features.normalization_stats(
        part_inputs(meta, rows, pred.kind, pred.representation, cfg=pred.cfg)
    )
    np.testing.assert_allclose(known.stats["MP0"].mean, stats.mean, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(known.stats["MP0"].std, stats.std, rtol=1e-5, atol=1e-5)
