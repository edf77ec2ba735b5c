"""Input-transformation defences, the naive and the adaptive (EOT + BPDA) attacker, their
evaluation and the per-emotion margin table, and the ``attack-eval`` flags."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from ser_core import attacks
from ser_core.attacks import DefenceSpec, defence_eval, eot_pgd, naive_attack, parse_defence, parse_defences
from ser_core.config import EMOTIONS, SAMPLE_RATE
from ser_core.errors import ConfigError, UnknownNameError
from tests.conftest import tone

SPECS = [f"{n}{v}" for n in attacks.defence_names() for v in ("", ":random")]
N = 8000  # half a second


def _peak_hz(y: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(y))
    return float(np.fft.rfftfreq(len(y), 1 / SAMPLE_RATE)[spec.argmax()])


@pytest.mark.parametrize("spec", SPECS)
def test_each_defence_keeps_length_and_sample_rate(spec):
    """Same shape for a clip and a batch, float32, and a 440 Hz tone stays at 440 Hz
    (a changed sample rate would move it)."""
    d = parse_defence(spec)
    y = 0.5 * tone(N / SAMPLE_RATE, freq=440.0)[:N].astype(np.float32)
    out = d.apply(y, rng=np.random.default_rng(0))
    assert out.shape == y.shape and out.dtype == np.float32
    assert abs(_peak_hz(out) - 440.0) <= 2.0
    batch = np.stack([y, 0.5 * y, 0.25 * y])
    assert d.apply(batch, rng=np.random.default_rng(1)).shape == batch.shape


@pytest.mark.parametrize("name", attacks.defence_names())
def test_bpda_passes_the_gradient(name):
    """The attacker's forward gives the defence's value; its gradient is the identity
    (BPDA) for the transforms without one, the transform's own for ``resample``."""
    d = DefenceSpec(name)
    y = (0.1 * np.random.default_rng(0).standard_normal((2, N))).astype(np.float32)
    x = torch.from_numpy(y).requires_grad_(True)
    out = d.forward(x)
    np.testing.assert_allclose(out.detach().numpy(), d.apply(y), atol=1e-6)
    w = torch.from_numpy(np.random.default_rng(1).standard_normal((2, N)).astype(np.float32))
    (grad,) = torch.autograd.grad((out * w).sum(), x)
    if d.defence.differentiable:  # a linear low-pass: the gradient is w low-passed
        np.testing.assert_allclose(grad.numpy(), d.apply(w.numpy()), atol=1e-4)
    else:
        np.testing.assert_allclose(grad.numpy(), w.numpy())


def test_randomised_defences_draw_per_clip_and_repeat_with_the_seed():
    d = parse_defence("median:random")
    assert d.randomised and d.label == "median:random"
    a = d.values(50, np.random.default_rng(3))
    assert set(a) == set(d.defence.choices) and a == d.values(50, np.random.default_rng(3))
    assert parse_defence("mp3").values(2, None) == [32_000.0, 32_000.0]
    assert parse_defence("median:7").label == "median:7"


def test_parse_defences_and_errors():
    assert [s.label for s in parse_defences("mp3, resample:random,,quantise:10")] == [
        "mp3",
        "resample:random",
        "quantise:10",
    ]
    with pytest.raises(UnknownNameError, match="unknown defence 'gzip'"):
        parse_defence("gzip")
    with pytest.raises(ConfigError, match="number or 'random'"):
        parse_defence("mp3:fast")
    with pytest.raises(ConfigError, match="must be positive"):
        parse_defence("median:-3")
    with pytest.raises(ConfigError, match="no defence"):
        parse_defences(" , ")
    with pytest.raises(ConfigError, match="odd positive"):
        parse_defence("median:4").apply(np.zeros(100, np.float32))
    with pytest.raises(ConfigError):
        parse_defence("mp3").apply(np.full(10, np.nan, np.float32))


