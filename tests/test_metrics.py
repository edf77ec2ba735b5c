"""ser_core.metrics: report, ECE, temperature."""

import numpy as np

from ser_core import metrics


def test_report_on_known_predictions():
    y = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    p = y.copy()
    p[0] = 1
    r = metrics.classification_report(y, p)
    assert r["accuracy"] == 11 / 12
    assert r["confusion"][0][1] == 1 and r["most_confused"][0] == {
        "true": "anger",
        "predicted": "fear",
        "count": 1,
    }
    assert r["per_class"]["anger"]["recall"] == 0.5


def test_ece_and_temperature():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 6, 2000)
    logits = rng.normal(size=(2000, 6))
    logits[np.arange(2000), y] += 2.0
    over = logits * 4  # over-confident
    t = metrics.fit_temperature(over, y)
    assert abs(t / metrics.fit_temperature(logits, y) - 4) < 0.05  # scale-equivariant
    before = metrics.expected_calibration_error(metrics.softmax(over), y)
    after = metrics.expected_calibration_error(metrics.softmax(over, temperature=t), y)
    assert after < before and after < 0.03
    assert np.allclose(metrics.softmax(logits).sum(1), 1)
