""" "Calibrate to my voice" (issue #7): the session's voice, saved profiles, adaptation.

The recorder / uploader ``on_change`` callbacks copy the calibration audio to
:data:`~ui.state.KEY_CAL_CLIP` (a :func:`~ui.clips.make_clip` dict); the page reads only
that key, so tests set it directly.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import streamlit as st

from ser_core import adapt, audio
from ser_core.config import DEFAULT_CONFIG
from ser_core.errors import CalibrationError, SERError, UnknownNameError
from ser_core.feedback import FeedbackStore, default_data_dir
from ser_core.i18n import error_message
from ser_core.inference import Predictor, best_adaptable_model
from ui.clips import RECORDING_NAME, make_clip, shown_name
from ui.i18n import N_, _, apply_language
from ui.jobs import queued
from ui.models import model_card, shipped_models
from ui.state import (
    KEY_ADAPTED,
    KEY_CAL_CLIP,
    KEY_CAL_CONSENT,
    KEY_CAL_EXPANDER,
    KEY_CAL_NAME,
    KEY_CAL_PICK,
    KEY_CAL_STATUS,
    KEY_CAL_SWITCH,
    KEY_CAL_UPLOADER,
    KEY_FIRST_UPLOADER,
    KEY_PRED_MODEL,
    KEY_VOICE,
    KEY_VOICE_STATS,
)

PROFILE_CONSENT_LABEL = N_(
    "Save my voice statistics in this app's database under the name above "
    "(averages per frequency band only, never the audio)"
)
#: Calibration speech beyond this is not used (s); from ``adapt.INFOMAX_SECONDS`` (60 s) a
#: calibration also tunes the network to the voice, and 2 minutes tune it better.
CALIBRATION_MAX_SECONDS = 120.0
#: Shortest calibration audio accepted (s), on every path (the expander, the first-use step);
#: the page's texts say so (the library itself takes 5 s of speech).
CALIBRATION_MIN_SECONDS = 10.0
#: Voice statistics a session keeps (one per recording and model family it used).
VOICE_STATS_KEPT = 4


def voice_key_of(prof: adapt.VoiceProfile) -> str:
    """A content hash of a voice profile: its statistics, and whether it adapts batch norm."""
    return hashlib.blake2b(f"{prof.to_json()}{prof.adapts_batchnorm}".encode(), digest_size=12).hexdigest()


def store_calibration_clip(widget_key: str) -> None:
    """``on_change`` callback of the calibration recorder / uploader: copy its file to
    :data:`KEY_CAL_CLIP` (or forget it when the widget was cleared)."""
    f = st.session_state.get(widget_key)
    st.session_state.pop(KEY_CAL_STATUS, None)
    if f is None:
        st.session_state.pop(KEY_CAL_CLIP, None)
        return
    uploaded = widget_key in (KEY_CAL_UPLOADER, KEY_FIRST_UPLOADER)
    name = getattr(f, "name", "") if uploaded else RECORDING_NAME
    st.session_state[KEY_CAL_CLIP] = make_clip(f.getvalue(), name or RECORDING_NAME, "calibration")


def _cal_status(kind: str, message: str, *, close: bool = False, **params: object) -> None:
    """Remember the message of a calibration action: ``kind``, its English template (marked
    with ``N_``) and the values of its placeholders, said in the reader's language when shown
    (:func:`status_text`); ``close``: it gave the session a voice (or took it away), so the
    "Calibrate to my voice" expander closes (the message is shown outside it,
    :func:`calibration_status`)."""
    st.session_state[KEY_CAL_STATUS] = (kind, message, params)
    if close:
        st.session_state[KEY_CAL_EXPANDER] = False


def status_text(status: tuple) -> str:
    """A remembered calibration message (``(kind, template, params)``) in the language of
    this run; a library error among the values is said in it too."""
    template, params = status[1], status[2] if len(status) > 2 else {}
    values = {k: error_message(v) if isinstance(v, SERError) else v for k, v in params.items()}
    return _(template).format(**values) if values else _(template)


def _profile_stats(
    y: np.ndarray, *, representations: tuple[str, ...], profile_name: str
) -> adapt.VoiceProfile:
    """:func:`ser_core.adapt.voice_profile`, statistics only (run by a queue worker)."""
    prof = adapt.voice_profile(
        y, representations=list(representations), cfg=DEFAULT_CONFIG, profile_name=profile_name
    )
    return dataclasses.replace(prof, windows=None)


def _voice_stats(
    audio_id: str, y: np.ndarray, representations: tuple[str, ...], profile_name: str
) -> adapt.VoiceProfile:
    """The voice statistics of a recording, computed through the shared queue: once per
    recording, representations and name across sessions, with the waiting user's place in
    the queue shown.  Kept in this session (a few), so a rerun never waits.  Statistics
    only: the speech windows AdaBN needs stay in the session's voice (:data:`KEY_VOICE`)."""
    memo = st.session_state.setdefault(KEY_VOICE_STATS, {})
    key = ("voice", audio_id, representations, profile_name)
    if key not in memo:
        prof = queued(
            key,
            _profile_stats,
            y,
            representations=representations,
            profile_name=profile_name,
            what=_("Computing your voice statistics"),
        )
        _keep(memo, key, prof, most=VOICE_STATS_KEPT)
    return memo[key]


