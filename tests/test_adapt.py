"""ser_core.adapt: speaker statistics from unlabelled audio, and adapted predictors."""

from __future__ import annotations

import numpy as np
import pytest

from ser_core import adapt, features
from ser_core.errors import CalibrationError
from tests.conftest import tone


def _speech(seconds: float, *, seed: int = 0) -> np.ndarray:
    """Tone bursts with pauses: a stand-in for a few seconds of speech."""
    rng = np.random.default_rng(seed)
    parts = [
        np.concatenate([tone(0.7, freq=float(rng.uniform(120, 300))), np.zeros(4000, np.float32)])
        for _ in range(int(seconds / 0.95) + 1)
    ]
    return np.concatenate(parts)[: int(seconds * 16000)]


def test_profile_of_speech_has_stats_per_representation():
    prof = adapt.voice_profile(_speech(12.0), representations=["mel", "mfcc"], profile_name="ala")
    assert set(prof.stats) == {"mel", "mfcc"} and prof.name == "ala"
    assert prof.stats["mel"].mean.shape == (1, 128, 1) and (prof.stats["mel"].std > 0).all()
    assert 5 <= prof.seconds <= 12
    again = adapt.VoiceProfile.from_json(prof.to_json())
    np.testing.assert_array_equal(again.stats["mel"].mean, prof.stats["mel"].mean)


@pytest.mark.parametrize(
    "y, match",
    [
        (np.zeros(16000 * 12, np.float32), "silent"),
        (_speech(2.0), "at least 5 s"),
        (np.concatenate([_speech(3.0), np.zeros(16000 * 9, np.float32)]), "only"),
    ],
)
def test_silence_and_short_audio_are_refused(y, match):
    with pytest.raises(CalibrationError, match=match):
        adapt.voice_profile(y)


def test_statistics_never_read_labels(tiny_corpus):
    """Shuffling the labels (and emotions) of the adaptation clips changes nothing."""
    from ser_core import data
    from ser_core.inputs import split_speaker_stats

    meta = data.load_metadata(tiny_corpus)
    x = np.stack(
        [features.compute(np.resize(tone(1.0, freq=100 + i), 48000), "mel") for i in range(len(meta))]
    )
    spk = meta["speaker"].astype(str).to_numpy()
    rows = np.arange(len(meta))
    a = split_speaker_stats(x, spk, rows[::2], rows[1::2][:3], rows[1::2][3:])
    shuffled = meta.assign(
        label=np.random.default_rng(0).permutation(meta["label"].to_numpy()),
        emotion=np.random.default_rng(1).permutation(meta["emotion"].to_numpy()),
    )
    b = split_speaker_stats(
        x, shuffled["speaker"].astype(str).to_numpy(), rows[::2], rows[1::2][:3], rows[1::2][3:]
    )
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k].mean, b[k].mean)
        np.testing.assert_array_equal(a[k].std, b[k].std)


def test_running_estimates_converge_to_batch_statistics():
    rng = np.random.default_rng(0)
    blocks = [rng.normal(loc=3.0, scale=2.0, size=(1, 16, int(rng.integers(5, 40)))) for _ in range(30)]
    run = adapt.RunningStats()
    for b in blocks:
        run.update(b)
    whole = np.concatenate(blocks, axis=2)[None]
    batch = features.normalization_stats(whole)
    got = run.stats()
    np.testing.assert_allclose(got.mean, batch.mean, atol=1e-5)
    np.testing.assert_allclose(got.std, batch.std, atol=1e-5)
    assert run.frames == whole.shape[-1]
    with pytest.raises(CalibrationError, match="empty"):
        adapt.RunningStats().stats()


