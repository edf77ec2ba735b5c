"""Shipped models on the pages: cards, cached predictors, captions and the model picker.

Trained models are loaded with ``@st.cache_resource`` (one shared instance per process,
never copied).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from ser_core import features, functionals, models
from ser_core.config import artifacts_dir
from ser_core.errors import SERError
from ser_core.inference import (
    ModelScores,
    Predictor,
    best_model_name,
    model_scores,
    model_uses,
    ranked_models,
)
from ui.errors import report_errors
from ui.state import keep_valid

#: Inference back end of the page: ONNX Runtime (about twice as fast as PyTorch eager
#: on CPU, see benchmarks/bench_predict.py), PyTorch where ONNX fails.
PREDICTOR_BACKEND = "auto"
BACKEND_NAMES = {"onnx": "ONNX Runtime", "torch": "PyTorch"}
#: The network of the Explain and Adversarial pages (their stored benchmarks used it).
EXPLAIN_MODEL = "resnet18_mel"
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


#: Rankings by state of the models folder (:func:`ser_core.models.folder_signature`):
#: every rerun of every page asks, the answer changes only when a model is (re)shipped.
_RANKED: dict[tuple, list[str]] = {}
_DEFAULT: dict[tuple, str] = {}


def shipped_models() -> list[str]:
    """Names of the shipped models (card + weights under ``artifacts/models``), best first
    on new voices (LOSO mean), then those without a LOSO figure by seed accuracy."""
    key = (str(models.models_dir()), models.folder_signature())
    if key not in _RANKED:
        names = models.shipped()
        try:
            _RANKED[key] = ranked_models(among=names)
        except (SERError, OSError, ValueError):
            _RANKED[key] = names
    return list(_RANKED[key])


def default_model(model_names: list[str]) -> str:
    """The best shipped model on new voices (LOSO mean; the first name when cards lack it)."""
    key = (str(models.models_dir()), models.folder_signature(), tuple(model_names))
    if key not in _DEFAULT:
        try:
            _DEFAULT[key] = best_model_name(among=model_names)
        except (SERError, OSError, ValueError):
            return model_names[0]
    return _DEFAULT[key]


#: Cards by ``(path, mtime_ns, size)``: a stat per call instead of a JSON parse (pages ask
#: for a card many times per rerun); shared, so read them, never modify them.
_CARDS: dict[tuple[str, int, int], dict] = {}


def _card(path: Path) -> dict:
    st_ = path.stat()
    key = (str(path), st_.st_mtime_ns, st_.st_size)
    if key not in _CARDS:
        _CARDS[key] = models.read_card(path.stem, directory=path.parent)
    return _CARDS[key]


def weights_mb(model_name: str) -> float:
    """Size of a shipped model's weights file in MB (0 when missing)."""
    p = models.models_dir() / f"{model_name}.safetensors"
    return p.stat().st_size / 1e6 if p.is_file() else 0.0


def model_card(model_name: str) -> dict:
    """The JSON card of a shipped model ({} when unreadable)."""
    try:
        return _card(models.models_dir() / f"{model_name}.json")
    except (OSError, SERError):
        return {}


def model_accuracy(model_name: str, protocol: str = "seed") -> float | None:
    acc = model_card(model_name).get("metrics", {}).get(protocol, {}).get("accuracy")
    return None if acc is None else float(acc)


def scores(model_name: str) -> ModelScores:
    """The card's new-voice (LOSO) and seed-split numbers."""
    return model_scores(model_card(model_name))


def model_label(model_name: str) -> str:
    """``"ensemble_spk · 66.3 % new voices · 90.9 % seed"`` for the model selectbox."""
    sc = scores(model_name)
    parts = [model_name]
    parts.append(f"{100 * sc.loso:.1f} % new voices" if sc.has_loso else "new voices not measured")
    if sc.seed is not None:
        parts.append(f"{100 * sc.seed:.1f} % seed split")
    return " · ".join(parts)


def scores_sentence(sc: ModelScores) -> str:
    """Both numbers in words, new voices first (markdown)."""
    if sc.has_loso:
        spread = f" ± {100 * sc.loso_std:.1f}" if sc.loso_std is not None else ""
        worst = (
            f", {100 * sc.worst:.1f} % on the hardest ({sc.worst_speaker})" if sc.worst is not None else ""
        )
        new = f"**{100 * sc.loso:.1f}{spread} %** on a voice it never heard (LOSO, {sc.n_folds} speakers{worst})"
    else:
        new = f"no new-voice (LOSO) figure: {sc.loso_missing}"
    if sc.seed is None:
        return new
    return f"{new}; {100 * sc.seed:.1f} % on the seed split, whose test voices were in training"


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


def percentages(weights: np.ndarray) -> list[int]:
    """Whole per cents of ``weights`` (shape ``(n,)``, non-negative) that add up to exactly 100
    (largest remainders get the leftover points)."""
    w = np.asarray(weights, dtype=float)
    share = 100 * w / w.sum() if w.sum() > 0 else np.full(len(w), 100 / max(len(w), 1))
    out = np.floor(share).astype(int)
    for i in np.argsort(out - share)[: 100 - int(out.sum())]:
        out[i] += 1
    return out.tolist()