# ------------------------------------------------------------------ attackers on a toy model
class Toy(nn.Module):
    """A linear classifier on 200-sample waveforms."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(200, len(EMOTIONS))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.lin(y)


def test_adaptive_attack_stays_in_the_ball_and_naive_is_the_plain_attack():
    model = Toy().eval()
    y = (0.1 * np.random.default_rng(0).standard_normal((4, 200))).astype(np.float32)
    d = parse_defence("quantise:6")
    adv = eot_pgd(y, model=model, defence=d, epsilon=0.01, steps=4)
    assert adv.shape == y.shape and np.abs(adv - y).max() <= 0.01 + 1e-6
    assert np.array_equal(eot_pgd(y, model=model, defence=d, epsilon=0.0), y)
    np.testing.assert_array_equal(
        naive_attack(y, model=model, epsilon=0.01, attack="fgsm_wave"),
        attacks.fgsm_waveform(y, model=model, epsilon=0.01),
    )
    with pytest.raises(ConfigError, match="waveform attack"):
        naive_attack(y, model=model, epsilon=0.01, attack="fgsm")
    with pytest.raises(ConfigError, match="eot"):
        eot_pgd(y, model=model, defence=d, epsilon=0.01, eot=0)


def test_defence_curves_and_margin_tables():
    model = Toy().eval()
    rng = np.random.default_rng(0)
    y = (0.3 * rng.standard_normal((6, 200))).astype(np.float32)
    with torch.no_grad():
        labels = model(torch.from_numpy(y)).argmax(1).numpy()
    df = defence_eval.defence_curves(
        y, labels, model=model, defences=parse_defences("quantise:5,median:random"), epsilons=[0, 0.05], steps=3,
        eot=2, batch_size=4,
    )  # fmt: skip
    assert set(df["defence"]) == {"none", "quantise:5", "median:random"}
    assert set(zip(df["attacker"], df["attack"])) == {
        ("naive", "fgsm_wave"),
        ("naive", "pgd_wave"),
        ("adaptive", "eot_pgd"),
    }
    assert not ((df["defence"] == "none") & (df["attacker"] == "adaptive")).any()
    assert (df.loc[df["epsilon"] == 0, "success"] == 0).all()
    none = df[(df["defence"] == "none") & (df["epsilon"] == 0)]
    assert (none["accuracy"] == 1.0).all()  # the labels are the model's own
    assert df.loc[(df["defence"] == "median:random") & (df["attacker"] == "adaptive"), "eot"].eq(2).all()
    per_clip = defence_eval.margin_success(
        y, labels, model=model, attacks={"fgsm_wave": [0.01, 0.1], "pgd_wave": [0.1]}, steps=3
    )
    assert len(per_clip) == 6 * 3 and per_clip["clean_correct"].all()
    summary = defence_eval.summarise_margin(per_clip, bins=(-np.inf, 10, 20, np.inf))
    assert set(summary["emotion"]) <= {"all", *EMOTIONS} and (summary["n"] > 0).all()
    for attack, part in summary[summary["emotion"] == "all"].groupby("attack"):
        assert part["n"].sum() == (per_clip["attack"] == attack).sum()


def test_save_table_replaces_only_the_same_keys(tmp_path):
    p = tmp_path / "margin.csv"
    a = pd.DataFrame({"model": ["m", "m"], "attack": ["fgsm_wave", "pgd_wave"], "success": [0.1, 0.2]})
    defence_eval.save_table(a, p, keys=("model", "attack"))
    b = pd.DataFrame({"model": ["m"], "attack": ["pgd_wave"], "success": [0.9]})
    defence_eval.save_table(b, p, keys=("model", "attack"))
    got = pd.read_csv(p).set_index("attack")["success"].to_dict()
    assert got == {"fgsm_wave": 0.1, "pgd_wave": 0.9}
    assert defence_eval.load_defences(tmp_path / "none.csv") is None
    with pytest.raises(ConfigError, match="lack the columns"):
        defence_eval.load_margin(p)


# ------------------------------------------------------------------ EOT on a tiny model
@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory):
    """The tiny shipped mel ResNet as a waveform classifier (trained once, seeded)."""
    import os

    from ser_core import models
    from ser_core.torch_frontend import WaveformClassifier
    from tests.tiny_model import TINY, ship_tiny_model

    artifacts = ship_tiny_model(tmp_path_factory.mktemp("defences"))
    old = os.environ.get("SER_ARTIFACTS")
    os.environ["SER_ARTIFACTS"] = str(artifacts)
    try:
        return WaveformClassifier.from_loaded(models.load(TINY))
    finally:
        os.environ.pop("SER_ARTIFACTS") if old is None else os.environ.__setitem__("SER_ARTIFACTS", old)


def test_eot_raises_the_success_rate_against_a_randomised_defence(tiny_classifier):
    """Against a median filter whose kernel is drawn anew at every call, PGD whose gradient
    averages 8 draws per step (EOT) fools the defended tiny model more often, over 8 fresh
    draws of the defence, than the same PGD with one draw per step.  (Measured 0.73 against
    0.85 when the test was written.)"""
    from ser_core.torch_frontend import prepare_waveform

    clf = tiny_classifier
    y = np.stack(
        [prepare_waveform(tone(0.8, freq=150 + 40 * e) * (0.5 + 0.1 * k)) for e in range(6) for k in range(2)]
    )
    labels = attacks.defended_logits(y, model=clf, defence=None).argmax(1)
    d = parse_defence("median:random")

    def success(eot: int) -> float:
        adv = eot_pgd(y, model=clf, defence=d, epsilon=3e-4, labels=labels, steps=3, eot=eot, seed=0)
        draws = [
            attacks.defended_logits(adv, model=clf, defence=d, rng=np.random.default_rng(100 + r)).argmax(1)
            for r in range(8)
        ]
        return float(np.mean([p != labels for p in draws]))

    one, eight = success(1), success(8)
    assert eight > one, (one, eight)


def test_cli_attack_eval_defences_and_per_emotion(meta, tmp_path, capsys):
    """The new flags on a short run: 6 stratified seed test clips of resnet18_mel."""
    import json

    from ser_core import models
    from ser_core.cli import main

    if "resnet18_mel" not in models.shipped():
        pytest.skip("resnet18_mel is not shipped in artifacts/models")
    out = tmp_path / "defences.csv"
    args = ["attack-eval", "--n", "6", "--steps", "2", "--out", str(out), "--no-mlflow"]
    assert (
        main(
            [
                *args,
                "--defences",
                "quantise,median:random",
                "--adaptive",
                "--eot",
                "2",
                "--epsilons",
                "0,5e-4",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "on 6 seed test clips" in text and f"wrote {out}" in text
    df = defence_eval.load_defences(out)
    assert set(df["defence"]) == {"none", "quantise", "median:random"} and (df["n"] == 6).all()
    assert json.loads((tmp_path / "defences.json").read_text())["eot"] == 2
    assert main([*args, "--per-emotion", "--margin-attacks", "fgsm_wave", "--margin-epsilons", "1e-3"]) == 0
    margin = defence_eval.load_margin(tmp_path / "margin.csv")
    assert set(margin["attack"]) == {"fgsm_wave"} and set(margin["emotion"]) <= {"all", *EMOTIONS}
    assert main([*args, "--defences", "gzip"]) == 2
    assert "unknown defence 'gzip'" in capsys.readouterr().err
