"""A library error on a page in Polish (issue #30): the predictor page shows a bad upload's
sentence in Polish, with the file name filled in, through ``st.error``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import encode
from tests.pages.english import is_english
from ui import clips, state

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "2_predictor.py")
FORMATS_PL = "wav, flac, ogg, opus, mp3, m4a, aac, mp4 lub webm"


@pytest.fixture
def env(tiny_env) -> Path:
    return tiny_env


def polish_page_with(data: bytes, name: str) -> AppTest:
    """The predictor page in Polish, with a clip as the uploader's callback stores it."""
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.session_state[state.KEY_LANG] = "pl"
    at.session_state[state.KEY_FIRST_ANSWER] = "skipped"
    at.session_state[state.KEY_PRED_SOURCE] = "upload"
    at.session_state[state.KEY_PRED_CLIP["upload"]] = clips.make_clip(data, name, "upload")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize(
    ("data", "name", "sentence"),
    [
        (
            encode(np.zeros(32_000, np.float32), ext="wav"),
            "cisza.wav",
            "W pliku „cisza.wav” jest tylko cisza (wszystkie próbki są zerowe): nagraj lub wybierz plik z mową.",
        ),
        (b"", "pusty.wav", "Plik „pusty.wav” jest pusty (0 bajtów)"),
        (
            b"to nie jest nagranie " * 40,
            "notatki.wav",
            "Nie udało się odczytać pliku „notatki.wav” jako nagrania: plik jest uszkodzony albo nie jest "
            f"plikiem dźwiękowym (obsługiwane formaty: {FORMATS_PL}).",
        ),
    ],
    ids=["silent", "empty", "undecodable"],
)
def test_a_bad_upload_is_explained_in_polish(env, data, name, sentence):
    at = polish_page_with(data, name)
    assert [e.value for e in at.error] == [sentence]
    assert not is_english(at.error[0].value)
    assert not at.get("plotly_chart")