def test_speaker_normalised_model_adapts(tmp_path, monkeypatch):
    from ser_core import data, models, train
    from ser_core.inference import Predictor
    from tests.conftest import make_corpus

    meta = data.load_metadata(make_corpus(tmp_path / "c", per_emotion=3, seconds=0.8))
    data.save_splits(meta, directory=tmp_path / "splits")
    monkeypatch.setenv("SER_CACHE_DIR", str(tmp_path / "cache"))
    res = train.train(
        train.TrainConfig(epochs=1, width=8, batch_size=8, norm="speaker"),
        meta,
        splits_dir=tmp_path / "splits",
        log_mlflow=False,
        progress=False,
    )
    card = train.model_card(res)
    assert card["normalization"]["kind"] == "speaker" and "mean" in card["normalization"]
    assert res.config.run_name() == "resnet18-mel-spk-seed"
    models.save(res.model, card, "spk", directory=tmp_path / "m")
    pred = Predictor.load("spk", directory=tmp_path / "m")
    assert pred.speaker_normalised and "Not adapted" in pred.adaptation()
    y = tone(3.0)
    prof = adapt.voice_profile(_speech(12.0, seed=3), profile_name="me")
    ad = pred.adapted(prof)
    assert ad.module is pred.module and pred.profile is None  # a copy; the cached model is untouched
    assert "Adapted to the voice 'me'" in ad.adaptation()
    x = prof.stats["mel"].apply(features.compute(y, "mel"))[None]
    np.testing.assert_allclose(ad.predict(y), pred.__class__.predict_batch.__get__(ad)(y[None])[0])
    np.testing.assert_allclose(ad.inputs(y[None]), x, atol=1e-5)
    assert not np.allclose(ad.inputs(y[None]), pred.inputs(y[None]))
    with pytest.raises(Exception, match="speaker normalisation"):
        train.TrainConfig(model="wave_cnn", norm="speaker")


def test_loso_speaker_norm_run_reports_the_adaptation_curve(tmp_path, monkeypatch):
    from ser_core import data, train
    from tests.conftest import make_corpus

    meta = data.load_metadata(make_corpus(tmp_path / "c", per_emotion=4, seconds=2.0))
    data.save_splits(meta, directory=tmp_path / "splits")
    monkeypatch.setenv("SER_CACHE_DIR", str(tmp_path / "cache"))
    res = train.train(
        train.TrainConfig(protocol="loso", fold=1, epochs=1, width=8, batch_size=8, norm="speaker"),
        meta,
        splits_dir=tmp_path / "splits",
        log_mlflow=False,
        progress=False,
    )
    assert list(res.adaptation) == ["0", "5", "10", "30", "all"]
    assert all(0 <= v <= 1 for v in res.adaptation.values())
    assert list(res.predictions["adapt_seconds"]) == ["0", "5", "10", "30", "all"]


HELDOUT = "resnet18_mel_spk_fold0"


def test_calibration_helps_on_a_speaker_the_model_never_heard(meta):
    """The shipped LOSO fold-0 model never heard speaker EB0 (not even as validation):
    30 s of EB0's unlabelled clips calibrate it, and the rest of EB0's clips are
    scored with and without the calibration, with its voice warps and with AdaBN; then
    60 s, with and without information maximisation."""
    from ser_core import data
    from ser_core.audio import load_audio, pad_or_trim
    from ser_core.config import artifacts_dir
    from ser_core.inference import Predictor

    pred = Predictor.load(HELDOUT, directory=artifacts_dir() / "heldout")
    card = pred.loaded.card
    assert card["training"]["protocol"] == "loso" and card["normalization"]["kind"] == "speaker"
    split = data.split_indices(meta, "loso", fold=card["training"]["fold"])
    speaker = meta["speaker"].to_numpy()
    assert set(speaker[split.test]) == {card["heldout_speaker"]}
    assert card["heldout_speaker"] not in set(speaker[split.train]) | set(speaker[split.val])

    order = np.random.default_rng(0).permutation(split.test)
    audio = {i: load_audio(meta["path"].iloc[i], sr=pred.cfg.sr) for i in order}

    def calibration(limit: float):
        """Whole clips until ``limit`` s make the calibration audio (never scored): its profile,
        and the other clips of EB0 with their labels."""
        calib, seconds = [], 0.0
        for i in order:
            if seconds >= limit:
                break
            calib.append(i)
            seconds += len(audio[i]) / pred.cfg.sr
        scored = [i for i in order if i not in set(calib)]
        profile = adapt.voice_profile(
            np.concatenate([audio[i] for i in calib]),
            representations=pred.profile_representations(),
            profile_name="EB0",
        )
        ys = np.stack(
            [pad_or_trim(audio[i], n_samples=pred.cfg.n_samples, align=pred.cfg.align) for i in scored]
        )
        return profile, ys, meta["label"].to_numpy()[scored]

    profile, ys, labels = calibration(30)

    def accuracy(p) -> float:
        return float((p.predict_batch(ys).argmax(1) == labels).mean())

    plain = accuracy(pred)
    calibrated = accuracy(pred.adapted(profile, warps=False, batchnorm=False))
    warped = accuracy(pred.adapted(profile, batchnorm=False))
    adabn = pred.adapted(profile, warps=False)
    assert len(ys) > 500 and profile.adapts_batchnorm and adabn._bn_views == ("mel",)
    assert calibrated >= plain + 0.05, (plain, calibrated)  # measured: 25.8 % -> 35.5 %
    assert warped >= calibrated + 0.03, (calibrated, warped)  # with the voice warps: 41.6 %
    # 30 s is enough for AdaBN too (the predictor does it from ADABN_SECONDS = 20 s)
    assert accuracy(adabn) >= calibrated + 0.03, calibrated  # measured: 44.0 %
    assert accuracy(pred.adapted(profile)) >= warped + 0.03, warped  # with the warps: 49.9 %
    # from a minute (INFOMAX_SECONDS) the network is tuned to EB0 too (information maximisation)
    profile, ys, labels = calibration(60)
    tuned = pred.adapted(profile, warps=False)
    assert profile.tunes_network and tuned.infomax and len(ys) > 500
    adabn = accuracy(pred.adapted(profile, warps=False, infomax=False))  # measured: 45.7 %
    assert accuracy(tuned) >= adabn + 0.03, adabn  # measured: 50.8 %


