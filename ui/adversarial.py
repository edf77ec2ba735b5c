"""Helpers of the adversarial page: models, clips, cached attacks and their captions."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import streamlit as st

from ser_core import attacks as adv
from ser_core import data, features, models
from ser_core.config import EMOTIONS, artifacts_dir
from ser_core.errors import SERError
from ser_core.inference import Predictor
from ser_core.torch_frontend import prepare_waveform
from ui.clips import clip_waveform, decode_upload, make_clip
from ui.loaders import corpus_dir, corpus_metadata
from ui.models import EXPLAIN_MODEL, model_accuracy, model_card, shipped_models
from ui.state import KEY_ADV_CLIP, KEY_ADV_UPLOADER

ADV_SOURCE_CORPUS = "Corpus clip (seed test split)"
ADV_SOURCE_UPLOAD = "Upload a file"
ADV_DOMAIN_TITLES = {"spectrogram": "Spectrogram (the model's input)", "waveform": "Waveform (real audio)"}
ADV_EPSILONS = {"spectrogram": adv.DEFAULT_EPSILONS, "waveform": adv.WAVEFORM_EPSILONS}
ADV_DEFAULT_EPS = {"spectrogram": 0.01, "waveform": 1e-4}
ADV_UNTARGETED = "untargeted"
ADV_MODEL = EXPLAIN_MODEL
ADV_GL_ITERS = 32
ADV_EPS_HELP = {
    "spectrogram": (
        "Epsilon is applied to the **normalised** model input, as in the research project: the "
        "log-mel minus the training mean, divided by the training standard deviation, per mel "
        "band. One unit is one standard deviation of the band (8 to 25 dB for the shipped mel "
        "model), so epsilon = 0.01 moves every time-frequency bin by at most 0.08 to 0.25 dB."
    ),
    "waveform": (
        "Epsilon is in **sample amplitude** (full scale ±1; one step of a 16-bit WAV is 0.00003): "
        "every sample moves by at most epsilon. The gradient flows through a PyTorch copy of "
        "the log-mel front end (`ser_core.torch_frontend`, within 0.01 dB of librosa), so the "
        "result is real audio, played without Griffin-Lim."
    ),
}


def adv_models() -> list[str]:
    """Shipped models reading the ``mel`` representation (the attacks need it)."""
    out = []
    for model_name in shipped_models():
        inp = model_card(model_name).get("input", {})
        if inp.get("kind") == "features" and inp.get("name") == "mel":
            out.append(model_name)
    return out


def adv_default_model(model_names: list[str]) -> str:
    """``resnet18_mel`` when shipped, else the most accurate of ``model_names``."""
    if ADV_MODEL in model_names:
        return ADV_MODEL
    return max(model_names, key=lambda n: model_accuracy(n) or -1.0)


def adv_no_model_info() -> None:
    st.info(
        "The attacks need a shipped model on the log-mel spectrogram: train one with "
        "`python -m ser_core train --model resnet18 --representation mel --ship resnet18_mel` "
        "(it lands in `artifacts/models/`), then reload this page.",
        icon=":material/info:",
    )


@st.cache_data(show_spinner=False, max_entries=4)
def _adv_test_rows(root: str, split_stamp: float) -> pd.DataFrame:
    meta = corpus_metadata(root)
    try:
        return meta.iloc[data.split_indices(meta, "seed").test]
    except (SERError, OSError):  # no split file: every clip
        return meta


def adv_test_clips(meta: pd.DataFrame) -> pd.DataFrame:
    """The corpus clips offered on the page: the ``seed`` test split (clips the model
    never trained on); every clip when the split file is missing."""
    p = artifacts_dir() / "splits" / "seed.csv"
    try:
        stamp = p.stat().st_mtime
    except OSError:
        stamp = 0.0
    root = corpus_dir()
    return meta if root is None else _adv_test_rows(str(root), stamp)


def adv_store_upload() -> None:
    """``on_change`` of the uploader: copy its file to :data:`KEY_ADV_CLIP`."""
    f = st.session_state.get(KEY_ADV_UPLOADER)
    if f is None:
        st.session_state.pop(KEY_ADV_CLIP, None)
        return
    st.session_state[KEY_ADV_CLIP] = make_clip(f.getvalue(), f.name, "upload")


def adv_waveform(clip: Mapping) -> np.ndarray:
    """Waveform of a page clip: ``{"path"}`` (corpus) or ``{"data", "name"}`` (upload).

    Raises
    ------
    SERError
        The upload is not usable audio.
    """
    if clip.get("path"):
        return clip_waveform(str(clip["path"]))
    return decode_upload(clip["data"], clip["name"])


def adv_model_stamp(model_name: str) -> float:
    """mtime of a model's weights (keys the caches: a retrained model is attacked afresh)."""
    try:
        return (models.models_dir() / f"{model_name}.safetensors").stat().st_mtime
    except OSError:
        return 0.0


