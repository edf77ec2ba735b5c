"""Faithfulness beyond deletion (#29): the insertion curve and SpeechBrain's mask metrics
(AI, AD, AG, FF, Fid-In), by hand on a linear model and on the tiny shipped model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ser_core import explain
from ser_core.errors import ConfigError

FAST = explain.XAIOptions(deletion_steps=10)


class Linear(nn.Module):
    """Logit of class 1 = the sum of the first 10 bins; class 0 always 0."""

    def forward(self, x):
        s = x.flatten(1)[:, :10].sum(1)
        return torch.stack([torch.zeros_like(s), s], 1)


def sigmoid(z: float) -> float:
    return float(1 / (1 + np.exp(-z)))


@pytest.fixture
def perfect() -> tuple[np.ndarray, np.ndarray]:
    """An input of ones (10 x 10) and the map that ranks exactly the 10 bins that count."""
    x = np.ones((1, 10, 10), np.float32)
    rel = np.zeros_like(x)
    rel.reshape(-1)[:10] = 1.0
    return x, rel


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny mel model of tests/tiny_model.py (global pooling: any input size)."""
    from ser_core import models
    from tests.tiny_model import TINY, ship_tiny_model

    artifacts = ship_tiny_model(tmp_path_factory.mktemp("faith"))
    return models.load(TINY, directory=artifacts / "models")


def test_insertion_curve_of_a_linear_model_matches_a_hand_computation(perfect):
    x, rel = perfect
    c = explain.insertion_curve(x, rel, model=Linear(), target=1, steps=10)
    # nothing inserted: the baseline 0, logit 0, p = 0.5; 10 % (the 10 bins) inserted: logit 10
    assert np.isclose(c.probs[0], 0.5) and np.isclose(c.probs[1], sigmoid(10.0))
    assert np.allclose(c.probs[1:], sigmoid(10.0))
    assert c.auc == pytest.approx(np.trapezoid(c.probs, c.fractions))
    with pytest.raises(ConfigError, match="shape"):
        explain.insertion_curve(x, rel[0], model=Linear(), target=1)


def test_insertion_of_a_perfect_map_beats_random(perfect):
    x, rel = 0.3 * perfect[0], perfect[1]  # full logit 3: the random order climbs slowly
    good = explain.insertion_curve(x, rel, model=Linear(), target=1, steps=20).auc
    rand = explain.insertion_curve(
        x, explain.random_relevance(x.shape), model=Linear(), target=1, steps=20
    ).auc
    assert good > rand + 0.1


def test_mask_scores_by_hand():
    s = explain.mask_scores(0.6, 0.9, 0.2, same_class=True)
    assert s["ai"] == 100 and s["ad"] == 0 and s["fid_in"] == 1
    assert s["ag"] == pytest.approx(100 * 0.3 / 0.4) and s["ff"] == pytest.approx(0.4)
    s = explain.mask_scores(0.8, 0.2, 0.7, same_class=False)
    assert s["ai"] == 0 and s["ag"] == 0 and s["fid_in"] == 0
    assert s["ad"] == pytest.approx(100 * 0.6 / 0.8) and s["ff"] == pytest.approx(0.1)


def test_every_score_of_a_perfect_map_on_the_linear_model(perfect):
    x, rel = perfect
    f = explain.faithfulness_scores(x, rel, model=Linear(), target=1, top_k=0.1, options=FAST)
    p = sigmoid(10.0)
    # the mask keeps exactly the 10 bins: masked in = x, masked out = logit 0
    assert f.p0 == pytest.approx(p) and f.p_in == pytest.approx(p) and f.p_out == pytest.approx(0.5)
    s = f.scores()
    assert set(s) == {*explain.FAITHFULNESS_SCORES, "p0"}
    assert s["ai"] == 0 and s["ad"] == pytest.approx(0, abs=1e-4) and s["ag"] == 0
    assert s["ff"] == pytest.approx(p - 0.5) and s["fid_in"] == 1
    # the same forward passes as the separate curves
    d = explain.deletion_curve(x, rel, model=Linear(), target=1, steps=10)
    i = explain.insertion_curve(x, rel, model=Linear(), target=1, steps=10)
    assert np.allclose(f.deletion.probs, d.probs) and np.allclose(f.insertion.probs, i.probs)
    assert s["auc"] == pytest.approx(d.auc) and s["insertion_auc"] == pytest.approx(i.auc)


