"""Helpers of the explain page: model choice, clip pickers, cached maps and curves.

Every expensive result is cached with ``st.cache_data`` keyed by the clip's id (file id
or content hash), the model, the method, the target class and the options, so moving a
display slider (opacity, top-k) recomputes no map.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
import torch

from ser_core import audio, explain, features
from ser_core.config import FeatureConfig
from ser_core.i18n import emotion_name
from ser_core.inference import Predictor
from ui import jobs
from ui.clips import clip_waveform, decode_upload, make_clip, wav_bytes
from ui.i18n import N_, _, ngettext
from ui.models import model_card, model_stamp, shipped_models
from ui.state import (
    KEY_XAI_LIME,
    KEY_XAI_SG_NOISE,
    KEY_XAI_SG_SAMPLES,
    KEY_XAI_STEPS,
    KEY_XAI_UPLOAD,
    KEY_XAI_UPLOADER,
)

#: The clip sources (English, marked: shown as ``_(XAI_SOURCES[source])``).
XAI_SOURCES = {"corpus": N_("Corpus clip"), "upload": N_("Upload a file")}
XAI_PREDICTED = "predicted"
#: Architectures the explainers handle (Grad-CAM layer, LRP rules).
XAI_ARCHITECTURES = ("resnet18", "small_cnn", "vgg16")
#: How many times each method was really computed (not served from the cache), per
#: process: lets tests check that display widgets recompute nothing.
XAI_COMPUTED: Counter = Counter()
#: What each deletion score means (English, marked: shown as ``_(XAI_SCORES[score])``).
XAI_SCORES = {
    "auc": N_(
        "deletion AUC (lower is better): the area under the curve, 1 = the probability stayed at 100 %"
    ),
    "drop10": N_(
        "probability drop, in percentage points, once 10 % of the bins are removed (higher is better)"
    ),
    "drop20": N_(
        "probability drop, in percentage points, once 20 % of the bins are removed (higher is better)"
    ),
    "insertion_auc": N_(
        "insertion AUC (higher is better): the area under the probability curve while the most "
        "relevant bins are put back onto the training mean"
    ),
    "ai": N_(
        "average increase, AI (higher is better): how often the explanation alone (its top 20 % "
        "bins, the rest at the training mean) raises the class probability, in %"
    ),
    "ad": N_(
        "average drop, AD (lower is better): how much of the class probability is lost when only "
        "the explanation is kept, in % of the probability"
    ),
    "ag": N_(
        "average gain, AG (higher is better): how much the explanation alone raises the class "
        "probability, in % of the room left to 100 %"
    ),
    "ff": N_(
        "faithfulness, FF (higher is better): the probability drop, in percentage points, when the "
        "explanation is removed and the rest kept"
    ),
    "fid_in": N_(
        "input fidelity, Fid-In (higher is better): how often the explanation alone keeps the "
        "model's top class, in %"
    ),
}
#: The score columns' short names (English, marked).
XAI_SCORE_NAMES = {
    "auc": N_("deletion AUC"),
    "drop10": N_("drop @ 10 %"),
    "drop20": N_("drop @ 20 %"),
    "insertion_auc": N_("insertion AUC"),
    "ai": "AI",
    "ad": "AD",
    "ag": "AG",
    "ff": "FF",
    "fid_in": "Fid-In",
}
#: PyTorch intra-op threads while explaining: on the shared 2-core machine one thread
#: was 6x faster than two (benchmarks/bench_xai.py: 5.4 s vs 31.7 s per clip at load
#: average ~6; two threads spin against the other processes).
XAI_TORCH_THREADS = 1


def pct(p: float) -> str:
    """A probability as a percentage: ``"99 %"``; one decimal under 10 % (``"0.3 %"``),
    ``"< 0.1 %"`` below that, so a tiny probability never reads as a plain 0."""
    v = 100 * float(p)
    if v >= 10:
        return f"{v:.0f} %"
    return f"{v:.1f} %" if v >= 0.05 else "< 0.1 %"


def took(info: Mapping) -> str:
    """How long an ``xai-eval`` result took to make, ``"14 minutes"`` or ``"45 s"``, from
    its ``seconds`` ("" without), in the language of the run."""
    sec = info.get("seconds")
    if not isinstance(sec, (int, float)) or sec <= 0:
        return ""
    if sec < 90:
        return f"{sec:.0f} s"
    minutes = round(sec / 60)
    return ngettext("{n} minute", "{n} minutes", minutes).format(n=minutes)


def input_name(representation: str) -> str:
    """``"log-mel spectrogram"``; ``"HPSS (...), its harmonic channel"`` when it has several
    (in the language of the run; the first letter lowered unless it starts an acronym)."""
    rep = features.get(representation)
    title = _(rep.title)
    name = title if title[:2].isupper() else f"{title[0].lower()}{title[1:]}"
    if len(rep.channels) > 1:
        return _("{representation}, its {channel} channel").format(
            representation=name, channel=_(rep.channels[0])
        )
    return name


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
        _("LIME samples"),
        16,
        2000,
        d.lime_samples,
        16,
        key=KEY_XAI_LIME,
        help=_("Perturbed spectrograms LIME evaluates (one forward pass each): its cost and its stability."),
    )
    c2.number_input(_("SmoothGrad samples"), 1, 200, d.smoothgrad_samples, 1, key=KEY_XAI_SG_SAMPLES)
    c3.number_input(
        _("SmoothGrad noise"),
        0.0,
        1.0,
        d.smoothgrad_noise,
        0.05,
        key=KEY_XAI_SG_NOISE,
        help=_("Noise standard deviation as a fraction of the input's range."),
    )
    c4.number_input(
        _("Deletion steps"),
        2,
        100,
        d.deletion_steps,
        1,
        key=KEY_XAI_STEPS,
        help=_("Steps from 0 to 100 % removed (10 % and 20 % are always included)."),
    )


def xai_store_upload() -> None:
    """``on_change`` of the uploader: keep its file in :data:`KEY_XAI_UPLOAD`."""
    f = st.session_state.get(KEY_XAI_UPLOADER)
    if f is None:
        st.session_state.pop(KEY_XAI_UPLOAD, None)
    else:
        st.session_state[KEY_XAI_UPLOAD] = make_clip(f.getvalue(), f.name, "upload")


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
        Its log-mel spectrogram (dB): what the listening section inverts.
    probs : np.ndarray, shape (6,)
        Calibrated probabilities.
    background : np.ndarray, shape (F, T)
        The heatmaps' background, bin for bin with the maps: the log-mel for a mel
        model, else the first channel of the normalised input (the MFCCs of an MFCC
        model, each coefficient standardised).
    y_label : str
        What its bin axis means (``"mel band"``, ``"MFCC coefficient"``, ...), in
        English: translate it where it is shown.
    """

    x: np.ndarray
    window: np.ndarray
    mel: np.ndarray
    probs: np.ndarray
    background: np.ndarray
    y_label: str


