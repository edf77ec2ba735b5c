"""Every shipped model gives the same probabilities as when the reference was written.

The reference (``tests/fixtures/reference_predictions.npz``) was written by
``tests/make_reference_predictions.py`` before the package was reorganised into
layers; a change that only moves code must leave it standing.
"""

from __future__ import annotations

import numpy as np
import pytest

from ser_core.inference import Predictor
from ser_core.models import shipped
from tests.make_reference_predictions import OUT, reference_clips


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(OUT) as f:
        return dict(f)


def test_reference_covers_every_shipped_model(reference):
    assert sorted({k.split("/")[0] for k in reference}) == sorted(shipped())


@pytest.mark.parametrize("model_name", shipped())
def test_same_predictions(model_name, reference):
    pred = Predictor.load(model_name)
    for clip, y in reference_clips().items():
        np.testing.assert_allclose(
            pred.predict(y), reference[f"{model_name}/{clip}"], atol=1e-5, err_msg=f"{model_name} on {clip}"
        )
