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
    assert set(df["metric"]) == set(lb.CURVE_KEYS) - {"speaker_accuracy", "C"}  # not adversarial, a network
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


# ------------------------------------------------------------------ issue #28: runs told apart
def _running(runs: pd.DataFrame) -> pd.Series:
    return runs.set_index("run_name").loc["cnn1d-waveform-seed"]


def test_a_running_run_is_seen_when_it_last_logged(runs):
    from .tracking_db import T0

    row = _running(runs)
    assert row["host"] is None and row["pid"] is None  # logged without the liveness tags
    # its third and last epoch's metrics (run number 7 of RUNS)
    assert row["last_seen"] == pd.Timestamp(T0 + 60_000 * 7 + 3_000, unit="ms", tz="UTC")
    finished = runs.set_index("run_name").loc["resnet18-mel-seed"]
    assert finished["last_seen"] == pd.Timestamp(T0 + 60_000 + 55_000, unit="ms", tz="UTC")  # its end


def test_a_running_run_without_a_live_process_is_not_training(store):
    """Issue #28: a run MLflow left RUNNING whose process died is never shown as training."""
    import os
    import socket
    import subprocess
    import sys

    from ser_core import run_state

    _, ids = store
    rid = ids["cnn1d-waveform-seed"]
    runs = lb.load_runs()
    seen = _running(runs)["last_seen"]
    # no tags, nothing logged for over an hour: stopped
    out = run_state.with_states(runs, now=seen + pd.Timedelta(hours=2)).set_index("run_id")
    assert out.loc[rid, "state"] == "stopped" and "no sign of life since" in out.loc[rid, "state_note"]
    assert out.loc[ids["resnet18-mel-seed"], "state"] == "finished"
    # no tags but a metric minutes ago: probably training
    out = run_state.with_states(runs, now=seen + pd.Timedelta(minutes=5)).set_index("run_id")
    assert out.loc[rid, "state"] == "training" and "probably" in out.loc[rid, "state_note"]
    # tagged with a process of this host that has ended: stopped at once, however recent
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    client = lb._client(tracking.db_path())
    client.set_tag(rid, tracking.HOST_TAG, socket.gethostname())
    client.set_tag(rid, tracking.PID_TAG, str(dead.pid))
    runs = lb.load_runs()
    out = run_state.with_states(runs, now=seen).set_index("run_id")
    assert out.loc[rid, "state"] == "stopped" and f"process {dead.pid}" in out.loc[rid, "state_note"]
    # this process's id on a run started before this process was born: the id was reused, stopped
    client.set_tag(rid, tracking.PID_TAG, str(os.getpid()))
    out = run_state.with_states(lb.load_runs(), now=seen).set_index("run_id")
    assert out.loc[rid, "state"] == "stopped"
    # a run this live process started: training, however old its last metric
    live = _live_run(client)
    out = run_state.with_states(lb.load_runs(), now=seen + pd.Timedelta(days=300)).set_index("run_id")
    assert out.loc[live, "state"] == "training" and f"process {os.getpid()}" in out.loc[live, "state_note"]


def _live_run(client) -> str:
    """A RUNNING run started now by this process (tagged as :func:`ser_core.train.train` does)."""
    import time

    exp = client.get_experiment_by_name(tracking.EXPERIMENT).experiment_id
    run = client.create_run(
        exp,
        start_time=int(time.time() * 1000),
        run_name="cnn1d-waveform-loso-fold0",
        tags=tracking.liveness_tags(),
    )
    for k, v in {"model": "cnn1d", "input": "waveform", "protocol": "loso", "fold": "0"}.items():
        client.log_param(run.info.run_id, k, v)
    return run.info.run_id


def test_process_alive_on_this_host_only():
    import os
    import socket
    import time

    here = socket.gethostname()
    assert tracking.process_alive(here, os.getpid()) is True
    assert tracking.process_alive(here, os.getpid(), started=time.time()) is True
    # a process born after the run started is another one reusing the id
    assert tracking.process_alive(here, os.getpid(), started=time.time() - 10 * 86400) is False
    assert tracking.process_alive(here, 2**22 + 12345) is False  # above Linux's pid_max
    assert tracking.process_alive("another-machine", os.getpid()) is None
    assert tracking.process_alive(None, None) is None
    assert set(tracking.liveness_tags()) == {tracking.HOST_TAG, tracking.PID_TAG}


def test_killed_and_failed_runs_are_named_so():
    from ser_core import run_state

    now = pd.Timestamp("2026-12-05", tz="UTC")
    for status, state in (("KILLED", "killed"), ("FAILED", "failed"), ("FINISHED", "finished")):
        row = pd.Series({"status": status, "start_time": now, "last_seen": now})
        assert run_state.run_state(row, now=now)[0] == state