@st.cache_data(show_spinner=False, max_entries=16)
def xai_input(clip_id: str, model_name: str, _y: np.ndarray, _pred: Predictor) -> XaiInput:
    """Model input, display spectrogram and probabilities of a clip (cached per clip + model)."""
    w = audio.pad_or_trim(_y, n_samples=_pred.cfg.n_samples, align=_pred.cfg.align)
    x = _pred.inputs(w[None])[0]
    mel = features.compute(w, "mel", cfg=_pred.cfg)[0]
    probs = _pred.predict_batch(w[None])[0]
    rep = _pred.representation
    # not a mel model: the normalised input itself (raw MFCCs, say, are one bright row)
    back = mel if rep == "mel" else np.asarray(x[0], dtype=np.float32)
    return XaiInput(x, w, mel, probs, back, features.get(rep).y_label)


def _map(x: np.ndarray, method: str, module, target: int, options: explain.XAIOptions) -> np.ndarray:
    XAI_COMPUTED[method] += 1
    with xai_threads():
        return explain.explain(x, method, model=module, target=target, options=options)


@dataclass(frozen=True, eq=False)
class XaiRequest:
    """What every map and deletion curve of one clip's explanation shares.

    Attributes
    ----------
    clip_id, model_name : str
        The clip (file id or content hash) and the model explained.
    target : int
        The class explained.
    x : np.ndarray, shape (C, F, T)
        The model's input.
    module : torch.nn.Module
        The model.
    options : explain.XAIOptions
    place : hashable, optional
        The session's held place in the queue (:func:`ui.jobs.hold_place`).
    """

    clip_id: str
    model_name: str
    target: int
    x: np.ndarray
    module: Any
    options: explain.XAIOptions
    place: Hashable | None = None

    def key(self, kind: str, method: str, *extra: Any) -> tuple:
        """The queue key of one job: one computation per clip, model (and its weights),
        method, target and options across every session."""
        stamp = model_stamp(self.model_name)
        return (kind, self.clip_id, self.model_name, stamp, method, self.target, repr(self.options), *extra)


def xai_map(req: XaiRequest, method: str, *, what: str) -> np.ndarray:
    """Relevance map ``(C, F, T)`` of one method, through the app's shared queue
    (:mod:`ui.jobs`), in the session's held place; ``what`` is the line a waiting user
    reads."""
    return jobs.queued(
        req.key("xai-map", method),
        _map,
        req.x,
        method,
        req.module,
        req.target,
        req.options,
        what=what,
        place=req.place,
    )


