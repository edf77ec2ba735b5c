"""The leaderboard page, run on its own with AppTest, on a synthetic MLflow store."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from ser_core import leaderboard as lb
from ser_core import tracking
from ser_core.config import EMOTIONS
from ui import state

from ..tracking_db import RUNS, confusion_for

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "5_leaderboard.py")
CHARTS = [
    "leaderboard.accuracy",
    "leaderboard.f1",
    "leaderboard.confusion",
    "leaderboard.ensemble",
    "leaderboard.compare.f1",
]


@pytest.fixture
def store(tracking_store):
    """``$SER_MLFLOW_DB`` pointed at a private copy of the synthetic store; the run ids."""
    return tracking_store[1]


def run_page(at: AppTest | None = None) -> AppTest:
    at = (at or AppTest.from_file(PAGE, default_timeout=60)).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def charts(at: AppTest) -> dict[str, dict]:
    """``{key: plotly spec}`` of the page's charts."""
    return {el.key: json.loads(el.proto.spec) for el in at.get("plotly_chart")}


def arr(value) -> np.ndarray:
    """A plotly spec array (plain list, or the ``{"dtype", "bdata", "shape"}`` typed form)."""
    if isinstance(value, dict) and "bdata" in value:
        a = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return a.reshape([int(n) for n in str(shape).split(",")]) if shape else a
    return np.asarray(value)


def table(at: AppTest):
    """The ranking table (the page's first dataframe; AppTest does not keep their keys)."""
    return at.dataframe[0].value


def test_page_shows_table_and_charts(store):
    at = run_page()
    assert at.title[0].value == "Leaderboard"
    figs = charts(at)
    assert set(CHARTS) <= set(figs)
    # the ranking: one row per model/representation/protocol, LOSO folds aggregated
    # ordered by the recipe's accuracy on new voices (LOSO; issue #25), then by the seed split
    t = table(at)
    assert len(t) == 4 and t["protocol"].iloc[0] == "loso" and t["new_voices"].iloc[0] == "60.0 %"
    rest = t[t["new_voices"] == "—"]  # never run on LOSO: after, by their seed split
    seed = rest["seed_split"].str.removesuffix(" %").astype(float)
    assert len(rest) == 2 and seed.is_monotonic_decreasing
    loso = t[t["protocol"] == "loso"].iloc[0]
    assert loso["n_folds"] == 3 and loso["accuracy"] == pytest.approx(60.0)  # shown in %
    assert loso["accuracy_pp"] == "± 10.0"  # std in percentage points
    assert t.loc[t["protocol"] == "seed", "accuracy_pp"].eq("").all()
    # the ensemble's weights: its members' (#28: a literal "None")
    assert (
        t.set_index("model").loc["ensemble", "parameters"] == "2 M" and "None" not in t["parameters"].tolist()
    )
    # the run left RUNNING long ago, by no live process: named, but not as training (#28)
    dead = [c.value for c in at.caption if "cnn1d-waveform-seed" in c.value]
    assert dead and all("Training now" not in c for c in dead) and "no sign of life" in dead[0]
    # accuracy by recipe: one protocol at a time, new voices first, one bar per recipe (#28)
    acc = figs["leaderboard.accuracy"]["data"]
    assert acc[0]["orientation"] == "h" and list(acc[0]["y"]) == ["resnet18 · mel"]
    assert arr(acc[0]["error_x"]["array"]) == pytest.approx([10.0])  # the LOSO std
    at.radio(key=state.KEY_LB_ACC_PROTOCOL).set_value("seed")
    run_page(at)
    seed = charts(at)["leaderboard.accuracy"]["data"][0]
    assert list(seed["y"])[-1] == "ensemble · ensemble" and len(seed["y"]) == 3  # best on top
    # per-class F1 heatmap: rows = the four summary rows, columns = the six emotions
    f1 = figs["leaderboard.f1"]["data"][0]
    assert f1["type"] == "heatmap" and f1["x"] == list(EMOTIONS) and len(f1["y"]) == 4
    ens = figs["leaderboard.ensemble"]["data"]
    assert sorted(arr(ens[0]["y"])) == pytest.approx([25.0, 75.0])


def test_selecting_a_run_updates_confusion_and_curves(store):
    at = run_page()
    before = arr(charts(at)["leaderboard.confusion"]["data"][0]["z"])
    hpss = store["resnet18-hpss-seed"]
    at.selectbox(key=state.KEY_LB_RUN).set_value(hpss)
    run_page(at)
    figs = charts(at)
    z = arr(figs["leaderboard.confusion"]["data"][0]["z"])
    assert z.shape == (6, 6) and not np.allclose(z, before)
    cm = confusion_for(2)  # the hpss run is the third of RUNS
    assert z == pytest.approx(100 * cm / cm.sum(axis=1, keepdims=True))
    text = figs["leaderboard.confusion"]["data"][0]["text"]
    assert text[0][0].startswith(f"{cm[0, 0]}<br>")  # counts and row-normalised %
    curves = figs["leaderboard.curves"]["data"]
    assert [d["name"] for d in curves] == ["train loss", "validation loss", "validation accuracy"]
    assert all(len(arr(d["x"])) == 4 for d in curves)  # four epochs logged