@st.cache_data(show_spinner=False, max_entries=64)
def _adv_attack(
    clip_id: str,
    model_name: str,
    stamp: float,
    attack: str,
    epsilon: float,
    target: str | None,
    steps: int,
    _pred: Predictor,
    _y: np.ndarray,
) -> adv.ClipAttack:
    settings = adv.AttackSettings(epsilon=epsilon, target=target, steps=steps)
    return adv.attack_clip(_y, predictor=_pred, attack=attack, settings=settings, n_iter=ADV_GL_ITERS)


def adv_attack(
    pred: Predictor, clip_id: str, y: np.ndarray, attack: str, settings: adv.AttackSettings
) -> adv.ClipAttack:
    """:func:`ser_core.attacks.attack_clip`, cached per clip hash, model, attack, epsilon,
    target and steps (the domain follows from the attack)."""
    return _adv_attack(
        clip_id,
        pred.model_name,
        adv_model_stamp(pred.model_name),
        attack,
        float(settings.epsilon),
        settings.target,
        settings.steps,
        pred,
        y,
    )


@st.cache_data(show_spinner=False, max_entries=16)
def _adv_reference(
    clip_id: str, model_name: str, stamp: float, _pred: Predictor, _y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    S = features.compute(_y, "mel", cfg=_pred.cfg)
    return adv.reconstruct(S, predictor=_pred, n_iter=ADV_GL_ITERS)


def adv_reference(pred: Predictor, clip_id: str, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Griffin-Lim of the **clean** log-mel and the pipeline's prediction for it (once per
    clip: the fair comparison for a Griffin-Lim-reconstructed adversarial spectrogram)."""
    return _adv_reference(clip_id, pred.model_name, adv_model_stamp(pred.model_name), pred, y)


def adv_window(y: np.ndarray, pred: Predictor) -> np.ndarray:
    """The 3-s window of ``y`` the model hears (what a waveform attack perturbs)."""
    return prepare_waveform(y, cfg=pred.cfg)


def format_snr(db: float) -> str:
    return "∞ (no change)" if not np.isfinite(db) else f"{db:.1f} dB"


def adv_outcome(res: adv.ClipAttack) -> str:
    """One markdown line: the prediction before and after, and whether it fooled the model."""
    before, after = EMOTIONS[int(np.argmax(res.probs_before))], EMOTIONS[int(np.argmax(res.probs_after))]
    if res.settings.epsilon == 0:
        return f"Epsilon 0: nothing changes, the model says **{before}**."
    goal = (
        ("reached the target" if res.settings.target else "changed the label")
        if res.fooled
        else ("did not reach the target" if res.settings.target else "did not change the label")
    )
    return (
        f"**{before}** ({100 * res.probs_before.max():.0f} %) → **{after}** "
        f"({100 * res.probs_after.max():.0f} %): the attack {goal}."
    )


def adv_playback_outcome(res: adv.ClipAttack) -> str:
    played = EMOTIONS[int(np.argmax(res.probs_audio))]
    how = "Griffin-Lim audio" if res.domain == "spectrogram" else "adversarial audio"
    verdict = (
        "it **survives** the trip through sound"
        if res.survives
        else "it does **not** survive the trip through sound"
    )
    if res.settings.epsilon == 0:
        verdict = "no attack to survive"
    return (
        f"The {how}, saved as a 16-bit WAV and fed back through the full pipeline: "
        f"**{played}** ({100 * res.probs_audio.max():.0f} %); {verdict}."
    )


def adv_timing_caption(res: adv.ClipAttack) -> str:
    names = {
        "features": "features",
        "attack": "attack",
        "griffin_lim": "Griffin-Lim",
        "playback_prediction": "re-prediction",
    }
    parts = [f"{names.get(k, k)} {v:.0f} ms" for k, v in res.timings_ms.items()]
    return f"Computed in {sum(res.timings_ms.values()):.0f} ms ({', '.join(parts)}); cached per clip and setting."


@st.cache_data(show_spinner=False, max_entries=4)
def _adv_robustness(path: str, mtime: float) -> pd.DataFrame | None:
    return adv.load_robustness(path)


def adv_robustness() -> pd.DataFrame | None:
    """The robustness file (``python -m ser_core attack-eval``), or None before it exists."""
    p = adv.robustness_path()
    try:
        mtime = p.stat().st_mtime
    except OSError:
        return None
    return _adv_robustness(str(p), mtime)
