"""ser_core.ensemble: the Optuna-tuned weighted ensemble and its predictor."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ser_core import ensemble, models
from ser_core.errors import ConfigError, DatasetError
from ser_core.inference import EnsemblePredictor, Predictor


def _fake_member(rng, labels, *, skill: float) -> np.ndarray:
    """Logits whose argmax is right about ``skill`` of the time (independent errors)."""
    z = rng.normal(size=(len(labels), 6))
    z[np.arange(len(labels)), labels] += skill
    return z.astype(np.float32)


def _write_members(directory: Path, skills: dict[str, float], *, n_val=300, n_test=300, seed=0):
    rng = np.random.default_rng(seed)
    yv, yt = np.arange(n_val) % 6, np.arange(n_test) % 6
    for representation, skill in skills.items():
        np.savez(
            directory / f"resnet18-{representation}-seed.npz",
            val_index=np.arange(n_val),
            test_index=np.arange(n_val, n_val + n_test),
            val_labels=yv,
            test_labels=yt,
            val_logits=_fake_member(rng, yv, skill=skill),
            test_logits=_fake_member(rng, yt, skill=skill),
            temperature=np.float32(1.0),
        )
    return yv, yt


def test_search_beats_members_and_prunes_noise(tmp_path):
    _write_members(tmp_path, {"mel": 2.5, "hpss": 2.5, "mfcc": 2.0, "zcr": 0.0})
    preds = ensemble.load_member_predictions(tmp_path)
    assert sorted(preds) == ["hpss", "mel", "mfcc", "zcr"]
    res = ensemble.search(preds, trials=12, seed=0)
    assert abs(sum(res.weights.values()) - 1) < 1e-6 and all(w >= 0 for w in res.weights.values())
    assert res.report["accuracy"] > max(res.single_best.values())  # independent errors average out
    assert res.weights.get("zcr", 0.0) < 0.1  # the pure-noise member is dropped or nearly so
    assert 0 < res.cv["accuracy"] <= 1 and res.trials == 12
    assert set(res.importance) <= set(res.params)
    card = ensemble.ensemble_card(res, command="python -m ser_core ensemble")
    assert card["input"]["members"] == [f"resnet18_{m}" for m in res.members]
    assert card["metrics"]["seed"]["accuracy"] == res.report["accuracy"]
    json.dumps(card)  # serialisable


def test_l1_shrinks_weights_and_cv_is_honest(tmp_path):
    yv, _ = _write_members(tmp_path, {"mel": 2.0, "hpss": 2.0})
    preds = ensemble.load_member_predictions(tmp_path)
    lp = np.stack([ensemble.log_probs(preds[r].val_logits) for r in ("hpss", "mel")], 1)
    loose = ensemble.fit_weights(lp, yv, l1=0.0, steps=200)
    tight = ensemble.fit_weights(lp, yv, l1=0.5, steps=200)
    assert float(tight.weights.detach().sum()) < float(loose.weights.detach().sum())
    cv = ensemble.cross_validate(lp, yv, folds=5, steps=100)
    with torch.no_grad():
        fit_acc = float((loose(torch.from_numpy(lp)).argmax(1).numpy() == yv).mean())
    assert cv["accuracy"] <= fit_acc + 0.05  # held-out folds are not scored on what they fitted


def test_member_predictions_must_share_a_split(tmp_path):
    with pytest.raises(DatasetError, match="no member predictions"):
        ensemble.load_member_predictions(tmp_path)
    _write_members(tmp_path, {"mel": 1.0})
    z = dict(np.load(tmp_path / "resnet18-mel-seed.npz"))
    z["test_index"] = z["test_index"] + 1
    np.savez(tmp_path / "resnet18-hpss-seed.npz", **z)
    with pytest.raises(DatasetError, match="other clips"):
        ensemble.load_member_predictions(tmp_path)
    with pytest.raises(ConfigError):
        ensemble.search({})


def test_ensemble_is_not_trainable_directly():
    from ser_core.train import TrainConfig

    with pytest.raises(ConfigError, match="ensemble"):
        TrainConfig(model="weighted_ensemble")


def test_shipped_ensemble_predicts_like_its_members(tmp_path, monkeypatch):
    from tests.conftest import tone
    from tests.tiny_model import ship_tiny_ensemble

    artifacts = ship_tiny_ensemble(tmp_path, weights=(0.7, 0.3))
    d = artifacts / "models"
    pred = Predictor.load("tiny_ensemble", directory=d)
    assert isinstance(pred, EnsemblePredictor) and [m.model_name for m in pred.members] == [
        "tiny_mel",
        "tiny_chroma",
    ]
    y = tone(3.0)
    p = pred.predict(y)
    assert p.shape == (6,) and abs(p.sum() - 1) < 1e-5
    lp = [np.log(m.predict(y)) for m in pred.members]
    z = (0.7 * lp[0] + 0.3 * lp[1]) / 1.2
    expect = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    np.testing.assert_allclose(p, expect, atol=1e-4)
    tl = pred.timeline(tone(7.0))
    assert tl.probs.shape == (5, 6)
    info = pred.describe()
    assert info["architecture"] == "weighted_ensemble" and set(info["members"]) == {"tiny_mel", "tiny_chroma"}
    # a member with weight 0 is not loaded at all
    ship_tiny_ensemble(tmp_path / "zero", name="ens0", weights=(1.0, 0.0))
    p0 = Predictor.load("ens0", directory=tmp_path / "zero" / "artifacts" / "models")
    assert [m.model_name for m in p0.members] == ["tiny_mel"]
    assert "ens0" in models.shipped(tmp_path / "zero" / "artifacts" / "models")
    # the member temperatures the card was fitted with win over the members' own
    card = json.loads((d / "tiny_ensemble.json").read_text())
    own = [m.temperature for m in pred.members]
    card["calibration"]["member_temperatures"] = {"tiny_mel": 2.5}
    (d / "tiny_ensemble.json").write_text(json.dumps(card))
    hot = Predictor.load("tiny_ensemble", directory=d)
    assert [m.temperature for m in hot.members] == [2.5, own[1]]
    lp = [np.log(m.predict(y)) for m in hot.members]
    z = (0.7 * lp[0] + 0.3 * lp[1]) / 1.2
    np.testing.assert_allclose(hot.predict(y), np.exp(z - z.max()) / np.exp(z - z.max()).sum(), atol=1e-4)


def test_members_on_one_representation_compute_its_features_once(tmp_path, monkeypatch):
    """A seed bag's networks share their representation's features: one task computes them,
    never two threads at once (two HPSS members used to run the median filters twice)."""
    import shutil
    import time

    from ser_core import features
    from tests.conftest import tone
    from tests.tiny_model import ship_tiny_ensemble

    d = ship_tiny_ensemble(tmp_path, weights=(0.7, 0.3)) / "models"
    for ext in ("json", "safetensors"):
        shutil.copy(d / f"tiny_mel.{ext}", d / f"tiny_mel_s1.{ext}")
    card = json.loads((d / "tiny_ensemble.json").read_text())
    card["input"].update(
        members=["tiny_mel", "tiny_mel_s1", "tiny_chroma"], representations=["mel", "mel", "chroma"]
    )
    card["architecture"]["kwargs"]["n_members"] = 3
    bag = models.create("weighted_ensemble", n_members=3)
    with torch.no_grad():
        bag.raw.copy_(torch.tensor([0.35, 0.35, 0.3]))  # mel's 0.7 shared by its two seeds
        bag.log_t.fill_(float(np.log(1.2)))
    models.save(bag, card, "bag", directory=d)
    pred = Predictor.load("bag", directory=d)
    pred.workers = 2
    computed: list[str] = []
    output = features.Frontend.output

    def counting(self, spec):
        if spec.name not in self._outputs:
            computed.append(spec.name)
            time.sleep(0.05)  # a slow representation: a second thread would start it again
        return output(self, spec)

    monkeypatch.setattr(features.Frontend, "output", counting)
    y = np.stack([tone(3.0), tone(3.0, freq=330.0)])
    p = pred.predict_batch(y)
    assert sorted(computed) == ["chroma", "chroma", "mel", "mel"]  # once per clip
    np.testing.assert_allclose(p, Predictor.load("tiny_ensemble", directory=d).predict_batch(y), atol=1e-5)


def test_refit_scores_the_test_part_with_members_trained_on_validation_too(tmp_path, monkeypatch, capsys):
    from ser_core.cli import main

    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path))
    tmp_path = tmp_path / "predictions"
    tmp_path.mkdir()
    yv, yt = _write_members(tmp_path, {"mel": 2.0, "hpss": 2.0})
    preds = ensemble.load_member_predictions(tmp_path)
    for representation in preds:
        z = dict(np.load(tmp_path / f"resnet18-{representation}-seed.npz"))
        z["test_logits"] = _fake_member(np.random.default_rng(7), yt, skill=4.0)  # stronger members
        z["val_logits"] = _fake_member(np.random.default_rng(8), yv, skill=9.0)  # in-sample: never read
        z["temperature"] = np.float32(0.3)
        np.savez(tmp_path / f"resnet18-{representation}-seed-trainval.npz", **z)
    # the search never sees the refits (their validation logits are in-sample)
    assert sorted(ensemble.load_member_predictions(tmp_path)) == ["hpss", "mel"]
    res = ensemble.equal_weights(preds)
    ref = ensemble.refit(res, preds, directory=tmp_path)
    assert ref.refit and not res.refit
    assert ref.weights == res.weights and ref.temperature == res.temperature
    assert ref.val_accuracy == res.val_accuracy and ref.unsure_below == res.unsure_below
    assert ref.member_temperatures == {"hpss": 1.0, "mel": 1.0}  # the held-out runs'
    assert ref.report["accuracy"] > res.report["accuracy"] + 0.05
    card = ensemble.ensemble_card(ref)
    assert card["input"]["members"] == ["resnet18_hpss_trainval", "resnet18_mel_trainval"]
    assert card["calibration"]["member_temperatures"] == {
        "resnet18_hpss_trainval": 1.0,
        "resnet18_mel_trainval": 1.0,
    }
    assert card["ensemble"]["refit_on_train_val"] and "refit_note" in card["ensemble"]
    assert "refit on train + validation" in ensemble.summary(ref)
    assert main(["ensemble", "--equal-weights", "--refit", "--no-mlflow", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["input"]["members"] == card["input"]["members"]
    assert out["metrics"]["seed"]["accuracy"] == pytest.approx(ref.report["accuracy"])
    assert main(["ensemble", "--equal-weights", "--refit", "--ship", "e", "--no-mlflow"]) == 2
    assert "resnet18_hpss_trainval" in capsys.readouterr().err  # its members are not shipped
    (tmp_path / "resnet18-hpss-seed-trainval.npz").unlink()
    with pytest.raises(DatasetError, match="no refit of member 'hpss'.*trainval.npz.*--train-on-val"):
        ensemble.refit(res, preds, directory=tmp_path)
    z["test_index"] = z["test_index"] + 1
    np.savez(tmp_path / "resnet18-hpss-seed-trainval.npz", **z)
    with pytest.raises(DatasetError, match="other clips"):
        ensemble.refit(res, preds, directory=tmp_path)


def test_a_member_refitted_with_several_seeds_joins_as_a_seed_bag(tmp_path):
    yv, yt = _write_members(tmp_path, {"mel": 2.0, "hpss": 2.0})
    preds = ensemble.load_member_predictions(tmp_path)
    rng = np.random.default_rng(3)
    refits = {}
    for stem in ("mel-seed", "mel-seed-s1", "mel-seed-s4", "hpss-seed"):
        z = dict(np.load(tmp_path / "resnet18-mel-seed.npz"))
        z["test_logits"] = refits[stem] = _fake_member(rng, yt, skill=2.5)
        np.savez(tmp_path / f"resnet18-{stem}-trainval.npz", **z)
    np.savez(tmp_path / "resnet18-mel-seed-sx-trainval.npz", **z)  # not a seed: ignored
    # a held-out run of another seed never joins the search
    np.savez(tmp_path / "resnet18-mel-seed-s1.npz", **dict(np.load(tmp_path / "resnet18-mel-seed.npz")))
    assert sorted(ensemble.load_member_predictions(tmp_path)) == ["hpss", "mel"]
    assert list(ensemble.refit_seeds("mel", directory=tmp_path)) == [0, 1, 4]
    res = ensemble.equal_weights(preds)
    ref = ensemble.refit(res, preds, directory=tmp_path)
    assert ref.seeds == {"hpss": (0,), "mel": (0, 1, 4)}
    assert ref.shipped_members == [
        "resnet18_hpss_trainval",
        "resnet18_mel_trainval",
        "resnet18_mel_trainval_s1",
        "resnet18_mel_trainval_s4",
    ]
    # the shipped module, one weight per network, gives the scored test probabilities exactly
    bag = ref.shipped_module
    w = bag.weights.detach().numpy()
    np.testing.assert_allclose(w[1:], w[1] * np.ones(3), rtol=1e-6)
    np.testing.assert_allclose(w[1:].sum() / w[0], res.weights["mel"] / res.weights["hpss"], rtol=1e-5)
    assert bag.temperature == pytest.approx(ref.temperature)
    lp = np.stack(
        [
            ensemble.log_probs(refits[s], temperature=1.0)
            for s in ("hpss-seed", "mel-seed", "mel-seed-s1", "mel-seed-s4")
        ],
        1,
    )
    with torch.no_grad():
        p = torch.softmax(bag(torch.from_numpy(lp)), 1).numpy()
    np.testing.assert_allclose(p, ref.test_probs, atol=1e-5)
    card = ensemble.ensemble_card(ref)
    assert card["input"]["members"] == ref.shipped_members
    assert card["input"]["representations"] == ["hpss", "mel", "mel", "mel"]
    assert card["architecture"]["kwargs"]["n_members"] == 4
    assert set(card["calibration"]["member_temperatures"]) == set(ref.shipped_members)
    assert card["ensemble"]["refit_seeds"] == {"hpss": [0], "mel": [0, 1, 4]}
    assert card["ensemble"]["weights"] == ref.weights  # by representation, summing to 1
    assert "mel: seeds 0, 1, 4" in ensemble.summary(ref)
    # seeds fixed in advance (no validation can choose among refits that trained on it)
    only0 = ensemble.refit(res, preds, directory=tmp_path, seeds=[0])
    assert only0.seeds == {"hpss": (0,), "mel": (0,)} and len(only0.shipped_members) == 2
    assert ensemble.refit(res, preds, directory=tmp_path, seeds=[0, 4]).seeds["mel"] == (0, 4)
    z = dict(np.load(tmp_path / "resnet18-mel-seed-s4-trainval.npz"))
    z["test_index"] = z["test_index"] + 1
    np.savez(tmp_path / "resnet18-mel-seed-s4-trainval.npz", **z)
    with pytest.raises(DatasetError, match="mel-seed-s4-trainval.npz.*other clips"):
        ensemble.refit(res, preds, directory=tmp_path)


def test_loso_ensemble_searches_each_fold(tmp_path, monkeypatch, capsys):
    from ser_core.cli import main

    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path))
    d = tmp_path / "predictions"
    d.mkdir()
    rng = np.random.default_rng(0)
    for k in (0, 1):  # two held-out speakers, two speaker-normalised members each
        yv, yt = np.arange(120) % 6, np.arange(90) % 6
        for representation, skill in (("mel-spk", 1.5), ("hpss-spk", 1.5)):
            np.savez(
                d / f"resnet18-{representation}-loso-fold{k}.npz",
                val_index=np.arange(120) + 300 * k,
                test_index=np.arange(90) + 300 * k + 150,
                val_labels=yv,
                test_labels=yt,
                val_logits=_fake_member(rng, yv, skill=skill),
                test_logits=_fake_member(rng, yt, skill=skill),
                temperature=np.float32(1.0),
            )
    assert (
        main(
            [
                "ensemble",
                "--protocol",
                "loso",
                "--fold",
                "0",
                "--fold",
                "1",
                "--trials",
                "4",
                "--no-mlflow",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["n_folds"] == 2 and [f["fold"] for f in out["folds"]] == [0, 1]
    assert all(set(f["single"]) == {"mel-spk", "hpss-spk"} for f in out["folds"])
    assert out["accuracy"] == pytest.approx(np.mean([f["accuracy"] for f in out["folds"]]))
    assert main(["ensemble", "--protocol", "loso", "--ship", "x", "--no-mlflow"]) == 2
    assert "seed-protocol" in capsys.readouterr().err
    assert main(["ensemble", "--protocol", "loso", "--refit", "--no-mlflow"]) == 2
    assert "seed-protocol" in capsys.readouterr().err


def test_equal_weights_fits_only_the_temperature(tmp_path):
    _write_members(tmp_path, {"mel": 2.5, "hpss": 2.0, "zcr": 0.0})
    preds = ensemble.load_member_predictions(tmp_path)
    res = ensemble.equal_weights(preds)
    assert res.weights == pytest.approx({"hpss": 1 / 3, "mel": 1 / 3, "zcr": 1 / 3})
    assert res.temperature != pytest.approx(1.0) and res.trials == 0
    assert res.params == {"rule": "equal weights"} and 0 < res.cv["accuracy"] <= 1
    lp = ensemble._stack([preds[r] for r in res.members], "test").sum(1)
    np.testing.assert_array_equal(res.test_probs.argmax(1), lp.argmax(1))  # a plain average
    card = ensemble.ensemble_card(res)
    assert card["ensemble"]["search"] == {"rule": "equal weights"}
