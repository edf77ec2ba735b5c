"""Explanations (ser_core.explain): shapes, LRP conservation, localisation on a synthetic
task trained here in seconds, the deletion test, listening and the xai-eval command."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from ser_core import explain
from ser_core.errors import ConfigError, UnknownNameError
from ser_core.models import VGG16, AudioResNet, BasicBlock, SmallCNN
from tests.threads import run_alongside

METHODS = ("gradcam", "lrp", "smoothgrad", "lime")
FAST = explain.XAIOptions(lime_samples=64, lime_segments=(4, 6), smoothgrad_samples=4, deletion_steps=10)
#: LRP conservation: |sum of relevance - logit| <= REL_TOL * |logit| + ABS_TOL.
REL_TOL, ABS_TOL = 5e-3, 1e-4


def _randomise_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial batch-norm statistics, so that folding them is really tested."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(0.2 * torch.randn(c, generator=g))
            m.running_var.copy_(0.5 + torch.rand(c, generator=g))
            m.weight.data.copy_(0.5 + torch.rand(c, generator=g))
            m.bias.data.copy_(0.2 * torch.randn(c, generator=g))
    return model.eval()


@pytest.fixture(scope="module")
def resnet() -> nn.Module:
    torch.manual_seed(0)
    return _randomise_bn(AudioResNet(width=4))


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((1, 32, 48)).astype(np.float32)


# ------------------------------------------------------------------ registry and shapes
def test_registry_has_the_five_methods_l_mac_only_where_a_decoder_was_trained(resnet):
    assert tuple(explain.EXPLAINERS) == (*METHODS, "lmac")
    assert explain.explainer_names(model=resnet) == METHODS  # no decoder for this network
    assert explain.get_explainer("lrp").title == "LRP"
    assert explain.get_explainer("gradcam").signed is False
    with pytest.raises(UnknownNameError, match="nope"):
        explain.get_explainer("nope")
    with pytest.raises(UnknownNameError):
        explain.explain(np.zeros((1, 8, 8), np.float32), "nope", model=nn.Identity())


def test_register_explainer_decorator_adds_and_runs_a_method(resnet, x):
    @explain.register_explainer("ones", title="Ones", signed=False)
    def ones(x, *, model, target):
        """Every bin equally relevant."""
        return np.ones_like(x)

    try:
        assert explain.get_explainer("ones").description == "Every bin equally relevant."
        assert (explain.explain(x, "ones", model=resnet) == 1).all()
    finally:
        del explain.EXPLAINERS["ones"]


@pytest.mark.parametrize("method", METHODS)
def test_every_map_has_the_input_shape_and_is_finite(resnet, x, method):
    m = explain.explain(x, method, model=resnet, target=2, options=FAST)
    assert m.shape == x.shape and m.dtype == np.float32
    assert np.isfinite(m).all()
    if method != "gradcam":  # ReLU'd Grad-CAM is all zero when nothing speaks for the class
        assert np.abs(m).max() > 0


def test_maps_of_a_two_channel_input_keep_the_shape():
    torch.manual_seed(1)
    model = _randomise_bn(AudioResNet(in_chans=2, width=4))
    x2 = np.random.default_rng(1).standard_normal((2, 32, 40)).astype(np.float32)
    maps = explain.explain_all(x2, model=model, options=FAST)
    assert {k: v.shape for k, v in maps.items()} == {k: x2.shape for k in METHODS}


def test_options_are_validated():
    with pytest.raises(ConfigError, match="lime_samples"):
        explain.XAIOptions(lime_samples=0)
    with pytest.raises(ConfigError, match="deletion_steps"):
        explain.XAIOptions(deletion_steps=0)
    with pytest.raises(ConfigError, match="smoothgrad_noise"):
        explain.XAIOptions(smoothgrad_noise=-1.0)
    with pytest.raises(ConfigError, match="lime_segments"):
        explain.XAIOptions(lime_segments=(0, 3))
    assert explain.XAIOptions().kwargs("lime")["samples"] == 256


def test_bad_inputs_raise_config_errors(resnet, x):
    with pytest.raises(ConfigError, match="shape"):
        explain.explain(x[0], "lrp", model=resnet)
    bad = x.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ConfigError, match="NaN"):
        explain.explain(bad, "gradcam", model=resnet)
    with pytest.raises(ConfigError, match="target"):
        explain.explain(x, "lrp", model=resnet, target=6)


def test_normalise_scales_by_the_largest_magnitude():
    assert np.allclose(explain.normalise(np.array([-4.0, 2.0])), [-1.0, 0.5])
    assert np.allclose(explain.normalise(np.zeros(3)), 0)
    r = np.r_[np.linspace(0, 1, 999), 100.0]  # one extreme bin
    z = explain.normalise(r, percentile=99.0)
    assert z.max() == 1.0 and z[-1] == 1.0 and z[500] > 0.4


# ------------------------------------------------------------------ LRP
@pytest.mark.parametrize("arch", ["resnet", "small_cnn", "vgg16"])
def test_folded_lrp_network_computes_the_same_logits(arch, x):
    torch.manual_seed(0)
    model = {
        "resnet": lambda: AudioResNet(width=4),
        "small_cnn": lambda: SmallCNN(),
        "vgg16": lambda: VGG16(width=4),
    }[arch]()
    model = _randomise_bn(model)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)[None])[0].numpy()
    assert np.allclose(explain.lrp_forward(x, model=model), ref, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("target", range(6))
def test_lrp_conserves_relevance_in_a_resnet(resnet, x, target):
    with torch.no_grad():
        logit = float(resnet(torch.from_numpy(x)[None])[0, target])
    r = explain.lrp(x, model=resnet, target=target)
    assert abs(float(r.sum()) - logit) <= REL_TOL * abs(logit) + ABS_TOL


def test_lrp_conserves_relevance_in_the_shipped_model():
    from ser_core import features, models
    from tests.conftest import tone

    if "resnet18_mel" not in models.shipped():
        pytest.skip("resnet18_mel is not shipped in artifacts/models")
    lm = models.load("resnet18_mel")
    norm = features.NormStats.from_dict(lm.card["normalization"])
    x = norm.apply(features.compute(tone(3.0, freq=180.0), "mel"))
    with torch.no_grad():
        logits = lm.module(torch.from_numpy(x)[None])[0].numpy()
    for target in (int(np.argmax(logits)), int(np.argmin(logits))):
        r = explain.lrp(x, model=lm.module, target=target)
        assert abs(float(r.sum()) - logits[target]) <= REL_TOL * abs(logits[target]) + ABS_TOL


def test_lrp_rejects_unsupported_layers(x):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.LazyLinear(6))
    with pytest.raises(ConfigError, match="Tanh"):
        explain.lrp(x, model=model, target=0)


# ------------------------------------------------------------------ synthetic task
F_BINS, FRAMES = 32, 48
REGION = (slice(16, 32), slice(24, 48))  # high bands, second half: 25 % of the bins


class TinyResNet(nn.Module):
    """Conv-BN-ReLU, a strided residual block with a downsampling shortcut, an identity
    residual block; global average pooling; dense head (the AudioResNet layers)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 8, 3, 1, 1, bias=False),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            BasicBlock(8, 16, 2),
            BasicBlock(16, 16),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))

    def forward(self, x):
        return self.head(self.pool(self.body(x)))