def member_shares(pred: Predictor) -> list[tuple[str, int, int]]:
    """``[(representation, per cent, networks)]`` of an ensemble: its members' weights summed
    per representation (the seeds of one recipe are grouped), in per cent adding up to 100,
    largest first."""
    names = pred.loaded.card["input"]["members"]
    weights = pred.module.weights.detach().numpy()
    by_name = {n: float(w) for n, w in zip(names, weights)}
    groups: dict[str, list[float]] = {}
    for m in pred.members:
        groups.setdefault(m.representation, []).append(by_name.get(m.model_name, 0.0))
    reps = list(groups)
    pct = percentages(np.array([sum(groups[r]) for r in reps]))
    rows = [(r, p, len(groups[r])) for r, p in zip(reps, pct)]
    return sorted(rows, key=lambda row: -row[1])


def ensemble_summary(pred: Predictor) -> str:
    """``"weighted ensemble of 7 ResNets (mel 50 % over 3 seeds, hpss 32 % over 2 seeds, mfcc
    18 % over 2 seeds)"``: each input's share of the ensemble's weight, adding up to 100 %."""
    archs = {model_card(m.model_name).get("architecture", {}).get("name", "?") for m in pred.members}
    n = len(pred.members)
    kind = ARCH_NAMES.get(archs.pop(), "model") if len(archs) == 1 else "model"
    parts = [f"{r} {p} %" + (f" over {k} seeds" if k > 1 else "") for r, p, k in member_shares(pred)]
    return f"weighted ensemble of {n} {kind}{'s' if n != 1 else ''} ({', '.join(parts)})"


def model_caption(pred: Predictor) -> str:
    sc = scores(pred.model_name)
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
    if sc.has_loso or sc.seed is not None:
        parts.append(scores_sentence(sc))
    if pred.speaker_normalised:
        parts.append("speaker-normalised: it can adapt to your voice")
    parts.append(f"reported as unsure below {100 * pred.unsure_below:.0f} % confidence")
    parts.append(f"runs in {backend_name(pred.backend)}")
    return " · ".join(parts)


def model_stamp(model_name: str) -> float:
    """mtime of a model's weights: keys shared results, so a retrained model is computed afresh."""
    try:
        return (models.models_dir() / f"{model_name}.safetensors").stat().st_mtime
    except OSError:
        return 0.0


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


#: Why the home page shows two numbers per model, in plain words.
TWO_NUMBERS = (
    "Every model has two numbers. **New voices** is the one to expect for you: the "
    "recipe is trained nine times, each time without one of nEMO's nine speakers, and "
    "scored on the speaker it never heard (leave-one-speaker-out, LOSO). The **seed "
    "split** scores clips the model did not train on, but spoken by the same nine people "
    "it trained on: it knows their voices, so this number is much higher and does not "
    "hold for a new voice."
)


def short_scores(model_name: str) -> str:
    """``"66.3 % on new voices · 90.9 % seed split"``, or says new voices are not measured."""
    sc = scores(model_name)
    new = f"{100 * sc.loso:.1f} % on new voices" if sc.has_loso else "new voices not measured"
    return new if sc.seed is None else f"{new} · {100 * sc.seed:.1f} % seed split"


def uses_markdown(*, explain_model: str | None = None) -> str:
    """ "Which model for what" as markdown lines, each with its two numbers."""
    lines = [
        f"- **{u.purpose}**: `{u.model_name}` ({short_scores(u.model_name)}): {u.why}." for u in model_uses()
    ]
    if explain_model and explain_model in models.shipped():
        lines.insert(
            2,
            f"- **Explanations and attacks**: `{explain_model}` ({short_scores(explain_model)}): "
            "the Explain and Adversarial pages' network; their benchmarks were run with it.",
        )
    return "\n".join(lines)


def _kind_and_size(model_name: str, architecture: str) -> str:
    """``"ResNet · 5.6 MB"``; ``"ensemble of 7 models · 39.2 MB in all"`` for an ensemble."""
    members = model_card(model_name).get("input", {}).get("members") or []
    if members:
        return f"ensemble of {len(members)} models · {sum(weights_mb(m) for m in members):.1f} MB in all"
    return f"{ARCH_NAMES.get(architecture, architecture)} · {weights_mb(model_name):.1f} MB"


def card_box(row: pd.Series) -> None:
    """One shipped model as a bordered card: kind, new-voice and seed-split numbers, size.

    ``row`` is a row of :func:`ser_core.inference.scores_table`.
    """
    with st.container(border=True):
        st.markdown(f"**{row['model']}**")
        st.caption(_kind_and_size(row["model"], row["architecture"]))
        if row["loso"] == row["loso"]:
            st.markdown(f"New voices: **{100 * row['loso']:.1f} ± {100 * row['loso_std']:.1f} %**")
            st.caption(f"hardest speaker {row['worst_speaker']}: {100 * row['worst']:.1f} %")
            if row["cheaper_schedule"]:
                st.caption("its LOSO folds ran a cheaper schedule than these weights (see the card)")
        else:
            st.markdown("New voices: *not measured*")
            st.caption(row["loso_missing"])
        if row["seed"] == row["seed"]:
            st.markdown(f"Seed split: {100 * row['seed']:.1f} % (voices heard in training)")
        if row["adapts"]:
            st.caption(":material/tune: can adapt to your voice")