def test_adapt_batchnorm_takes_the_statistics_of_the_new_voice():
    import torch

    model = torch.nn.Sequential(torch.nn.BatchNorm2d(2), torch.nn.Flatten())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(40, 2, 4, 5)).astype(np.float32)
    adapted = adapt.adapt_batchnorm(model, x, batch_size=40)
    bn = adapted[0]
    assert not bn.training and not adapted.training
    np.testing.assert_allclose(bn.running_mean.numpy(), x.mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.numpy(), x.var(axis=(0, 2, 3), ddof=1), rtol=1e-4)
    for k, v in model.state_dict().items():  # the original is untouched
        assert torch.equal(v, before[k]), k
    with pytest.raises(CalibrationError, match="got 0"):
        adapt.adapt_batchnorm(model, x[:0])


def _sign_classifier(bn_mean: float):
    """Class 0 for clips above the batch-norm mean, class 1 below (6 outputs)."""
    import torch

    model = torch.nn.Sequential(
        torch.nn.BatchNorm2d(1), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(1, 6)
    )
    with torch.no_grad():
        model[0].running_mean.fill_(bn_mean)
        model[3].weight.copy_(torch.tensor([[5.0], [-5.0], [0.0], [0.0], [0.0], [0.0]]))
        model[3].bias.copy_(torch.tensor([0.0, 0.0, -9.0, -9.0, -9.0, -9.0]))
    return model.eval()


def test_adapted_logits_recover_batch_norm_statistics_of_another_voice():
    import torch

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 30)
    x = (
        np.where(labels == 0, 1.0, -1.0)[:, None, None, None] + rng.normal(0, 0.3, size=(60, 1, 3, 8))
    ).astype(np.float32)
    rows = np.arange(60)
    stale = _sign_classifier(bn_mean=3.0)  # statistics of a voice unlike this one: all class 1

    def logits(model):
        return lambda a: model(torch.from_numpy(np.ascontiguousarray(a))).detach().numpy()

    plain = adapt.adaptation_curve(
        x,
        rows,
        logits_fn=logits(stale),
        labels=labels,
        seconds=np.full(60, 3.0),
        fallback=features.NormStats(np.zeros((1, 3, 1)), np.ones((1, 3, 1))),
        seed=4,
    )["all"]
    assert plain == pytest.approx(0.5)
    z = adapt.adapted_logits(x, rows, model=stale, seed=4)
    assert z.shape == (60, 6) and (z.argmax(1) == labels).mean() == pytest.approx(1.0)
    z = adapt.adapted_logits(x, rows[::-1], model=stale, seed=4, batchnorm=False)  # input only
    assert (z.argmax(1) == labels[::-1]).mean() == pytest.approx(plain)
    # without batch norm to adapt, it is the adaptation curve's "all" point (same halves)
    right = _sign_classifier(bn_mean=0.0)
    right[0] = torch.nn.Identity()
    curve = adapt.adaptation_curve(
        x,
        rows,
        logits_fn=logits(right),
        labels=labels,
        seconds=np.full(60, 3.0),
        fallback=features.NormStats(np.zeros((1, 3, 1)), np.ones((1, 3, 1))),
        seed=4,
    )["all"]
    z = adapt.adapted_logits(x, rows, model=right, seed=4)
    assert (z.argmax(1) == labels).mean() == curve


