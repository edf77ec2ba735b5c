"""ONNX export, ONNX Runtime inference and dynamic INT8 quantisation.

``export_onnx`` writes opset-17 ONNX with a dynamic batch axis; the model's
class names, input representation, feature configuration, normalisation
statistics and temperature travel in the ONNX metadata, so the file alone is
enough to run the model (see :class:`OnnxModel`).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch

from . import features, models
from .config import EMOTIONS, FeatureConfig

__all__ = ["export_onnx", "quantize_int8", "OnnxModel", "example_input"]

OPSET = 17


def example_input(card: dict, *, batch: int = 1) -> torch.Tensor:
    """A zero input of the shape a carded model expects."""
    kind = card["input"]["kind"]
    cfg = FeatureConfig(**card["input"].get("feature_config", {}))
    if kind == "features":
        shape = features.output_shape(card["input"]["name"], cfg=cfg)
    elif kind == "waveform":
        shape = (1, cfg.n_samples)
    elif kind == "functionals":
        shape = (card["architecture"]["kwargs"]["in_features"],)
    else:
        shape = (2, 301)
    return torch.zeros(batch, *shape)


def export_onnx(loaded: models.LoadedModel, path: str | Path) -> Path:
    """Export a loaded model (float32) to ONNX with its card in the metadata."""
    import onnx  # optional heavy dependency: only to export

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    x = example_input(loaded.card, batch=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            loaded.module.eval(),
            (x,),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        )
    model = onnx.load(str(path))
    card = loaded.card
    meta = {
        "classes": json.dumps(list(EMOTIONS)),
        "name": loaded.model_name,
        "input": json.dumps(card["input"]),
        "normalization": json.dumps(card.get("normalization", {"kind": "none"})),
        "temperature": str(loaded.temperature),
        "preprocessing": "16 kHz mono, padded/trimmed to 3 s; representation from the input "
        "entry; standardised with the normalization entry; softmax(logits / T)",
    }
    for k, v in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def quantize_int8(src: str | Path, dst: str | Path) -> Path:
    """Dynamic INT8 quantisation (weights int8, activations quantised at run time)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic  # optional heavy dependency

    dst = Path(dst)
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
    return dst


class OnnxModel:
    """ONNX Runtime session with the card read back from the metadata."""

    def __init__(self, path: str | Path, *, threads: int | None = None) -> None:
        import onnxruntime as ort  # optional heavy dependency: only for the ONNX back end

        so = ort.SessionOptions()
        if threads:
            so.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        props = self.session.get_modelmeta().custom_metadata_map
        self.classes = json.loads(props.get("classes", json.dumps(list(EMOTIONS))))
        self.input = json.loads(props.get("input", "{}"))
        self.normalization = json.loads(props.get("normalization", "{}"))
        self.temperature = float(props.get("temperature", 1.0))

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Logits ``(n, 6)`` of prepared (normalised) inputs."""
        return self.session.run(["logits"], {"input": np.ascontiguousarray(x, np.float32)})[0]
