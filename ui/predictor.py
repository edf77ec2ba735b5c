"""Analysing one uploaded or recorded clip on the predictor page."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from ser_core import audio, figures
from ser_core.config import DEFAULT_CONFIG
from ser_core.errors import AudioTooLongError
from ser_core.figures.predictor import display_mel as _display_mel
from ser_core.i18n import current_language
from ser_core.inference import Predictor, Verdict
from ui import jobs
from ui.calibration import voice_key_of
from ui.clips import RECORDING_NAME, make_clip, shown_name
from ui.i18n import N_, _, ngettext
from ui.models import backend_name
from ui.state import KEY_PRED_CLIP, KEY_PRED_RECORDER, KEY_PRED_RESULT, KEY_PRED_UPLOADER

#: The inputs of the page (shown with ``_(PRED_SOURCES[k])``).
PRED_SOURCES = {
    "upload": N_("Upload a file"),
    "recording": N_("Record (up to 10 s)"),
    "live": N_("Live microphone"),
}
#: Longest accepted in-browser recording (s).
RECORDING_MAX_SECONDS = 10.0
#: Audio longer than this (s) is predicted through the shared queue (:mod:`ui.jobs`): its
#: timeline costs seconds of CPU (a 10-minute upload: 17 s to a minute), and a class
#: uploading long files at once must take turns, not share two cores thirty ways.
QUEUE_FROM_SECONDS = 30.0


def store_clip(widget_key: str, source: str) -> None:
    """``on_change`` callback of the uploader / recorder: copy its file to
    :data:`KEY_PRED_CLIP` (or forget the clip when the widget was cleared)."""
    f = st.session_state.get(widget_key)
    if f is None:
        st.session_state.pop(KEY_PRED_CLIP[source], None)
        return
    name = f.name if source == "upload" else RECORDING_NAME
    st.session_state[KEY_PRED_CLIP[source]] = make_clip(f.getvalue(), name, source)


def kept_clip_note(source: str) -> str:
    """One sentence when the clip shown is no longer in its widget (Streamlit empties the
    uploader / recorder when the page is left, the clip stays for the session); "" while
    the widget holds it."""
    widget = KEY_PRED_UPLOADER if source == "upload" else KEY_PRED_RECORDER
    clip = st.session_state.get(KEY_PRED_CLIP[source])
    if clip is None or st.session_state.get(widget) is not None:
        return ""
    if source == "upload":
        return _(
            "Your last upload, {name}, kept from earlier in this session (the box above "
            "empties when you leave the page): upload another file to replace it."
        ).format(name=repr(clip["name"]))
    return _("Your last recording, kept from earlier in this session: record again to replace it.")


@dataclass(frozen=True)
class ClipResult:
    """A decoded, predicted clip."""

    clip_id: str
    name: str
    source: str
    model: str
    backend: str
    y: np.ndarray
    verdict: Verdict
    decode_ms: float
    #: :func:`voice_key` of the profile the model was adapted with ("" unadapted).
    voice: str = ""
    #: :meth:`Predictor.adaptation` at prediction time (one sentence for people).
    adaptation: str = ""
    #: Its figures by language and name, built once (:func:`result_figures`): a rerun that
    #: changes nothing about the result (a feedback click) draws the same objects again.
    figures: dict = field(default_factory=dict, compare=False, repr=False)


def result_figures(res: ClipResult, *, sr: int) -> dict:
    """The result's figures in the language of this run, built on first use and kept with
    it: ``probs``, ``wave``, ``mel`` and, for audio longer than one window, ``timeline``."""
    figs = res.figures.setdefault(current_language(), {})
    if not figs:
        v = res.verdict
        figs["probs"] = figures.probability_figure(v.probs, unsure_below=v.unsure_below)
        if v.timeline is not None:
            figs["timeline"] = figures.timeline_figure(
                v.timeline.probs,
                times=v.timeline.starts + DEFAULT_CONFIG.duration / 2,
                x_title=_("window centre (s)"),
                unsure_below=v.unsure_below,
                x_range=(0.0, v.seconds),  # lined up with the waveform below
            )
        figs["wave"] = figures.waveform_figure(res.y, sr=sr)
        mel, hop_seconds = display_mel(res.y, sr)
        figs["mel"] = figures.mel_figure(mel, hop_seconds=hop_seconds)
    return figs


def voice_key(pred: Predictor) -> str:
    """A content hash of the voice profile ``pred`` is adapted with ("" for none)."""
    prof = getattr(pred, "profile", None)
    return "" if prof is None else voice_key_of(prof)


def analyse(pred: Predictor, clip: dict) -> ClipResult:
    """Decode and predict a clip; reused while the clip, the model and the voice
    profile it is adapted with stay the same.

    Raises
    ------
    SERError
        One sentence naming the file: not audio, empty, silent, too short or too long
        (recordings: over 10 s).
    """
    source = clip["source"]
    results = st.session_state.setdefault(KEY_PRED_RESULT, {})
    clip_id = clip.get("id") or make_clip(clip["data"], clip["name"], source)["id"]
    old = results.get(source)
    voice = voice_key(pred)
    if old is not None and (old.clip_id, old.model, old.backend, old.voice) == (
        clip_id,
        pred.model_name,
        pred.backend,
        voice,
    ):
        return old
    results.pop(source, None)
    limit = RECORDING_MAX_SECONDS if source == "recording" else audio.MAX_SECONDS
    t0 = time.perf_counter()
    try:
        y = audio.load_audio(
            clip["data"], name=shown_name(clip["name"]), sr=pred.cfg.sr, max_seconds=limit, silent_ok=False
        )
    except AudioTooLongError as err:
        if source != "recording":
            raise
        raise AudioTooLongError(
            N_(
                "Recordings are limited to {limit} s and this one is longer: record a shorter "
                "clip, or upload a file (up to {minutes} minutes)."
            ),
            filename=err.filename,
            limit=f"{limit:.0f}",
            minutes=f"{audio.MAX_SECONDS / 60:.0f}",
        ) from None
    decode_ms = 1000 * (time.perf_counter() - t0)
    if len(y) > QUEUE_FROM_SECONDS * pred.cfg.sr:  # a timeline: seconds of CPU, through the queue
        key = ("timeline", clip_id, pred.model_name, pred.backend, voice)
        what = _("Predicting {seconds} s of audio").format(seconds=f"{len(y) / pred.cfg.sr:.0f}")
        verdict = jobs.queued(key, pred.verdict, y, what=what)
    else:
        with st.spinner(_("Predicting…")):
            verdict = pred.verdict(y)
    res = ClipResult(
        clip_id,
        clip["name"],
        source,
        pred.model_name,
        pred.backend,
        y,
        verdict,
        decode_ms,
        voice,
        pred.adaptation(),
    )
    results[source] = res
    return res


def timing_caption(res: ClipResult) -> str:
    """How long the prediction took, over how many windows, on which back end."""
    v = res.verdict
    took = f"{v.elapsed_ms:.0f} ms" if v.elapsed_ms < 1000 else f"{v.elapsed_ms / 1000:.1f} s"
    values = {
        "took": took,
        "backend": backend_name(res.backend),
        "decode": f"{res.decode_ms:.0f}",
        "seconds": f"{v.seconds:.1f}",
    }
    if v.timeline is None:
        return _(
            "Prediction took **{took}** (features + model, one 3-s window, {backend}); "
            "decoding {decode} ms; {seconds} s of audio."
        ).format(**values)
    n = len(v.timeline.starts)
    return ngettext(
        "Prediction took **{took}** (features + model, {n} window, {backend}); "
        "decoding {decode} ms; {seconds} s of audio.",
        "Prediction took **{took}** (features + model, {n} windows, {backend}); "
        "decoding {decode} ms; {seconds} s of audio.",
        n,
    ).format(n=n, **values)


def padding_caption(seconds: float) -> str:
    """The caption of a short clip's log-mel: padded to the model's window, as the model sees it
    (its times are then shifted from the waveform's by the padding in front)."""
    window = DEFAULT_CONFIG.duration
    pad = (window - seconds) / 2 if DEFAULT_CONFIG.align == "center" else 0.0
    if pad < 0.05:
        return _("Log-mel spectrogram of the {window}-s window, exactly as the model sees it.").format(
            window=f"{window:.0f}"
        )
    return _(
        "Log-mel spectrogram exactly as the model sees it: the {seconds}-s clip padded with "
        "silence to {window} s, {pad} s on each side, so its times run {pad} s later "
        "than the waveform's."
    ).format(seconds=f"{seconds:.1f}", window=f"{window:.0f}", pad=f"{pad:.1f}")


@st.cache_data(show_spinner=False, max_entries=8)
def display_mel(y: np.ndarray, sr: int) -> tuple[np.ndarray, float]:
    """:func:`ser_core.figures.predictor.display_mel` (``(mel, hop_seconds)`` of the whole
    clip), cached by content."""
    return _display_mel(y, sr=sr)