def test_adapted_logits_tune_each_half_once_across_warped_copies(monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, size=(40, 1, 3, 8)).astype(np.float32)
    rows, model = np.arange(40), _sign_classifier(bn_mean=1.0)
    alone = [
        adapt.adapted_logits(v, rows, model=model, seed=2, infomax=True, reference=x) for v in (x, 0.9 * x)
    ]
    calls = []
    tune = adapt.tune_to_voice
    monkeypatch.setattr(adapt.network, "tune_to_voice", lambda *a, **k: calls.append(1) or tune(*a, **k))
    halves: dict = {}
    shared = [
        adapt.adapted_logits(v, rows, model=model, seed=2, infomax=True, reference=x, tuned=halves)
        for v in (x, 0.9 * x)
    ]
    assert len(calls) == len(halves) == 2  # two halves, tuned once for both copies
    for a, b in zip(alone, shared):
        np.testing.assert_array_equal(a, b)


def test_infomax_tunes_the_batch_norm_affine_parameters_of_a_copy_until_the_voice_is_told_apart():
    """Information maximisation recovers two classes a stale batch norm merged into one;
    entropy alone (TENT, ``diversity=0``) only makes the wrong decision surer."""
    import torch

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 30)
    x = (
        np.where(labels == 0, 1.0, -1.0)[:, None, None, None] + rng.normal(0, 0.3, size=(60, 1, 3, 8))
    ).astype(np.float32)
    stale = _sign_classifier(bn_mean=3.0)  # every clip class 1
    before = {k: v.clone() for k, v in stale.state_dict().items()}
    flags = [p.requires_grad for p in stale.parameters()]

    def accuracy(net) -> float:
        return float((net(torch.from_numpy(x)).detach().numpy().argmax(1) == labels).mean())

    assert accuracy(stale) == pytest.approx(0.5)
    seen = []
    net = adapt.infomax(stale, x, epochs=100, lr=0.05, batch_size=60, callback=lambda e, n: seen.append(e))
    assert accuracy(net) == pytest.approx(1.0) and seen == list(range(1, 101)) and not net.training
    assert accuracy(
        adapt.infomax(stale, x, epochs=100, lr=0.05, batch_size=60, diversity=0.0)
    ) == pytest.approx(0.5)
    assert net[3].weight is stale[3].weight and net[0].weight is not stale[0].weight  # only batch norm's own
    assert not net[0].bias.requires_grad and net[0].bias.grad is None
    for k, v in stale.state_dict().items():  # the original is untouched
        assert torch.equal(v, before[k]), k
    assert [p.requires_grad for p in stale.parameters()] == flags and all(
        p.grad is None for p in stale.parameters()
    )
    with pytest.raises(CalibrationError, match="got 1"):
        adapt.infomax(stale, x[:1])
    # tune_to_voice: AdaBN first (the stale mean replaced by the voice's), then the same tuning
    tuned = adapt.tune_to_voice(stale, x, epochs=2)
    np.testing.assert_allclose(tuned[0].running_mean.numpy(), [x.mean()], rtol=1e-4)


def test_voice_warps_name_the_warped_copies():
    assert adapt.voice_warps("chroma") == [] and adapt.voice_warps("mel", warps=()) == []
    assert adapt.voice_warps("mel")[0] == "mel@0.84" and len(adapt.voice_warps("mel")) == len(
        adapt.VOICE_WARPS
    )
    assert adapt.voice_warps("mfcc", warps=(0.9, 1.1)) == ["mfcc@0.9", "mfcc@1.1"]


