"""ser_core.models: every registered architecture, save/load round trip."""

from __future__ import annotations

import pytest
import torch

from ser_core import models
from ser_core.errors import UnknownNameError

INPUTS = {
    "features": [(1, 128, 188), (2, 128, 188), (1, 6, 188), (1, 1, 188), (1, 513, 188)],
    "waveform": [(1, 48_000)],
    "frames": [(2, 301)],
    "functionals": [(88,), (6373,)],
    "members": [(3, 6)],
}


@pytest.mark.parametrize("name", list(models.MODELS))
def test_every_model_builds_and_returns_logits(name):
    spec = models.MODELS[name]
    for shape in INPUTS[spec.input]:
        kw = ({"in_chans": shape[0]} if spec.input == "features" else
              {"n_members": shape[0]} if spec.input == "members" else
              {"in_features": shape[0]} if spec.input == "functionals" else {})
        m = models.create(name, **kw).eval()
        with torch.no_grad():
            out = m(torch.randn(3, *shape))
        assert out.shape == (3, 6) and torch.isfinite(out).all(), (name, shape)


def test_backward_pass_reaches_every_parameter():
    m = models.create("resnet18", width=8)
    m(torch.randn(2, 1, 64, 94)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())


def test_initialisation():
    m = models.create("resnet18", width=16)
    lin = m.head[-1]
    bound = (6 / (lin.in_features + lin.out_features)) ** 0.5  # Xavier uniform
    assert lin.weight.abs().max() <= bound + 1e-6 and not lin.bias.any()


def test_width_scales_parameters():
    assert models.count_parameters(models.create("resnet18", width=16)) < \
        models.count_parameters(models.create("resnet18", width=32))


def test_unknown_model():
    with pytest.raises(UnknownNameError, match="resnet18"):
        models.create("resnet19")


def test_save_and_load_round_trip(tmp_path):
    m = models.create("resnet18", width=8).eval()
    card = {"architecture": {"name": "resnet18", "kwargs": {"width": 8}},
            "input": {"kind": "features", "name": "mel"}, "calibration": {"temperature": 1.5}}
    path = models.save(m, card, "tiny", directory=tmp_path)
    assert path.suffix == ".safetensors" and models.shipped(tmp_path) == ["tiny"]
    loaded = models.load("tiny", directory=tmp_path)
    x = torch.randn(2, 1, 64, 94)
    with torch.no_grad():
        torch.testing.assert_close(loaded.module(x), m(x), atol=0.05, rtol=0.02)  # fp16 weights
    assert loaded.representation == "mel" and loaded.temperature == 1.5
    with pytest.raises(UnknownNameError, match="shipped: tiny"):
        models.load("nope", directory=tmp_path)