def _keep(memo: dict, key, value, *, most: int) -> None:
    """``memo[key] = value``, the oldest entries dropped to keep at most ``most``."""
    while len(memo) >= most:
        memo.pop(next(iter(memo)))
    memo[key] = value


def calibration_representations(pred: Predictor) -> list[str]:
    """What a new profile for ``pred`` holds (with its voice warps); ``["mel"]`` for a model
    that cannot adapt (the calibration is still checked, and kept for an adaptable model)."""
    return pred.profile_representations() or ["mel"]


def calibrate(pred: Predictor) -> None:
    """Button callback: decode the calibration audio, check it gives a voice profile for
    ``pred`` and make it this session's voice.  On failure the previous voice stays and
    the error is shown (:data:`KEY_CAL_STATUS`)."""
    apply_language()  # a callback runs before the page sets it: the queue's waiting line
    clip = st.session_state.get(KEY_CAL_CLIP)
    if clip is None:
        return _cal_status("error", N_("Record or upload some speech first."))
    label = " ".join(str(st.session_state.get(KEY_CAL_NAME) or "").split())
    try:
        y = audio.load_audio(
            clip["data"], name=shown_name(clip["name"]), sr=DEFAULT_CONFIG.sr, silent_ok=False
        )
        seconds = len(y) / DEFAULT_CONFIG.sr
        if seconds < CALIBRATION_MIN_SECONDS:
            return _cal_status(
                "error",
                N_(
                    "Calibration failed: {name} lasts {seconds} s; calibrate with at least "
                    "{least} s of speech ({best} s is best)."
                ),
                name=repr(clip["name"]),
                seconds=f"{seconds:.0f}",
                least=f"{CALIBRATION_MIN_SECONDS:.0f}",
                best=f"{adapt.ADABN_SECONDS:.0f}",
            )
        y = y[: int(CALIBRATION_MAX_SECONDS * DEFAULT_CONFIG.sr)]
        prof = _voice_stats(clip["id"], y, tuple(calibration_representations(pred)), label)
        windows = adapt.adabn_windows(adapt.speech_windows(y)[0])
    except SERError as err:
        return _cal_status("error", N_("Calibration failed: {error}"), error=err)
    st.session_state[KEY_VOICE] = {
        "kind": "audio",
        "id": clip["id"],
        "label": label,
        "y": y,
        "seconds": prof.seconds,
        "source": clip["name"],
        "windows": windows,
    }
    st.session_state.pop(KEY_ADAPTED, None)
    seconds = f"{prof.seconds:.0f}"
    if label:
        return _cal_status(
            "success",
            N_(
                "Calibrated for {name} from {seconds} s of speech. The statistics stay in this "
                "browser session; nothing was stored."
            ),
            close=True,
            name=repr(label),
            seconds=seconds,
        )
    _cal_status(
        "success",
        N_(
            "Calibrated from {seconds} s of speech. The statistics stay in this browser session; "
            "nothing was stored."
        ),
        close=True,
        seconds=seconds,
    )