def _synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise; class 1 has +1 added inside REGION (the only place the label lives)."""
    g = np.random.default_rng(seed)
    x = g.standard_normal((n, 1, F_BINS, FRAMES)).astype(np.float32)
    y = g.integers(0, 2, n)
    x[y == 1, 0, REGION[0], REGION[1]] += 1.0
    return x, y


@pytest.fixture(scope="module")
def synthetic():
    """A TinyResNet trained on the synthetic task (a few seconds); 8 class-1 test inputs."""
    torch.manual_seed(0)
    net = TinyResNet()
    x, y = _synthetic(512, 0)
    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    for _ in range(5):
        perm = torch.randperm(len(X))
        for i in range(0, len(X), 64):
            b = perm[i : i + 64]
            loss = nn.functional.cross_entropy(net(X[b]), Y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    xt, yt = _synthetic(64, 1)
    with torch.no_grad():
        acc = float((net(torch.from_numpy(xt)).argmax(1).numpy() == yt).mean())
    assert acc > 0.9, f"the synthetic task was not learnt (accuracy {acc:.2f})"
    return net, xt[yt == 1][:8]


def _region_mask() -> np.ndarray:
    m = np.zeros((1, F_BINS, FRAMES), bool)
    m[0, REGION[0], REGION[1]] = True
    return m


@pytest.mark.parametrize("method", ["gradcam", "lrp", "smoothgrad"])
def test_relevance_lies_where_the_label_lives(synthetic, method):
    net, xs = synthetic
    region = _region_mask()
    k = int(region.sum())
    opts = explain.XAIOptions(smoothgrad_samples=8)
    precision, density = [], []
    for x in xs:
        m = explain.explain(x, method, model=net, target=1, options=opts)
        top = np.argsort(-m.ravel(), kind="stable")[:k]
        precision.append(region.ravel()[top].mean())
        pos = np.clip(m, 0, None)
        density.append(pos[region].mean() / max(pos[~region].mean(), 1e-12))
    # most of the k most relevant bins are in the region (chance: 25 %), and the region
    # is clearly denser in relevance than the rest
    assert np.mean(precision) > 0.5, precision
    assert np.mean(density) > 1.5, density


def test_deletion_auc_of_the_maps_beats_random(synthetic):
    net, xs = synthetic
    aucs = {m: [] for m in ("gradcam", "lrp", "smoothgrad", "random")}
    for x in xs[:4]:
        maps = explain.explain_all(
            x, model=net, target=1, methods=["gradcam", "lrp", "smoothgrad"], options=FAST
        )
        for k, c in explain.deletion_test(x, maps, model=net, target=1, options=FAST).items():
            aucs[k].append(c.auc)
    for m in ("gradcam", "lrp", "smoothgrad"):
        assert np.mean(aucs[m]) < np.mean(aucs["random"]) - 0.05, aucs


def test_lrp_conserves_relevance_in_the_trained_network(synthetic):
    net, xs = synthetic
    for x in xs[:4]:
        with torch.no_grad():
            logit = float(net(torch.from_numpy(x)[None])[0, 1])
        assert abs(float(explain.lrp(x, model=net, target=1).sum()) - logit) <= REL_TOL * abs(logit) + ABS_TOL


# ------------------------------------------------------------------ deletion test
def test_deletion_fractions_include_10_and_20_percent():
    fr = explain.deletion_fractions(7)
    assert fr[0] == 0 and fr[-1] == 1 and np.all(np.diff(fr) > 0)
    assert np.isclose(fr, 0.1).any() and np.isclose(fr, 0.2).any()
    with pytest.raises(ConfigError):
        explain.deletion_fractions(0)


def test_deletion_curve_of_a_linear_model_matches_a_hand_computation():
    """Logit of class 1 = sum of the first 10 bins: deleting them first kills it."""

    class Linear(nn.Module):
        def forward(self, x):
            s = x.flatten(1)[:, :10].sum(1)
            return torch.stack([torch.zeros_like(s), s], 1)

    x = np.full((1, 10, 10), 1.0, np.float32)
    rel = np.zeros_like(x)
    rel.reshape(-1)[:10] = 1.0
    c = explain.deletion_curve(x, rel, model=Linear(), target=1, steps=10)
    p = 1 / (1 + np.exp(-10.0))
    assert np.isclose(c.probs[0], p) and np.isclose(c.probs[1], 0.5)  # 10 % removed: logit 0
    assert np.isclose(c.drop_at(0.1), p - 0.5)
    assert c.auc == pytest.approx(np.trapezoid(c.probs, c.fractions))
    assert set(c.scores()) == {"auc", "drop10", "drop20", "p0"}
    with pytest.raises(ConfigError, match="shape"):
        explain.deletion_curve(x, rel[0], model=Linear(), target=1)


def test_deletion_test_adds_a_random_reference(resnet, x):
    maps = explain.explain_all(x, model=resnet, methods=["gradcam"], options=FAST)
    curves = explain.deletion_test(x, maps, model=resnet, options=FAST)
    assert set(curves) == {"gradcam", "random"}
    for c in curves.values():
        assert len(c.fractions) == len(c.probs) == 11
        assert np.all((c.probs >= 0) & (c.probs <= 1))
        assert np.isclose(c.probs[0], curves["random"].probs[0])


# ------------------------------------------------------------------ listening
def test_top_k_mask_keeps_the_most_relevant_fraction():
    rel = np.arange(100, dtype=np.float32).reshape(1, 10, 10)
    m = explain.top_k_mask(rel, 0.2)
    assert m.shape == (10, 10) and m.sum() == 20 and m.reshape(-1)[-20:].all()
    with pytest.raises(ConfigError):
        explain.top_k_mask(rel, 1.5)


def test_listen_returns_three_seconds_of_audio():
    from tests.conftest import tone

    y = tone(3.0)
    rel = np.random.default_rng(0).random((1, 128, 188)).astype(np.float32)
    for phase in explain.PHASES:
        out = explain.listen(y, rel, top_k=0.1, phase=phase, n_iter=4)
        assert out.shape == (48_000,) and out.dtype == np.float32
        assert np.isfinite(out).all() and np.abs(out).max() <= 1
    with pytest.raises(ConfigError, match="shape"):
        explain.listen(y, rel[:, :, :10], top_k=0.1)
    with pytest.raises(ConfigError, match="phase"):
        explain.listen(y, rel, phase="random")


def test_listen_keeps_the_clips_phase_by_default():
    """#29: the original phase is the default; with every bin it is the model's window itself
    (SNR >= 40 dB), while Griffin-Lim's all-bins reconstruction is far from it."""
    from ser_core.audio import pad_or_trim
    from tests.conftest import tone

    y = tone(4.0, freq=200.0)
    window = pad_or_trim(y, n_samples=48_000, align="center")
    rel = np.random.default_rng(1).random((1, 128, 188))

    def snr(est: np.ndarray) -> float:
        return float(10 * np.log10(np.sum(window**2) / np.sum((window - est) ** 2)))

    assert snr(explain.listen(y, rel, top_k=1.0)) >= 40
    assert snr(explain.listen(y, rel, top_k=1.0, phase="griffin-lim", n_iter=8)) < 10
    some = explain.listen(y, rel, top_k=0.3)
    assert np.array_equal(some, explain.listen(y, rel, top_k=0.3, phase="original"))
    assert 0 < np.sum(some**2) < np.sum(window**2)


