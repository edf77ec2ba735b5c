"""ser_core.models: every registered architecture, save/load round trip."""

from __future__ import annotations

import pytest
import torch

from ser_core import models
from ser_core.errors import ModelFileError, UnknownNameError

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
        kw = (
            {"in_chans": shape[0]}
            if spec.input == "features"
            else {"n_members": shape[0]}
            if spec.input == "members"
            else {"in_features": shape[0]}
            if spec.input == "functionals"
            else {}
        )
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
    assert models.count_parameters(models.create("resnet18", width=16)) < models.count_parameters(
        models.create("resnet18", width=32)
    )


def test_unknown_model():
    with pytest.raises(UnknownNameError, match="resnet18"):
        models.create("resnet19")


def test_save_and_load_round_trip(tmp_path):
    m = models.create("resnet18", width=8).eval()
    card = {
        "architecture": {"name": "resnet18", "kwargs": {"width": 8}},
        "input": {"kind": "features", "name": "mel"},
        "calibration": {"temperature": 1.5},
    }
    path = models.save(m, card, "tiny", directory=tmp_path)
    assert path.suffix == ".safetensors" and models.shipped(tmp_path) == ["tiny"]
    loaded = models.load("tiny", directory=tmp_path)
    x = torch.randn(2, 1, 64, 94)
    with torch.no_grad():
        torch.testing.assert_close(loaded.module(x), m(x), atol=0.05, rtol=0.02)  # fp16 weights
    assert loaded.representation == "mel" and loaded.temperature == 1.5
    with pytest.raises(UnknownNameError, match="shipped: tiny"):
        models.load("nope", directory=tmp_path)


def test_damaged_model_files_are_a_clear_error_not_a_traceback(tmp_path):
    """A truncated or hand-edited card or weights file names the file and how to restore
    it; one damaged model does not stop the others from being ranked; damaged training-speaker
    statistics are only an optimisation and are ignored with a warning."""
    import json

    import numpy as np

    from ser_core.features import NormStats
    from ser_core.inference import best_model_name

    card = {
        "architecture": {"name": "resnet18", "kwargs": {"width": 8}},
        "input": {"kind": "features", "name": "mel"},
        "metrics": {"seed": {"accuracy": 0.9}},
    }
    for name in ("a", "b", "c", "d"):
        models.save(
            models.create("resnet18", width=8),
            card,
            name,
            directory=tmp_path,
            speakers=models.TrainingSpeakers(
                {"AA0": NormStats(np.zeros((1, 128, 1), np.float32), np.ones((1, 128, 1), np.float32))},
                "0123",
            ),
        )
    (tmp_path / "a.safetensors").write_bytes(b"\x00" * 10)  # truncated weights
    with pytest.raises(ModelFileError, match=r"a\.safetensors cannot be loaded .*git checkout"):
        models.load("a", directory=tmp_path)
    (tmp_path / "b.json").write_text('{"architecture": ')  # truncated card
    with pytest.raises(ModelFileError, match=r"b\.json is damaged"):
        models.load("b", directory=tmp_path)
    (tmp_path / "c.json").write_text(
        json.dumps({**card, "architecture": {"name": "resnet18", "kwargs": {"width": 16}}})
    )
    with pytest.raises(ModelFileError, match="cannot be loaded into the card's resnet18"):
        models.load("c", directory=tmp_path)  # weights of another width
    assert models.load("d", directory=tmp_path).speakers.clips == "0123"
    models.speakers_path("d", directory=tmp_path).write_bytes(b"junk")
    with pytest.warns(RuntimeWarning, match="damaged training-speaker statistics"):
        assert models.load("d", directory=tmp_path).speakers is None
    with pytest.warns(RuntimeWarning, match="b.json is damaged"):
        assert best_model_name(tmp_path) in {"a", "c", "d"}