def test_dead_running_run_has_curves_but_no_confusion(store):
    at = run_page()
    at.selectbox(key=state.KEY_LB_RUN).set_value(store["cnn1d-waveform-seed"])
    run_page(at)
    figs = charts(at)
    assert "leaderboard.confusion" not in figs and "leaderboard.curves" in figs
    assert any("ended before its test" in i.value for i in at.info)
    assert any("stopped (marked RUNNING, but no sign of life" in c.value for c in at.caption)
    assert not any("Dashed line" in c.value for c in at.caption)  # no epoch was kept


def test_a_run_training_now_is_named_as_training(store):
    """Issue #28: only a run with a live process counts as training."""
    from ..test_leaderboard import _live_run

    _live_run(lb._client(tracking.db_path()))  # started now by this process, which lives
    at = run_page()
    assert any(
        c.value.startswith("Training now") and "cnn1d-waveform-loso-fold0" in c.value for c in at.caption
    )
    dead = next(c.value for c in at.caption if "Ended without a test result" in c.value)
    assert "cnn1d-waveform-seed" in dead and "cnn1d-waveform-loso-fold0" not in dead


def test_default_inspect_and_compare(store):
    """Issue #28: Inspect opened on the ensemble (empty curves, a caption about a line not
    drawn); Compare on two runs of the same name."""
    at = run_page()
    assert at.selectbox(key=state.KEY_LB_RUN).value == store["resnet18-mel-loso-fold1"]
    assert "leaderboard.curves" in charts(at)
    assert any("Dashed line: the epoch whose weights were kept" in c.value for c in at.caption)
    a = at.selectbox(key=state.KEY_LB_COMPARE_A).value
    b = at.selectbox(key=state.KEY_LB_COMPARE_B).value
    assert (a, b) == (store["resnet18-mel-seed"], store["ensemble-seed"])
    # every run picker names runs uniquely
    options = at.selectbox(key=state.KEY_LB_RUN).options
    assert len(set(options)) == len(options) == len(store)


def test_inspecting_an_ensemble_shows_its_members_not_empty_curves(store):
    at = run_page()
    at.selectbox(key=state.KEY_LB_RUN).set_value(store["ensemble-seed"])
    run_page(at)
    figs = charts(at)
    assert "leaderboard.curves" not in figs and "leaderboard.confusion" in figs
    members = next(d.value for d in at.dataframe if "member" in d.value.columns)
    assert members["member"].tolist() == ["mel", "hpss"]
    assert members["weight"].tolist() == pytest.approx([0.75, 0.25])
    assert {m.label: m.value for m in at.metric}["test accuracy"] == "82.0 %"
    assert not any("Dashed line" in c.value for c in at.caption)
    assert any("no training curves" in c.value for c in at.caption)


def test_filters_and_every_run(store):
    at = run_page()
    at.multiselect(key=state.KEY_LB_PROTOCOLS).set_value(["loso"])
    run_page(at)
    assert table(at)["protocol"].tolist() == ["loso"]
    at.toggle(key=state.KEY_LB_EVERY_RUN).set_value(True)
    run_page(at)
    t = table(at)
    assert sorted(t["run_name"]) == sorted(r[0] for r in RUNS if r[3] == "loso")
    assert t["shipped"].eq("—").all() and t["state"].eq("finished").all()  # never a literal None
    assert len(charts(at)["leaderboard.f1"]["data"][0]["y"]) == 4  # the older fold-1 run too
    at.multiselect(key=state.KEY_LB_PROTOCOLS).set_value([])
    at.multiselect(key=state.KEY_LB_INPUTS).set_value(["hpss"])
    at.toggle(key=state.KEY_LB_EVERY_RUN).set_value(False)
    run_page(at)
    assert table(at)["input"].tolist() == ["hpss"]


