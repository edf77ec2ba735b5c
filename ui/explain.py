"""Helpers of the explain page: model choice, clip pickers, cached maps and curves.

Every expensive result is cached with ``st.cache_data`` keyed by the clip's id (file id
or content hash), the model, the method, the target class and the options, so moving a
display slider (opacity, top-k) recomputes no map.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
import torch

from ser_core import audio, explain, features, sonify
from ser_core.config import EMOTIONS
from ser_core.inference import Predictor
from ui.clips import clip_waveform, decode_upload, make_clip, wav_bytes
from ui.models import model_card, shipped_models
from ui.state import (
    CURRENT_CLIP,
    KEY_XAI_EMOTION,
    KEY_XAI_FILE,
    KEY_XAI_LIME,
    KEY_XAI_SG_NOISE,
    KEY_XAI_SG_SAMPLES,
    KEY_XAI_STEPS,
    KEY_XAI_UPLOAD,
    KEY_XAI_UPLOADER,
    keep_valid,
)

XAI_SOURCES = {"corpus": "Corpus clip", "upload": "Upload a file"}
XAI_PREDICTED = "predicted"
#: Architectures the explainers handle (Grad-CAM layer, LRP rules).
XAI_ARCHITECTURES = ("resnet18", "small_cnn", "vgg16")
#: How many times each method was really computed (not served from the cache), per
#: process: lets tests check that display widgets recompute nothing.
XAI_COMPUTED: Counter = Counter()
XAI_SCORES = {
    "auc": "deletion AUC (lower is better)",
    "drop10": "probability drop at 10 % removed (higher is better)",
    "drop20": "probability drop at 20 % removed (higher is better)",
}
#: PyTorch intra-op threads while explaining: on the shared 2-core machine one thread
#: was 6x faster than two (benchmarks/bench_xai.py: 5.4 s vs 31.7 s per clip at load
#: average ~6; two threads spin against the other processes).
XAI_TORCH_THREADS = 1


@contextlib.contextmanager
def xai_threads(n: int = XAI_TORCH_THREADS) -> Iterator[None]:
    """Run a block with ``n`` PyTorch threads, then restore the previous number."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def xai_models() -> list[str]:
    """Shipped spectrogram models the explainers handle (mel ResNet first)."""
    model_names = [
        n
        for n in shipped_models()
        if model_card(n).get("input", {}).get("kind") == "features"
        and model_card(n).get("architecture", {}).get("name") in XAI_ARCHITECTURES
    ]
    return sorted(model_names, key=lambda n: (n != "resnet18_mel", n))


def xai_options() -> explain.XAIOptions:
    """The options set in the page's settings widgets (defaults until they are drawn)."""
    d = explain.XAIOptions()
    ss = st.session_state
    return explain.XAIOptions(
        lime_samples=int(ss.get(KEY_XAI_LIME, d.lime_samples)),
        smoothgrad_samples=int(ss.get(KEY_XAI_SG_SAMPLES, d.smoothgrad_samples)),
        smoothgrad_noise=float(ss.get(KEY_XAI_SG_NOISE, d.smoothgrad_noise)),
        deletion_steps=int(ss.get(KEY_XAI_STEPS, d.deletion_steps)),
    )


def xai_settings() -> None:
    """Widgets of the explainers' cost settings (LIME budget, SmoothGrad, deletion steps)."""
    d = explain.XAIOptions()
    c1, c2, c3, c4 = st.columns(4)
    c1.number_input(
        "LIME samples",
        16,
        2000,
        d.lime_samples,
        16,
        key=KEY_XAI_LIME,
        help="Perturbed spectrograms LIME evaluates (one forward pass each): its cost and its stability.",
    )
    c2.number_input("SmoothGrad samples", 1, 200, d.smoothgrad_samples, 1, key=KEY_XAI_SG_SAMPLES)
    c3.number_input(
        "SmoothGrad noise",
        0.0,
        1.0,
        d.smoothgrad_noise,
        0.05,
        key=KEY_XAI_SG_NOISE,
        help="Noise std as a fraction of the input's range.",
    )
    c4.number_input(
        "Deletion steps",
        2,
        100,
        d.deletion_steps,
        1,
        key=KEY_XAI_STEPS,
        help="Steps from 0 to 100 % removed (10 % and 20 % are always included).",
    )


def xai_store_upload() -> None:
    """``on_change`` of the uploader: keep its file in :data:`KEY_XAI_UPLOAD`."""
    f = st.session_state.get(KEY_XAI_UPLOADER)
    if f is None:
        st.session_state.pop(KEY_XAI_UPLOAD, None)
    else:
        st.session_state[KEY_XAI_UPLOAD] = make_clip(f.getvalue(), f.name, "upload")


def xai_corpus_picker(meta: pd.DataFrame) -> dict | None:
    """Emotion + clip pickers; the chosen clip as ``{"id", "name", "path", "source"}``."""
    current = (st.session_state.get(CURRENT_CLIP) or {}).get("file_id")
    if KEY_XAI_EMOTION not in st.session_state and current in set(meta["file_id"]):
        row = meta.loc[meta["file_id"] == current].iloc[0]
        st.session_state[KEY_XAI_EMOTION] = row["emotion"]
        st.session_state[KEY_XAI_FILE] = current
    c1, c2 = st.columns([1, 3])
    emotion = c1.selectbox("Emotion", list(EMOTIONS), key=KEY_XAI_EMOTION)
    rows = meta[meta["emotion"] == emotion].sort_values(["speaker", "sentence_id"])
    ids = rows["file_id"].tolist()
    keep_valid(KEY_XAI_FILE, ids)
    text = dict(zip(rows["file_id"], rows.get("text", rows["file_id"])))
    fid = c2.selectbox("Clip", ids, key=KEY_XAI_FILE, format_func=lambda f: f"{f} · “{text.get(f, '')}”")
    if fid is None:
        return None
    path = str(meta.loc[meta["file_id"] == fid, "path"].iloc[0])
    return {"id": f"corpus:{fid}", "name": fid, "path": path, "source": "corpus"}


