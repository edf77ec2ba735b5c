"""ser_core.export: ONNX parity with PyTorch, metadata, INT8."""

from __future__ import annotations

import numpy as np
import torch

from ser_core import export, models


def _loaded(name="resnet18", kind="features", representation="mel", **kw):
    m = models.create(name, **kw).eval()
    card = {
        "architecture": {"name": name, "kwargs": kw},
        "input": {"kind": kind, "name": representation},
        "normalization": {"kind": "none"},
        "calibration": {"temperature": 1.7},
    }
    return models.LoadedModel("t", m, card)


def test_onnx_parity_and_metadata(tmp_path):
    lm = _loaded(width=8)
    path = export.export_onnx(lm, tmp_path / "m.onnx")
    om = export.OnnxModel(path)
    x = np.random.default_rng(0).standard_normal((5, 1, 128, 188)).astype(np.float32)  # batch 5: dynamic
    with torch.no_grad():
        ref = lm.module(torch.from_numpy(x)).numpy()
    assert np.abs(om.logits(x) - ref).max() < 1e-4
    assert om.classes[0] == "anger" and om.temperature == 1.7 and om.input["name"] == "mel"
    q = export.OnnxModel(export.quantize_int8(path, tmp_path / "m.int8.onnx"))
    assert q.logits(x).shape == (5, 6)
    assert (tmp_path / "m.int8.onnx").stat().st_size < path.stat().st_size


def test_onnx_for_the_1d_models(tmp_path):
    for name, kind, shape in (
        ("wave_cnn", "waveform", (2, 1, 48_000)),
        ("zcr_rms_lstm", "frames", (3, 2, 301)),
    ):
        lm = _loaded(name, kind)
        om = export.OnnxModel(export.export_onnx(lm, tmp_path / f"{name}.onnx"))
        x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
        with torch.no_grad():
            ref = lm.module(torch.from_numpy(x)).numpy()
        assert np.abs(om.logits(x) - ref).max() < 1e-4, name