def test_compare_two_runs(store):
    at = run_page()
    at.selectbox(key=state.KEY_LB_COMPARE_A).set_value(store["resnet18-mel-seed"])
    at.selectbox(key=state.KEY_LB_COMPARE_B).set_value(store["resnet18-hpss-seed"])
    run_page(at)
    df = at.dataframe[-1].value
    names = ["A: resnet18-mel-seed · 80.0 %", "B: resnet18-hpss-seed · 70.0 %"]  # the pickers' labels
    assert list(df.columns) == ["field", *names]
    assert "accuracy" in df["field"].tolist()
    bars = charts(at)["leaderboard.compare.f1"]["data"]
    assert [b["name"] for b in bars] == names
    assert all(len(arr(b["y"])) == len(EMOTIONS) for b in bars)
    assert any("fields that differ" in c.value for c in at.caption)


def test_without_ensemble_a_note(store):
    import mlflow

    db = tracking.db_path()
    mlflow.MlflowClient(f"sqlite:///{db}").delete_run(store["ensemble-seed"])
    at = run_page()
    assert any(i.value == "No ensemble has been trained yet." for i in at.info)
    assert "leaderboard.ensemble" not in charts(at)


def test_empty_database_says_how_to_train(tmp_path, monkeypatch):
    monkeypatch.setenv("SER_MLFLOW_DB", str(tmp_path / "none" / "mlflow.db"))
    at = run_page()
    assert any(lb.HOW_TO_TRAIN in i.value for i in at.info)
    assert not at.get("plotly_chart") and not at.dataframe
    assert not (tmp_path / "none").exists()


def test_unreadable_database_shows_error(tmp_path, monkeypatch):
    bad = tmp_path / "broken.db"
    bad.write_bytes(b"not a database" * 100)
    monkeypatch.setenv("SER_MLFLOW_DB", str(bad))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.error) == 1 and "broken.db" in at.error[0].value


def test_adaptation_curve_and_search_importance(store, tracking_store):
    """Speaker-normalised LOSO runs give the accuracy-against-seconds chart; an ensemble
    run with Optuna importances gives the importance chart."""
    import mlflow

    from tests.test_evaluate import _add_spk_loso_runs

    db = tracking_store[0]
    at = run_page()
    assert "leaderboard.adaptation" not in charts(at)
    assert any("No leave-one-speaker-out run of a speaker-normalised" in i.value for i in at.info)
    _add_spk_loso_runs(db)
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{db.resolve()}")
    ens = store["ensemble-seed"]
    client.log_metric(ens, "importance_l1", 0.7)
    client.log_metric(ens, "importance_lr", 0.3)
    at = run_page()
    figs = charts(at)
    trace = figs["leaderboard.adaptation"]["data"][0]
    assert trace["name"] == "resnet18 · mel-spk" and list(trace["x"]) == ["0", "5", "all"]
    np.testing.assert_allclose(arr(trace["y"]), [55, 60, 65])
    imp = figs["leaderboard.importance"]["data"][0]
    assert list(imp["y"]) == ["l1", "lr"]


def test_loso_ensembles_are_summarised_apart(store):
    """Per-speaker LOSO ensembles get their own mean ± std and table; the weights chart
    keeps showing the seed ensemble."""
    from ser_core.metrics import classification_report

    at = run_page()
    assert not any(m.label == "LOSO ensemble accuracy" for m in at.metric)
    y = np.arange(60) % 6
    for k, wrong in ((0, 10), (1, 20)):
        pred = y.copy()
        pred[:wrong] = (pred[:wrong] + 1) % 6
        lb.log_ensemble(
            {"mel-spk": 3, "hpss-spk": 1}, protocol="loso", fold=k, report=classification_report(y, pred)
        )
    at = run_page()
    metric = next(m for m in at.metric if m.label == "LOSO ensemble accuracy")
    assert metric.value == "75.0 % ± 11.8"  # 50/60 and 40/60
    loso = next(d.value for d in at.dataframe if "mel-spk" in d.value.columns)
    assert list(loso["fold"]) == [0, 1] and loso["mel-spk"].tolist() == pytest.approx([0.75, 0.75])
    names = {t["name"] for t in charts(at)["leaderboard.ensemble"]["data"]}
    assert not any("loso" in n for n in names)


def _conditions_report(model: str, accs: dict[str, float]) -> dict:
    """A hand-made :func:`ser_core.robustness.conditions_report` of two folds."""
    clean = accs["clean"]
    return {
        "model": model,
        "recipe": {"architecture": "logreg", "input": "egemaps-spk", "members": {"egemaps-spk": 1.0}},
        "seed": 0,
        "max_clips": 60,
        "n_folds": 2,
        "order": list(accs),
        "conditions": {
            c: {
                "accuracy": a,
                "accuracy_std": 0.05,
                "drop": clean - a,
                "worst_speaker": "SM0",
                "worst_accuracy": a - 0.05,
                "folds": [
                    {"fold": 0, "speaker": "SM0", "n_clips": 60, "accuracy": a - 0.05},
                    {"fold": 1, "speaker": "SB0", "n_clips": 60, "accuracy": a + 0.05},
                ],
            }
            for c, a in accs.items()
        },
    }