def test_run_labels_are_unique_where_names_repeat(runs):
    from ser_core import run_choice

    twice = runs.copy()
    twice.loc[twice["run_name"] == "resnet18-hpss-seed", "run_name"] = "resnet18-mel-seed"
    labels = run_choice.run_labels(twice)
    assert len(set(labels.values())) == len(twice)
    by_name = dict(zip(twice["run_id"], twice["run_name"]))
    once = [labels[r] for r, n in by_name.items() if n == "ensemble-seed"]
    assert once == ["ensemble-seed · 82.0 %"]  # a name used once keeps the short label
    mel = sorted(labels[r] for r, n in by_name.items() if n == "resnet18-mel-seed")
    assert [m.split(" · ")[:2] for m in mel] == [
        ["resnet18-mel-seed", "70.0 %"],
        ["resnet18-mel-seed", "80.0 %"],
    ]
    assert all(len(m.split(" · ")) == 3 for m in mel)  # with the start time
    same = twice.assign(start_time=twice["start_time"].iloc[0])  # same minute too: the id
    assert len(set(run_choice.run_labels(same).values())) == len(same)


def test_default_runs_are_worth_opening(runs):
    """Inspect opens on a run with training curves, best on new voices; Compare starts
    with two runs of different recipes and names."""
    from ser_core import run_choice

    by_id = runs.set_index("run_id")
    rid = run_choice.default_inspect(runs)
    # resnet18 · mel is best on new voices (its LOSO mean, 60 %); the fold nearest that mean
    assert by_id.loc[rid, "run_name"] == "resnet18-mel-loso-fold1"
    assert not lb.curves(rid).empty
    a, b = run_choice.default_compare(runs)
    assert by_id.loc[a, "run_name"] == "resnet18-mel-seed"  # that recipe on the seed split
    assert by_id.loc[b, "run_name"] == "ensemble-seed"  # the best seed-split run of another recipe
    only_ensembles = runs[runs["model"] == "ensemble"]
    assert run_choice.default_inspect(only_ensembles) == only_ensembles["run_id"].iloc[0]
    assert run_choice.history_kind("ensemble") is None and run_choice.history_kind("logreg") == "grid"
    assert run_choice.history_kind("resnet18") == "epochs"


def test_an_ensemble_counts_its_members_parameters(runs):
    row = runs.set_index("run_name").loc["ensemble-seed"]
    # members mel and hpss: the seed-split resnet18 runs on them (tracking_db: 1_000_000 + 1000 k)
    assert row["parameters"] == 1_001_000 + 1_002_000


def test_compare_names_runs_by_their_labels(store, runs):
    _, ids = store
    df = lb.compare(runs, ids["resnet18-mel-seed"], ids["resnet18-mel-seed"], labels=("x · 1", "x · 2"))
    assert list(df.columns) == ["field", "A: x · 1", "B: x · 2", "differs"]


def test_run_names_say_what_the_run_trained_on():
    """Issue #28: a refit on training + validation clips was named like the held-out run."""
    from ser_core.runs import TrainConfig, predictions_name

    assert TrainConfig(representation="mel").run_name() == "resnet18-mel-seed"
    refit = TrainConfig(representation="mel", train_on_val=True, seed=2, calibration_from="x.npz")
    assert refit.run_name() == "resnet18-mel+val-seed-s2"
    assert predictions_name(refit) == "resnet18-mel-seed-s2-trainval"  # the files keep their names
    assert (
        TrainConfig(representation="hpss", protocol="loso", fold=3).run_name() == "resnet18-hpss-loso-fold3"
    )


def test_the_shipped_store_holds_no_dead_run_and_names_refits_as_such():
    """Issue #28: the shipped MLflow store had RUNNING and KILLED runs of dead processes, and
    refits named like the held-out runs."""
    import sqlite3

    from ser_core.config import artifacts_dir

    db = artifacts_dir() / "mlflow.db"
    if not db.exists():
        pytest.skip("no shipped tracking database")
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        statuses = {s for (s,) in con.execute("SELECT DISTINCT status FROM runs")}
        refits = con.execute(
            "SELECT r.name FROM runs r JOIN params p ON p.run_uuid = r.run_uuid "
            "WHERE p.key = 'train_on_val' AND p.value = 'True'"
        ).fetchall()
    assert statuses == {"FINISHED"}
    assert refits and all("+val-" in name for (name,) in refits)


def test_a_training_run_is_tagged_with_its_host_and_process(tmp_path, monkeypatch):
    """What the liveness check reads: ser_core.train tags its run when it starts."""
    import os
    import socket

    from ser_core import data, run_state, train
    from tests.conftest import make_corpus

    meta = data.load_metadata(make_corpus(tmp_path / "c", per_emotion=5, seconds=0.8))
    data.save_splits(meta, directory=tmp_path / "splits")
    for var, sub in (
        ("SER_CACHE_DIR", "cache"),
        ("SER_MLFLOW_DB", "mlflow.db"),
        ("SER_MLFLOW_ARTIFACTS", "art"),
    ):
        monkeypatch.setenv(var, str(tmp_path / sub))
    tc = train.TrainConfig(model="small_cnn", representation="mel", epochs=1, width=8, batch_size=8, seed=1)
    train.train(tc, meta, splits_dir=tmp_path / "splits", progress=False)
    row = lb.load_runs().iloc[0]
    assert (row["host"], row["pid"]) == (socket.gethostname(), str(os.getpid()))
    assert row["run_name"] == "small_cnn-mel-seed-s1"
    assert run_state.with_states(lb.load_runs())["state"].tolist() == ["finished"]