def test_adapted_model_averages_over_the_voice_warps(tmp_path):
    from ser_core import models
    from ser_core.inference import Predictor
    from ser_core.metrics import softmax

    card = {
        "architecture": {"name": "resnet18", "kwargs": {"width": 8}},
        "input": {"kind": "features", "name": "mel"},
        "normalization": {
            "kind": "speaker",
            "mean": np.zeros((1, 128, 1)).tolist(),
            "std": np.ones((1, 128, 1)).tolist(),
        },
    }
    torch_model = models.create("resnet18", width=8)
    models.save(torch_model, card, "spk", directory=tmp_path)
    pred = Predictor.load("spk", directory=tmp_path)
    names = pred.profile_representations()
    assert (
        names[0] == "mel"
        and names[1:] == adapt.voice_warps("mel")
        and pred.needed_representations() == ["mel"]
    )
    prof = adapt.voice_profile(_speech(12.0, seed=4), representations=names, profile_name="me")
    y = tone(3.0, freq=180.0)
    ad = pred.adapted(prof)
    assert "averaged over 9 voice warps of ±16%" in ad.adaptation()
    want = np.mean(
        [softmax(pred.logits(prof.stats[n].apply(features.compute(y, n))[None]))[0] for n in names[1:]], 0
    )
    np.testing.assert_allclose(ad.predict(y), want, atol=1e-5)
    # without the warps, or with a profile that lacks them (saved before), the voice as it is
    plain = softmax(pred.logits(prof.stats["mel"].apply(features.compute(y, "mel"))[None]))[0]
    np.testing.assert_allclose(pred.adapted(prof, warps=False).predict(y), plain, atol=1e-5)
    old = adapt.VoiceProfile({"mel": prof.stats["mel"]}, prof.seconds, "me")
    np.testing.assert_allclose(pred.adapted(old).predict(y), plain, atol=1e-5)
    assert "voice warps" not in pred.adapted(old).adaptation()
    back = adapt.VoiceProfile.from_json(prof.to_json())  # a saved profile keeps its warps
    np.testing.assert_allclose(pred.adapted(back).predict(y), want, atol=1e-5)


def _speaker_normalised_predictor(directory):
    """An untrained speaker-normalised mel ResNet saved as ``spk`` in ``directory``, loaded."""
    from ser_core import models
    from ser_core.inference import Predictor

    card = {
        "architecture": {"name": "resnet18", "kwargs": {"width": 8}},
        "input": {"kind": "features", "name": "mel"},
        "normalization": {
            "kind": "speaker",
            "mean": np.zeros((1, 128, 1)).tolist(),
            "std": np.ones((1, 128, 1)).tolist(),
        },
    }
    models.save(models.create("resnet18", width=8), card, "spk", directory=directory)
    return Predictor.load("spk", directory=directory, backend="auto")


