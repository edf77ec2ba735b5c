"""Adversarial attacks: registry, settings, FGSM / PGD, SNR, clip attacks, robustness curve."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from ser_core import attacks, audio, data, features, models
from ser_core.attacks import (
    AttackSettings,
    fgsm,
    fgsm_waveform,
    pgd,
    pgd_waveform,
    snr_db,
)
from ser_core.config import EMOTIONS
from ser_core.errors import ConfigError, UnknownNameError
from ser_core.torch_frontend import prepare_waveform
from tests.conftest import tone

SHAPE = (1, 8, 10)


@pytest.fixture(scope="module")
def linear():
    """A linear classifier on (1, 8, 10) inputs: its cross-entropy is convex in the input."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(int(np.prod(SHAPE)), len(EMOTIONS))).eval()


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    return rng.standard_normal((16, *SHAPE)).astype(np.float32), rng.integers(0, 6, 16)


def ce(model, x, labels) -> float:
    with torch.no_grad():
        return float(
            nn.functional.cross_entropy(
                model(torch.from_numpy(x)), torch.tensor(np.array(labels)), reduction="sum"
            )
        )


# ------------------------------------------------------------------ registry and settings
def test_registry_holds_both_domains():
    assert attacks.attack_names("spectrogram") == ("fgsm", "pgd")
    assert attacks.attack_names("waveform") == ("fgsm_wave", "pgd_wave")
    a = attacks.get_attack("pgd_wave")
    assert a.domain == "waveform" and a.iterative and a.title and a.description
    assert not attacks.get_attack("fgsm").iterative
    with pytest.raises(UnknownNameError, match="'nope'"):
        attacks.get_attack("nope")
    with pytest.raises(ConfigError, match="'audio'"):
        attacks.register_attack("x", domain="audio", title="X")


def test_register_attack_adds_a_function(linear, batch):
    @attacks.register_attack("noop_test", domain="spectrogram", title="Nothing")
    def noop(x, *, model, epsilon, target=None, labels=None):
        """Returns the input."""
        return x

    try:
        a = attacks.get_attack("noop_test")
        assert a.description == "Returns the input." and "noop_test" in attacks.attack_names()
        assert a(batch[0], model=linear, settings=AttackSettings()) is batch[0]
    finally:
        attacks.ATTACKS.pop("noop_test")


@pytest.mark.parametrize(
    "kw, err",
    [
        ({"epsilon": -0.1}, ConfigError),
        ({"epsilon": float("nan")}, ConfigError),
        ({"epsilon": "0.1"}, ConfigError),
        ({"target": "joy"}, UnknownNameError),
        ({"steps": 0}, ConfigError),
        ({"step_size": 0.0}, ConfigError),
    ],
)
def test_settings_are_validated(kw, err):
    with pytest.raises(err):
        AttackSettings(**kw)


def test_settings_are_frozen_and_default_step():
    s = AttackSettings(epsilon=0.02, steps=5, target="sadness")
    assert s.alpha == pytest.approx(0.01)
    assert AttackSettings(epsilon=0.02, step_size=0.001).alpha == 0.001
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.epsilon = 1.0  # type: ignore[misc]
    assert AttackSettings(epsilon=np.float32(0.01)).epsilon == np.float32(0.01)


# ------------------------------------------------------------------ FGSM / PGD
@pytest.mark.parametrize("fn", [fgsm, pgd])
def test_epsilon_zero_changes_nothing(fn, linear, batch):
    x, y = batch
    np.testing.assert_array_equal(fn(x, model=linear, epsilon=0.0), x)
    np.testing.assert_array_equal(fn(x, model=linear, epsilon=0.0, target="fear", labels=y), x)


@pytest.mark.parametrize("fn", [fgsm_waveform, pgd_waveform])
def test_waveform_epsilon_zero_changes_nothing(fn, linear):
    y = np.random.default_rng(1).uniform(-0.5, 0.5, (3, 80)).astype(np.float32)
    np.testing.assert_array_equal(fn(y, model=linear, epsilon=0.0), y)