def forget_voice() -> None:
    """Button callback: drop this session's voice (saved profiles stay saved)."""
    st.session_state.pop(KEY_VOICE, None)
    st.session_state.pop(KEY_ADAPTED, None)
    _cal_status("success", N_("Forgot the calibration: predictions are no longer adapted."), close=True)


def session_profile(pred: Predictor) -> adapt.VoiceProfile | None:
    """This session's voice as a profile for ``pred``; None without calibration or when
    ``pred`` cannot adapt.

    Raises
    ------
    CalibrationError
        A saved profile lacks a representation ``pred`` needs.
    """
    reps = pred.needed_representations()
    voice = st.session_state.get(KEY_VOICE)
    if not reps or voice is None:
        return None
    if voice["kind"] == "audio":
        prof = _voice_stats(voice["id"], voice["y"], tuple(calibration_representations(pred)), voice["label"])
        return dataclasses.replace(prof, windows=voice.get("windows"))
    prof = voice["profile"]
    missing = [r for r in reps if r not in prof]
    if missing:
        raise CalibrationError(
            N_(
                "the saved voice profile {name} holds statistics for {have}; {model} needs "
                "{missing}: calibrate again with a recording"
            ),
            name=repr(prof.name),
            have=", ".join(prof.stats),
            model=pred.model_name,
            missing=", ".join(missing),
        )
    return prof


def with_voice(pred: Predictor) -> Predictor:
    """``pred`` adapted to this session's voice (a copy; the cached model is untouched),
    or ``pred`` itself when there is no voice or it cannot adapt.

    Raises
    ------
    CalibrationError
        See :func:`session_profile`.
    """
    prof = session_profile(pred)
    if prof is None:
        return pred
    done = st.session_state.setdefault(KEY_ADAPTED, {})
    key = (id(pred), pred.model_name, pred.backend, voice_key_of(prof))
    if key not in done:
        with st.spinner(_("Adapting {model} to your voice…").format(model=pred.model_name)):
            adapted = pred.adapted(prof)
        _keep(done, key, adapted, most=4)  # a few models of this session
    return done[key]


def adaptable_suggestion() -> tuple[str | None, str]:
    """``(model_name, sentence)``: the best shipped model that can adapt, or ``(None, how to
    train one)``."""
    try:
        model_name = best_adaptable_model()
    except UnknownNameError as err:
        text = error_message(err)
        return None, text[:1].upper() + text[1:] + "."
    return model_name, _("**{model}** can adapt to a voice.").format(model=model_name)


def switch_model(model_name: str) -> None:
    """Button callback: select another model."""
    st.session_state[KEY_PRED_MODEL] = model_name


def adaptation_status(used: Predictor) -> None:
    """The line under the model: adapted to whom, not adapted, or cannot adapt (then
    a suggestion and a button to switch)."""
    if not used.speaker_normalised:
        model_name, hint = adaptable_suggestion()
        st.info(f"{used.adaptation()} {hint}", icon=":material/record_voice_over:")
        if model_name is not None and model_name != used.model_name:
            st.button(
                _("Switch to {model}").format(model=model_name),
                key=KEY_CAL_SWITCH,
                on_click=switch_model,
                args=(model_name,),
                icon=":material/swap_horiz:",
            )
    elif used.profile is not None:
        st.success(used.adaptation(), icon=":material/record_voice_over:")
    else:
        st.info(
            used.adaptation() + " " + _("Open **Calibrate to my voice** below."),
            icon=":material/record_voice_over:",
        )


def profile_representations(pred: Predictor) -> list[str]:
    """Representations of a saved profile: those of ``pred`` and of every shipped
    speaker-normalised model, so the profile serves any of them later."""
    reps = set(calibration_representations(pred))
    for n in shipped_models():
        card = model_card(n)
        if card.get("normalization", {}).get("kind") == "speaker":
            representation = card.get("input", {}).get("name", "mel")
            reps.update([representation, *adapt.voice_warps(representation)])
    return sorted(reps)