# ------------------------------------------------------------------ dataset level
def test_stratified_sample_balances_the_labels():
    labels = np.array(["a"] * 50 + ["b"] * 10 + ["c"] * 40)
    pick = explain.stratified_sample(labels, 12, seed=0)
    assert len(pick) == len(set(pick)) == 12
    assert sorted(np.unique(labels[pick], return_counts=True)[1]) == [4, 4, 4]
    assert len(explain.stratified_sample(labels, 1000)) == 100


def test_evaluate_and_summarise(resnet, x, tmp_path):
    inputs = [("c1", "anger", x), ("c2", "joy", x * 0.5)]
    scores = explain.evaluate_faithfulness(inputs, model=resnet, options=FAST)
    assert len(scores) == 2 * 5 and set(scores["method"]) == {*METHODS, "random"}
    summary = explain.summarise_faithfulness(
        scores[["clip", "emotion", "target", "method", "auc", "drop10", "drop20"]]
    )
    assert list(summary.columns) == ["method", "emotion", "n", "auc", "drop10", "drop20"]
    assert list(summary["method"][:5]) == [*METHODS, "random"]
    assert (summary["emotion"][:5] == "all").all() and (summary["n"][:5] == 2).all()
    path = explain.save_deletion_table(summary, {"n_clips": 2}, tmp_path / "d.json")
    rows, info = explain.load_deletion_table(path)
    assert info == {"n_clips": 2} and len(rows) == len(summary)
    with pytest.raises(ConfigError, match="cannot read"):
        explain.load_deletion_table(tmp_path / "missing.json")