def test_conditions_heatmap_once_models_are_scored_under_conditions(store):
    from ser_core import robustness
    from ui.leaderboard import CONDITIONS_COMMAND

    at = run_page()
    assert "leaderboard.conditions" not in charts(at)
    assert any(CONDITIONS_COMMAND in i.value for i in at.info)
    robustness.log_conditions(_conditions_report("m_a", {"clean": 0.612, "telephone": 0.5}))
    robustness.log_conditions(_conditions_report("m_b", {"clean": 0.7, "reverb_babble_10db": 0.6}))
    at = run_page()
    assert "Real rooms, microphones and codecs" in [h.value for h in at.header]
    hm = charts(at)["leaderboard.conditions"]["data"][0]
    assert list(hm["y"]) == ["m_a", "m_b"]
    assert list(hm["x"]) == ["clean", "telephone", "reverb_babble_10db"]  # the registry's order
    assert hm["text"][0][:2] == ["61.2 %", "50.0 %"] and hm["text"][1][1] == ""
    assert any("at most 60 clips per speaker" in c.value for c in at.caption)


def test_page_in_polish_leaves_no_english(store, tracking_store):
    """Issue #30: every section in Polish (ranking, every run, a network's and an ensemble's
    inspection, ensembles with LOSO folds and search importance, adaptation, recording
    conditions, comparison), with no English sentence left."""
    import mlflow

    from ser_core import robustness
    from ser_core.i18n import language
    from ser_core.metrics import classification_report
    from tests.pages.english import english_left
    from tests.test_evaluate import _add_spk_loso_runs

    from ..test_leaderboard import _live_run

    db = tracking_store[0]
    _add_spk_loso_runs(db)
    _live_run(lb._client(tracking.db_path()))  # a run training now, named in a caption
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{db.resolve()}")
    client.log_metric(store["ensemble-seed"], "importance_l1", 0.7)
    client.log_metric(store["ensemble-seed"], "importance_lr", 0.3)
    y = np.arange(60) % 6
    for k in (0, 1):
        lb.log_ensemble(
            {"mel-spk": 3, "hpss-spk": 1}, protocol="loso", fold=k, report=classification_report(y, y)
        )
    robustness.log_conditions(_conditions_report("m_a", {"clean": 0.612, "telephone": 0.5}))

    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state[state.KEY_LANG] = "pl"
    at.run()  # (run_page(at) would start another AppTest: one not run yet is falsy)
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    assert set(CHARTS) | {"leaderboard.importance"} <= set(charts(at))
    assert {"leaderboard.adaptation", "leaderboard.conditions"} <= set(charts(at))
    assert any(m.label == "Dokładność zespołu w LOSO" for m in at.metric)
    left = english_left(at)
    assert at.title[0].value == "Ranking modeli"
    assert "Porównanie dwóch przebiegów" in [h.value for h in at.header]
    assert any(c.value.startswith("Trwa trening (") for c in at.caption)
    assert any("ale bez oznak życia od" in c.value for c in at.caption)  # the dead run's note
    assert charts(at)["leaderboard.confusion"]["layout"]["xaxis"]["title"]["text"] == "przewidziana emocja"
    # AppTest formats widget values with the page's format_func in this thread: Polish too
    with language("pl"):
        # a network's training curves
        at.selectbox(key=state.KEY_LB_RUN).set_value(store["resnet18-hpss-seed"])
        run_page(at)
        curves = charts(at)["leaderboard.curves"]
        assert [d["name"] for d in curves["data"]] == [
            "strata (trening)",
            "strata (walidacja)",
            "dokładność (walidacja)",
        ]
        assert any(c.value.startswith("Linia przerywana: epoka") for c in at.caption)
        left += english_left(at)
        # an ensemble's inspection, the table of every run, the seed chart
        at.selectbox(key=state.KEY_LB_RUN).set_value(store["ensemble-seed"])
        at.toggle(key=state.KEY_LB_EVERY_RUN).set_value(True)
        run_page(at)
        assert any("nie ma krzywych uczenia" in c.value for c in at.caption)
        assert "zakończony" in table(at)["state"].tolist()
        left += english_left(at)
        at.toggle(key=state.KEY_LB_EVERY_RUN).set_value(False)
        at.radio(key=state.KEY_LB_ACC_PROTOCOL).set_value("seed")
        run_page(at)
        assert charts(at)["leaderboard.accuracy"]["layout"]["xaxis"]["title"]["text"].startswith(
            "dokładność (test): podział losowy (seed"
        )
        left += english_left(at)
    assert left == []
