"""Model cards on disk (:mod:`ser_core.cards`): read once per state of the folder."""

from __future__ import annotations

import json
import os

import pytest

from ser_core import cards
from ser_core.errors import UnknownNameError


def ship(folder, name: str, accuracy: float) -> None:
    (folder / f"{name}.json").write_text(json.dumps({"metrics": {"seed": {"accuracy": accuracy}}}))
    (folder / f"{name}.safetensors").write_bytes(b"weights")


def test_cards_are_read_once_then_again_when_a_model_changes(tmp_path, monkeypatch):
    ship(tmp_path, "a", 0.5)
    first = cards.shipped_cards(tmp_path)
    assert first["a"]["metrics"]["seed"]["accuracy"] == 0.5
    reads = []
    monkeypatch.setattr(cards, "read_card", lambda n, directory: reads.append(n) or {"n": n})
    assert cards.shipped_cards(tmp_path) is first and reads == []  # nothing changed: no read
    ship(tmp_path, "b", 0.7)  # a model shipped meanwhile
    assert set(cards.shipped_cards(tmp_path)) == {"a", "b"} and sorted(reads) == ["a", "b"]
    (tmp_path / "b.safetensors").unlink()  # weights removed: no longer shipped
    assert set(cards.shipped_cards(tmp_path)) == {"a"}


def test_a_rewritten_card_changes_the_signature(tmp_path):
    ship(tmp_path, "a", 0.5)
    before = cards.folder_signature(tmp_path)
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"metrics": {"seed": {"accuracy": 0.75}}}))
    os.utime(path, ns=(before[0][1] + 1_000_000, before[0][1] + 1_000_000))
    assert cards.folder_signature(tmp_path) != before
    assert cards.shipped_cards(tmp_path)["a"]["metrics"]["seed"]["accuracy"] == 0.75
    assert cards.folder_signature(tmp_path / "missing") == ()


def test_a_missing_card_names_itself(tmp_path):
    with pytest.raises(UnknownNameError, match="nope.json"):
        cards.read_card("nope", directory=tmp_path)