def test_fgsm_steps_exactly_epsilon(linear, batch):
    x, y = batch
    adv = fgsm(x, model=linear, epsilon=0.05, labels=y)
    d = np.abs(adv - x)
    assert adv.dtype == np.float32 and adv.shape == x.shape
    assert np.allclose(d[d > 0], 0.05, atol=1e-6) and (d > 0).mean() > 0.9


def test_loss_rises_with_epsilon_on_a_batch(linear, batch):
    x, y = batch
    losses = [ce(linear, fgsm(x, model=linear, epsilon=e, labels=y), y) for e in (0.0, 0.01, 0.05, 0.1, 0.3)]
    assert all(b > a for a, b in zip(losses, losses[1:])), losses


def test_targeted_fgsm_raises_the_target(linear, batch):
    x, _ = batch
    t = EMOTIONS.index("sadness")
    with torch.no_grad():
        before = torch.softmax(linear(torch.from_numpy(x)), 1)[:, t].numpy()
        adv = fgsm(x, model=linear, epsilon=0.1, target="sadness")
        after = torch.softmax(linear(torch.from_numpy(adv)), 1)[:, t].numpy()
    assert np.all(after > before)
    assert np.array_equal(adv, fgsm(x, model=linear, epsilon=0.1, target=t))


def test_untargeted_default_leaves_the_prediction(linear, batch):
    x, _ = batch
    with torch.no_grad():
        pred = linear(torch.from_numpy(x)).argmax(1).numpy()
    np.testing.assert_array_equal(
        fgsm(x, model=linear, epsilon=0.1), fgsm(x, model=linear, epsilon=0.1, labels=pred)
    )


def test_pgd_stays_in_the_ball_and_beats_the_clean_loss(linear, batch):
    x, y = batch
    adv = pgd(x, model=linear, epsilon=0.1, labels=y, steps=5)
    assert np.abs(adv - x).max() <= 0.1 + 1e-6
    assert ce(linear, adv, y) > ce(linear, x, y)


def test_model_parameters_are_untouched(linear, batch):
    before = [p.detach().clone() for p in linear.parameters()]
    fgsm(batch[0], model=linear, epsilon=0.1)
    assert all(p.grad is None for p in linear.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, linear.parameters()))


def test_single_example_and_bad_inputs(linear, batch):
    x = batch[0][0]
    assert fgsm(x, model=linear, epsilon=0.01).shape == x.shape
    with pytest.raises(ConfigError, match="axes"):
        fgsm(x[0], model=linear, epsilon=0.01)
    bad = x.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ConfigError, match="NaN"):
        fgsm(bad, model=linear, epsilon=0.01)
    with pytest.raises(ConfigError, match="labels"):
        fgsm(batch[0], model=linear, epsilon=0.01, labels=[0, 1])


def test_waveform_attacks_stay_in_full_scale():
    net = nn.Sequential(nn.Linear(80, 6)).eval()
    y = np.full((2, 80), 0.999, np.float32)
    for fn in (fgsm_waveform, pgd_waveform):
        adv = fn(y, model=net, epsilon=0.01)
        assert adv.max() <= 1.0 and adv.min() >= -1.0 and np.abs(adv - y).max() <= 0.01 + 1e-6


# ------------------------------------------------------------------ SNR
def test_snr_of_a_known_signal():
    t = np.arange(16_000) / 16_000
    x = np.sin(2 * np.pi * 440 * t)
    assert snr_db(x, x + 0.1 * x) == pytest.approx(20.0, abs=1e-9)
    assert snr_db(np.ones(100), np.ones(100) + 0.01) == pytest.approx(40.0, abs=1e-9)
    assert snr_db(x, x) == np.inf
    rows = snr_db(np.ones((2, 50)), np.ones((2, 50)) + np.array([[0.1], [0.01]]), axis=1)
    np.testing.assert_allclose(rows, [20.0, 40.0])
    with pytest.raises(ConfigError, match="shapes"):
        snr_db(np.ones(3), np.ones(4))