def _faithfulness(
    x: np.ndarray,
    relevance: np.ndarray | None,
    method: str,
    module,
    target: int,
    options: explain.XAIOptions,
    temperature: float,
) -> explain.Faithfulness:
    XAI_COMPUTED[f"faithfulness:{method}"] += 1
    rel = explain.random_relevance(x.shape, seed=options.seed) if method == "random" else relevance
    with xai_threads():
        return explain.faithfulness_scores(
            x, rel, model=module, target=target, options=options, temperature=temperature
        )


def xai_faithfulness(
    req: XaiRequest, method: str, relevance: np.ndarray | None, *, temperature: float, what: str
) -> explain.Faithfulness:
    """Deletion and insertion curves and the mask scores of one map (``method`` "random":
    the reference ordering), in one batch of forward passes, through the shared queue like
    :func:`xai_map`; the mask is the map's top :data:`~ser_core.explain.MASK_TOP_K` bins."""
    return jobs.queued(
        req.key("xai-faithfulness", method, temperature),
        _faithfulness,
        req.x,
        relevance,
        method,
        req.module,
        req.target,
        req.options,
        temperature,
        what=what,
        place=req.place,
    )


@st.cache_data(show_spinner=False, max_entries=64)
def xai_listen_wav(
    clip_id: str,
    model_name: str,
    method: str,
    target: int,
    options_key: str,
    top_k: float | None,
    phase: str,
    _window: np.ndarray,
    _relevance: np.ndarray | None,
    _cfg: FeatureConfig,
) -> bytes:
    """WAV of the top-``k`` bins of a map (``_relevance`` None: all bins) with the clip's own
    phase (``phase="original"``) or Griffin-Lim's guess (``"griffin-lim"``): see
    :func:`ser_core.explain.listen`. Cached per clip, model, map, target, options, top-k
    and phase."""
    XAI_COMPUTED[f"listen:{phase}"] += 1
    if top_k is None:  # the map is a mask (L-MAC): its own gains
        return wav_bytes(explain.listen(_window, _relevance, top_k=None, cfg=_cfg))
    if _relevance is None:
        _relevance, top_k = np.ones((_cfg.n_mels, _cfg.n_frames), np.float32), 1.0
    return wav_bytes(explain.listen(_window, _relevance, top_k=top_k, phase=phase, cfg=_cfg))


@st.cache_data(show_spinner=False, max_entries=64)
def xai_lmac_heard(
    clip_id: str,
    model_name: str,
    target: int,
    options_key: str,
    _window: np.ndarray,
    _mask: np.ndarray,
    _pred,
) -> tuple[np.ndarray, np.ndarray]:
    """What the model hears in L-MAC's own mask played with the clip's phase, and in the rest
    of the clip (gains ``1 - M``): calibrated probabilities ``(kept, rest)``, each ``(6,)``.
    Cached per clip, model, target and options."""
    soft = np.clip(np.asarray(_mask, np.float64), 0.0, 1.0)
    kept = explain.listen(_window, soft, top_k=None, cfg=_pred.cfg)
    rest = explain.listen(_window, 1.0 - soft, top_k=None, cfg=_pred.cfg)
    probs = _pred.predict_batch(np.stack([kept, rest]))
    return probs[0], probs[1]


#: Below this probability of the explained class (and below chance), the page says its maps
#: and scores are meaningless: the model all but rules the class out.
XAI_NEAR_ZERO = 0.05


def xai_target_warning(p: float, *, model_name: str, emotion: str, n_classes: int) -> str | None:
    """The warning over the maps when the explained class is below chance (None above).

    Under :data:`XAI_NEAR_ZERO` it says in one sentence that the maps and scores of a class
    the model gives almost no probability are meaningless; between that and chance, that
    the deletion test cannot check the maps. ``emotion`` is the label (an identifier)."""
    if explain.scorable(p, n_classes=n_classes):
        return None
    args = {
        "model": model_name,
        "emotion": emotion_name(emotion),
        "probability": pct(p),
        "chance": pct(explain.chance_level(n_classes)),
    }
    if p < XAI_NEAR_ZERO:
        return _(
            "{model} gives **{emotion}** almost no probability on this clip, {probability}, far "
            "below chance ({chance}): the maps and scores of a class the model all but rules out "
            "are meaningless (its scores are n/a), so explain the predicted class instead."
        ).format(**args)
    return _(
        "{model} gives **{emotion}** only {probability} on this clip, below chance "
        "({chance}). The maps still show what evidence for {emotion} it finds, but the "
        "deletion test cannot check them: a probability near 0 has nowhere to fall, so "
        "any map would get a near-perfect AUC. Its scores are n/a here; explain the "
        "predicted class to compare the methods."
    ).format(**args)


