"""Shipped models on the pages: cards, cached predictors, captions and the model picker.

Trained models are loaded with ``@st.cache_resource`` (one shared instance per process,
never copied).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from ser_core import features, functionals, models
from ser_core.config import artifacts_dir
from ser_core.errors import SERError
from ser_core.inference import Predictor, best_model_name
from ui.errors import report_errors
from ui.state import keep_valid

#: Inference back end of the page: ONNX Runtime (about twice as fast as PyTorch eager
#: on CPU, see benchmarks/bench_predict.py), PyTorch where ONNX fails.
PREDICTOR_BACKEND = "auto"
BACKEND_NAMES = {"onnx": "ONNX Runtime", "torch": "PyTorch"}
#: Display names of architectures in captions.
ARCH_NAMES = {
    "resnet18": "ResNet",
    "vgg16": "VGG",
    "small_cnn": "small CNN",
    "wave_cnn": "waveform CNN",
    "zcr_rms_lstm": "LSTM",
    "logreg": "logistic regression",
}


def model_files() -> list[str]:
    """Names of the trained models shipped under ``artifacts/models/`` (``*.safetensors``)."""
    d = artifacts_dir() / "models"
    return sorted(p.name for p in d.glob("*.safetensors")) if d.is_dir() else []


def shipped_models() -> list[str]:
    """Names of the shipped models (card + weights under ``artifacts/models``)."""
    return models.shipped()


def default_model(model_names: list[str]) -> str:
    """The best shipped model by seed accuracy (the first name when cards lack it)."""
    try:
        return best_model_name()
    except (SERError, OSError, ValueError):
        return model_names[0]


@st.cache_data(show_spinner=False, max_entries=64)
def _card(path: str, mtime: float) -> dict:
    return models.read_card(Path(path).stem, directory=Path(path).parent)


def model_card(model_name: str) -> dict:
    """The JSON card of a shipped model ({} when unreadable)."""
    p = models.models_dir() / f"{model_name}.json"
    try:
        return _card(str(p), p.stat().st_mtime)
    except (OSError, SERError):
        return {}


def model_accuracy(model_name: str, protocol: str = "seed") -> float | None:
    acc = model_card(model_name).get("metrics", {}).get(protocol, {}).get("accuracy")
    return None if acc is None else float(acc)


def model_label(model_name: str) -> str:
    """``"resnet18_mel · 71.2 % seed-split accuracy"`` for the model selectbox."""
    acc = model_accuracy(model_name)
    return model_name if acc is None else f"{model_name} · {100 * acc:.1f} % seed-split accuracy"


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def _load_predictor(model_name: str, directory: str, stamp: float, backend: str) -> Predictor:
    pred = Predictor.load(model_name, directory=Path(directory), backend=backend)
    pred.predict(np.zeros(pred.cfg.n_samples, np.float32))  # warm-up: the first call is slow
    return pred


def predictor(model_name: str, backend: str = PREDICTOR_BACKEND) -> Predictor:
    """The shipped model ``model_name``, loaded once per process (``st.cache_resource``).

    Keyed by the weights' mtime too, so a retrained model replaces the old one.
    """
    d = models.models_dir()
    try:
        stamp = (d / f"{model_name}.safetensors").stat().st_mtime
    except OSError:
        stamp = 0.0  # Predictor.load says what is missing
    return _load_predictor(model_name, str(d), stamp, backend)


def no_model_info() -> None:
    st.info(
        "No trained model is shipped yet: train one with `python -m ser_core train "
        "--ship NAME` (it lands in `artifacts/models/`), then reload this page.",
        icon=":material/info:",
    )


def backend_name(backend: str) -> str:
    """``"ONNX Runtime"`` for ``"onnx"``; ``"ONNX Runtime + PyTorch"`` for an ensemble's mix."""
    return " + ".join(BACKEND_NAMES.get(b, b) for b in backend.split("+"))


def ensemble_summary(pred: Predictor) -> str:
    """``"weighted ensemble of 2 ResNets (mel 0.46, hpss 0.54)"`` for an ensemble."""
    weights = pred.loaded.card.get("ensemble", {}).get("weights", {})
    archs = {model_card(m.model_name).get("architecture", {}).get("name", "?") for m in pred.members}
    n = len(pred.members)
    kind = ARCH_NAMES.get(archs.pop(), "model") if len(archs) == 1 else "model"
    parts = [
        f"{m.representation} {float(weights[m.representation]):.2f}"
        if m.representation in weights
        else m.representation
        for m in pred.members
    ]
    return f"weighted ensemble of {n} {kind}{'s' if n != 1 else ''} ({', '.join(parts)})"


def model_caption(pred: Predictor) -> str:
    acc = model_accuracy(pred.model_name)
    arch = model_card(pred.model_name).get("architecture", {}).get("name", "?")
    if pred.kind == "members":
        parts = [ensemble_summary(pred)]
    elif pred.kind == "features":
        parts = [f"{arch} on the {features.get(pred.representation).title.lower()}"]
    elif pred.kind == "functionals":
        parts = [
            f"logistic regression on the {pred.representation} functionals (openSMILE: "
            f"{functionals.get(pred.representation).dim} per clip)"
        ]
    else:
        parts = [arch]
    if acc is not None:
        parts.append(f"**{100 * acc:.1f} %** accuracy on the seed test split")
    if pred.speaker_normalised:
        parts.append("speaker-normalised: it can adapt to your voice")
    parts.append(f"reported as unsure below {100 * pred.unsure_below:.0f} % confidence")
    parts.append(f"runs in {backend_name(pred.backend)}")
    return " · ".join(parts)


def model_picker(
    model_names: list[str],
    *,
    key: str,
    default: str | None = None,
    backend: str = PREDICTOR_BACKEND,
    empty=None,
) -> Predictor:
    """A page's model selectbox, its caption and the loaded model.

    Shows ``empty()`` (default :func:`no_model_info`) and stops the page when
    ``model_names`` is empty; shows the error and stops when the model fails to load.
    """
    if not model_names:
        (empty or no_model_info)()
        st.stop()
    keep_valid(key, model_names)
    index = model_names.index(default) if default in model_names else 0
    model_name = st.selectbox("Model", model_names, index=index, key=key, format_func=model_label)
    pred = None
    with report_errors():
        pred = predictor(model_name, backend=backend)
        st.caption(model_caption(pred))
    if pred is None:
        st.stop()
    return pred