def test_mel_snr_of_a_uniform_gain():
    S = np.random.default_rng(0).uniform(-80, 0, (128, 188))
    delta = 1.0  # dB everywhere: magnitudes times 10^(1/20)
    expected = -20 * np.log10(10 ** (delta / 20) - 1)
    assert attacks.mel_snr_db(S, S + delta) == pytest.approx(expected, abs=1e-6)


def test_parse_epsilons():
    assert attacks.parse_epsilons("0.01, 0,0.001,0.01") == (0.0, 0.001, 0.01)
    with pytest.raises(ConfigError):
        attacks.parse_epsilons("0,abc")
    with pytest.raises(ConfigError):
        attacks.parse_epsilons("-1")


# ------------------------------------------------------------------ one clip end to end
@pytest.fixture(scope="module")
def tiny_predictor(tmp_path_factory):
    from ser_core.inference import Predictor
    from tests.tiny_model import TINY, ship_tiny_model

    root = ship_tiny_model(tmp_path_factory.mktemp("attacks"))
    return Predictor.load(TINY, directory=root / "models", backend="torch")


@pytest.mark.parametrize("attack", ["fgsm", "fgsm_wave"])
def test_attack_clip_epsilon_zero(tiny_predictor, attack):
    y = tone(2.0)
    res = attacks.attack_clip(
        y, predictor=tiny_predictor, attack=attack, settings=AttackSettings(epsilon=0.0), n_iter=4
    )
    np.testing.assert_allclose(res.probs_after, res.probs_before, atol=1e-6)
    assert res.snr_db == np.inf and res.mel_snr_db == np.inf and not res.fooled
    assert np.abs(res.perturbation_db).max() == 0
    assert res.audio.shape == (tiny_predictor.cfg.n_samples,)
    assert res.log_mel.shape == (128, 188) and res.probs_audio.shape == (6,)


@pytest.mark.parametrize(
    "attack, eps", [("fgsm", 0.05), ("pgd", 0.05), ("fgsm_wave", 1e-3), ("pgd_wave", 1e-3)]
)
def test_attack_clip_moves_away_from_the_label(tiny_predictor, attack, eps):
    res = attacks.attack_clip(
        tone(2.0),
        predictor=tiny_predictor,
        attack=attack,
        settings=AttackSettings(epsilon=eps, steps=3),
        n_iter=4,
    )
    assert res.domain == attacks.get_attack(attack).domain
    assert res.probs_after[res.label] < res.probs_before[res.label]
    assert np.isfinite(res.snr_db) and res.snr_db > 0
    assert set(res.timings_ms) >= {"features", "attack", "playback_prediction"}
    if res.domain == "spectrogram":
        assert "griffin_lim" in res.timings_ms
        # the perturbation in dB is epsilon times each band's standard deviation
        bound = eps * tiny_predictor.norm.std[0] + 1e-3
        assert np.all(np.abs(res.perturbation_db) <= bound)
    else:
        assert np.abs(res.audio - prepare_waveform(tone(2.0))).max() <= eps + 1e-6


def test_attack_clip_needs_a_mel_model():
    class Fake:
        kind, representation, model_name = "features", "hpss", "fake"

    with pytest.raises(ConfigError, match="'hpss'"):
        attacks.attack_clip(tone(1.0), predictor=Fake())


def test_reconstruct_returns_audio_and_probs(tiny_predictor):
    S = features.compute(tone(3.0), "mel")
    y, probs = attacks.reconstruct(S, predictor=tiny_predictor, n_iter=4)
    assert y.shape == (48_000,) and probs.shape == (6,) and probs.sum() == pytest.approx(1.0)


