"""Shipped models on the pages: cards, cached predictors, captions and the model picker.

Trained models are loaded with ``@st.cache_resource`` (one shared instance per process,
never copied).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from ser_core import features, functionals, models
from ser_core.config import artifacts_dir
from ser_core.errors import SERError
from ser_core.i18n import SOURCE_LANGUAGE, current_language, display_name
from ser_core.inference import (
    ModelScores,
    Predictor,
    best_model_name,
    model_scores,
    model_uses,
    ranked_models,
)
from ui.errors import report_errors
from ui.i18n import N_, _, ngettext
from ui.state import keep_valid

#: Inference back end of the page: ONNX Runtime (about twice as fast as PyTorch eager
#: on CPU, see benchmarks/bench_predict.py), PyTorch where ONNX fails.
PREDICTOR_BACKEND = "auto"
BACKEND_NAMES = {"onnx": "ONNX Runtime", "torch": "PyTorch"}
#: The network of the Explain and Adversarial pages (their stored benchmarks used it).
EXPLAIN_MODEL = "resnet18_mel"
#: Display names of architectures in captions (English; :func:`arch_name` translates).
ARCH_NAMES = {
    "resnet18": N_("ResNet"),
    "vgg16": N_("VGG"),
    "small_cnn": N_("small CNN"),
    "wave_cnn": N_("waveform CNN"),
    "zcr_rms_lstm": N_("LSTM"),
    "logreg": N_("logistic regression"),
}


def arch_name(architecture: str) -> str:
    """An architecture's display name in the language of this run (an unknown one as is)."""
    return display_name(ARCH_NAMES, architecture)


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
    """``"ensemble_spk · 66.3 % new voices · 90.9 % seed split"`` for the model selectbox."""
    sc = scores(model_name)
    values = dict(name=model_name, loso=100 * (sc.loso or 0.0), seed=100 * (sc.seed or 0.0))
    if sc.has_loso:
        if sc.seed is None:
            return _("{name} · {loso:.1f} % new voices").format(**values)
        return _("{name} · {loso:.1f} % new voices · {seed:.1f} % seed split").format(**values)
    if sc.seed is None:
        return _("{name} · new voices not measured").format(**values)
    return _("{name} · new voices not measured · {seed:.1f} % seed split").format(**values)


def missing_reason(reason: str) -> str:
    """Why a card has no new-voice figure: the card's English sentence as is in English;
    in another language "not measured" and the card's command (in ``code`` font), if any."""
    if current_language() == SOURCE_LANGUAGE or not reason:
        return reason
    command = re.search(r"`[^`]+`", reason)
    if command is None:
        return _("not measured")
    return _("not measured; to measure it: {command}").format(command=command.group(0))


def scores_sentence(sc: ModelScores) -> str:
    """Both numbers in words, new voices first (markdown)."""
    if sc.has_loso:
        loso = f"{100 * sc.loso:.1f}" + (f" ± {100 * sc.loso_std:.1f}" if sc.loso_std is not None else "")
        if sc.worst is None:
            new = ngettext(
                "**{loso} %** on a voice it never heard (LOSO, {n} speaker)",
                "**{loso} %** on a voice it never heard (LOSO, {n} speakers)",
                sc.n_folds,
            ).format(loso=loso, n=sc.n_folds)
        else:
            new = ngettext(
                "**{loso} %** on a voice it never heard (LOSO, {n} speaker, {worst:.1f} % on the "
                "hardest ({speaker}))",
                "**{loso} %** on a voice it never heard (LOSO, {n} speakers, {worst:.1f} % on the "
                "hardest ({speaker}))",
                sc.n_folds,
            ).format(loso=loso, n=sc.n_folds, worst=100 * sc.worst, speaker=sc.worst_speaker)
    else:
        new = _("no new-voice (LOSO) figure: {reason}").format(reason=missing_reason(sc.loso_missing))
    if sc.seed is None:
        return new
    return _("{new}; {seed:.1f} % on the seed split, whose test voices were in training").format(
        new=new, seed=100 * sc.seed
    )


@st.cache_resource(show_spinner=False, max_entries=4)  # predictor() shows a translated spinner
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
    with st.spinner(_("Loading the model…")):  # shown only when loading takes half a second
        return _load_predictor(model_name, str(d), stamp, backend)


