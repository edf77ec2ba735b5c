"""The app shell: ``app.py`` runs, shows the home page, and copes without corpus."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ser_core import data

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _texts(at: AppTest) -> str:
    kinds = ("title", "markdown", "caption", "info", "success")
    return "\n".join(str(e.value) for kind in kinds for e in at.get(kind))


def test_home_page_runs():
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "nEMO speech emotion explorer"
    text = _texts(at)
    assert "13 acoustic representations" in text
    if data.corpus_available():
        assert "clips" in at.success[0].value and "speakers" in at.success[0].value
    assert len(at.get("page_link")) == 6  # the class quiz (#30) is the sixth page


def test_home_without_models_or_corpus(tmp_path, monkeypatch):
    monkeypatch.setenv("NEMO_DIR", str(tmp_path))
    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path))
    if data.corpus_available():
        pytest.skip("a corpus under data/nEMO is found even with NEMO_DIR empty")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(data.HOW_TO_GET in i.value for i in at.info)
    assert "no trained models shipped yet" in _texts(at).lower()
    assert not at.error