def test_reconstruct_original_phase_plays_the_change_on_the_clip(tiny_predictor):
    """#29: with the clip's own phase an unchanged spectrogram is the window itself (and is
    predicted as the clean clip); an attacked one is a gain on it."""
    y = tone(2.0)
    res = attacks.attack_clip(
        y, predictor=tiny_predictor, attack="fgsm", settings=AttackSettings(epsilon=0.05), n_iter=2
    )
    window = prepare_waveform(y)
    same, probs = attacks.reconstruct_original_phase(y, res.log_mel, res.log_mel, predictor=tiny_predictor)
    assert same.shape == window.shape and same.dtype == np.float32
    assert 10 * np.log10(np.sum(window**2) / np.sum((window - same) ** 2)) >= 40
    np.testing.assert_allclose(probs, res.probs_before, atol=1e-3)
    heard, probs = attacks.reconstruct_original_phase(
        y, res.log_mel, res.adv_log_mel, predictor=tiny_predictor
    )
    assert heard.shape == window.shape and probs.shape == (6,) and probs.sum() == pytest.approx(1.0)
    assert np.abs(heard - window).max() > 0 and np.corrcoef(heard, window)[0, 1] > 0.9


# ------------------------------------------------------------------ robustness
def test_robustness_table_and_fgsm_shortcut(linear, batch):
    x, y = batch
    df = attacks.robustness(x, y, model=linear, epsilons=[0, 0.05, 0.3], batch_size=5)
    assert list(df.columns) == ["epsilon", "n", "accuracy", "snr_db", *EMOTIONS]
    assert df["n"].tolist() == [16] * 3
    with torch.no_grad():
        clean = (linear(torch.from_numpy(x)).argmax(1).numpy() == y).mean()
    assert df["accuracy"].iloc[0] == pytest.approx(clean)
    adv = fgsm(x, model=linear, epsilon=0.3, labels=y)
    with torch.no_grad():
        direct = (linear(torch.from_numpy(adv)).argmax(1).numpy() == y).mean()
    assert df["accuracy"].iloc[2] == pytest.approx(direct)  # the precomputed-sign shortcut agrees
    assert df["accuracy"].iloc[2] <= df["accuracy"].iloc[0]
    assert df["snr_db"].iloc[0] == np.inf and df["snr_db"].iloc[1] > df["snr_db"].iloc[2]
    pgd_df = attacks.robustness(x, y, model=linear, epsilons=[0, 0.3], attack="pgd", steps=3)
    assert pgd_df["accuracy"].iloc[1] <= pgd_df["accuracy"].iloc[0]
    with pytest.raises(ConfigError, match="waveform"):
        attacks.robustness(x, y, model=linear, attack="fgsm_wave")
    with pytest.raises(ConfigError, match="labels"):
        attacks.robustness(x, y[:3], model=linear)


def test_save_merges_and_load(tmp_path, linear, batch):
    x, y = batch
    df = attacks.robustness(x, y, model=linear, epsilons=[0, 0.1])
    for col, val in (
        ("model", "m"),
        ("attack", "fgsm"),
        ("domain", "spectrogram"),
        ("steps", 1),
        ("protocol", "seed"),
    ):
        df.insert(0, col, val)
    p = tmp_path / "attacks" / "robustness.csv"
    attacks.save_robustness(df, p)
    attacks.save_robustness(df.assign(attack="pgd"), p)
    attacks.save_robustness(df.assign(accuracy=0.5), p)  # replaces the fgsm rows
    out = attacks.load_robustness(p)
    assert len(out) == 4 and set(out["attack"]) == {"fgsm", "pgd"}
    assert (out.loc[out["attack"] == "fgsm", "accuracy"] == 0.5).all()
    assert attacks.load_robustness(tmp_path / "missing.csv") is None
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ConfigError, match="lacks"):
        attacks.load_robustness(tmp_path / "bad.csv")