def test_faithfulness_table_per_method_and_emotion(resnet, x, tmp_path):
    """#29: the benchmark scores every method with deletion, insertion and the mask metrics;
    the summary keeps them per emotion, and the table file round-trips."""
    inputs = [("c1", "anger", x), ("c2", "joy", x * 0.5), ("c3", "joy", -x)]
    scores = explain.evaluate_faithfulness(inputs, model=resnet, options=FAST, methods=["gradcam", "lrp"])
    assert len(scores) == 3 * 3 and list(scores["method"][:3]) == ["gradcam", "lrp", "random"]
    assert scores["ai"].isin([0, 100]).all() and scores["fid_in"].isin([0, 1]).all()
    assert scores["ad"].between(0, 100).all() and scores["ag"].between(0, 100).all()
    summary = explain.summarise_faithfulness(scores)
    assert list(summary.columns) == ["method", "emotion", "n", *explain.FAITHFULNESS_SCORES]
    joy = summary[(summary["method"] == "lrp") & (summary["emotion"] == "joy")].iloc[0]
    lrp_joy = scores[(scores["method"] == "lrp") & (scores["emotion"] == "joy")]
    assert joy["n"] == 2 and joy["ff"] == pytest.approx(lrp_joy["ff"].mean())
    path = explain.save_deletion_table(summary, {"n_clips": 3}, tmp_path / "f.json")
    rows, __info = explain.load_deletion_table(path)
    assert list(rows.columns) == list(summary.columns)