def save_voice(pred: Predictor) -> None:
    """Button callback: with consent and a name, save this session's voice statistics
    (never the audio) in the feedback database."""
    apply_language()  # a callback runs before the page sets it: the queue's waiting line
    voice = st.session_state.get(KEY_VOICE)
    profile_name = str(st.session_state.get(KEY_CAL_NAME) or "")
    if not st.session_state.get(KEY_CAL_CONSENT):
        return _cal_status("error", N_("Tick the consent box to save your voice profile."))
    if voice is None or voice["kind"] != "audio":
        return _cal_status("error", N_("Calibrate with a recording first."))
    try:
        prof = _voice_stats(voice["id"], voice["y"], tuple(profile_representations(pred)), profile_name)
        saved = FeedbackStore().save_profile(profile_name, prof.to_json())
    except SERError as err:
        return _cal_status("error", N_("Your voice profile was not saved: {error}"), error=err)
    voice["label"] = saved
    st.session_state.pop(KEY_CAL_CONSENT, None)
    _cal_status(
        "success",
        N_(
            "Saved the voice profile {name} (statistics only, no audio). "
            "Pick it under *Saved voice profiles* next time."
        ),
        name=repr(saved),
    )


def saved_profiles() -> list[dict]:
    """The saved voice profiles (:meth:`FeedbackStore.list_profiles`).

    Raises
    ------
    FeedbackError
        The store cannot be opened or read.
    """
    if not (default_data_dir() / "feedback.sqlite3").exists():
        return []  # visiting the page creates no database
    return FeedbackStore().list_profiles()


def load_voice() -> None:
    """Button callback: make the picked saved profile this session's voice."""
    profile_name = st.session_state.get(KEY_CAL_PICK)
    if not profile_name:
        return _cal_status("error", N_("Pick a saved voice profile first."))
    try:
        prof = FeedbackStore().load_profile(profile_name)
    except SERError as err:
        return _cal_status("error", N_("Could not load the voice profile: {error}"), error=err)
    st.session_state[KEY_VOICE] = {
        "kind": "saved",
        "label": prof.name,
        "profile": prof,
        "seconds": prof.seconds,
    }
    st.session_state.pop(KEY_ADAPTED, None)
    _cal_status(
        "success",
        N_(
            "Using the saved voice profile {name} ({seconds} s of speech). It holds statistics "
            "only, so the batch-norm layers are not adapted (AdaBN needs the speech itself: "
            "calibrate with a recording of {adabn} s or more for that)."
        ),
        close=True,
        name=repr(prof.name),
        seconds=f"{prof.seconds:.0f}",
        adabn=f"{adapt.ADABN_SECONDS:.0f}",
    )


def delete_voice() -> None:
    """Button callback: delete the picked saved profile (this session's voice stays)."""
    profile_name = st.session_state.get(KEY_CAL_PICK)
    if not profile_name:
        return _cal_status("error", N_("Pick a saved voice profile first."))
    try:
        FeedbackStore().delete_profile(profile_name)
    except SERError as err:
        return _cal_status("error", N_("Could not delete the voice profile: {error}"), error=err)
    st.session_state.pop(KEY_CAL_PICK, None)
    _cal_status("success", N_("Deleted the saved voice profile {name}."), name=repr(profile_name))


def voice_caption() -> str | None:
    """``"Current voice: 'ala', 23 s of speech from ala.wav (this session only)."``"""
    voice = st.session_state.get(KEY_VOICE)
    if voice is None:
        return None
    values = {"name": repr(voice["label"]), "seconds": f"{voice['seconds']:.0f}"}
    if voice["kind"] != "audio":
        return _("Current voice: the saved profile {name} ({seconds} s of speech).").format(**values)
    values["source"] = shown_name(voice["source"])
    if not voice["label"]:
        return _(
            "Current voice: unnamed, {seconds} s of speech from {source} (kept in this browser session only)."
        ).format(**values)
    return _(
        "Current voice: {name}, {seconds} s of speech from {source} (kept in this browser session only)."
    ).format(**values)


def calibration_status(kinds: tuple[str, ...] = ("success", "error")) -> None:
    """The message of the last calibration action (st.success / st.error), when its kind is
    one of ``kinds``: the expander shows its errors (it stays open), the page shows the
    successes outside it (a calibration closes it)."""
    status = st.session_state.get(KEY_CAL_STATUS)
    if status is not None and status[0] in kinds:
        (st.success if status[0] == "success" else st.error)(
            status_text(status),
            icon=":material/check_circle:" if status[0] == "success" else ":material/error:",
        )