def test_log_robustness_to_mlflow(tmp_path, monkeypatch, linear, batch):
    import mlflow

    monkeypatch.setenv("SER_MLFLOW_DB", str(tmp_path / "mlflow.db"))
    monkeypatch.setenv("SER_MLFLOW_ARTIFACTS", str(tmp_path / "mlartifacts"))
    x, y = batch
    df = attacks.robustness(x, y, model=linear, epsilons=[0, 0.01, 0.1])
    for col, val in (
        ("protocol", "seed"),
        ("steps", 1),
        ("domain", "spectrogram"),
        ("attack", "fgsm"),
        ("model", "m"),
    ):
        df.insert(0, col, val)
    path = attacks.save_robustness(df, tmp_path / "r.csv")
    run_id = attacks.log_robustness(df, artifact=path)
    run = mlflow.get_run(run_id)
    assert run.data.params["epsilons"] == "0,0.01,0.1"
    assert run.data.metrics["accuracy_eps_0.1"] == pytest.approx(df["accuracy"].iloc[2])
    hist = mlflow.MlflowClient().get_metric_history(run_id, "accuracy")
    assert [h.step for h in hist] == [0, 1, 2]


def test_accuracy_falls_on_real_test_clips(meta):
    """FGSM at epsilon 0.05 lowers the shipped mel model's accuracy on real test clips."""
    if "resnet18_mel" not in models.shipped():
        pytest.skip("resnet18_mel is not shipped in artifacts/models")
    loaded = models.load("resnet18_mel")
    norm = features.NormStats.from_dict(loaded.card["normalization"])
    test = meta.iloc[data.split_indices(meta, "seed").test]
    test = test.groupby("emotion", group_keys=False).apply(lambda g: g.sample(6, random_state=0))
    x = np.stack([features.compute(audio.load_audio(p), "mel") for p in test["path"]])
    labels = test["label"].to_numpy()
    df = attacks.robustness(x, labels, model=loaded.module, norm=norm, epsilons=[0, 0.01, 0.05])
    acc = df.set_index("epsilon")["accuracy"]
    assert acc[0.05] < acc[0.0], df
    # and the loss rises with epsilon on this batch
    xn = norm.apply(x)
    losses = [
        ce(loaded.module, attacks.fgsm(xn, model=loaded.module, epsilon=e, labels=labels), labels)
        for e in (0.0, 0.005, 0.02, 0.05)
    ]
    assert all(b > a for a, b in zip(losses, losses[1:])), losses


def test_cli_attack_eval_errors_are_one_line(capsys):
    from ser_core.cli import main

    assert main(["attack-eval", "--epsilons", "0,abc", "--no-mlflow"]) == 2
    assert "epsilons must be" in capsys.readouterr().err


def test_cli_attack_eval_on_the_corpus(meta, tmp_path, monkeypatch, capsys):
    from ser_core import cache
    from ser_core.cli import main

    assert "resnet18_mel" in models.shipped()
    monkeypatch.setenv("SER_CACHE_DIR", str(tmp_path / "cache"))  # no cache: the sample alone is computed
    out = tmp_path / "robustness.csv"
    assert (
        main(["attack-eval", "--max-clips", "24", "--epsilons", "0,0.05", "--out", str(out), "--no-mlflow"])
        == 0
    )
    text = capsys.readouterr().out
    assert "24 clips" in text and f"wrote {out}" in text
    df = attacks.load_robustness(out)
    assert df["n"].tolist() == [24, 24] and df["model"].iloc[0] == "resnet18_mel"
    assert (
        main(["attack-eval", "--attack", "fgsm_wave", "--max-clips", "4", "--out", str(out), "--no-mlflow"])
        == 2
    )
    assert "waveform attack" in capsys.readouterr().err
    assert not cache.is_cached("mel", list(meta["file_id"]))  # the corpus was not cached for 24 clips
    if "resnet18_hpss_trainval" in models.shipped():
        with pytest.raises(ConfigError, match="'hpss'"):
            attacks.evaluate_shipped("resnet18_hpss_trainval", meta, max_clips=2)