def no_model_info() -> None:
    st.info(
        _(
            "No trained model is shipped yet: train one with `python -m ser_core train "
            "--ship NAME` (it lands in `artifacts/models/`), then reload this page."
        ),
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
    arch = archs.pop() if len(archs) == 1 else None
    parts = ", ".join(
        ngettext("{rep} {pct} % over {k} seed", "{rep} {pct} % over {k} seeds", k).format(rep=r, pct=p, k=k)
        if k > 1
        else f"{r} {p} %"
        for r, p, k in member_shares(pred)
    )
    if arch not in ARCH_NAMES:
        return ngettext(
            "weighted ensemble of {n} model ({parts})", "weighted ensemble of {n} models ({parts})", n
        ).format(n=n, parts=parts)
    return ngettext(
        "weighted ensemble of {n} {kind} ({parts})", "weighted ensemble of {n} {kind}s ({parts})", n
    ).format(n=n, kind=arch_name(arch), parts=parts)


def model_caption(pred: Predictor) -> str:
    sc = scores(pred.model_name)
    arch = model_card(pred.model_name).get("architecture", {}).get("name", "?")
    if pred.kind == "members":
        parts = [ensemble_summary(pred)]
    elif pred.kind == "features":
        title = _(features.get(pred.representation).title).lower()
        parts = [_("{arch} on the {representation}").format(arch=arch, representation=title)]
    elif pred.kind == "functionals":
        parts = [
            _("logistic regression on the {representation} functionals (openSMILE: {dim} per clip)").format(
                representation=pred.representation, dim=functionals.get(pred.representation).dim
            )
        ]
    else:
        parts = [arch]
    if sc.has_loso or sc.seed is not None:
        parts.append(scores_sentence(sc))
    if pred.speaker_normalised:
        parts.append(_("speaker-normalised: it can adapt to your voice"))
    parts.append(_("reported as unsure below {pct:.0f} % confidence").format(pct=100 * pred.unsure_below))
    parts.append(_("runs in {backend}").format(backend=backend_name(pred.backend)))
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
    model_name = st.selectbox(_("Model"), model_names, index=index, key=key, format_func=model_label)
    pred = None
    with report_errors():
        pred = predictor(model_name, backend=backend)
        st.caption(model_caption(pred))
    if pred is None:
        st.stop()
    return pred


#: Why the home page shows two numbers per model, in plain words (English; see
#: :func:`two_numbers`).
TWO_NUMBERS = N_(
    "Every model has two numbers. **New voices** is the one to expect for you: the "
    "recipe is trained nine times, each time without one of nEMO's nine speakers, and "
    "scored on the speaker it never heard (leave-one-speaker-out, LOSO). The **seed "
    "split** scores clips the model did not train on, but spoken by the same nine people "
    "it trained on: it knows their voices, so this number is much higher and does not "
    "hold for a new voice."
)


def two_numbers() -> str:
    """:data:`TWO_NUMBERS` in the language of this run (markdown)."""
    return _(TWO_NUMBERS)


def short_scores(model_name: str) -> str:
    """``"66.3 % on new voices · 90.9 % seed split"``, or says new voices are not measured."""
    sc = scores(model_name)
    values = dict(loso=100 * (sc.loso or 0.0), seed=100 * (sc.seed or 0.0))
    if sc.has_loso:
        if sc.seed is None:
            return _("{loso:.1f} % on new voices").format(**values)
        return _("{loso:.1f} % on new voices · {seed:.1f} % seed split").format(**values)
    if sc.seed is None:
        return _("new voices not measured")
    return _("new voices not measured · {seed:.1f} % seed split").format(**values)


def uses_markdown(*, explain_model: str | None = None) -> str:
    """ "Which model for what" as markdown lines, each with its two numbers."""
    lines = [
        f"- **{_(u.purpose)}**: `{u.model_name}` ({short_scores(u.model_name)}): {_(u.why)}."
        for u in model_uses()
    ]
    if explain_model and explain_model in models.shipped():
        lines.insert(
            2,
            _(
                "- **Explanations and attacks**: `{model}` ({scores}): the Explain and Adversarial "
                "pages' network; their benchmarks were run with it."
            ).format(model=explain_model, scores=short_scores(explain_model)),
        )
    return "\n".join(lines)


def _kind_and_size(model_name: str, architecture: str) -> str:
    """``"ResNet · 5.6 MB"``; ``"ensemble of 7 models · 39.2 MB in all"`` for an ensemble."""
    members = model_card(model_name).get("input", {}).get("members") or []
    if members:
        n, size = len(members), sum(weights_mb(m) for m in members)
        return ngettext(
            "ensemble of {n} model · {mb:.1f} MB in all", "ensemble of {n} models · {mb:.1f} MB in all", n
        ).format(n=n, mb=size)
    return f"{arch_name(architecture)} · {weights_mb(model_name):.1f} MB"


def card_box(row: pd.Series) -> None:
    """One shipped model as a bordered card: kind, new-voice and seed-split numbers, size.

    ``row`` is a row of :func:`ser_core.inference.scores_table`.
    """
    with st.container(border=True):
        st.markdown(f"**{row['model']}**")
        st.caption(_kind_and_size(row["model"], row["architecture"]))
        if row["loso"] == row["loso"]:
            st.markdown(
                _("New voices: **{loso:.1f} ± {std:.1f} %**").format(
                    loso=100 * row["loso"], std=100 * row["loso_std"]
                )
            )
            st.caption(
                _("hardest speaker {speaker}: {acc:.1f} %").format(
                    speaker=row["worst_speaker"], acc=100 * row["worst"]
                )
            )
            if row["cheaper_schedule"]:
                st.caption(_("its LOSO folds ran a cheaper schedule than these weights (see the card)"))
        else:
            st.markdown(_("New voices: *not measured*"))
            st.caption(missing_reason(row["loso_missing"]))
        if row["seed"] == row["seed"]:
            st.markdown(
                _("Seed split: {seed:.1f} % (voices heard in training)").format(seed=100 * row["seed"])
            )
        if row["adapts"]:
            st.caption(":material/tune: " + _("can adapt to your voice"))
