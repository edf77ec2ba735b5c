"""Predictor page: upload, record or speak live; six calibrated emotion probabilities.

Uploads and recordings reach the prediction only through
``st.session_state[state.KEY_PRED_CLIP[source]]`` (set by the widgets'
``on_change`` callbacks), so tests can put a clip there directly; the
calibration speech of "Calibrate to my voice" likewise reaches it only through
``st.session_state[state.KEY_CAL_CLIP]``.  Every prediction uses the model
adapted to the session's voice (``pred.adapted(profile)``), and says so.

Until the session has a voice or the user skipped, a first-use step (:mod:`ui.first_use`)
comes before the inputs: "talk for 20 s about anything", calibrated as soon as the audio
arrives (staged in ``KEY_CAL_CLIP`` by the same callback as the expander's).
"""

from __future__ import annotations

import streamlit as st
from streamlit_webrtc import WebRtcMode, create_audio_sink_track, webrtc_streamer

from ser_core.config import DEFAULT_CONFIG
from ser_core.figures.predictor import timeline_note
from ser_core.i18n import emotion_name
from ser_core.live import WARMUP_SECONDS
from ui import (
    batch,
    calibration,
    clips,
    errors,
    feedback,
    first_use,
    live,
    microphone,
    models,
    navigation,
    predictor,
    state,
)
from ui.i18n import _, ngettext

navigation.ensure_navigation()
st.title(_("Emotion predictor"))
st.caption(
    _(
        "Upload a file, record a short clip or talk into the microphone: the model "
        "gives calibrated probabilities for the six nEMO emotions."
    )
)

model_names = models.shipped_models()
base = models.model_picker(
    model_names, key=state.KEY_PRED_MODEL, default=models.default_model(model_names) if model_names else None
)
first = first_use.stage(base)  # "talk for 20 s" before the first prediction (issue #25)
pred = base  # the model adapted to this session's voice, when it can be
with errors.report_errors():
    if first == "ask":
        first_use.calibrate_staged(base)
        first = first_use.stage(base)
    pred = calibration.with_voice(base)
asking = first in ("ask", "switch")


def speech_inputs(recorder: tuple[str, str], uploader: tuple[str, str]) -> None:
    """A recorder and an uploader side by side whose audio becomes the calibration clip;
    each is ``(label, widget key)``."""
    microphone.warn_if_blocked()  # over plain http from another machine the recorder gets no mic
    rec, up = st.columns(2)
    rec.audio_input(
        recorder[0],
        key=recorder[1],
        sample_rate=DEFAULT_CONFIG.sr,
        on_change=calibration.store_calibration_clip,
        args=(recorder[1],),
    )
    up.file_uploader(
        uploader[0],
        type=clips.UPLOAD_TYPES,
        key=uploader[1],
        on_change=calibration.store_calibration_clip,
        args=(uploader[1],),
    )


def first_use_section() -> None:
    """Before the first prediction: talk for 20 s (calibrates as soon as the audio
    arrives), or switch to a model that can adapt, or skip (one click)."""
    with st.container(key="predictor-first-use", border=True):
        st.subheader(_("Before your first prediction: talk for 20 s"))
        if first == "switch":
            model_name, sentence = first_use.switch_sentence(base)
            st.markdown(sentence)
            st.button(
                _("Switch to {model}").format(model=model_name),
                key=state.KEY_FIRST_SWITCH,
                on_click=calibration.switch_model,
                args=(model_name,),
                type="primary",
                icon=":material/swap_horiz:",
            )
        else:
            st.markdown(first_use.invitation())
            speech_inputs(
                (_("Record yourself"), state.KEY_FIRST_RECORDER),
                (_("…or upload 20 s of your speech"), state.KEY_FIRST_UPLOADER),
            )
            st.caption(first_use.length_hint())
            calibration.calibration_status()
        st.button(_(first_use.SKIP_LABEL), key=state.KEY_FIRST_SKIP, on_click=first_use.skip)


if asking:
    first_use_section()
elif not (first == "done" and first_use.adapted_note(pred)):
    calibration.adaptation_status(pred)


