"""The home page (``app.py``'s first page), run with AppTest on models made for the test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.english import english_left
from tests.tiny_model import ship_disagreeing_cards
from ui import state

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture(scope="module")
def three_models(tmp_path_factory) -> Path:
    return ship_disagreeing_cards(tmp_path_factory.mktemp("home"))


@pytest.fixture
def env(three_models, monkeypatch) -> Path:
    monkeypatch.setenv("SER_ARTIFACTS", str(three_models))
    return three_models


def test_home_page_says_which_model_for_what_with_both_numbers(env):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    text = "\n".join(m.value for m in at.markdown)
    assert (
        "Predicting a new voice (yours, a student's)**: `new_voice` (61.0 % on new voices · 80.0 % seed split)"
        in text
    )
    assert (
        "Demonstrating on nEMO's own clips**: `seed_star` (new voices not measured · 99.0 % seed split)"
        in text
    )
    assert "leave-one-speaker-out" in text and "seed split" in text  # why the two numbers differ
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [t.get("name") for t in chart["data"]] == [
        "seed split (voices heard in training)",
        "new voices (LOSO mean ± std)",
        None,  # the values written past the error bars
    ]
    # best first, on top (plotly draws the first row at the bottom)
    assert list(chart["layout"]["yaxis"]["ticktext"])[::-1] == ["new_voice", "weak", "seed_star"]
    assert "New voices: *not measured*" in text and "New voices: **61.0 ± 10.0 %**" in text  # the cards


def test_weights_without_a_card_are_not_a_model(tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "mel_cnn.safetensors").write_bytes(b"")
    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any("No trained models shipped yet" in c.value for c in at.caption)


def test_home_page_in_polish(env):
    """A Polish session reads the home page in Polish (#30), emotion names included."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[state.KEY_LANG] = "pl"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "nEMO: eksplorator emocji w mowie"
    assert english_left(at) == []
    text = "\n".join(m.value for m in at.markdown)
    assert "Zobacz, jak komputer słyszy emocje w polskiej mowie." in text
    assert "(złość, strach, szczęście, stan neutralny, smutek, zaskoczenie)" in text
    assert [s.value for s in at.subheader][-1] == "Strony"