def xai_waveform(clip: dict) -> np.ndarray:
    """Decoded 16-kHz waveform of a corpus or uploaded clip (raises SERError on bad audio)."""
    if clip["source"] == "corpus":
        return clip_waveform(clip["path"])
    return decode_upload(clip["data"], clip["name"])


@dataclass(frozen=True)
class XaiInput:
    """What the explainers need of one clip and model.

    Attributes
    ----------
    x : np.ndarray, shape (C, F, T)
        Normalised model input (the centre 3 s).
    window : np.ndarray, shape (n_samples,)
        The 3-s waveform the model sees.
    mel : np.ndarray, shape (n_mels, frames)
        Its log-mel spectrogram (dB): the heatmaps' background and what is inverted.
    probs : np.ndarray, shape (6,)
        Calibrated probabilities.
    """

    x: np.ndarray
    window: np.ndarray
    mel: np.ndarray
    probs: np.ndarray


@st.cache_data(show_spinner=False, max_entries=16)
def xai_input(clip_id: str, model_name: str, _y: np.ndarray, _pred: Predictor) -> XaiInput:
    """Model input, display spectrogram and probabilities of a clip (cached per clip + model)."""
    w = audio.pad_or_trim(_y, n_samples=_pred.cfg.n_samples, align=_pred.cfg.align)
    x = _pred.inputs(w[None])[0]
    mel = features.compute(w, "mel", cfg=_pred.cfg)[0]
    probs = _pred.predict_batch(w[None])[0]
    return XaiInput(x, w, mel, probs)


@st.cache_data(show_spinner=False, max_entries=128)
def xai_map(
    clip_id: str,
    model_name: str,
    method: str,
    target: int,
    options_key: str,
    _x: np.ndarray,
    _module,
    _options: explain.XAIOptions,
) -> np.ndarray:
    """Relevance map ``(C, F, T)`` of one method (cached per clip, model, method, target)."""
    XAI_COMPUTED[method] += 1
    with xai_threads():
        return explain.explain(_x, method, model=_module, target=target, options=_options)


@st.cache_data(show_spinner=False, max_entries=256)
def xai_curve(
    clip_id: str,
    model_name: str,
    method: str,
    target: int,
    options_key: str,
    _x: np.ndarray,
    _relevance: np.ndarray,
    _module,
    _options: explain.XAIOptions,
    temperature: float,
) -> explain.DeletionCurve:
    """Deletion curve of one map (``method`` "random": the reference ordering)."""
    XAI_COMPUTED[f"deletion:{method}"] += 1
    rel = explain.random_relevance(_x.shape, seed=_options.seed) if method == "random" else _relevance
    with xai_threads():
        return explain.deletion_curve(
            _x,
            rel,
            model=_module,
            target=target,
            steps=_options.deletion_steps,
            baseline=_options.baseline,
            temperature=temperature,
            batch_size=_options.batch_size,
            seed=_options.seed,
        )


@st.cache_data(show_spinner=False, max_entries=64)
def xai_listen_wav(
    clip_id: str,
    model_name: str,
    method: str,
    target: int,
    options_key: str,
    top_k: float,
    _mel: np.ndarray,
    _relevance: np.ndarray | None,
) -> bytes:
    """WAV of the Griffin-Lim inversion of the top-``k`` bins (``_relevance`` None: all bins)."""
    XAI_COMPUTED["listen"] += 1
    y = sonify.mel_to_audio(_mel) if _relevance is None else explain.listen(_mel, _relevance, top_k=top_k)
    return wav_bytes(y)


def xai_scores_table(curves: Mapping[str, explain.DeletionCurve]) -> pd.DataFrame:
    """One row per method: deletion AUC and the probability drops at 10 % and 20 %."""
    return pd.DataFrame(
        [
            {
                "method": "random order" if k == "random" else explain.get_explainer(k).title,
                **{s: v for s, v in c.scores().items() if s != "p0"},
            }
            for k, c in curves.items()
        ]
    )


def xai_scores_config() -> dict:
    cc = st.column_config
    return {
        "method": cc.TextColumn("method", width=110),
        "auc": cc.NumberColumn("AUC", format="%.3f", help=XAI_SCORES["auc"], width=70),
        "drop10": cc.NumberColumn("drop @ 10 %", format="%.3f", help=XAI_SCORES["drop10"], width=90),
        "drop20": cc.NumberColumn("drop @ 20 %", format="%.3f", help=XAI_SCORES["drop20"], width=90),
    }


@st.cache_data(show_spinner=False, max_entries=4)
def _xai_table(path: str, mtime: float) -> tuple[pd.DataFrame, dict]:
    return explain.load_deletion_table(Path(path))


def xai_dataset_table() -> tuple[pd.DataFrame, dict] | None:
    """The committed ``xai-eval`` result (``artifacts/xai/deletion.json``), or None."""
    p = explain.deletion_table_path()
    try:
        mtime = p.stat().st_mtime
    except OSError:
        return None
    return _xai_table(str(p), mtime)
