"""Cached loaders of the corpus summaries (:mod:`ui.loaders`) and the shipped model files."""

from __future__ import annotations

import pytest

from tests.pages.conftest import write_fake_summaries
from ui import loaders, models


def test_summary_stamps_follow_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path))
    assert loaders.summary_stamp("clips") is None and models.model_files() == []
    write_fake_summaries(tmp_path / "eda")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "a.safetensors").write_bytes(b"")
    assert loaders.summary_stamp("means") is not None
    assert models.model_files() == ["a.safetensors"]


def test_damaged_summary_is_a_dataset_error(tmp_path, monkeypatch):
    from ser_core.errors import DatasetError

    (tmp_path / "eda").mkdir()
    (tmp_path / "eda" / "emotion_means.npz").write_bytes(b"PK\x03\x04 half written")
    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path))
    with pytest.raises(DatasetError, match="eda-summary"):
        loaders.emotion_means("mel")
