"""L-MAC (ser_core.explain.lmac): the decoder's mask, what masking does to the model
input, the registry's availability, saving and loading, and the shipped decoder."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest
import torch

from ser_core import explain, models
from ser_core.errors import ConfigError
from ser_core.explain.lmac_training import LMACResult, LMACSettings, decoder_scores, save_lmac
from ser_core.models import AudioResNet

L = importlib.import_module("ser_core.explain.lmac")  # the module (``explain.lmac`` is the explainer)


@pytest.fixture(scope="module")
def resnet() -> AudioResNet:
    torch.manual_seed(0)
    return AudioResNet(width=8).eval()


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(0).standard_normal((3, 1, 128, 188)).astype(np.float32))


def _norm() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.full((1, 128, 1), -40.0), torch.full((1, 128, 1), 15.0)


def test_the_decoder_outputs_a_mask_in_0_1_of_the_spectrogram_shape(resnet, x):
    dec = L.LMACDecoder(width=8, hidden=8).eval()
    with torch.no_grad():
        m = L.mask_of(x, torch.tensor([0, 3, 5]), model=resnet, decoder=dec)
    assert m.shape == (3, 1, 128, 188)
    assert float(m.min()) >= 0 and float(m.max()) <= 1


def test_the_class_changes_the_mask_once_the_embedding_is_trained(resnet, x):
    dec = L.LMACDecoder(width=8, hidden=8).eval()
    torch.nn.init.normal_(dec.film.weight, std=1.0)
    with torch.no_grad():
        a = L.mask_of(x[:1], torch.tensor([0]), model=resnet, decoder=dec)
        b = L.mask_of(x[:1], torch.tensor([4]), model=resnet, decoder=dec)
    assert not torch.allclose(a, b)


def test_a_mask_of_ones_leaves_the_input_and_of_zeros_silences_it(x):
    mean, std = _norm()
    db = x * std + mean
    x = (torch.maximum(db, db.amax(dim=(-2, -1), keepdim=True) - 80) - mean) / std  # a real input is clipped
    assert torch.allclose(L.apply_mask(x, torch.ones_like(x), mean=mean, std=std), x, atol=1e-3)
    silent = L.apply_mask(x, torch.zeros_like(x), mean=mean, std=std) * std + mean
    assert torch.allclose(silent, torch.full_like(silent, L.FLOOR_DB), atol=1e-4)


def test_a_mask_is_a_gain_in_db_clipped_below_the_new_peak():
    mean, std = torch.zeros(1, 2, 1), torch.ones(1, 2, 1)
    x = torch.tensor([[[[-10.0, -20.0], [-30.0, -85.0]]]])
    gain = torch.tensor([[[[0.1, 1.0], [1.0, 1.0]]]])  # -20 dB on the peak
    out = L.apply_mask(x, gain, mean=mean, std=std)
    assert torch.allclose(
        out, torch.tensor([[[[-30.0, -20.0], [-30.0, -85.0]]]]), atol=0.2
    )  # amin adds 0.14 dB at -85
    assert torch.allclose(
        L.apply_mask(x, gain, mean=mean, std=std, top_db=60)[0, 0, 1, 1], torch.tensor(-80.0)
    )


def test_the_loss_rewards_keeping_in_and_losing_out():
    t = torch.tensor([1])
    good_in, bad_in = torch.tensor([[0.0, 5.0, 0.0]]), torch.tensor([[5.0, 0.0, 0.0]])
    mask = torch.full((1, 1, 4, 4), 0.2)
    good, parts = L.lmac_loss(good_in, bad_in, mask, t)
    bad, __ = L.lmac_loss(bad_in, good_in, mask, t)
    assert float(good) < float(bad)
    assert parts["l1"] == pytest.approx(0.2) and parts["tv"] == 0


def test_l_mac_is_only_offered_for_a_network_with_a_decoder(resnet):
    assert "lmac" in explain.EXPLAINERS and not explain.get_explainer("lmac").explains(resnet)
    assert "lmac" not in explain.explainer_names(model=resnet)
    with pytest.raises(ConfigError, match="train-lmac"):
        explain.explain(np.zeros((1, 128, 188), np.float32), "lmac", model=resnet, target=0)


def test_a_saved_decoder_is_found_by_the_fingerprint_of_its_network(resnet, x, tmp_path, monkeypatch):
    dec = L.LMACDecoder(width=8, hidden=8).eval()
    mean, std = _norm()
    card = {
        "name": "lmac_tiny",
        "classifier": {"name": "tiny", "fingerprint": L.classifier_fingerprint(resnet)},
        "architecture": {"name": "LMACDecoder", "kwargs": {"width": 8, "hidden": 8, "n_classes": 6}},
        "normalization": {"mean": mean.tolist(), "std": std.tolist()},
        "top_db": 80.0,
    }
    path = save_lmac(LMACResult(dec, card), directory=tmp_path)
    assert json.loads(path.read_text())["classifier"]["name"] == "tiny"
    assert L.decoder_models(directory=tmp_path) == ("tiny",)
    bundle = L.decoder_for(resnet, directory=tmp_path)
    assert bundle is not None and bundle.card["name"] == "lmac_tiny"
    other = AudioResNet(width=8).eval()
    assert L.decoder_for(other, directory=tmp_path) is None
    monkeypatch.setattr(L, "lmac_dir", lambda: tmp_path)
    m = explain.explain(x[0].numpy(), "lmac", model=resnet, target=2)
    assert m.shape == (1, 128, 188) and m.min() >= 0 and m.max() <= 1
    with torch.no_grad():  # the float16 weights as loaded
        ref = L.mask_of(x[:1], torch.tensor([2]), model=resnet, decoder=bundle.decoder)[0].numpy()
    np.testing.assert_allclose(m, ref, atol=1e-6)
    scores = decoder_scores(
        x, torch.tensor([0, 1, 2]), model=resnet, decoder=bundle.decoder, mean=mean, std=std
    )
    assert scores["n"] == 3 and 0 <= scores["keep"] <= 1 and 0 <= scores["mask_mean"] <= 1


def test_a_damaged_card_is_one_clear_error(tmp_path):
    bad = tmp_path / "lmac_x.json"
    bad.write_text("{not json")
    with pytest.raises(L.ModelFileError, match="lmac_x.json"):
        L.load_bundle(bad)


def test_settings_are_checked():
    with pytest.raises(ConfigError):
        LMACSettings(epochs=0)
    with pytest.raises(ConfigError):
        LMACSettings(second_class=2)


# ------------------------------------------------------------------ the shipped decoder
@pytest.fixture(scope="module")
def shipped():
    if "resnet18_mel" not in L.decoder_models():
        pytest.skip("no shipped L-MAC decoder for resnet18_mel (python -m ser_core train-lmac)")
    loaded = models.load("resnet18_mel")
    bundle = L.decoder_for(loaded.module)
    assert bundle is not None, "the shipped decoder's fingerprint does not match resnet18_mel"
    return loaded, bundle


def test_the_shipped_decoder_keeps_the_class_more_often_than_a_random_mask_of_its_size(shipped, meta):
    from ser_core import cache, data, features
    from ser_core.config import FeatureConfig
    from ser_core.explain.benchmark import stratified_sample

    loaded, bundle = shipped
    test = np.asarray(data.split_indices(meta, "seed").test)
    rows = test[stratified_sample(meta["emotion"].to_numpy()[test], 60, seed=1)]
    cfg = FeatureConfig(**loaded.card["input"]["feature_config"])
    raw = cache.features_of(meta.iloc[rows], "mel", corpus=meta, cfg=cfg)
    x = torch.from_numpy(
        features.NormStats.from_dict(loaded.card["normalization"]).apply(np.asarray(raw, np.float32))
    )
    with torch.no_grad():
        target = loaded.module(x).argmax(1)
    s = decoder_scores(
        x, target, model=loaded.module, decoder=bundle.decoder, mean=bundle.mean, std=bundle.std
    )
    assert s["keep"] > s["keep_random"]
    assert s["removed"] > s["removed_random"]
    assert s["mask_mean"] < 0.9  # it does not keep everything


def test_the_card_command_names_every_setting_that_differs_from_the_defaults():
    from ser_core.explain.lmac_training import _flags

    s = LMACSettings(epochs=5, clips_per_epoch=1000, weights=L.LossWeights(l1=2.0))
    assert _flags(s) == ["--epochs 5", "--clips-per-epoch 1000", "--l1 2.0"]
    assert _flags(LMACSettings()) == []


def test_a_decoder_trains_ships_and_explains_a_tiny_network_end_to_end(tmp_path, monkeypatch):
    from ser_core import data
    from ser_core.explain.lmac_training import train_lmac
    from tests.tiny_model import TINY, ship_tiny_model

    artifacts = ship_tiny_model(tmp_path)
    monkeypatch.setenv("SER_ARTIFACTS", str(artifacts))
    monkeypatch.setenv("SER_CACHE_DIR", str(tmp_path / "cache"))
    meta = data.load_metadata(tmp_path / "corpus")
    settings = LMACSettings(epochs=2, batch_size=4, clips_per_epoch=8, hidden=8, val_clips=6)
    result = train_lmac(meta, model_name=TINY, settings=settings, splits_dir=tmp_path / "splits")
    card = result.card
    assert [h["epoch"] for h in card["history"]] == [1, 2]
    assert all(np.isfinite(h["train"]) and np.isfinite(h["val"]) for h in card["history"])
    assert set(card["metrics"]) == {"validation", "test"} and card["metrics"]["validation"]["n"] == 6
    assert card["reproduce"].startswith(f"python -m ser_core train-lmac --model {TINY} --epochs 2")
    assert (save_lmac(result)).parent == artifacts / "xai"
    loaded = models.load(TINY)
    assert L.decoder_models() == (TINY,) and explain.get_explainer("lmac").explains(loaded.module)
    x = np.zeros((1, 128, 188), np.float32)
    m = explain.explain(x, "lmac", model=loaded.module, target=1)
    assert m.shape == x.shape and m.min() >= 0 and m.max() <= 1
