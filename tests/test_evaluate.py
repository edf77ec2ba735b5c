"""ser_core.evaluate: LOSO reports from MLflow, and calibrated prediction on the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ser_core import data, evaluate, inputs
from ser_core import leaderboard as lb
from ser_core.errors import DatasetError


def _add_spk_loso_runs(db, accs=(0.55, 0.65, 0.75), **extra_params):
    """Three finished LOSO folds of the speaker-normalised mel recipe, with adaptation curves."""
    import mlflow
    from mlflow.entities import Metric, Param, RunTag

    from ser_core import tracking

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{db.resolve()}")
    exp = client.get_experiment_by_name(tracking.EXPERIMENT).experiment_id
    for k, acc in enumerate(accs):
        run = client.create_run(
            exp, start_time=1_800_000_000_000 + k, run_name=f"resnet18-mel-spk-loso-fold{k}"
        )
        m = {
            "test_accuracy": acc,
            "test_macro_f1": acc - 0.02,
            "test_macro_precision": acc,
            "test_macro_recall": acc,
            **{
                f"test_f1_{e}": acc for e in ("anger", "fear", "happiness", "neutral", "sadness", "surprised")
            },
            "adapt_accuracy_0": acc - 0.1,
            "adapt_accuracy_5": acc - 0.05,
            "adapt_accuracy_all": acc,
        }
        cm = np.eye(6, dtype=int) * 10
        cm[2, 5] = k + 1
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(n, v, 1, 0) for n, v in m.items()],
            params=[
                Param(p, str(v))
                for p, v in {
                    "model": "resnet18",
                    "input": "mel-spk",
                    "protocol": "loso",
                    "fold": k,
                    **extra_params,
                }.items()
            ],
            tags=[RunTag("test_confusion", json.dumps(cm.tolist()))],
        )
        client.set_terminated(run.info.run_id, "FINISHED")


def _ship_card(root, norm: str):
    from ser_core import models

    card = {
        "architecture": {"name": "resnet18", "kwargs": {"width": 8}},
        "input": {"kind": "features", "name": "mel"},
        "normalization": {
            "kind": norm,
            "mean": np.zeros((1, 128, 1)).tolist(),
            "std": np.ones((1, 128, 1)).tolist(),
        },
        "metrics": {"seed": {"accuracy": 0.5}},
    }
    models.save(models.create("resnet18", width=8), card, f"m_{norm}", directory=root)


def test_loso_report_gathers_the_recipe_folds(tracking_store, tmp_path, monkeypatch):
    db, _ = tracking_store
    _add_spk_loso_runs(db)
    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path / "a"))
    _ship_card(tmp_path / "a" / "models", "speaker")
    report = evaluate.loso_report("m_speaker")
    assert report["n_folds"] == 3 and report["recipe"] == {"architecture": "resnet18", "input": "mel-spk"}
    assert report["accuracy"] == pytest.approx(0.65) and report["accuracy_std"] == pytest.approx(0.1)
    assert report["most_confused"][0] == {"true": "happiness", "predicted": "surprised", "count": 6}
    curve = {c["seconds"]: c["accuracy"] for c in report["adaptation"]}
    assert curve == pytest.approx({"0": 0.55, "5": 0.60, "all": 0.65})
    table = lb.adaptation(lb.load_runs())
    assert list(table["label"]) == ["0", "5", "all"] and np.isinf(table["seconds"].iloc[-1])
    from ser_core import cli, models

    # the store has 3 of nEMO's 9 folds: a card's figure is over every speaker, so it is not written
    monkeypatch.setattr(data, "n_folds", lambda protocol: 9)
    assert cli.main(["evaluate", "--protocol", "loso", "--model", "m_speaker", "--update-card"]) == 2
    card = models.load("m_speaker").card
    assert "loso" not in card["metrics"] and "only 3 of the 9" in card["metrics"]["loso_missing"]
    monkeypatch.setattr(data, "n_folds", lambda protocol: 3)  # a three-speaker corpus
    assert cli.main(["evaluate", "--protocol", "loso", "--model", "m_speaker", "--update-card"]) == 0
    card = models.load("m_speaker").card
    assert "loso_missing" not in card["metrics"]
    assert card["metrics"]["loso"]["accuracy"] == pytest.approx(0.65)
    assert card["metrics"]["loso"]["n_folds"] == 3 and card["metrics"]["seed"]["accuracy"] == 0.5
    worst = min(report["folds"], key=lambda f: f["accuracy"])  # the card names its hardest voice
    assert card["metrics"]["loso"]["worst_accuracy"] == pytest.approx(worst["accuracy"])
    assert card["metrics"]["loso"]["worst_speaker"] == report["worst_speaker"]


def test_update_card_without_loso_runs_says_why_in_the_card(tracking_store, tmp_path, monkeypatch, capsys):
    from ser_core import cli, models
    from ser_core.inference import model_scores

    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path / "a"))
    _ship_card(tmp_path / "a" / "models", "speaker")  # the store has no speaker-normalised LOSO runs
    assert cli.main(["evaluate", "--protocol", "loso", "--model", "m_speaker", "--update-card"]) == 2
    assert "no finished LOSO runs" in capsys.readouterr().err
    sc = model_scores(models.read_card("m_speaker"))
    assert not sc.has_loso and sc.loso_missing.startswith("not measured: no finished LOSO runs")


def test_loso_report_states_a_recipe_trained_on_the_validation_speaker(tracking_store, tmp_path, monkeypatch):
    db, _ = tracking_store
    _add_spk_loso_runs(db, width=16, epochs=24, train_on_val=True)
    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path / "a"))
    _ship_card(tmp_path / "a" / "models", "speaker")
    assert evaluate.loso_report("m_speaker")["recipe"] == {
        "architecture": "resnet18",
        "input": "mel-spk",
        "width": 16,
        "epochs": 24,
        "train_on_val": True,
    }


def test_loso_report_without_runs_says_how_to_train(tracking_store, tmp_path, monkeypatch):
    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path / "a"))
    _ship_card(tmp_path / "a" / "models", "speaker")
    # the synthetic store has corpus-normalised mel LOSO runs, but none of the speaker recipe
    with pytest.raises(DatasetError, match="--norm speaker --protocol loso"):
        evaluate.loso_report("m_speaker")
    _ship_card(tmp_path / "a" / "models", "corpus")
    assert evaluate.loso_report("m_corpus")["n_folds"] == 3  # resnet18 · mel · loso in the store


def test_cli_predict_with_calibration(tmp_path, monkeypatch, capsys):
    from ser_core import cli, data, models, train
    from tests.conftest import encode, make_corpus, tone
    from tests.test_adapt import _speech

    meta = data.load_metadata(make_corpus(tmp_path / "c", per_emotion=5, seconds=0.8))
    data.save_splits(meta, directory=tmp_path / "splits")
    monkeypatch.setenv("SER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path / "a"))
    res = train.train(
        train.TrainConfig(epochs=1, width=8, batch_size=8, norm="speaker"),
        meta,
        splits_dir=tmp_path / "splits",
        log_mlflow=False,
        progress=False,
    )
    models.save(res.model, train.model_card(res), "spk")
    _ship_card(tmp_path / "a" / "models", "corpus")
    clip = tmp_path / "clip.wav"
    clip.write_bytes(encode(tone(3.0)))
    voice = tmp_path / "voice"
    voice.mkdir()
    (voice / "a.wav").write_bytes(encode(_speech(8.0)))
    (voice / "b.flac").write_bytes(encode(_speech(6.0, seed=1), ext="flac"))
    assert cli.main(["predict", str(clip), "--calibrate", str(voice), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["label"] and "Adapted to the voice 'voice'" in err
    assert "From 20 s of speech" in err  # 14 s: the input statistics only
    (voice / "c.wav").write_bytes(encode(_speech(10.0, seed=2)))  # 24 s: AdaBN too
    assert cli.main(["predict", str(clip), "--calibrate", str(voice), "--json"]) == 0
    out, err = capsys.readouterr()
    assert "(AdaBN)" in err and "From 20 s" not in err
    adabn = json.loads(out)["probabilities"]
    assert cli.main(["predict", str(clip), "--calibrate", str(voice), "--no-adabn", "--json"]) == 0
    out, err = capsys.readouterr()
    assert "AdaBN" not in err and json.loads(out)["probabilities"] != adabn
    # a corpus-normalised model cannot adapt; silence cannot calibrate: messages, not tracebacks
    assert cli.main(["predict", str(clip), "--model", "m_corpus", "--calibrate", str(voice)]) == 2
    assert "cannot adapt" in capsys.readouterr().err
    quiet = tmp_path / "quiet.wav"
    quiet.write_bytes(encode(np.zeros(16000 * 12, np.float32)))
    assert cli.main(["predict", str(clip), "--calibrate", str(quiet)]) == 2
    assert "silent" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert cli.main(["predict", str(clip), "--calibrate", str(tmp_path / "empty")]) == 2
    assert "no audio files (wav, flac" in capsys.readouterr().err


def test_loso_report_of_an_ensemble_takes_its_members_runs(tracking_store, tmp_path, monkeypatch):
    from ser_core import models
    from ser_core.metrics import classification_report

    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path / "a"))
    card = {
        "architecture": {"name": "weighted_ensemble", "kwargs": {"n_members": 2}},
        "input": {
            "kind": "members",
            "name": "ensemble",
            "members": ["a", "b"],
            "representations": ["mel-spk", "mfcc-spk"],
        },
        "metrics": {"seed": {"accuracy": 0.5}},
    }
    models.save(
        models.create("weighted_ensemble", n_members=2), card, "ens", directory=tmp_path / "a" / "models"
    )
    with pytest.raises(DatasetError, match="ensemble --protocol loso -r mel-spk -r mfcc-spk"):
        evaluate.loso_report("ens")
    y = np.arange(60) % 6
    for k in (0, 1):
        lb.log_ensemble(
            {"mel-spk": 1, "mfcc-spk": 1},
            protocol="loso",
            fold=k,
            report=classification_report(y, np.where(y < 3 + k, y, 0)),
        )
        lb.log_ensemble(
            {"mel": 1, "hpss": 1},
            protocol="loso",
            fold=k,  # another ensemble
            report=classification_report(y, y),
        )
    report = evaluate.loso_report("ens")
    assert report["n_folds"] == 2 and report["recipe"]["members"] == ["mel-spk", "mfcc-spk"]
    assert [f["accuracy"] for f in report["folds"]] == pytest.approx([0.5, 40 / 60])
    # a searched fold that kept one member is still a fold of the recipe it chose among
    lb.log_ensemble(
        {"mfcc-spk": 1},
        candidates=["mfcc-spk", "mel-spk"],
        protocol="loso",
        fold=2,
        report=classification_report(y, y),
    )
    report = evaluate.loso_report("ens")
    assert report["n_folds"] == 3 and report["folds"][2]["members"] == ["mfcc-spk"]
    assert report["recipe"]["members"] == ["mel-spk", "mfcc-spk"]


def test_adabn_scores_the_recipe_folds_from_their_logged_weights(tmp_path, monkeypatch, capsys):
    from ser_core import cli, data, models, train
    from tests.conftest import make_corpus

    corpus = make_corpus(tmp_path / "c", per_emotion=4, seconds=1.0)
    meta = data.load_metadata(corpus)
    data.save_splits(meta, directory=tmp_path / "splits")
    for var, sub in (
        ("SER_ARTIFACTS", ""),
        ("SER_CACHE_DIR", "cache"),
        ("SER_MLFLOW_DB", "mlflow.db"),
        ("SER_MLFLOW_ARTIFACTS", "mlart"),
    ):
        monkeypatch.setenv(var, str(tmp_path / sub))
    for k in range(3):  # the three speakers' folds of the recipe, weights logged to MLflow
        res = train.train(
            train.TrainConfig(protocol="loso", fold=k, epochs=1, width=8, batch_size=8, norm="speaker"),
            meta,
            splits_dir=tmp_path / "splits",
            progress=False,
        )
    models.save(res.model, train.model_card(res), "m_spk", directory=tmp_path / "models")
    report = evaluate.adabn_report("m_spk", meta)
    assert report["n_folds"] == 3 and [f["fold"] for f in report["folds"]] == [0, 1, 2]
    assert all(0 <= f["accuracy"] <= 1 and 0 <= f["without"] <= 1 for f in report["folds"])
    # without AdaBN it is the protocol of the runs' adaptation curve at "all"
    logged = lb.load_runs().set_index("fold")
    for b in ("5", "10", "30", "all"):
        assert [f["by_seconds"][b]["without"] for f in report["folds"]] == pytest.approx(
            [logged.loc[k, f"adapt_accuracy_{b}"] for k in range(3)], abs=1e-6
        )
    assert [c["seconds"] for c in report["by_seconds"]] == ["5", "10", "30", "all"]
    assert report["by_seconds"][-1]["accuracy"] == report["accuracy"]
    assert (
        cli.main(
            [
                "evaluate",
                "--nemo-dir",
                str(corpus),
                "--protocol",
                "loso",
                "--model",
                "m_spk",
                "--adabn",
                "--update-card",
            ]
        )
        == 0
    )
    assert "with AdaBN" in capsys.readouterr().out
    assert models.load("m_spk").card["metrics"]["loso"]["adabn"]["n_folds"] == 3
    assert cli.main(["evaluate", "--nemo-dir", str(corpus), "--model", "m_spk", "--adabn"]) == 2
    # an ensemble: its members' fold runs, combined with the shipped weights
    for k in range(3):
        res = train.train(
            train.TrainConfig(
                representation="mfcc",
                protocol="loso",
                fold=k,
                epochs=1,
                width=8,
                batch_size=8,
                norm="speaker",
            ),
            meta,
            splits_dir=tmp_path / "splits",
            progress=False,
        )
    models.save(res.model, train.model_card(res), "m_mfcc_spk", directory=tmp_path / "models")
    card = {
        "architecture": {"name": "weighted_ensemble", "kwargs": {"n_members": 2}},
        "input": {
            "kind": "members",
            "members": ["m_spk", "m_mfcc_spk"],
            "representations": ["mel-spk", "mfcc-spk"],
        },
        "ensemble": {"weights": {"mel-spk": 1.0, "mfcc-spk": 0.0}},
    }
    models.save(models.create("weighted_ensemble", n_members=2), card, "ens", directory=tmp_path / "models")
    ens = evaluate.adabn_report("ens", meta)
    assert ens["members"] == {"mel-spk": 1.0, "mfcc-spk": 0.0}
    assert [f["accuracy"] for f in ens["folds"]] == [f["accuracy"] for f in report["folds"]]  # mel alone
    # test-time voice warps: without them, the runs' own test accuracy
    vw = evaluate.voice_warp_report("m_spk", meta, warps=(0.9, 1.0, 1.1))
    assert vw["warps"] == [0.9, 1.0, 1.1] and [f["fold"] for f in vw["folds"]] == [0, 1, 2]
    n_test = [
        len(data.split_indices(meta, "loso", fold=k, directory=tmp_path / "splits").test) for k in range(3)
    ]
    for f, n in zip(vw["folds"], n_test):  # fp16 weights may flip a clip
        assert f["without"] == pytest.approx(logged.loc[f["fold"], "accuracy"], abs=1.01 / n)
    # calibrating from 10 or 30 s: without warps, the halves and statistics of the adaptation curve
    assert [c["seconds"] for c in vw["by_seconds"]] == ["10", "30"]
    for b in ("10", "30"):
        assert [f["by_seconds"][b]["without"] for f in vw["folds"]] == [
            f["by_seconds"][b]["without"] for f in report["folds"]
        ]
    same = evaluate.voice_warp_report("m_spk", meta, warps=(1.0,), budgets=(30,))
    assert same["accuracy"] == pytest.approx(same["without"])
    assert same["by_seconds"][0]["accuracy"] == pytest.approx(same["by_seconds"][0]["without"])
    # with AdaBN too: without warps, the AdaBN report's calibration halves
    bn = evaluate.voice_warp_report("m_spk", meta, warps=(1.0,), budgets=(10, 30), batchnorm=True)
    assert bn["batchnorm"] and bn["accuracy"] == pytest.approx(bn["without"])
    for b in ("10", "30"):
        assert [f["by_seconds"][b]["without"] for f in bn["folds"]] == [
            f["by_seconds"][b]["accuracy"] for f in report["folds"]
        ]
    ens_vw = evaluate.voice_warp_report("ens", meta, warps=(0.9, 1.1))  # MFCC: warped through the log-mel
    assert [f["accuracy"] for f in ens_vw["folds"]] == [
        f["accuracy"] for f in evaluate.voice_warp_report("m_spk", meta, warps=(0.9, 1.1))["folds"]
    ]
    assert (
        cli.main(
            [
                "evaluate",
                "--nemo-dir",
                str(corpus),
                "--protocol",
                "loso",
                "--model",
                "m_spk",
                "--voice-warps",
                "--update-card",
            ]
        )
        == 0
    )
    assert "averaged over 9 voice warps" in capsys.readouterr().out
    loso = models.load("m_spk").card["metrics"]["loso"]
    assert loso["voice_warps"]["n_folds"] == 3 and loso["adabn"]["n_folds"] == 3  # the AdaBN result is kept
    assert (
        cli.main(
            [
                "evaluate",
                "--nemo-dir",
                str(corpus),
                "--protocol",
                "loso",
                "--model",
                "m_spk",
                "--voice-warps",
                "--adabn",
                "--infomax",
                "--seconds",
                "20",
                "--update-card",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "voice warps and AdaBN together" in out and "AdaBN and information maximisation:" in out
    both = models.load("m_spk").card["metrics"]["loso"]["voice_warps_adabn"]
    assert both["batchnorm"] and both["n_folds"] == 3 and "members" not in both["folds"][0]
    assert [c["seconds"] for c in both["by_seconds"]] == ["20"]
    tuned = models.load("m_spk").card["metrics"]["loso"]["voice_warps_adabn_infomax"]
    assert tuned["infomax"] and not both["infomax"] and tuned["n_folds"] == 3
    assert [c["seconds"] for c in tuned["by_seconds"]] == ["20"]
    assert cli.main(["evaluate", "--nemo-dir", str(corpus), "--model", "m_spk", "--voice-warps"]) == 2
    assert (
        cli.main(
            [
                "evaluate",
                "--nemo-dir",
                str(corpus),
                "--protocol",
                "loso",
                "--model",
                "m_spk",
                "--voice-warps",
                "--infomax",
            ]
        )
        == 2
    )  # information maximisation needs --adabn
    assert "use the three together" in capsys.readouterr().err
    import shutil

    shutil.rmtree(tmp_path / "mlart")  # the weights stayed on another machine
    with pytest.raises(DatasetError, match="not in the artifact store"):
        evaluate.adabn_report("m_spk", meta)


def test_adabn_is_refused_for_a_model_without_speaker_normalisation(tracking_store, tmp_path, monkeypatch):
    from ser_core.errors import ConfigError

    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path / "a"))
    _ship_card(tmp_path / "a" / "models", "corpus")
    with pytest.raises(ConfigError, match="speaker-normalised models; 'm_corpus' has mel"):
        evaluate.adabn_report("m_corpus", None)
    with pytest.raises(ConfigError, match="voice warping is scored for speaker-normalised models"):
        evaluate.voice_warp_report("m_corpus", None)


def test_a_corpus_normalised_model_is_scored_on_its_test_clips_alone(tmp_path, monkeypatch):
    from ser_core import cache, data
    from ser_core.inference import Predictor
    from tests.conftest import make_corpus

    meta = data.load_metadata(make_corpus(tmp_path / "c", per_emotion=4, seconds=1.0))
    data.save_splits(meta, directory=tmp_path / "splits")
    split = data.split_indices(meta, "seed", directory=tmp_path / "splits")
    monkeypatch.setenv("SER_CACHE_DIR", str(tmp_path / "cache"))
    _ship_card(tmp_path / "m", "corpus")
    pred = Predictor.load("m_corpus", directory=tmp_path / "m")
    alone = inputs.model_features(pred, meta, split)  # no cache: the test clips only (kept as a part)
    assert alone.shape == (len(split.test), 1, 128, 188)
    assert not cache.is_cached("mel", list(meta["file_id"]))
    np.testing.assert_array_equal(alone, inputs.model_features(pred, meta, split))  # read back
    cache.build(meta, ["mel"], progress=False)
    np.testing.assert_array_equal(alone, inputs.model_features(pred, meta, split))
    # the training part (over half of the corpus) builds and reads the cache as before
    assert inputs.model_features(pred, meta, split, part="train").shape[0] == len(split.train)


def test_a_speaker_normalised_model_stores_its_training_speakers(tmp_path, monkeypatch):
    """Training keeps each training speaker's statistics; shipped beside the weights, they
    let the test part be scored from its own clips, exactly as from the whole cache."""
    import copy
    import dataclasses
    import shutil

    from ser_core import cache, data, models, train
    from ser_core.inference import Predictor
    from tests.conftest import make_corpus

    meta = data.load_metadata(make_corpus(tmp_path / "c", per_emotion=4, seconds=1.0))
    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path / "a"))
    monkeypatch.setenv("SER_CACHE_DIR", str(tmp_path / "cache"))
    data.save_splits(meta)
    res = train.train(
        train.TrainConfig(epochs=1, width=8, batch_size=8, norm="speaker"),
        meta,
        log_mlflow=False,
        progress=False,
    )
    assert sorted(res.speakers.stats) == ["AA0", "BB0", "CC0"]
    models.save(res.model, train.model_card(res), "m_spk", speakers=res.speakers)
    pred = Predictor.load("m_spk")
    for s, st in res.speakers.stats.items():  # stored as float32: exact
        np.testing.assert_array_equal(pred.loaded.speakers.stats[s].mean, st.mean)
        np.testing.assert_array_equal(pred.loaded.speakers.stats[s].std, st.std)

    split = data.split_indices(meta, "seed")
    shutil.rmtree(tmp_path / "cache")
    stored = inputs.model_features(pred, meta, split)  # the test clips alone
    assert stored.shape == (len(split.test), 1, 128, 188)
    assert not cache.is_cached("mel", list(meta["file_id"]))
    plain = copy.copy(pred)
    plain.loaded = dataclasses.replace(pred.loaded, speakers=None)
    recomputed = inputs.model_features(plain, meta, split)  # the whole training part, cached
    np.testing.assert_allclose(stored, recomputed, atol=1e-6)
    spk, ids = meta["speaker"].to_numpy(), meta["file_id"].to_numpy()
    assert pred.loaded.speakers.covers(spk[split.test], ids[split.train])
    assert not pred.loaded.speakers.covers(spk[split.test], ids[split.train[1:]])  # another part
    assert not pred.loaded.speakers.covers(["ZZ0"], ids[split.train])  # an unknown speaker

    # re-shipping without them drops the stale file; `models --store-speakers` recomputes them
    models.save(res.model, train.model_card(res), "m_spk")
    assert models.load("m_spk").speakers is None
    from ser_core import cli

    assert cli.main(["models", "--store-speakers", "--nemo-dir", str(tmp_path / "c")]) == 0
    again = models.load("m_spk").speakers
    assert again.clips == res.speakers.clips and sorted(again.stats) == sorted(res.speakers.stats)
    for s, st in res.speakers.stats.items():
        np.testing.assert_allclose(again.stats[s].std, st.std, rtol=1e-6)


def test_an_ensembles_card_says_when_its_folds_searched_their_own_weights():
    from ser_core.cli.evaluation import _search_note

    searched = {
        "recipe": {"members": ["hpss", "mel", "mfcc"]},
        "folds": [{"members": ["mfcc"]}, {"members": ["hpss", "mel", "mfcc"]}],
    }
    note = _search_note(searched)
    assert note.startswith("; its folds ran") and "among hpss, mel, mfcc" in note and "2.0 members" in note
    every_fold_all = {"recipe": {"members": ["a", "b"]}, "folds": [{"members": ["b", "a"]}] * 3}
    assert _search_note(every_fold_all) == "" and _search_note({"recipe": {}, "folds": [{}]}) == ""