def test_faithfulness_table_path_per_model(monkeypatch, tmp_path):
    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path))
    assert explain.faithfulness_table_path() == tmp_path / "xai" / "faithfulness.json"
    assert explain.faithfulness_table_path("m") == tmp_path / "xai" / "faithfulness_m.json"


def test_xai_eval_command_on_a_tiny_corpus(tmp_path, monkeypatch, capsys):
    """``xai-eval`` end to end on a synthetic corpus and a tiny shipped model."""
    import shutil

    from ser_core import cli
    from tests.tiny_model import TINY, ship_tiny_model

    artifacts = ship_tiny_model(tmp_path)
    shutil.copytree(tmp_path / "splits", artifacts / "splits")
    monkeypatch.setenv("SER_ARTIFACTS", str(artifacts))
    monkeypatch.setenv("SER_CACHE_DIR", str(tmp_path / "no-cache"))
    monkeypatch.setenv("SER_MLFLOW_DB", str(tmp_path / "mlflow.db"))
    monkeypatch.setenv("SER_MLFLOW_ARTIFACTS", str(tmp_path / "mlartifacts"))
    out = tmp_path / "deletion.json"
    rc = cli.main(
        [
            "xai-eval",
            "--nemo-dir",
            str(tmp_path / "corpus"),
            "--model",
            TINY,
            "--n",
            "3",
            "--lime-samples",
            "16",
            "--smoothgrad-samples",
            "2",
            "--steps",
            "5",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "lrp" in text and "wrote" in text and "MLflow" in text
    d = json.loads(out.read_text())
    assert d["n_clips"] == 3 and d["model"] == TINY and d["options"]["lime_samples"] == 16
    assert {r["method"] for r in d["rows"]} == {*METHODS, "random"}
    # #29: every faithfulness score, per method and emotion, and the mask it used
    assert set(explain.FAITHFULNESS_SCORES) <= set(d["rows"][0]) and d["mask"]["top_k"] == 0.2
    assert "ins-AUC" in text and "Fid-In" in text
    assert (
        cli.main(
            [
                "xai-eval",
                "--nemo-dir",
                str(tmp_path / "corpus"),
                "--model",
                TINY,
                "--methods",
                "nope",
                "--no-mlflow",
            ]
        )
        == 2
    )


def test_scores_need_a_class_at_least_at_chance():
    """#28: a class the model gives ~0 % cannot be scored by deletion (its curve has no
    room to fall); the threshold is the chance level 1 / n_classes, which the predicted
    class always reaches."""
    assert explain.chance_level(6) == pytest.approx(1 / 6)
    assert not explain.scorable(0.004, n_classes=6) and not explain.scorable(0.16, n_classes=6)
    assert explain.scorable(1 / 6, n_classes=6) and explain.scorable(0.9, n_classes=6)
    rng = np.random.default_rng(0)
    for _ in range(100):  # the largest of n probabilities is never below 1 / n
        p = rng.dirichlet(np.full(6, 0.3))
        assert explain.scorable(p.max(), n_classes=6)
    with pytest.raises(ConfigError, match="1"):
        explain.chance_level(1)


def test_deletion_table_path_per_model(monkeypatch, tmp_path):
    monkeypatch.setenv("SER_ARTIFACTS", str(tmp_path))
    assert explain.deletion_table_path() == tmp_path / "xai" / "deletion.json"
    assert explain.deletion_table_path("resnet18_cqt") == tmp_path / "xai" / "deletion_resnet18_cqt.json"


def test_gradcam_is_safe_while_other_threads_use_the_same_network(resnet, x):
    """Grad-CAM hooks a layer; on a network shared by sessions (a cached model), another
    thread's forward pass must neither break it nor change its map (a class at once)."""
    expected = explain.explain(x, "gradcam", model=resnet)
    xt = torch.from_numpy(np.repeat(x[None], 4, 0))
    failures, maps = [], []

    def predict(stop) -> None:  # other sessions predicting with the same network
        with torch.no_grad():
            while not stop.is_set():
                resnet(xt)

    def explain_many() -> None:
        try:
            for _ in range(15):
                maps.append(explain.explain(x, "gradcam", model=resnet))
        except Exception as exc:  # noqa: BLE001 - the failure is the result
            failures.append(exc)

    run_alongside([explain_many] * 3, [predict] * 2)
    assert not failures, failures[0]
    assert len(maps) == 45
    for m in maps:
        np.testing.assert_allclose(m, expected, rtol=1e-5, atol=1e-6)
