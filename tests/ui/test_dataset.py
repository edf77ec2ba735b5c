"""The dataset page's clip pickers (:mod:`ui.dataset`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ui import dataset


def test_clip_helpers():
    meta = pd.DataFrame(
        {
            "file_id": ["S1_anger_2", "S1_anger_1", "S1_fear_1"],
            "emotion": ["anger", "anger", "fear"],
            "speaker": ["S1"] * 3,
            "gender": ["male"] * 3,
            "age": [30] * 3,
            "sentence_id": [5, 1, 1],
        }
    )
    assert dataset.clip_options(meta, "anger", "S1")["sentence_id"].tolist() == [1, 5]
    assert dataset.speaker_label(meta, "S1") == "S1 (male, 30)"


def test_shared_range_covers_every_array():
    assert dataset.shared_range([np.array([[-60.0, 0.0]]), np.array([-40.0, 20.0, 5.0])]) == (-60.0, 20.0)
