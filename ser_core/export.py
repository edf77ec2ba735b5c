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

from . import models
from .config import EMOTIONS

__all__ = ["export_onnx", "quantize_int8", "OnnxModel", "example_input", "int8_report"]

OPSET = 17


def example_input(card: dict, *, batch: int = 1) -> torch.Tensor:
    """A zero input of the shape a carded model expects."""
    from . import features
    from .config import FeatureConfig

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
    import onnx

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
        "name": loaded.name,
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
    from onnxruntime.quantization import QuantType, quantize_dynamic

    dst = Path(dst)
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
    return dst


class OnnxModel:
    """ONNX Runtime session with the card read back from the metadata."""

    def __init__(self, path: str | Path, *, threads: int | None = None) -> None:
        import onnxruntime as ort

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


def int8_report(name: str, meta, *, dest: str | Path, protocol: str = "seed", batch_size: int = 64) -> dict:
    """Export a shipped model to ONNX and INT8 and compare all three on a test part.

    Parameters
    ----------
    name : str
        A shipped single model (ensembles: export their members).
    meta : DataFrame
        The corpus metadata (:func:`ser_core.data.load_metadata`).
    dest : path
        Folder for ``<name>.onnx`` and ``<name>.int8.onnx``.

    Returns
    -------
    dict with the file sizes (MB), the largest |logit| difference of ONNX and
    INT8 against PyTorch, the test accuracy of each, and how often INT8 and
    PyTorch agree on the label.
    """
    from . import data
    from .errors import ConfigError
    from .evaluate import model_features
    from .inference import Predictor

    pred = Predictor.load(name)
    if pred.kind not in ("features", "functionals"):
        raise ConfigError(
            f"{name!r} is not a single spectrogram or functionals model; export an "
            "ensemble's members one by one"
        )
    dest = Path(dest)
    fp32 = export_onnx(pred.loaded, dest / f"{name}.onnx")
    int8 = quantize_int8(fp32, dest / f"{name}.int8.onnx")
    split = data.split_indices(meta, protocol)
    x = model_features(pred, meta, split)
    y = meta["label"].to_numpy()[split.test]
    runs = {"torch": pred.module, "onnx": OnnxModel(fp32), "int8": OnnxModel(int8)}
    logits = {}
    for k, m in runs.items():
        out = []
        for i in range(0, len(x), batch_size):
            xb = np.ascontiguousarray(x[i : i + batch_size], np.float32)
            if k == "torch":
                with torch.no_grad():
                    out.append(m(torch.from_numpy(xb)).numpy())
            else:
                out.append(m.logits(xb))
        logits[k] = np.concatenate(out)
    acc = {k: float((z.argmax(1) == y).mean()) for k, z in logits.items()}
    return {
        "model": name,
        "protocol": protocol,
        "n_test": int(len(y)),
        "size_mb": {
            "safetensors_fp16": round((models.models_dir() / f"{name}.safetensors").stat().st_size / 1e6, 2),
            "onnx_fp32": round(fp32.stat().st_size / 1e6, 2),
            "onnx_int8": round(int8.stat().st_size / 1e6, 2),
        },
        "max_abs_logit_diff": {
            "onnx": float(np.abs(logits["onnx"] - logits["torch"]).max()),
            "int8": float(np.abs(logits["int8"] - logits["torch"]).max()),
        },
        "accuracy": acc,
        "int8_accuracy_change": acc["int8"] - acc["torch"],
        "int8_label_agreement": float((logits["int8"].argmax(1) == logits["torch"].argmax(1)).mean()),
        "files": {"onnx": str(fp32), "int8": str(int8)},
    }