def test_explanation_mask_keeps_the_top_fraction_of_every_channel():
    rel = np.zeros((2, 4, 5), np.float32)
    rel[:, 0, :4] = 1.0  # 4 of the 20 time-frequency bins: 20 %
    m = explain.explanation_mask(rel, top_k=0.2)
    assert m.shape == rel.shape and m.dtype == np.float32
    assert (m[:, 0, :4] == 1).all() and m.sum() == 2 * 4
    with pytest.raises(ConfigError):
        explain.explanation_mask(rel, top_k=1.5)
    with pytest.raises(ConfigError):
        explain.explanation_mask(rel[0], top_k=0.2)


def test_an_all_ones_mask_on_the_tiny_model(tiny):
    """The whole input kept: AD = 0, AI = AG = 0, Fid-In = 1, FF = p(x) - p(baseline)."""
    loaded = tiny
    net = loaded.module.eval()
    x = np.random.default_rng(0).standard_normal((1, 128, 94)).astype(np.float32)
    target = explain.predicted_class(x, model=net)
    rel = np.random.default_rng(1).random(x.shape).astype(np.float32)
    f = explain.faithfulness_scores(
        x, rel, model=net, target=target, mask=np.ones_like(x), options=FAST, temperature=loaded.temperature
    )
    s = f.scores()
    assert s["ad"] == pytest.approx(0, abs=1e-3) and s["ai"] == 0 and s["ag"] == 0 and s["fid_in"] == 1
    # masked out = the baseline everywhere, the insertion curve's first point
    assert f.p_out == pytest.approx(float(f.insertion.probs[0]), abs=1e-6)
    assert s["ff"] == pytest.approx(f.p0 - float(f.insertion.probs[0]), abs=1e-6)
    assert f.insertion.probs[-1] == pytest.approx(f.p0, abs=1e-6)  # all bins back: x itself
    # the default mask (top 20 %): masked out is the deletion input at 20 %, masked in the
    # insertion input at 20 % (same order, same ties), so FF is the drop at 20 %
    d = explain.faithfulness_scores(x, rel, model=net, target=target, options=FAST)
    at20 = int(np.argmin(np.abs(d.insertion.fractions - 0.2)))
    assert d.scores()["ff"] == pytest.approx(d.scores()["drop20"], abs=1e-6)
    assert d.p_in == pytest.approx(float(d.insertion.probs[at20]), abs=1e-6)
    # an all-zeros mask: masked in is the baseline, masked out is x (FF = 0)
    z = explain.faithfulness_scores(x, rel, model=net, target=target, mask=np.zeros_like(x), options=FAST)
    assert z.p_out == pytest.approx(z.p0, abs=1e-6) and z.scores()["ff"] == pytest.approx(0, abs=1e-6)
    with pytest.raises(ConfigError, match="mask"):
        explain.faithfulness_scores(x, rel, model=net, target=target, mask=2 * np.ones_like(x))


def test_faithfulness_test_adds_random_and_reports_na_below_chance(perfect):
    x, rel = perfect
    out = explain.faithfulness_test(x, {"perfect": rel}, model=Linear(), target=0, options=FAST)
    assert list(out) == ["perfect", "random"]
    # class 0 gets sigmoid(-10) ~ 0: below chance, every score n/a but the start
    scored = out["perfect"].scored(n_classes=2)
    assert scored["p0"] < 0.5 and all(v is None for k, v in scored.items() if k != "p0")
    ok = explain.faithfulness_test(x, {"perfect": rel}, model=Linear(), options=FAST, random=False)
    assert list(ok) == ["perfect"] and None not in ok["perfect"].scored(n_classes=2).values()
