"""ser_core.train: a tiny end-to-end run logs a complete MLflow run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ser_core import data, features, models, tracking, train
from ser_core.errors import ConfigError
from ser_core.runs import borrowed_calibration, predictions_name, save_predictions


@pytest.fixture
def tiny_env(tmp_path, monkeypatch):
    from tests.conftest import make_corpus

    meta = data.load_metadata(make_corpus(tmp_path / "c", per_emotion=5, seconds=0.8))
    splits = tmp_path / "splits"
    data.save_splits(meta, directory=splits)
    monkeypatch.setenv("SER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SER_MLFLOW_DB", str(tmp_path / "mlflow.db"))
    monkeypatch.setenv("SER_MLFLOW_ARTIFACTS", str(tmp_path / "mlart"))
    return meta, splits


@pytest.mark.parametrize(
    "model, representation",
    [("resnet18", "mel"), ("small_cnn", "hpss"), ("wave_cnn", "mel"), ("zcr_rms_lstm", "mel")],
)
def test_one_epoch_logs_a_complete_run(tiny_env, model, representation, tmp_path):
    meta, splits = tiny_env
    tc = train.TrainConfig(model=model, representation=representation, epochs=2, width=8, batch_size=8)
    res = train.train(tc, meta, splits_dir=splits, progress=False)
    assert 0 <= res.report["accuracy"] <= 1 and res.epochs_run == 2
    runs = tracking.runs()
    assert len(runs) == 1
    row = runs.iloc[0]
    for key in (
        "metrics.test_accuracy",
        "metrics.test_macro_f1",
        "metrics.test_macro_precision",
        "metrics.test_macro_recall",
        "metrics.test_f1_anger",
        "metrics.train_seconds",
        "metrics.ece_before",
        "metrics.ece_after",
        "metrics.val_accuracy",
        "params.model",
        "params.representation",
        "params.protocol",
    ):
        assert key in runs.columns and row[key] is not None, key
    assert len(json.loads(row["tags.test_confusion"])) == 6
    import mlflow

    client = mlflow.MlflowClient()
    hist = client.get_metric_history(row["run_id"], "val_accuracy")
    assert len(hist) == 2  # per-epoch curve
    arts = {a.path for a in client.list_artifacts(row["run_id"], "model")}
    assert arts == {"model/model.safetensors", "model/model.json"}  # the weights as an artifact
    card = train.model_card(res, command="python -m ser_core train ...")
    models.save(res.model, card, "m", directory=tmp_path / "models")
    loaded = models.load("m", directory=tmp_path / "models")
    assert loaded.card["classes"][0] == "anger" and loaded.card["metrics"]["seed"]["accuracy"] >= 0
    saved = np.load(save_predictions(res, directory=tmp_path / "pred"))
    assert saved["val_logits"].shape == (len(saved["val_index"]), 6)
    assert saved["test_logits"].shape == (len(saved["test_index"]), 6)
    np.testing.assert_array_equal(saved["test_labels"], meta["label"].to_numpy()[saved["test_index"]])


def test_trainval_predictions_keep_apart():
    # in-sample validation logits must never replace the held-out ones an ensemble search reads
    assert predictions_name(train.TrainConfig(representation="mel")) == "resnet18-mel-seed"
    assert (
        predictions_name(train.TrainConfig(representation="mel", train_on_val=True))
        == "resnet18-mel-seed-trainval"
    )
    assert (
        predictions_name(
            train.TrainConfig(
                representation="mfcc", norm="speaker", protocol="loso", fold=3, train_on_val=True
            )
        )
        == "resnet18-mfcc-spk-loso-fold3-trainval"
    )
    # nor another seed of a recipe the seed-0 run's (a seed bag's refits sit side by side)
    assert predictions_name(train.TrainConfig(representation="mel", seed=1)) == "resnet18-mel-seed-s1"
    assert (
        predictions_name(train.TrainConfig(representation="mel", seed=2, train_on_val=True))
        == "resnet18-mel-seed-s2-trainval"
    )


def test_refit_on_train_and_val_borrows_the_held_out_calibration(tiny_env, tmp_path, monkeypatch, capsys):
    meta, splits = tiny_env
    held = train.train(
        train.TrainConfig(epochs=1, width=8, batch_size=8),
        meta,
        splits_dir=splits,
        log_mlflow=False,
        progress=False,
    )
    card = train.model_card(held)
    card["calibration"]["temperature"], card["decision"]["unsure_below"] = 1.7, 0.42
    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path))  # the splits are tmp_path/splits
    models.save(held.model, card, "held")
    assert borrowed_calibration("held") == (1.7, 0.42)
    tc = train.TrainConfig(epochs=1, width=8, batch_size=8, train_on_val=True, calibration_from="held")
    res = train.train(tc, meta, splits_dir=splits, log_mlflow=False, progress=False)
    assert res.temperature == 1.7 and res.unsure_below == 0.42
    assert res.predictions["temperature"] == np.float32(1.7)
    refit_card = train.model_card(res)
    assert refit_card["calibration"]["temperature"] == 1.7
    assert refit_card["calibration"]["fit_on"].startswith("borrowed from held")
    assert train.model_card(held)["calibration"]["fit_on"] == "validation"
    npz = str(save_predictions(held, directory=tmp_path / "pred"))
    t, unsure = borrowed_calibration(npz)
    assert t == pytest.approx(held.temperature) and unsure == pytest.approx(held.unsure_below)
    from ser_core.errors import DatasetError

    with pytest.raises(DatasetError, match="missing.npz"):
        borrowed_calibration(str(tmp_path / "missing.npz"))
    with pytest.raises(ConfigError, match="train_on_val"):
        train.TrainConfig(calibration_from="held")
    from ser_core.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="nope"):  # before any training
        train.train(
            train.TrainConfig(epochs=1, train_on_val=True, calibration_from="nope"),
            meta,
            splits_dir=splits,
            log_mlflow=False,
            progress=False,
        )
    from ser_core.cli import main

    args = [
        "train",
        "--nemo-dir",
        str(tmp_path / "c"),
        "--epochs",
        "1",
        "--width",
        "8",
        "--batch-size",
        "8",
        "--train-on-val",
        "--no-mlflow",
    ]
    assert main([*args, "--calibration-from", "held", "--ship", "refit"]) == 0
    assert "without --calibration-from" not in capsys.readouterr().err
    shipped = models.load("refit").card
    assert shipped["calibration"]["temperature"] == 1.7 and "--calibration-from held" in shipped["reproduce"]
    saved = np.load(tmp_path / "predictions" / "resnet18-mel-seed-trainval.npz")
    assert float(saved["temperature"]) == pytest.approx(1.7)
    assert not (tmp_path / "predictions" / "resnet18-mel-seed.npz").exists()  # held-out slot untouched
    assert main([*args, "--no-predictions"]) == 0
    assert "without --calibration-from" in capsys.readouterr().err  # an in-sample temperature, said so


def test_bad_config_is_refused():
    from ser_core.errors import SERError

    with pytest.raises(SERError):
        train.TrainConfig(protocol="kfold")
    with pytest.raises(SERError):
        train.TrainConfig(representation="nope")


def test_zcr_rms_frames_shape():
    f = features.zcr_rms_frames(np.zeros(16_000, np.float32))
    assert f.shape == (2, 301) and np.isfinite(f).all()


def test_a_crashed_run_is_marked_failed(tiny_env):
    meta, splits = tiny_env

    def boom(row):
        raise RuntimeError("disk full")

    tc = train.TrainConfig(epochs=2, width=8, batch_size=8)
    with pytest.raises(RuntimeError, match="disk full"):
        train.train(tc, meta, splits_dir=splits, progress=False, on_epoch=boom)
    assert tracking.runs().iloc[0]["status"] == "FAILED"


def test_train_cli_ships_where_asked(tiny_env, tmp_path, monkeypatch, capsys):
    from ser_core.cli import main

    meta, splits = tiny_env
    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path))  # splits/ is already there
    corpus = str(tmp_path / "c")
    assert (
        main(
            [
                "train",
                "--nemo-dir",
                corpus,
                "--epochs",
                "1",
                "--width",
                "8",
                "--batch-size",
                "8",
                "--norm",
                "speaker",
                "--ship",
                "held",
                "--ship-dir",
                str(tmp_path / "heldout"),
                "--no-mlflow",
                "--no-predictions",
            ]
        )
        == 0
    )
    assert (tmp_path / "heldout" / "held.safetensors").exists()
    assert not (tmp_path / "models").exists()  # not among the app's models
    card = models.load("held", directory=tmp_path / "heldout").card
    assert "--ship-dir" in card["reproduce"] and card["normalization"]["kind"] == "speaker"


def test_train_on_val_uses_validation_and_keeps_the_last_epoch(tiny_env):
    meta, splits = tiny_env
    seen = []
    tc = train.TrainConfig(epochs=3, width=8, batch_size=8, patience=1, train_on_val=True)
    res = train.train(tc, meta, splits_dir=splits, progress=False, log_mlflow=False, on_epoch=seen.append)
    split = data.split_indices(meta, "seed", directory=splits)
    assert res.epochs_run == 3  # patience ignored: there is no held-out validation
    assert res.predictions["val_index"].tolist() == split.val.tolist()
    # the kept weights are the last epoch's: their validation accuracy is the last one logged
    assert res.val_accuracy == seen[-1]["val_accuracy"]


def test_weight_ema_follows_the_weights_and_copies_counters():
    import torch

    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    ema = train.WeightEMA(net, decay=0.9)
    start = ema.module[0].weight.detach().clone()
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(1.0)
    net.train()(torch.randn(4, 1, 8, 8))  # moves the BN statistics and its batch counter
    ema.update(net)
    w = ema.module[0].weight
    d = 2 / 11  # the warm-up decay of the first update
    torch.testing.assert_close(w, d * start + (1 - d))
    assert int(ema.module[1].num_batches_tracked) == 1
    for _ in range(200):
        ema.update(net)
    torch.testing.assert_close(w, torch.ones_like(w), atol=1e-6, rtol=0)
    assert not any(p.requires_grad for p in ema.module.parameters())


def test_ema_and_voice_perturbations_train_and_are_recorded(tiny_env):
    meta, splits = tiny_env
    tc = train.TrainConfig(epochs=2, width=8, batch_size=8, ema=0.9, freq_warp=0.1, time_stretch=0.1)
    res = train.train(tc, meta, splits_dir=splits, progress=False, log_mlflow=False)
    card = train.model_card(res)
    assert card["training"]["ema"] == 0.9 and card["training"]["freq_warp"] == 0.1
    # the averaged model is what was tested and is returned
    x = np.zeros((2, 1, 128, 188), np.float32)
    assert models.predict_logits(res.model, x).shape == (2, 6)
    for bad in ({"ema": 1.0}, {"freq_warp": -0.1}, {"time_stretch": 1.5}):
        with pytest.raises(Exception, match="must be within"):
            train.TrainConfig(**bad)


def test_distillation_loss_vanishes_when_the_student_matches_the_teacher():
    import torch

    logits = torch.tensor([[2.0, 0.5, -1.0, 0.0, 0.3, -0.2]])
    soft = torch.softmax(logits / 2.0, 1)
    assert float(train.distillation_loss(logits, soft, tau=2.0)) == pytest.approx(0, abs=1e-6)
    other = torch.softmax(torch.zeros(1, 6), 1)
    assert float(train.distillation_loss(logits, other, tau=2.0)) > 0.01


def test_distillation_from_a_shipped_teacher(tiny_env, tmp_path, monkeypatch):
    meta, splits = tiny_env
    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path))  # the teacher ships to tmp_path/models
    base = dict(epochs=1, width=8, batch_size=8)
    teacher = train.train(
        train.TrainConfig(**base), meta, splits_dir=splits, progress=False, log_mlflow=False
    )
    models.save(teacher.model, train.model_card(teacher), "teach")
    split = data.split_indices(meta, "seed", directory=splits)
    soft = {
        tau: train.teacher_probabilities("teach", meta, split.train, tau=tau, splits_dir=splits)
        for tau in (1.0, 4.0)
    }
    for p in soft.values():
        assert p.shape == (len(split.train), 6)
        np.testing.assert_allclose(p.sum(1), 1, rtol=1e-5)
    assert (soft[4.0].max(1) <= soft[1.0].max(1) + 1e-6).all()  # a higher tau softens
    with pytest.raises(Exception, match="outside them"):
        train.teacher_probabilities("teach", meta, split.test, splits_dir=splits)
    from ser_core.cli import main

    assert (
        main(
            [
                "train",
                "--nemo-dir",
                str(tmp_path / "c"),
                "--epochs",
                "1",
                "--width",
                "8",
                "--batch-size",
                "8",
                "--teacher",
                "teach",
                "--ship",
                "student",
                "--no-mlflow",
                "--no-predictions",
            ]
        )
        == 0
    )
    card = models.load("student").card
    assert card["training"]["teacher"] == "teach" and card["training"]["distill"] == 0.5
    assert "--teacher teach" in card["reproduce"]
    assert set(card["training"]["teacher_weights"]) == {"teach"}  # the teacher's version


@pytest.mark.parametrize(
    "bad",
    [
        {"teacher": "ensemble"},
        {"distill": 0.5},
        {"teacher": "ensemble", "distill": 0.5, "protocol": "loso"},
        {"teacher": "ensemble", "distill": 1.5},
    ],
)
def test_bad_distillation_settings_are_refused(bad):
    from ser_core.errors import ConfigError

    with pytest.raises(ConfigError):
        train.TrainConfig(**bad)


def test_distillation_from_a_teacher_trained_on_the_same_fold(tiny_env):
    """``fold:logreg/egemaps-spk``: the teacher is fitted on the student's own fold (under
    loso it never hears the test speaker) and nothing of it is logged or shipped."""
    meta, splits = tiny_env
    tc = train.TrainConfig(
        epochs=1,
        width=8,
        batch_size=8,
        protocol="loso",
        fold=1,
        norm="speaker",
        teacher="fold:logreg/egemaps-spk",
        distill=0.5,
    )
    split = data.split_indices(meta, "loso", fold=1, directory=splits)
    soft = train.teacher_probabilities(
        tc.teacher, meta, split.train, protocol="loso", fold=1, splits_dir=splits
    )
    assert soft.shape == (len(split.train), 6)
    np.testing.assert_allclose(soft.sum(1), 1, rtol=1e-5)
    with pytest.raises(Exception, match="outside them"):
        train.teacher_probabilities(tc.teacher, meta, split.test, protocol="loso", fold=1, splits_dir=splits)
    res = train.train(tc, meta, splits_dir=splits, progress=False)
    assert res.teacher_weights is None and len(tracking.runs()) == 1  # the student's run only
    assert train.model_card(res)["training"]["teacher"] == "fold:logreg/egemaps-spk"


@pytest.mark.parametrize("bad", ["fold:logreg", "fold:logreg/egemaps-spk/x"])
def test_a_malformed_fold_teacher_is_refused(bad):
    from ser_core.errors import ConfigError

    with pytest.raises(ConfigError, match="fold:<model>/<input>"):
        train.TrainConfig(protocol="loso", teacher=bad, distill=0.5)


def test_gradient_reversal_flips_and_scales_the_gradient():
    import torch

    adv = train.SpeakerAdversary(4, 3, hidden=5)
    emb = torch.randn(2, 4, requires_grad=True)
    adv(emb, scale=0.5).sum().backward()
    reversed_grad = emb.grad.clone()
    emb.grad = None
    adv.net(emb).sum().backward()  # the same classifier without the reversal
    torch.testing.assert_close(reversed_grad, -0.5 * emb.grad)
    assert train.adversary_scale(0.0, strength=0.3) == 0.0
    assert 0.29 < train.adversary_scale(1.0, strength=0.3) <= 0.3


def test_speaker_adversarial_training_runs_and_is_recorded(tiny_env):
    meta, splits = tiny_env
    tc = train.TrainConfig(
        epochs=2,
        width=8,
        batch_size=8,
        protocol="loso",
        fold=0,
        norm="speaker",
        speaker_adversary=0.3,
        ema=0.9,
    )
    res = train.train(tc, meta, splits_dir=splits, progress=False)
    assert all(0 <= r["speaker_accuracy"] <= 1 for r in res.history)
    assert train.model_card(res)["training"]["speaker_adversary"] == 0.3
    # the adversary is not part of what is shipped
    assert not any("adversary" in k for k in res.model.state_dict())
    import mlflow

    hist = mlflow.MlflowClient().get_metric_history(tracking.runs().iloc[0]["run_id"], "speaker_accuracy")
    assert len(hist) == 2


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"speaker_adversary": -1.0}, ">= 0"),
        ({"model": "wave_cnn", "speaker_adversary": 0.3}, "pooled embedding"),
    ],
)
def test_bad_speaker_adversary_settings_are_refused(bad, match):
    from ser_core.errors import ConfigError

    with pytest.raises(ConfigError, match=match):
        train.TrainConfig(**bad)
