"""ser_core.robustness: LOSO fold models re-scored under recording conditions, end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ser_core import conditions, robustness
from ser_core import leaderboard as lb
from ser_core.errors import ConfigError, UnknownNameError

ENV = {
    "SER_ARTIFACTS": "",
    "SER_CACHE_DIR": "cache",
    "SER_MLFLOW_DB": "mlflow.db",
    "SER_MLFLOW_ARTIFACTS": "mlart",
}


def _card() -> dict:
    """The card of a speaker-normalised width-8 mel ResNet (corpus statistics as its fallback)."""
    return {
        "architecture": {"name": "resnet18", "kwargs": {"width": 8}},
        "input": {"kind": "features", "name": "mel"},
        "normalization": {
            "kind": "speaker",
            "mean": np.zeros((1, 128, 1)).tolist(),
            "std": np.ones((1, 128, 1)).tolist(),
        },
        "metrics": {"seed": {"accuracy": 0.5}},
    }


def _log_fold_runs(root) -> None:
    """Three finished LOSO fold runs of the recipe, each with its (untrained) weights logged
    as the ``model`` artifact, as :func:`ser_core.train.train` logs them; ``m_spk`` shipped."""
    import tempfile

    import mlflow
    import torch
    from mlflow.entities import Metric, Param

    from ser_core import models, tracking

    client = mlflow.MlflowClient(tracking_uri=tracking.tracking_uri())
    exp = tracking.experiment_id()
    for k in range(3):
        torch.manual_seed(k)
        net = models.create("resnet18", width=8)
        run = client.create_run(exp, run_name=f"resnet18-mel-spk-loso-fold{k}")
        params = {"model": "resnet18", "input": "mel-spk", "protocol": "loso", "fold": k, "seed": 0}
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("test_accuracy", 0.5, 0, 0), Metric("test_macro_f1", 0.4, 0, 0)],
            params=[Param(p, str(v)) for p, v in params.items()],
        )
        with tempfile.TemporaryDirectory() as tmp:
            models.save(net, _card(), "model", directory=Path(tmp))
            client.log_artifacts(run.info.run_id, tmp, artifact_path="model")
        client.set_terminated(run.info.run_id, "FINISHED")
    models.save(net, _card(), "m_spk", directory=root / "models")


@pytest.fixture(scope="module")
def loso_store(tmp_path_factory):
    """A 3-speaker synthetic corpus and the 3 LOSO fold runs of a speaker-normalised mel
    recipe in MLflow, with their weights, shipped as ``m_spk``: ``(root, corpus folder,
    metadata)``, with the environment pointed at them."""
    from ser_core import data
    from tests.conftest import make_corpus

    root = tmp_path_factory.mktemp("robustness")
    corpus = make_corpus(root / "c", per_emotion=2, seconds=1.0)
    meta = data.load_metadata(corpus)
    data.save_splits(meta, directory=root / "splits")
    with pytest.MonkeyPatch.context() as mp:
        for var, sub in ENV.items():
            mp.setenv(var, str(root / sub))
        _log_fold_runs(root)
        yield root, corpus, meta


def test_stratified_sample_keeps_each_emotion_share_and_is_fixed_by_the_seed():
    labels = np.repeat(np.arange(6), [40, 20, 20, 10, 5, 5])
    pick = robustness.stratified_sample(labels, max_clips=20, seed=3)
    assert len(pick) == 20 and len(set(pick)) == 20 and np.all(np.diff(pick) > 0)
    assert np.bincount(labels[pick], minlength=6).tolist() == [8, 4, 4, 2, 1, 1]
    assert np.array_equal(pick, robustness.stratified_sample(labels, max_clips=20, seed=3))
    assert not np.array_equal(pick, robustness.stratified_sample(labels, max_clips=20, seed=4))
    assert np.array_equal(robustness.stratified_sample(labels, max_clips=None), np.arange(100))


def test_resolve_conditions_puts_clean_first_and_knows_all():
    assert robustness.resolve_conditions(["telephone", "clean", "telephone"]) == ["clean", "telephone"]
    assert robustness.resolve_conditions(["all"]) == conditions.condition_names()
    with pytest.raises(UnknownNameError, match="unknown condition 'studio'"):
        robustness.resolve_conditions(["telephone", "studio"])


def test_evaluate_conditions_runs_end_to_end_on_a_tiny_model(loso_store, monkeypatch, capsys):
    from ser_core import cli, data, evaluate, features, inputs, models

    root, corpus, meta = loso_store
    labels = meta["label"].to_numpy()
    for var, sub in ENV.items():
        monkeypatch.setenv(var, str(root / sub))
    args = ["evaluate", "--nemo-dir", str(corpus), "--protocol", "loso", "--model", "m_spk"]
    argv = [*args, "--conditions", "telephone", "babble_10db", "--max-clips", "6", "--seed", "1"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    for name in ("clean", "telephone", "babble_10db"):
        assert f"  {name} " in out
    assert "3 folds, at most 6 clips per held-out speaker, seed 1" in out and "worst speaker" in out
    logged = lb.condition_runs()
    assert logged["condition"].tolist() == ["clean", "telephone", "babble_10db"]
    assert set(logged["model"]) == {"m_spk"} and set(logged["input"]) == {"mel-spk"}
    assert logged["seed"].tolist() == [1.0] * 3 and logged["max_clips"].tolist() == [6.0] * 3
    logged = logged.set_index("condition")
    assert logged.loc["clean", "drop"] == 0 and logged.loc["clean", "worst_speaker"] in {"AA0", "BB0", "CC0"}

    # the report: deterministic for a seed, clean as the runs scored their speakers
    report = robustness.conditions_report("m_spk", meta, conditions=["telephone"], seed=1, max_clips=6)
    assert report["order"] == ["clean", "telephone"] and report["n_folds"] == 3
    tel, clean = report["conditions"]["telephone"], report["conditions"]["clean"]
    assert [f["speaker"] for f in tel["folds"]] == ["AA0", "BB0", "CC0"]
    assert [f["n_clips"] for f in tel["folds"]] == [6, 6, 6]
    assert tel["accuracy"] == pytest.approx(logged.loc["telephone", "accuracy"])
    assert tel["drop"] == pytest.approx(logged.loc["telephone", "drop"])
    assert tel["drop"] == pytest.approx(clean["accuracy"] - tel["accuracy"])
    for k, fold in enumerate(clean["folds"]):  # as scored from the cached features of the clips
        test = data.split_indices(meta, "loso", fold=k).test
        rows = test[robustness.stratified_sample(labels[test], max_clips=6, seed=1)]
        x = np.asarray(inputs.model_inputs(meta, "features", "mel")[rows], np.float32)
        net = evaluate._fold_model(lb.load_runs().set_index("fold").loc[k])[0].module
        z = models.predict_logits(net, features.normalization_stats(x).apply(x))
        assert fold["accuracy"] == pytest.approx((z.argmax(1) == labels[rows]).mean(), abs=1 / 6 + 1e-9)


def test_evaluate_conditions_says_what_is_wrong_in_one_line(loso_store, monkeypatch, capsys):
    from ser_core import cli
    from tests.test_evaluate import _ship_card

    root, corpus, _ = loso_store
    for var, sub in ENV.items():
        monkeypatch.setenv(var, str(root / sub))
    args = ["evaluate", "--nemo-dir", str(corpus), "--protocol", "loso", "--no-mlflow"]
    assert cli.main([*args, "--model", "m_spk", "--conditions", "studio"]) == 2
    err = capsys.readouterr().err
    assert "unknown condition 'studio'" in err and len(err.strip().splitlines()) == 1
    _ship_card(root / "models", "corpus")  # m_corpus: a resnet18 on mel, no LOSO run of it
    assert cli.main([*args, "--model", "m_corpus", "--conditions", "telephone"]) == 2
    err = capsys.readouterr().err
    assert "no finished LOSO run" in err and "'m_corpus'" in err
    assert cli.main(["evaluate", "--nemo-dir", str(corpus), "--conditions", "telephone"]) == 2
    assert "use it with --protocol loso" in capsys.readouterr().err


def test_conditions_report_on_the_validation_speakers_chooses_without_the_test_ones(
    loso_store, monkeypatch, capsys
):
    from ser_core import cli, data

    root, corpus, meta = loso_store
    for var, sub in ENV.items():
        monkeypatch.setenv(var, str(root / sub))
    report = robustness.conditions_report("m_spk", meta, conditions=["telephone"], seed=1, part="val")
    speakers = meta["speaker"].astype(str).to_numpy()
    for fold in report["conditions"]["telephone"]["folds"]:
        split = data.split_indices(meta, "loso", fold=fold["fold"])
        assert fold["speaker"] == ",".join(sorted(set(speakers[split.val])))
        assert fold["n_clips"] == len(split.val) and fold["speaker"] not in set(speakers[split.test])
    assert report["part"] == "val"
    with pytest.raises(ConfigError, match="only held-out speakers are logged"):
        robustness.log_conditions(report)
    with pytest.raises(ConfigError, match="part must be one of"):
        robustness.conditions_report("m_spk", meta, conditions=["telephone"], part="train")
    argv = ["evaluate", "--nemo-dir", str(corpus), "--protocol", "loso", "--model", "m_spk"]
    logged = len(lb.condition_runs())
    assert cli.main([*argv, "--conditions", "telephone", "--max-clips", "6", "--part", "val"]) == 0
    assert "at most 6 clips per validation speaker" in capsys.readouterr().out
    assert len(lb.condition_runs()) == logged  # printed, never logged


def test_conditions_report_takes_a_recipe_that_was_never_shipped(loso_store, monkeypatch):
    from ser_core import evaluate

    root, _, meta = loso_store
    for var, sub in ENV.items():
        monkeypatch.setenv(var, str(root / sub))
    shipped = robustness.conditions_report("m_spk", meta, conditions=["telephone"], seed=1, max_clips=6)
    recipe = robustness.conditions_report(
        "resnet18/mel-spk", meta, conditions=["telephone"], seed=1, max_clips=6
    )
    assert recipe["model"] == "resnet18/mel-spk" and recipe["conditions"] == shipped["conditions"]
    assert recipe["recipe"] == {"architecture": "resnet18", "input": "mel-spk", "members": {"mel-spk": 1.0}}
    with pytest.raises(UnknownNameError, match="unknown model 'resnet99'"):
        robustness.conditions_report("resnet99/mel-spk", meta, conditions=["telephone"])
    with pytest.raises(ConfigError, match="a recipe is 'architecture/input'"):
        evaluate.parse_recipe("resnet18/")
