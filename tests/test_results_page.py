"""docs/results.md is generated from the model cards and MLflow, and kept current."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ser_core import cli, results_page
from tests.conftest import ROOT


def test_the_committed_results_page_is_current():
    committed = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    assert committed == results_page.results_page(), (
        f"docs/results.md is out of date: run `{results_page.COMMAND}` and commit it"
    )


def _card(
    *, arch: str, representation: str, seed: float, loso: dict | None = None, speaker: bool = False
) -> dict:
    metrics = {"seed": {"accuracy": seed, "macro_f1": seed - 0.01}}
    if loso is not None:
        metrics["loso"] = loso
    return {
        "architecture": {"name": arch},
        "input": {"kind": "features", "name": representation},
        "normalization": {"kind": "speaker" if speaker else "corpus"},
        "metrics": metrics,
        "reproduce": f"python -m ser_core train --representation {representation}",
    }


@pytest.fixture
def two_cards(tmp_path):
    d = tmp_path / "models"
    d.mkdir()
    loso = {
        "accuracy": 0.55,
        "accuracy_std": 0.1,
        "n_folds": 3,
        "folds": [
            {"fold": 0, "speaker": "AA0", "accuracy": 0.6},
            {"fold": 1, "speaker": "BB0", "accuracy": 0.4},
            {"fold": 2, "speaker": "CC0", "accuracy": 0.65},
        ],
        "recipe": {"architecture": "resnet18", "input": "mel-spk"},
        "adabn": {"accuracy": 0.58, "accuracy_std": 0.09},
    }
    cards = {
        "net_spk": _card(arch="resnet18", representation="mel", seed=0.85, loso=loso, speaker=True),
        "net_plain": _card(arch="resnet18", representation="mel", seed=0.9512),
    }
    for name, card in cards.items():
        (d / f"{name}.json").write_text(json.dumps(card))
        (d / f"{name}.safetensors").write_bytes(b"")  # shipped() needs both files
    return d


def test_the_generator_on_two_cards(two_cards, tmp_path):
    text = results_page.results_page(models_dir=two_cards, db=tmp_path / "no-mlflow.db")
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    # LOSO first (the model with a LOSO figure leads), the seed split beside it
    assert rows[0] == (
        "| `net_spk` | resnet18 on mel (speaker-normalised) | 55.0 ± 10.0 % (3 speakers) | BB0: 40.0 % | 85.00 % |"
    )
    assert rows[1] == "| `net_plain` | resnet18 on mel | no LOSO figure in its card | — | 95.12 % |"
    assert "| `net_spk` | 55.0 ± 10.0 % | 58.0 ± 9.0 % | — | — | — |" in rows  # adapted: AdaBN only
    assert "- **A voice the model never heard (yours, in the app):** `net_spk`" in text
    assert "- **Clips of the nine nEMO actors:** `net_plain`" in text
    assert "No finished training runs in the MLflow store." in text
    assert text == results_page.results_page(models_dir=two_cards, db=tmp_path / "no-mlflow.db")


def test_the_leaderboard_keeps_the_best_seed_run_and_names_the_shipped_one():
    runs = pd.DataFrame(
        {
            "run_id": ["a", "b", "c", "d"],
            "model": ["resnet18"] * 4,
            "input": ["mel", "mel", "mel-spk", "mel-spk"],
            "protocol": ["seed", "seed", "loso", "loso"],
            "fold": [0.0, 0.0, 0.0, 1.0],
            "accuracy": [0.9, 0.92, 0.5, 0.3],
            "macro_f1": [0.89, 0.91, 0.45, 0.25],
            "start_time": pd.to_datetime([1, 2, 3, 4], unit="s", utc=True),
            "parameters": [1.0] * 4,
            "shipped": [None] * 4,
        }
    )
    for col in results_page.leaderboard.METRICS:
        if col not in runs:
            runs[col] = float("nan")
    text = results_page.render({}, runs, shipped_runs={"a": "mel_model"})
    assert "| resnet18 · mel-spk | LOSO, 2 speakers | 40.0 ± 14.1 % | 35.0 ± 14.1 % | — |" in text
    assert "| resnet18 · mel | seed (best of 2 runs) | 92.00 % | 91.00 % | `mel_model` 90.00 % |" in text


def test_the_command_checks_and_writes(two_cards, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SER_ARTIFACTS", str(two_cards.parent))  # the cards are <artifacts>/models
    monkeypatch.setenv("SER_MLFLOW_DB", str(tmp_path / "no-mlflow.db"))
    page = tmp_path / "results.md"
    assert cli.main(["results-page", "--output", str(page), "--check"]) == 1
    assert "run `python -m ser_core results-page`" in capsys.readouterr().err
    assert cli.main(["results-page", "--output", str(page)]) == 0
    assert "`net_spk`" in page.read_text()
    assert cli.main(["results-page", "--output", str(page), "--check"]) == 0