def xai_scores_table(
    results: Mapping[str, explain.Faithfulness | explain.DeletionCurve], *, n_classes: int
) -> pd.DataFrame:
    """One row per method: starting probability and every score it has (deletion AUC, drops
    at 10 % and 20 %; for a :class:`~ser_core.explain.Faithfulness`, insertion AUC, AI, AD,
    AG, FF and Fid-In too).

    ``start`` in %, drops and FF in percentage points (as the chart), Fid-In in %, AUCs as
    a fraction of the unit square.  The scores are None (shown empty, "n/a") for a curve that
    starts below the chance level ``1 / n_classes`` (:func:`ser_core.explain.scorable`): for
    a class the model rejects, every map would score a near-perfect AUC.
    """
    rows = []
    for k, c in results.items():
        sc = c.scores()
        ok = explain.scorable(sc["p0"], n_classes=n_classes)
        rows.append(
            {
                "method": _("random order") if k == "random" else explain.get_explainer(k).title,
                "start": 100 * sc["p0"],
                **{s: (v if ok else None) for s, v in sc.items() if s != "p0"},
            }
        )
    return in_points(pd.DataFrame(rows))


#: Scores that are probabilities (fractions) shown in percentage points or %.
PERCENT_SCORES = ("drop10", "drop20", "ff", "fid_in")


def in_points(scores: pd.DataFrame) -> pd.DataFrame:
    """``scores`` with its drop and FF columns (fractions) in percentage points and Fid-In
    (a fraction of the clips) in %."""
    return scores.assign(**{c: 100 * scores[c] for c in PERCENT_SCORES if c in scores})


#: Display formats of the score columns (``start`` in %, drops and FF in percentage points).
#: ``{pt}``: "pt", percentage points, in the language of the run.
SCORE_FORMATS = {
    "start": "{:.1f} %",
    "auc": "{:.3f}",
    "drop10": "{:.1f} {pt}",
    "drop20": "{:.1f} {pt}",
    "insertion_auc": "{:.3f}",
    "ai": "{:.0f} %",
    "ad": "{:.1f} %",
    "ag": "{:.1f} %",
    "ff": "{:.1f} {pt}",
    "fid_in": "{:.0f} %",
}


def points() -> str:
    """The abbreviation of percentage points ("pt") in the language of the run."""
    # Translators: the abbreviation of "percentage points" after a number (12.5 pt)
    return _("pt")


def score_text(score: str):
    """A function writing one value of ``score`` as text (:data:`SCORE_FORMATS`); "n/a" for
    a missing value (a curve not scored would show as "None")."""
    na, pt, f = _("n/a"), points(), SCORE_FORMATS[score]
    return lambda v: na if v is None or v != v else f.format(v, pt=pt)


def xai_scores_text(scores: pd.DataFrame) -> pd.DataFrame:
    """``scores`` with its score columns as text (:data:`SCORE_FORMATS`), "n/a" where a
    curve is not scored."""
    return scores.assign(**{c: scores[c].map(score_text(c)) for c in SCORE_FORMATS if c in scores})


def xai_scores_config() -> dict:
    """Column titles, widths and help of the score tables (one line per score: what it
    measures and which direction is better)."""
    cc = st.column_config
    scores = {
        s: cc.TextColumn(_(XAI_SCORE_NAMES[s]), help=_(XAI_SCORES[s]), width=90 if len(s) > 2 else 60)
        for s in XAI_SCORES
    }
    return {
        "method": cc.TextColumn(_("method"), width=110),
        "start": cc.TextColumn(
            _("start"),
            width=60,
            help=_(
                "Probability of the explained class before any bin is removed. Below chance "
                "(one in six) the scores are n/a: a curve starting near 0 cannot fall."
            ),
        ),
        **scores,
    }


def xai_score_columns(table: pd.DataFrame) -> list[str]:
    """The scores a result table holds, in :data:`XAI_SCORES` order (an old
    ``deletion.json`` holds the deletion scores only)."""
    return [s for s in XAI_SCORES if s in table.columns]


@st.cache_data(show_spinner=False, max_entries=4)
def _xai_table(path: str, mtime: float) -> tuple[pd.DataFrame, dict]:
    return explain.load_deletion_table(Path(path))


def xai_dataset_table(model_name: str) -> tuple[pd.DataFrame, dict] | None:
    """The ``xai-eval`` result for the page: ``model_name``'s own table when it exists, else
    the committed default (whose ``info["model"]`` says which model it is for); None when
    there is none.  Every score (``artifacts/xai/faithfulness[_<model_name>].json``) is
    preferred to the older deletion-only file (``artifacts/xai/deletion[_<model_name>].json``)."""
    for p in (
        explain.faithfulness_table_path(model_name),
        explain.deletion_table_path(model_name),
        explain.faithfulness_table_path(),
        explain.deletion_table_path(),
    ):
        try:
            mtime = p.stat().st_mtime
        except OSError:
            continue
        return _xai_table(str(p), mtime)
    return None