def calibration_section() -> None:
    """Calibrate to my voice: 10–120 s of any speech give the per-band statistics that a
    speaker-normalised model normalises with (from 20 s, AdaBN too; from 60 s, information
    maximisation as well); optionally saved (with consent, by name; statistics only)."""
    with (
        st.expander(
            _("Calibrate to my voice"), icon=":material/tune:", key=state.KEY_CAL_EXPANDER, on_change="rerun"
        ),
        st.container(key="predictor-calibration"),
    ):
        st.markdown(
            _(
                "Record or upload **20 s to 2 minutes of your ordinary speech** (any words; "
                "{least} s is the least). The model then normalises what it hears with *your* "
                "averages instead of the corpus speakers'; from 20 s it also re-estimates "
                "its batch-norm statistics on your speech (AdaBN), worth 1–3 more "
                "points on a new voice, and from a minute a single model (not yet an "
                "ensemble) is also tuned to your voice (information maximisation: a few "
                "more points, and a few seconds more to adapt). Speech in a few different moods works "
                "best: a profile of only calm (or only angry) speech shifts those averages and costs a "
                "few points, though it still beats no calibration. The audio stays in this "
                "browser session and is never stored."
            ).format(least=f"{calibration.CALIBRATION_MIN_SECONDS:.0f}")
        )
        speech_inputs(
            (_("Record your voice"), state.KEY_CAL_RECORDER), (_("…or upload speech"), state.KEY_CAL_UPLOADER)
        )
        clip = st.session_state.get(state.KEY_CAL_CLIP)
        st.text_input(
            _("Your name (optional; needed to save the profile)"), key=state.KEY_CAL_NAME, max_chars=40
        )
        st.button(
            _("Calibrate"),
            key=state.KEY_CAL_RUN,
            on_click=calibration.calibrate,
            args=(base,),
            disabled=clip is None,
            type="primary",
            icon=":material/graphic_eq:",
        )
        if not asking:  # else the first-use step shows it; successes show below the expander
            calibration.calibration_status(("error",))
        caption = calibration.voice_caption()
        if caption:
            st.caption(caption)
            st.button(
                _("Forget this calibration"), key=state.KEY_CAL_FORGET, on_click=calibration.forget_voice
            )
            if st.session_state[state.KEY_VOICE]["kind"] == "audio":
                consent = st.checkbox(
                    _(calibration.PROFILE_CONSENT_LABEL), value=False, key=state.KEY_CAL_CONSENT
                )
                named = bool(str(st.session_state.get(state.KEY_CAL_NAME) or "").strip())
                st.button(
                    _("Save my voice profile"),
                    key=state.KEY_CAL_SAVE,
                    on_click=calibration.save_voice,
                    args=(base,),
                    disabled=not (consent and named),
                    icon=":material/save:",
                )
        profiles = []
        with errors.report_errors():
            profiles = calibration.saved_profiles()
        if profiles:
            st.selectbox(
                _("Saved voice profiles"),
                [p["name"] for p in profiles],
                index=None,
                placeholder=_("Pick a profile"),
                key=state.KEY_CAL_PICK,
            )
            use, delete = st.columns(2)
            use.button(_("Use this profile"), key=state.KEY_CAL_LOAD, on_click=calibration.load_voice)
            delete.button(_("Delete it"), key=state.KEY_CAL_DELETE, on_click=calibration.delete_voice)


calibration_section()
if not asking:
    calibration.calibration_status(("success",))  # outside: a calibration closes the expander


