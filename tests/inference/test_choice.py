"""Which model the product picks: by new-voice (LOSO) accuracy, never by seed accuracy alone.

Issue #25: cards are made in a temporary models folder and the test checks which model
the library, the predictor, the CLI and the home page pick.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ser_core import cli, models
from ser_core.errors import UnknownNameError
from ser_core.inference import (
    Predictor,
    best_adaptable_model,
    best_model_name,
    model_scores,
    model_uses,
    ranked_models,
    scores_table,
)
from tests.conftest import encode, tone
from tests.tiny_model import loso_metrics, ship_disagreeing_cards


def _card(
    directory: Path, name: str, *, seed: float, loso: float | None = None, norm: str = "corpus"
) -> None:
    metrics = {"seed": {"accuracy": seed}, **({"loso": loso_metrics(loso)} if loso is not None else {})}
    card = {"architecture": {"name": "resnet18"}, "normalization": {"kind": norm}, "metrics": metrics}
    (directory / f"{name}.json").write_text(json.dumps(card))
    (directory / f"{name}.safetensors").write_bytes(b"")


def test_ranking_is_by_loso_and_a_model_without_it_is_never_the_default(tmp_path):
    with pytest.raises(UnknownNameError, match="no shipped model"):
        best_model_name(tmp_path)
    _card(tmp_path, "seed_star", seed=0.99)  # the best on voices it heard, unmeasured on new ones
    assert best_model_name(tmp_path) == "seed_star"  # no model has LOSO: seed decides (warned)
    _card(tmp_path, "weak", seed=0.70, loso=0.40)
    assert best_model_name(tmp_path) == "weak"  # any LOSO evidence beats none
    _card(tmp_path, "new_voice", seed=0.80, loso=0.60, norm="speaker")
    assert best_model_name(tmp_path) == "new_voice"
    assert best_model_name(tmp_path, protocol="seed") == "seed_star"
    assert ranked_models(tmp_path) == ["new_voice", "weak", "seed_star"]
    assert best_adaptable_model(tmp_path) == "new_voice"


def test_scores_give_mean_std_worst_speaker_and_say_when_missing(tmp_path):
    _card(tmp_path, "a", seed=0.9, loso=0.6)
    _card(tmp_path, "b", seed=0.95)
    sc = model_scores(models.read_card("a", directory=tmp_path))
    assert (sc.loso, sc.loso_std, sc.worst_speaker, sc.worst, sc.n_folds, sc.seed) == (
        0.6,
        0.1,
        "AA0",
        0.2,
        2,
        0.9,
    )
    missing = model_scores(models.read_card("b", directory=tmp_path))
    assert not missing.has_loso and missing.loso_missing == "not measured"
    table = scores_table(tmp_path)
    assert table["model"].tolist() == ["a", "b"] and np.isnan(table.loc[1, "loso"])
    uses = {u.purpose: u.model_name for u in model_uses(tmp_path)}
    assert uses["Predicting a new voice (yours, a student's)"] == "a"
    assert uses["Demonstrating on nEMO's own clips"] == "b"


def test_shipped_cards_all_state_their_new_voice_figure_or_why_not():
    table = scores_table()
    if table.empty:
        pytest.skip("no shipped models in artifacts/models")
    assert best_model_name() == table["model"].iloc[0]
    assert not np.isnan(table["loso"].iloc[0])  # the default has LOSO evidence
    measured = table[table["loso"].notna()]
    assert measured["worst_speaker"].notna().all() and (measured["n_folds"] == 9).all()
    assert (table.loc[table["loso"].isna(), "loso_missing"].str.len() > 0).all()


@pytest.fixture(scope="module")
def three_models(tmp_path_factory) -> Path:
    return ship_disagreeing_cards(tmp_path_factory.mktemp("choice"))


@pytest.fixture
def env(three_models, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SER_ARTIFACTS", str(three_models))
    monkeypatch.setenv("SER_ONNX_CACHE", str(tmp_path / "onnx"))
    return three_models


def test_library_and_cli_default_to_the_best_on_new_voices(env, tmp_path, capsys):
    assert Predictor.load().model_name == "new_voice"
    clip = tmp_path / "clip.wav"
    clip.write_bytes(encode(tone(1.0)))
    assert cli.main(["predict", str(clip), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["model"] == "new_voice"
    assert "model: new_voice (61.0% on new voices (LOSO), 80.0% on the seed split)" in err


def test_predictor_page_defaults_to_the_best_on_new_voices(env):
    from streamlit.testing.v1 import AppTest

    from ui import models as ui_models
    from ui import state

    page = str(Path(__file__).resolve().parents[2] / "pages" / "2_predictor.py")
    at = AppTest.from_file(page, default_timeout=90)
    at.session_state[state.KEY_FIRST_ANSWER] = "skipped"  # past the first-use calibration step
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    box = at.selectbox(key=state.KEY_PRED_MODEL)
    assert box.value == "new_voice"
    assert box.options == [ui_models.model_label(n) for n in ("new_voice", "weak", "seed_star")]
    assert box.options[0] == "new_voice · 61.0 % new voices · 80.0 % seed split"
    assert box.options[2] == "seed_star · new voices not measured · 99.0 % seed split"
