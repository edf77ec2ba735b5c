"""Figures of the class quiz (:mod:`ser_core.figures.quiz`), on hand-made confusion matrices."""

from __future__ import annotations

import numpy as np
import pytest

from ser_core.config import EMOTIONS
from ser_core.figures import quiz as qf
from ser_core.i18n import emotion_names, language


def matrices() -> tuple[np.ndarray, np.ndarray]:
    """The class: 10 answers per emotion, 8 right (2 of fear said as surprised...);
    the model: 2 clips per emotion, all right but one sadness clip called neutral."""
    class_cm = np.eye(6, dtype=int) * 8 + np.roll(np.eye(6, dtype=int), 1, axis=1) * 2
    model_cm = np.eye(6, dtype=int) * 2
    s, n = EMOTIONS.index("sadness"), EMOTIONS.index("neutral")
    model_cm[s, s], model_cm[s, n] = 1, 1
    return class_cm, model_cm


def test_confusion_pair_draws_the_class_next_to_the_model():
    class_cm, model_cm = matrices()
    fig = qf.confusion_pair_figure(class_cm, model_cm)
    left, right = fig.data
    assert left.type == right.type == "heatmap"
    assert list(left.x) == list(left.y) == emotion_names()
    # colour: % of the row; text: the counts (empty cells stay blank)
    assert (
        np.allclose(np.asarray(left.z)[0, :2], [80, 20]) and left.text[0][0] == "8" and left.text[0][2] == ""
    )
    s, n = EMOTIONS.index("sadness"), EMOTIONS.index("neutral")
    assert np.asarray(right.z)[s, n] == 50
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["The class (60 answers)", "The model (12 clips)"]
    assert (
        fig.layout.yaxis.title.text == "true emotion" and fig.layout.xaxis2.title.text == "the model's answer"
    )


def test_confusion_pair_of_an_empty_class_and_bad_shapes():
    fig = qf.confusion_pair_figure(np.zeros((6, 6)), np.eye(6))
    assert np.asarray(fig.data[0].z).sum() == 0
    assert fig.layout.annotations[0].text == "The class (0 answers)"
    with pytest.raises(ValueError, match=r"\(6, 6\)"):
        qf.confusion_pair_figure(np.zeros((5, 5)), np.eye(6))


def test_accuracy_bars_all_clips_then_each_emotion():
    class_cm, model_cm = matrices()
    fig = qf.accuracy_figure(class_cm, model_cm)
    cls, mdl = fig.data
    assert cls.name == "The class" and mdl.name == "The model"
    assert list(cls.x) == ["all clips", *emotion_names()]
    assert np.allclose(cls.y, [80] * 7)
    assert mdl.y[0] == pytest.approx(100 * 11 / 12) and mdl.y[1 + EMOTIONS.index("sadness")] == 50
    assert cls.text[0] == "80 %"
    # an emotion nobody answered yet: no bar, no label
    empty = class_cm.copy()
    empty[0] = 0
    acc = qf.per_emotion_accuracy(empty)
    assert np.isnan(acc[1]) and acc[0] == pytest.approx(40 / 50)
    assert qf.accuracy_figure(empty, model_cm).data[0].text[1] == ""


def test_polish_labels():
    class_cm, model_cm = matrices()
    with language("pl"):
        fig = qf.confusion_pair_figure(class_cm, model_cm)
        bars = qf.accuracy_figure(class_cm, model_cm)
        names = emotion_names()
    assert "złość" in names and list(fig.data[0].x) == names
    assert fig.layout.annotations[0].text == "Sala (60 odpowiedzi)"
    assert bars.data[0].name == "Sala" and bars.data[1].name == "Model"
