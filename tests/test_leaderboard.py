"""ser_core.leaderboard on a synthetic MLflow SQLite store (see tests/tracking_db.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ser_core import leaderboard as lb
from ser_core import tracking
from ser_core.config import EMOTIONS
from ser_core.errors import SERError, TrackingError

from .tracking_db import ENSEMBLE_WEIGHTS, RUNS, confusion_for, copy_db


@pytest.fixture
def store(tracking_store):
    """``(db path, {run name: run id})`` of a private synthetic store."""
    return tracking_store


@pytest.fixture
def runs(store):
    return lb.load_runs()


def test_load_runs_columns_and_values(store, runs):
    db, ids = store
    assert len(runs) == len(RUNS)
    assert list(runs.columns[: len(lb.RUN_COLUMNS)]) == lb.RUN_COLUMNS
    assert [c for c in runs.columns if c.startswith("weight_")] == ["weight_hpss", "weight_mel"]
    assert set(runs["run_id"]) == set(ids.values())
    assert runs["start_time"].is_monotonic_decreasing  # newest first
    row = runs.set_index("run_name").loc["resnet18-mel-seed"]
    assert (row["model"], row["input"], row["protocol"], row["fold"]) == ("resnet18", "mel", "seed", 0)
    assert row["accuracy"] == pytest.approx(0.80) and row["status"] == "FINISHED"
    assert row["precision"] == pytest.approx(0.79) and row["recall"] == pytest.approx(0.81)
    assert row["parameters"] == 1_001_000 and row["params"]["width"] == "32"
    assert all(0.3 <= row[f"f1_{e}"] <= 0.95 for e in EMOTIONS)
    assert isinstance(row["start_time"], pd.Timestamp) and str(row["start_time"].tz) == "UTC"
    running = runs.set_index("run_name").loc["cnn1d-waveform-seed"]
    assert running["status"] == "RUNNING" and np.isnan(running["accuracy"])
    assert running["confusion"] is None
    # an explicit path reads the same store
    assert lb.load_runs(db)["run_id"].tolist() == runs["run_id"].tolist()


def test_load_runs_without_database(tmp_path, monkeypatch):
    monkeypatch.setenv("SER_MLFLOW_DB", str(tmp_path / "none.db"))
    df = lb.load_runs()
    assert df.empty and list(df.columns) == lb.RUN_COLUMNS
    assert not (tmp_path / "none.db").exists()  # reading never creates a database
    assert lb.summarize(df).empty
    assert lb.ensemble_weights(df) is None
    assert lb.ranked_run_ids(df) == []


def test_load_runs_without_experiment(tracking_template, tmp_path):
    import mlflow

    db = copy_db(tracking_template[0], tmp_path / "other.db")
    client = mlflow.MlflowClient(f"sqlite:///{db}")
    client.rename_experiment(
        client.get_experiment_by_name(tracking.EXPERIMENT).experiment_id, "something-else"
    )
    assert lb.load_runs(db).empty


def test_unreadable_database_raises_tracking_error(tmp_path):
    bad = tmp_path / "broken.db"
    bad.write_bytes(b"this is not an sqlite database" * 40)
    with pytest.raises(TrackingError, match="broken.db") as info:
        lb.load_runs(bad)
    assert isinstance(info.value, SERError)
    with pytest.raises(TrackingError, match="broken.db"):
        lb.curves("0" * 32, db=bad)
    with pytest.raises(TrackingError, match="missing.db"):
        lb.curves("0" * 32, db=tmp_path / "missing.db")


def test_summarize_aggregates_loso_folds(runs):
    s = lb.summarize(runs)
    # one row per (model, input, protocol); the running run has no test metrics yet
    assert len(s) == 4
    assert not s.duplicated(["model", "input", "protocol"]).any()
    assert s["accuracy"].is_monotonic_decreasing
    assert s["label"].iloc[0] == "ensemble · ensemble · seed"
    loso = s.set_index(["model", "input", "protocol"]).loc[("resnet18", "mel", "loso")]
    # folds 0, 1, 2 at 0.5, 0.6, 0.7: the older fold-1 run (0.2) is superseded
    assert loso["n_folds"] == 3
    assert loso["accuracy"] == pytest.approx(0.60)
    assert loso["accuracy_std"] == pytest.approx(0.10)  # sample std over folds
    assert loso["precision"] == pytest.approx(0.59) and loso["recall"] == pytest.approx(0.61)
    assert loso["train_seconds"] == pytest.approx((400 + 500 + 600) / 3)
    by_name = runs.set_index("run_name")
    folds = [by_name.loc[f"resnet18-mel-loso-fold{k}", "run_id"] for k in range(3)]
    assert loso["run_ids"] == tuple(folds)
    f1 = by_name.loc[[f"resnet18-mel-loso-fold{k}" for k in range(3)], "f1_anger"]
    assert loso["f1_anger"] == pytest.approx(f1.mean())
    assert loso["f1_anger_std"] == pytest.approx(f1.std(ddof=1))
    seed = s.set_index(["model", "input", "protocol"]).loc[("resnet18", "mel", "seed")]
    assert seed["n_folds"] == 1 and seed["accuracy"] == pytest.approx(0.8)
    assert np.isnan(seed["accuracy_std"])


def test_summarize_prefers_the_shipped_run(store, tmp_path):
    _, ids = store
    cards = tmp_path / "cards"
    cards.mkdir()
    # a card ties the older fold-1 run (0.20) to a shipped model: it wins over the newer one
    (cards / "m.json").write_text(
        json.dumps({"training": {"mlflow_run_id": ids["resnet18-mel-loso-fold1-old"]}})
    )
    (cards / "e.json").write_text(json.dumps({"ensemble": {"mlflow_run_id": ids["ensemble-seed"]}}))
    (cards / "broken.json").write_text("{not json")
    assert lb.shipped_runs(cards) == {ids["resnet18-mel-loso-fold1-old"]: "m", ids["ensemble-seed"]: "e"}
    runs = lb.load_runs(models_dir=cards)
    assert runs.set_index("run_name").loc["resnet18-mel-loso-fold1-old", "shipped"] == "m"
    assert runs.set_index("run_name").loc["resnet18-mel-seed", "shipped"] is None
    loso = lb.summarize(runs).set_index(["model", "input", "protocol"]).loc[("resnet18", "mel", "loso")]
    assert loso["accuracy"] == pytest.approx((0.5 + 0.2 + 0.7) / 3)
    assert lb.shipped_runs(tmp_path / "nowhere") == {}


def test_a_refit_on_train_and_val_is_its_own_row(store):
    import mlflow

    with mlflow.start_run(experiment_id=tracking.experiment_id(), run_name="resnet18-mel-seed"):
        mlflow.log_params(
            {"model": "resnet18", "input": "mel", "protocol": "seed", "fold": 0, "train_on_val": True}
        )
        mlflow.log_metrics({"test_accuracy": 0.99, "test_macro_f1": 0.99})
    table = lb.summarize(lb.load_runs()).set_index(["model", "input", "protocol"])
    assert table.loc[("resnet18", "mel+val", "seed"), "accuracy"] == pytest.approx(0.99)
    assert table.loc[("resnet18", "mel", "seed"), "accuracy"] < 0.99  # the held-out row stays


def test_filter_and_rank(runs):
    s = lb.summarize(runs)
    assert set(lb.filter_runs(s, inputs=["mel"])["protocol"]) == {"seed", "loso"}
    assert len(lb.filter_runs(s, models=["resnet18"], protocols=["seed"])) == 2
    assert len(lb.filter_runs(s)) == len(s)
    assert lb.filter_runs(s, models=["nope"]).empty
    ranked = lb.ranked_run_ids(runs)
    by_id = runs.set_index("run_id")
    assert by_id.loc[ranked[0], "run_name"] == "ensemble-seed"
    assert by_id.loc[ranked[-1], "run_name"] == "cnn1d-waveform-seed"  # no metrics: last
    assert lb.run_label(runs, ranked[0]) == "ensemble-seed · 82.0 %"
    assert lb.run_label(runs, ranked[-1]) == "cnn1d-waveform-seed · RUNNING"


def test_confusion(store, runs):
    _, ids = store
    cm = lb.confusion(runs, ids["resnet18-hpss-seed"])
    assert cm.shape == (6, 6) and cm.dtype == np.int64
    assert (cm == confusion_for(2)).all()
    assert lb.confusion(runs, ids["cnn1d-waveform-seed"]) is None
    with pytest.raises(TrackingError, match="No run"):
        lb.confusion(runs, "f" * 32)
    bad = runs.copy()
    bad.loc[0, "confusion"] = json.dumps([[1, 2], [3, 4]])
    with pytest.raises(TrackingError, match="shape"):
        lb.confusion(bad, bad.loc[0, "run_id"])


def test_curves(store):
    _, ids = store
    df = lb.curves(ids["resnet18-mel-seed"])
    assert list(df.columns) == ["epoch", "metric", "value"]
    assert len(df) == 4 * 5  # four curves, five epochs
    assert set(df["metric"]) == set(lb.CURVE_KEYS) - {"speaker_accuracy"}  # not adversarial
    acc = df[df["metric"] == "val_accuracy"]
    assert acc["epoch"].tolist() == [1, 2, 3, 4, 5]
    assert acc["value"].is_monotonic_increasing
    assert len(lb.curves(ids["cnn1d-waveform-seed"])) == 4 * 3  # running runs have curves too
    assert lb.curves(ids["ensemble-seed"]).empty


def test_ensemble_weights(store, runs):
    _, ids = store
    w = lb.ensemble_weights(runs)
    assert list(w.columns) == ["run_id", "run_name", "protocol", "fold", "representation", "weight"]
    assert w["run_id"].eq(ids["ensemble-seed"]).all()
    assert dict(zip(w["representation"], w["weight"])) == pytest.approx({"mel": 0.75, "hpss": 0.25})
    assert w["weight"].sum() == pytest.approx(1.0)
    assert lb.ensemble_weights(runs[runs["model"] != "ensemble"]) is None
    assert json.loads(runs.set_index("run_id").loc[ids["ensemble-seed"], "members"]) == list(ENSEMBLE_WEIGHTS)


def test_an_ensemble_searched_twice_shows_one_run_whose_weights_sum_to_one(store):
    from ser_core.figures import ensemble_figure
    from ser_core.metrics import classification_report

    y = np.arange(60) % 6
    report = classification_report(y, y)
    first = lb.log_ensemble({"mel": 1, "mfcc": 1}, protocol="seed", fold=0, report=report, temperature=1.0)
    newest = lb.log_ensemble({"mel": 3, "mfcc": 1}, protocol="seed", fold=0, report=report, temperature=1.0)
    w = lb.ensemble_weights(lb.load_runs())
    assert first not in set(w["run_id"]) and newest in set(w["run_id"])
    assert w.groupby("run_name")["run_id"].nunique().eq(1).all()
    assert w.groupby("run_name")["weight"].sum().to_numpy() == pytest.approx(1.0)
    for trace in ensemble_figure(w).data:  # one bar group per ensemble, 100 % each
        assert sum(trace.y) == pytest.approx(100.0)


def test_log_ensemble_round_trip(store):
    from ser_core.metrics import classification_report

    y = np.arange(60) % 6
    report = classification_report(y, np.where(y == 5, 0, y))
    rid = lb.log_ensemble(
        {"mel": 2, "mfcc": 1, "hpss": 1}, protocol="loso", fold=4, report=report, temperature=1.2
    )
    runs = lb.load_runs()
    row = runs.set_index("run_id").loc[rid]
    assert (row["model"], row["input"], row["protocol"], row["fold"]) == ("ensemble", "ensemble", "loso", 4)
    assert row["run_name"] == "ensemble-loso-fold4" and row["status"] == "FINISHED"
    assert row["accuracy"] == pytest.approx(50 / 60) and row["temperature"] == pytest.approx(1.2)
    w = lb.ensemble_weights(runs, protocol="loso")
    mine = w[w["run_id"] == rid].set_index("representation")["weight"]
    assert mine.to_dict() == pytest.approx({"mel": 0.5, "mfcc": 0.25, "hpss": 0.25})
    assert rid not in set(lb.ensemble_weights(runs)["run_id"])  # the chart shows seed ensembles
    assert rid in set(lb.ensemble_weights(runs, protocol=None)["run_id"])
    assert lb.confusion(runs, rid).sum() == 60
    table = lb.loso_ensemble(runs)
    assert list(table["fold"]) == [4] and table["accuracy"].iloc[0] == pytest.approx(50 / 60)
    assert table[["mel", "mfcc", "hpss"]].iloc[0].tolist() == pytest.approx([0.5, 0.25, 0.25])
    assert lb.loso_ensemble(runs[runs["protocol"] == "seed"]) is None
    with pytest.raises(TrackingError, match="non-negative"):
        lb.log_ensemble({"mel": -1.0, "hpss": 2.0})


def test_compare(store, runs):
    _, ids = store
    a, b = ids["resnet18-mel-seed"], ids["resnet18-hpss-seed"]
    df = lb.compare(runs, a, b)
    assert list(df.columns) == ["field", "A: resnet18-mel-seed", "B: resnet18-hpss-seed", "differs"]
    t = df.set_index("field")
    assert t.loc["accuracy", "A: resnet18-mel-seed"] == "80.00 %"
    assert t.loc["accuracy", "differs"] and t.loc["input", "differs"]
    assert not t.loc["model", "differs"] and not t.loc["param width", "differs"]
    assert t.loc["param lr", "differs"]  # 0.003 vs 0.001
    assert "param representation" in t.index and "param model" not in t.index
    assert not lb.compare(runs, a, a)["differs"].any()
    # a running run against a finished one: missing metrics shown as a dash
    c = lb.compare(runs, a, ids["cnn1d-waveform-seed"]).set_index("field")
    assert c.loc["accuracy"].iloc[1] == "—"


def test_by_new_voices_puts_both_numbers_side_by_side_best_on_new_voices_first():
    s = pd.DataFrame(
        {
            "model": ["resnet18", "resnet18", "resnet18", "logreg", "logreg"],
            "input": ["mel+val", "mel", "hpss", "egemaps-spk", "egemaps-spk"],
            "protocol": ["seed", "loso", "seed", "seed", "loso"],
            "accuracy": [0.97, 0.30, 0.95, 0.75, 0.60],
        }
    )
    out = lb.by_new_voices(s)
    assert list(zip(out["input"], out["protocol"])) == [
        ("egemaps-spk", "loso"),  # 60 % on new voices beats 30 %, whatever the seed split says
        ("egemaps-spk", "seed"),
        ("mel", "loso"),
        ("mel+val", "seed"),  # trained on the validation part too: the same recipe as mel
        ("hpss", "seed"),  # never run on LOSO: last
    ]
    assert out["new_voices"].tolist()[:4] == [0.60, 0.60, 0.30, 0.30] and np.isnan(out["new_voices"].iloc[4])
    assert out["seed_split"].tolist() == [0.75, 0.75, 0.97, 0.97, 0.95]
    assert lb.by_new_voices(s.iloc[:0]).empty