def test_a_calibration_of_30_s_also_adapts_the_batch_norm_statistics(tmp_path):
    """From ADABN_SECONDS of speech the adapted predictor re-estimates its batch-norm
    statistics on the calibration windows, each warped copy its own (AdaBN), exactly as
    ``evaluate --voice-warps --adabn`` scores it; shorter, saved and unwarped profiles too."""
    import torch

    from ser_core import models
    from ser_core.inference import Predictor
    from ser_core.metrics import softmax

    pred = _speaker_normalised_predictor(tmp_path)
    names = pred.profile_representations()
    prof = adapt.voice_profile(_speech(40.0, seed=5), representations=names, profile_name="me")
    assert prof.adapts_batchnorm and prof.windows.shape[1:] == (48000,) and len(prof.windows) >= 20
    assert "windows" not in prof.to_json() and adapt.VoiceProfile.from_json(prof.to_json()).windows is None
    buffers = {k: v.clone() for k, v in pred.module.state_dict().items()}

    ad = pred.adapted(prof)
    assert ad._bn_views == tuple(names[1:]) and ad.backend == "torch"
    assert "re-estimated on this speech too (AdaBN)" in ad.adaptation()
    net = ad._bn_net
    assert all(a is b for a, b in zip(net.parameters(), pred.module.parameters()))  # weights shared
    for k, v in pred.module.state_dict().items():  # the cached model is untouched
        torch.testing.assert_close(v, buffers[k])
    y = tone(3.0, freq=170.0)

    def expected(views):
        p = []
        for n in views:
            x = np.stack([features.compute(w, n) for w in prof.windows])
            bn = adapt.adapt_batchnorm(pred.module, prof.stats[n].apply(x))
            z = bn(torch.from_numpy(prof.stats[n].apply(features.compute(y, n))[None])).detach().numpy()
            p.append(softmax(z)[0])
        return np.mean(p, 0)

    np.testing.assert_allclose(ad.predict(y), expected(names[1:]), atol=1e-4)
    unwarped = pred.adapted(prof, warps=False)
    assert unwarped._bn_views == ("mel",)
    np.testing.assert_allclose(unwarped.predict(y), expected(["mel"]), atol=1e-4)
    # without AdaBN: the statistics only (and ONNX Runtime when it is at hand)
    plain = pred.adapted(prof, batchnorm=False)
    assert not plain.adabn and "AdaBN" not in plain.adaptation()
    assert not np.allclose(plain.predict(y), ad.predict(y), atol=1e-3)
    # a shorter calibration says what 20 s would add; a saved profile holds no audio
    short = pred.adapted(adapt.voice_profile(_speech(12.0, seed=5), representations=names))
    assert not short.adabn and "From 20 s of speech" in short.adaptation()
    saved = pred.adapted(adapt.VoiceProfile.from_json(prof.to_json()))
    assert not saved.adabn and "AdaBN" not in saved.adaptation()
    np.testing.assert_allclose(saved.predict(y), plain.predict(y), atol=1e-4)
    # an ensemble adapts each member so
    from ser_core.data import EMOTIONS

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
                "members": ["spk"],
                "representations": ["mel-spk"],
            },
            "classes": list(EMOTIONS),
            "ensemble": {"weights": {"mel-spk": 1.0}},
        },
        "e",
        directory=tmp_path,
    )
    e = Predictor.load("e", directory=tmp_path, backend="auto")
    assert not e.adabn and e.adapted(prof).adabn and not e.adapted(prof, batchnorm=False).adabn
    assert e.adapted(prof).backend == "torch" and "(AdaBN)" in e.adapted(prof).adaptation()
    np.testing.assert_allclose(e.adapted(prof).predict(y), ad.predict(y), atol=1e-4)


def test_a_long_calibration_keeps_at_most_adabn_max_windows(monkeypatch):
    monkeypatch.setattr(adapt.voice, "ADABN_MAX_WINDOWS", 5)
    prof = adapt.voice_profile(_speech(15.0, seed=2))
    assert prof.windows.shape == (5, 48000) and not prof.adapts_batchnorm


def test_a_long_calibration_also_tunes_the_network_to_the_voice(tmp_path, monkeypatch):
    """From INFOMAX_SECONDS of speech the adapted predictor runs information maximisation on
    the calibration windows as they are, then each warped copy re-estimates its batch-norm
    statistics on the tuned network, exactly as ``evaluate --voice-warps --adabn --infomax``
    scores it."""
    import torch

    from ser_core.metrics import softmax

    pred = _speaker_normalised_predictor(tmp_path)
    names = pred.profile_representations()
    prof = adapt.voice_profile(_speech(40.0, seed=6), representations=names, profile_name="me")
    assert prof.adapts_batchnorm and not prof.tunes_network  # 40 s < INFOMAX_SECONDS
    assert not pred.adapted(prof).infomax
    monkeypatch.setattr(adapt.voice, "INFOMAX_SECONDS", 30.0)
    assert prof.tunes_network
    ad = pred.adapted(prof)
    assert ad.infomax and ad.adabn and "information maximisation" in ad.adaptation()
    assert not pred.adapted(prof, infomax=False).infomax and not pred.adapted(prof, batchnorm=False).infomax
    y = tone(3.0, freq=170.0)

    def inputs(n, clips):
        return prof.stats[n].apply(np.stack([features.compute(w, n) for w in clips]))

    tuned = adapt.tune_to_voice(pred.module, inputs("mel", prof.windows))
    p = [
        softmax(
            adapt.adapt_batchnorm(tuned, inputs(n, prof.windows))(torch.from_numpy(inputs(n, [y])))
            .detach()
            .numpy()
        )[0]
        for n in names[1:]
    ]
    np.testing.assert_allclose(ad.predict(y), np.mean(p, 0), atol=1e-4)
    assert not np.allclose(ad.predict(y), pred.adapted(prof, infomax=False).predict(y), atol=1e-4)
