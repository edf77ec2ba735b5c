"""ser_core.functionals and the ``logreg`` model on them: openSMILE vectors, the closed-form
fit, a logged run, the predictor, voice profiles, ensembles and live adaptation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ser_core import adapt, data, ensemble, functionals, models, tracking, train
from ser_core.config import EMOTIONS
from ser_core.errors import AudioTooShortError, ConfigError, UnknownNameError
from ser_core.runs import LOGREG_CS
from tests.conftest import tone
from tests.test_adapt import _speech


def test_registry_and_vectors():
    assert functionals.names() == ("egemaps", "compare")
    assert functionals.is_functional("egemaps") and not functionals.is_functional("mel")
    y = _speech(2.5, seed=1)
    v = functionals.compute(y, "egemaps")
    assert v.shape == (88,) and v.dtype == np.float32 and np.isfinite(v).all()
    # the zeros that pad a short clip to 3 s change nothing
    np.testing.assert_array_equal(functionals.compute(np.pad(y, (4000, 4000)), "egemaps"), v)
    # longer audio is cropped like the CNNs' input: the middle 3 s
    long = np.concatenate([np.zeros(16_000, np.float32), y, _speech(2.0, seed=3)])
    from ser_core.audio import pad_or_trim

    np.testing.assert_array_equal(
        functionals.compute(long, "egemaps"),
        functionals.compute(pad_or_trim(long, n_samples=48_000), "egemaps"),
    )
    assert functionals.compute_batch(np.zeros((0, 48_000), np.float32), "egemaps").shape == (0, 88)
    assert functionals.get("compare").params()["feature_set"] == "ComParE_2016"


def test_bad_input_is_refused_with_the_value():
    with pytest.raises(AudioTooShortError, match="0.05 s"):
        functionals.compute(tone(0.05), "egemaps")
    silent = functionals.compute(np.zeros(48_000, np.float32), "egemaps")  # a silent window
    assert silent.shape == (88,) and np.isfinite(silent).all()
    with pytest.raises(UnknownNameError, match="egemaps, compare"):
        functionals.compute(tone(1.0), "gemaps")


def test_fit_logreg_keeps_the_best_strength_and_matches_scikit_learn():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(6, 20)) * 1.5
    y = np.arange(600) % 6
    x = (centres[y] + rng.normal(size=(600, 20))).astype(np.float32)
    model, hist = models.fit_logreg(x[:400], y[:400], x[400:], y[400:], cs=(1e-4, 1e-2, 1.0))
    assert [r["C"] for r in hist] == [1e-4, 1e-2, 1.0] and all(0 <= r["val_accuracy"] <= 1 for r in hist)
    best = max(hist, key=lambda r: r["val_accuracy"])  # the first of equals: the smaller C
    sk = LogisticRegression(C=best["C"], max_iter=3000).fit(x[:400], y[:400])
    import torch

    with torch.no_grad():
        z = model(torch.from_numpy(x[400:])).numpy()
    np.testing.assert_allclose(
        z - z.mean(1, keepdims=True),
        sk.decision_function(x[400:]) - sk.decision_function(x[400:]).mean(1, keepdims=True),
        atol=1e-4,
    )
    assert (z.argmax(1) == y[400:]).mean() == best["val_accuracy"] > 0.8


def test_functionals_refuse_what_does_not_apply():
    with pytest.raises(ConfigError, match="closed form"):
        train.TrainConfig(model="logreg", representation="egemaps", ema=0.99)
    with pytest.raises(UnknownNameError, match="functional set"):
        train.TrainConfig(model="logreg", representation="mel")


@pytest.fixture(scope="module")
def shipped_logreg(tmp_path_factory):
    """A speaker-normalised eGeMAPS logistic regression trained on a synthetic corpus (logged
    to a temporary MLflow store) and shipped; ``(artifacts dir, result, meta)``."""
    from tests.conftest import make_corpus

    root = tmp_path_factory.mktemp("logreg")
    meta = data.load_metadata(make_corpus(root / "c", per_emotion=4, seconds=1.0))
    splits = root / "splits"
    data.save_splits(meta, directory=splits)
    mp = pytest.MonkeyPatch()
    mp.setenv("SER_CACHE_DIR", str(root / "cache"))
    mp.setenv("SER_MLFLOW_DB", str(root / "mlflow.db"))
    mp.setenv("SER_MLFLOW_ARTIFACTS", str(root / "mlart"))
    try:
        res = train.train(
            train.TrainConfig(model="logreg", representation="egemaps", norm="speaker"),
            meta,
            splits_dir=splits,
            progress=False,
        )
        runs = tracking.runs()
    finally:
        mp.undo()
    models.save(res.model, train.model_card(res), "logreg_egemaps_spk", directory=root / "models")
    return root, res, meta, runs


def test_a_logreg_run_is_logged_and_shipped_like_any_model(shipped_logreg):
    root, res, meta, runs = shipped_logreg
    assert len(runs) == 1 and runs.iloc[0]["params.input"] == "egemaps-spk"
    assert runs.iloc[0]["tags.mlflow.runName"] == "logreg-egemaps-spk-seed"
    assert res.epochs_run == len(LOGREG_CS)  # one row per L2 strength
    assert [h["C"] for h in res.history] == list(LOGREG_CS)
    assert 0 <= res.report["accuracy"] <= 1 and res.predictions["test_logits"].shape[1] == 6
    card = json.loads((root / "models" / "logreg_egemaps_spk.json").read_text())
    assert card["input"] == {**card["input"], "kind": "functionals", "name": "egemaps"}
    assert card["input"]["params"]["feature_set"] == "eGeMAPSv02"
    assert card["architecture"]["kwargs"] == {"in_features": 88}
    assert card["normalization"]["kind"] == "speaker" and len(card["normalization"]["mean"]) == 88


def test_the_predictor_adapts_a_logreg_to_a_voice(shipped_logreg):
    from ser_core.inference import Predictor

    root = shipped_logreg[0]
    pred = Predictor.load("logreg_egemaps_spk", directory=root / "models")
    assert pred.kind == "functionals" and pred.needed_representations() == ["egemaps"]
    y = _speech(2.0, seed=5)
    p = pred.predict(y)
    assert p.shape == (6,) and abs(p.sum() - 1) < 1e-5
    prof = adapt.voice_profile(_speech(12.0, seed=6), representations=["egemaps", "mel"])
    assert prof.stats["egemaps"].mean.shape == (88,) and prof.stats["mel"].mean.shape == (1, 128, 1)
    again = adapt.VoiceProfile.from_json(prof.to_json())  # a saved profile round-trips
    ad = pred.adapted(again)
    assert "Adapted to the voice" in ad.adaptation()
    assert not np.allclose(ad.predict(y), p)
    assert pred.timeline(_speech(6.0)).probs.shape == (4, 6)


def test_an_ensemble_with_a_functionals_member(shipped_logreg, tmp_path):
    import torch

    from ser_core.inference import EnsemblePredictor, Predictor

    root = shipped_logreg[0]
    assert ensemble.member_name("compare-spk") == "logreg_compare_spk"
    assert ensemble.member_name("mel-spk") == "resnet18_mel_spk"
    d = tmp_path / "models"
    d.mkdir()
    for f in (root / "models").iterdir():
        (d / f.name).write_bytes(f.read_bytes())
    ens = models.create("weighted_ensemble", n_members=1)
    with torch.no_grad():
        ens.raw.fill_(1.0)
    models.save(
        ens,
        {
            "architecture": {"name": "weighted_ensemble", "kwargs": {"n_members": 1}},
            "input": {
                "kind": "members",
                "name": "ensemble",
                "members": ["logreg_egemaps_spk"],
                "representations": ["egemaps-spk"],
            },
            "classes": list(EMOTIONS),
            "ensemble": {"weights": {"egemaps-spk": 1.0}},
        },
        "e",
        directory=d,
    )
    pred = Predictor.load("e", directory=d)
    assert isinstance(pred, EnsemblePredictor) and pred.needed_representations() == ["egemaps"]
    y = _speech(2.0, seed=5)
    np.testing.assert_allclose(pred.predict(y), pred.members[0].predict(y), atol=1e-5)


def test_member_predictions_of_logistic_regressions(tmp_path):
    n = 60
    for arch, key in (("resnet18", "mel-spk"), ("logreg", "compare-spk"), ("logreg", "mel")):
        np.savez(
            tmp_path / f"{arch}-{key}-loso-fold2.npz",
            val_index=np.arange(n),
            test_index=np.arange(n, 2 * n),
            val_labels=np.arange(n) % 6,
            test_labels=np.arange(n) % 6,
            val_logits=np.zeros((n, 6), np.float32),
            test_logits=np.zeros((n, 6), np.float32),
            temperature=np.float32(1.0),
        )
    got = ensemble.load_member_predictions(tmp_path, protocol="loso", fold=2)
    # a logistic regression on a representation is not a member (members on mel are ResNets)
    assert sorted(got) == ["compare-spk", "mel-spk"]
    assert got["compare-spk"].shipped_name == "logreg_compare_spk"


def test_live_adaptation_of_a_functionals_model():
    from ser_core.live import OnlineAdapter
    from tests.test_live import FakeAdaptable, _stream

    class Fun(FakeAdaptable):
        def needed_representations(self):
            return ["egemaps"]

        def adapted(self, profile):
            return Fun(profile)

    ad = OnlineAdapter(Fun(), warmup=6.0)
    _stream(ad, _speech(12.0, seed=4), [4000])
    # one vector per 1.5 s of new audio once 3 s are buffered
    assert 5 <= ad.running["egemaps"].frames <= 7
    assert ad.ready and ad.seconds >= 6.0
    prof = ad.profile()
    assert prof.stats["egemaps"].mean.shape == (88,) and ad.current().profile is not None


def test_a_voice_of_few_clips_is_pulled_towards_the_corpus():
    from ser_core.features import NormStats, normalization_stats

    prior = NormStats(np.zeros(3, np.float32), np.ones(3, np.float32))
    rng = np.random.default_rng(0)
    few = normalization_stats(rng.normal(5.0, 0.01, size=(2, 3)))
    many = normalization_stats(rng.normal(5.0, 2.0, size=(1000, 3)))
    assert few.count == 2 and many.count == 1000
    s = functionals.shrink(few, prior, strength=10)
    np.testing.assert_allclose(s.mean, 5.0 * 2 / 12, atol=0.01)  # mostly the corpus's
    assert (s.std > 0.8).all()  # not the two clips' near-zero spread
    m = functionals.shrink(many, prior, strength=10)
    np.testing.assert_allclose(m.mean, many.mean, atol=0.1)  # a speaker's hundreds of clips win
    assert functionals.shrink(NormStats(few.mean, few.std), prior).count == 0  # uncounted: as is
    assert NormStats.from_dict(few.to_dict()).count == 2  # saved profiles keep the count