@st.fragment
def clip_section(source: str) -> None:
    """Prediction, plots and feedback for the uploaded or recorded clip."""
    clip = st.session_state.get(state.KEY_PRED_CLIP[source])
    if clip is None:
        return
    kept = predictor.kept_clip_note(source)
    if kept:
        st.caption(kept)
    with errors.report_errors():
        res = predictor.analyse(pred, clip)
        v = res.verdict
        left, right = st.columns([2, 3], gap="large")
        with left, st.container(key="predictor-verdict"):
            st.markdown(f"**{clips.shown_name(res.name)}**")
            if res.voice:
                st.badge(_("Adapted to your voice"), icon=":material/record_voice_over:", color="green")
            if v.unsure:
                st.warning(v.message(), icon=":material/help:")
            else:
                st.markdown(_("### Prediction: {emotion}").format(emotion=emotion_name(v.label)))
                st.markdown(_("with **{pct} %** probability").format(pct=f"{100 * v.confidence:.0f}"))
            st.caption(predictor.timing_caption(res))
            st.audio(clip["data"], format=clips.clip_mime(clip["name"]))
        figs = predictor.result_figures(res, sr=pred.cfg.sr)  # built once per result
        right.plotly_chart(figs["probs"], key=f"predictor.{source}.probs")
        if v.timeline is not None:
            st.subheader(_("Over time"))
            n = len(v.timeline.starts)
            windows = ngettext(
                "Sliding 3-s windows, 1 s apart ({n} window); the prediction above is their "
                "average weighted by loudness.",
                "Sliding 3-s windows, 1 s apart ({n} windows); the prediction above is their "
                "average weighted by loudness.",
                n,
            ).format(n=n)
            st.caption(f"{windows} {timeline_note(n)}".strip())
            st.plotly_chart(figs["timeline"], key=f"predictor.{source}.timeline")
        st.subheader(_("The audio"))
        st.plotly_chart(figs["wave"], key=f"predictor.{source}.wave")
        st.plotly_chart(figs["mel"], key=f"predictor.{source}.mel")
        if v.seconds <= DEFAULT_CONFIG.duration:
            st.caption(predictor.padding_caption(v.seconds))
        st.subheader(_("Feedback"))
        feedback.feedback_form(res)


def live_section() -> None:
    """Live microphone over WebRTC: rolling 3-s window, re-predicted twice a second."""
    st.caption(
        _(
            "Press START and talk: the audio streams to this app (WebRTC), is judged over "
            "the last 3 s and is never stored. Away from localhost, set STUN/TURN servers "
            "in `SER_ICE_SERVERS` or the `ice_servers` secret."
        )
    )
    fly = st.toggle(
        _("Adapt to my voice on the fly"),
        key=state.KEY_LIVE_ADAPT,
        disabled=not base.speaker_normalised,
        help=_(
            "Running statistics of your voice in this session; used once the "
            "warm-up amount of speech was heard (needs a speaker-normalised model)."
        ),
    )
    note = live.calibration_note(pred, on_the_fly=fly)
    if note:
        st.caption(note)
    warmup = st.slider(
        _("Warm-up (s of speech)"), 5, 30, int(WARMUP_SECONDS), key=state.KEY_LIVE_WARMUP, disabled=not fly
    )
    session = live.live_session(pred, on_the_fly=fly, warmup=warmup)
    servers = []
    with errors.report_errors():
        servers = live.ice_servers()
    ctx = webrtc_streamer(
        key=state.KEY_LIVE,
        mode=WebRtcMode.SENDONLY,
        media_stream_constraints={"audio": True, "video": False},
        rtc_configuration={"iceServers": servers},
        sink_audio_track=create_audio_sink_track(session.push_frame, key=state.KEY_LIVE_SINK),
        translations=microphone.webrtc_words(),
    )
    playing = bool(ctx.state.playing)
    live.live_started(session, playing)
    if playing:
        st.fragment(run_every=0.5)(live.live_panel)(session, pred.unsure_below, True)
    else:
        live.live_panel(session, pred.unsure_below, False)


if asking:
    st.stop()  # the inputs come once the first-use step is answered (calibrated or skipped)
source = st.radio(
    _("Input"),
    list(predictor.PRED_SOURCES),
    format_func=lambda k: _(predictor.PRED_SOURCES[k]),
    horizontal=True,
    key=state.KEY_PRED_SOURCE,
)
if source == "upload":
    st.file_uploader(
        _("Audio file"),
        type=clips.UPLOAD_TYPES,
        key=state.KEY_PRED_UPLOADER,
        on_change=predictor.store_clip,
        args=(state.KEY_PRED_UPLOADER, "upload"),
        help=clips.upload_help(),
    )
    clip_section("upload")
elif source == "recording":
    microphone.warn_if_blocked()
    st.audio_input(
        _("Record up to {seconds} s").format(seconds=f"{predictor.RECORDING_MAX_SECONDS:.0f}"),
        key=state.KEY_PRED_RECORDER,
        sample_rate=DEFAULT_CONFIG.sr,
        on_change=predictor.store_clip,
        args=(state.KEY_PRED_RECORDER, "recording"),
    )
    clip_section("recording")
else:
    microphone.warn_if_blocked()
    live_section()
batch.batch_section(base)  # many files at once: a table, a summary chart, CSV / JSON / HTML (issue #30)
