"""The colours and array helpers of :mod:`ser_core.figures.style`."""

from __future__ import annotations

import numpy as np
import pytest

from ser_core import features
from ser_core.config import EMOTIONS
from ser_core.figures import style


def test_minmax_and_stack():
    z = style.minmax(np.array([[2.0, 4.0], [3.0, 6.0]]))
    assert z.dtype == np.float32 and z.min() == 0 and z.max() == 1
    assert not style.minmax(np.full((3, 4), 7.0)).any()  # constant: zeros, no NaN
    x = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    s = style.stack_channels(x)
    assert s.shape == (6, 4) and (s[3:] == x[1]).all()  # channel 1 above channel 0


def test_frame_times():
    t = style.frame_times(188)
    assert t[0] == 0 and t[1] == pytest.approx(0.016) and t[-1] == pytest.approx(2.992)


def test_standardise_bins_per_row_and_constant_rows():
    z = np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]])
    out = style.standardise_bins(z)
    assert out[0] == pytest.approx([-1.2247449, 0.0, 1.2247449])
    assert (out[1] == 0).all()  # a constant bin is only centred, no NaN


def test_is_curve():
    assert style.is_curve(np.zeros((1, 1, 188)))
    assert not style.is_curve(np.zeros((1, 64, 188))) and not style.is_curve(np.zeros((2, 1, 188)))


def test_colours_cover_every_emotion_and_gender():
    assert list(style.EMOTION_COLORS) == list(EMOTIONS)
    assert len(set(style.EMOTION_COLORS.values())) == len(EMOTIONS)
    assert set(style.GENDER_COLORS) == {"female", "male"}


def test_row_title():
    assert style.row_title("mel") == features.get("mel").title
    assert "standardised over time" in style.row_title("mfcc")
    low, high = features.get("hpss").channels[0], features.get("hpss").channels[-1]
    assert style.row_title("hpss").endswith(
        f"{low} in the lower half, {high} in the upper half (stacked bins)"
    )


def test_row_title_and_display_names_in_polish():
    from ser_core.i18n import language

    with language("pl"):
        assert style.gender_name("female") == "kobieta"
        assert style.emotion_colors()["złość"] == style.EMOTION_COLORS["anger"]
        assert "w dolnej połowie" in style.row_title("hpss")
    assert style.gender_name("female") == "female" and style.gender_name("other") == "other"
