"""Predictor page: upload, record or speak live; six calibrated emotion probabilities.

Uploads and recordings reach the prediction only through
``st.session_state[common.KEY_PRED_CLIP[source]]`` (set by the widgets'
``on_change`` callbacks), so tests can put a clip there directly; the
calibration speech of "Calibrate to my voice" likewise reaches it only through
``st.session_state[common.KEY_CAL_CLIP]``.  Every prediction uses the model
adapted to the session's voice (``pred.adapted(profile)``), and says so.
"""

from __future__ import annotations

import streamlit as st
from streamlit_webrtc import WebRtcMode, create_audio_sink_track, webrtc_streamer

from pages import common
from ser_core import live
from ser_core.config import DEFAULT_CONFIG

common.ensure_navigation()
st.title("Emotion predictor")
st.caption(
    "Upload a file, record a short clip or talk into the microphone: the model "
    "gives calibrated probabilities for the six nEMO emotions."
)

names = common.shipped_models()
base = common.model_picker(
    names, key=common.KEY_PRED_MODEL, default=common.default_model(names) if names else None
)
pred = base  # the model adapted to this session's voice, when it can be
with common.report_errors():
    pred = common.with_voice(base)
common.adaptation_status(pred)


def calibration_section() -> None:
    """Calibrate to my voice: 10–120 s of any speech give the per-band statistics that a
    speaker-normalised model normalises with (from 20 s, AdaBN too; from 60 s, information
    maximisation as well); optionally saved (with consent, by name; statistics only)."""
    with (
        st.expander("Calibrate to my voice", icon=":material/tune:"),
        st.container(key="predictor-calibration"),
    ):
        st.markdown(
            "Record or upload **20 s to 2 minutes of your ordinary speech** (any words; "
            "10 s is the least). The model then normalises what it hears with *your* "
            "averages instead of the corpus speakers'; from 20 s it also re-estimates "
            "its batch-norm statistics on your speech (AdaBN), worth 1–3 more "
            "points on a new voice, and from a minute a single model (not yet an "
            "ensemble) is also tuned to your voice (information maximisation: a few "
            "more points, and a few seconds more to adapt). Speech in a few different moods works best: a profile "
            "of only calm (or only angry) speech shifts those averages and costs a few "
            "points, though it still beats no calibration. The audio stays in this "
            "browser session and is never stored."
        )
        rec, up = st.columns(2)
        rec.audio_input(
            "Record your voice",
            key=common.KEY_CAL_RECORDER,
            sample_rate=DEFAULT_CONFIG.sr,
            on_change=common.store_calibration_clip,
            args=(common.KEY_CAL_RECORDER,),
        )
        up.file_uploader(
            "…or upload speech",
            type=common.UPLOAD_TYPES,
            key=common.KEY_CAL_UPLOADER,
            on_change=common.store_calibration_clip,
            args=(common.KEY_CAL_UPLOADER,),
        )
        clip = st.session_state.get(common.KEY_CAL_CLIP)
        st.text_input(
            "Your name (optional; needed to save the profile)", key=common.KEY_CAL_NAME, max_chars=40
        )
        st.button(
            "Calibrate",
            key=common.KEY_CAL_RUN,
            on_click=common.calibrate,
            args=(base,),
            disabled=clip is None,
            type="primary",
            icon=":material/graphic_eq:",
        )
        common.calibration_status()
        caption = common.voice_caption()
        if caption:
            st.caption(caption)
            st.button("Forget this calibration", key=common.KEY_CAL_FORGET, on_click=common.forget_voice)
            if st.session_state[common.KEY_VOICE]["kind"] == "audio":
                consent = st.checkbox(common.PROFILE_CONSENT_LABEL, value=False, key=common.KEY_CAL_CONSENT)
                named = bool(str(st.session_state.get(common.KEY_CAL_NAME) or "").strip())
                st.button(
                    "Save my voice profile",
                    key=common.KEY_CAL_SAVE,
                    on_click=common.save_voice,
                    args=(base,),
                    disabled=not (consent and named),
                    icon=":material/save:",
                )
        profiles = []
        with common.report_errors():
            profiles = common.saved_profiles()
        if profiles:
            st.selectbox(
                "Saved voice profiles",
                [p["name"] for p in profiles],
                index=None,
                placeholder="Pick a profile",
                key=common.KEY_CAL_PICK,
            )
            use, delete = st.columns(2)
            use.button("Use this profile", key=common.KEY_CAL_LOAD, on_click=common.load_voice)
            delete.button("Delete it", key=common.KEY_CAL_DELETE, on_click=common.delete_voice)


calibration_section()


@st.fragment
def clip_section(source: str) -> None:
    """Prediction, plots and feedback for the uploaded or recorded clip."""
    clip = st.session_state.get(common.KEY_PRED_CLIP[source])
    if clip is None:
        return
    with common.report_errors():
        res = common.analyse(pred, clip)
        v = res.verdict
        left, right = st.columns([2, 3], gap="large")
        with left, st.container(key="predictor-verdict"):
            st.markdown(f"**{res.name}**")
            if v.unsure:
                st.warning(v.message(), icon=":material/help:")
            else:
                st.markdown(f"### Prediction: {v.label}")
                st.markdown(f"with **{100 * v.confidence:.0f} %** probability")
            st.caption(common.timing_caption(res))
            st.caption(res.adaptation)
            st.audio(clip["data"], format=common.clip_mime(clip["name"]))
        right.plotly_chart(
            common.probability_figure(v.probs, unsure_below=v.unsure_below), key=f"predictor.{source}.probs"
        )
        if v.timeline is not None:
            st.subheader("Over time")
            st.caption(
                f"Sliding 3-s windows, 1 s apart ({len(v.timeline.starts)} windows); the "
                "prediction above is their average weighted by loudness."
            )
            centres = v.timeline.starts + DEFAULT_CONFIG.duration / 2
            st.plotly_chart(
                common.timeline_figure(centres, v.timeline.probs, x_title="window centre (s)"),
                key=f"predictor.{source}.timeline",
            )
        st.subheader("The audio")
        st.plotly_chart(common.waveform_figure(res.y, pred.cfg.sr), key=f"predictor.{source}.wave")
        st.plotly_chart(common.mel_figure(res.y, pred.cfg.sr), key=f"predictor.{source}.mel")
        if v.seconds <= DEFAULT_CONFIG.duration:
            st.caption("Log-mel spectrogram padded to 3 s, exactly as the model sees it.")
        st.subheader("Feedback")
        common.feedback_form(res)


def live_section() -> None:
    """Live microphone over WebRTC: rolling 3-s window, re-predicted twice a second."""
    st.caption(
        "Press START and talk: the audio streams to this app (WebRTC), is judged over "
        "the last 3 s and is never stored. Away from localhost, set STUN/TURN servers "
        "in `SER_ICE_SERVERS` or the `ice_servers` secret."
    )
    fly = st.toggle(
        "Adapt to my voice on the fly",
        key=common.KEY_LIVE_ADAPT,
        disabled=not base.speaker_normalised,
        help="Running statistics of your voice in this session; used once the "
        "warm-up amount of speech was heard (needs a speaker-normalised model).",
    )
    warmup = st.slider(
        "Warm-up (s of speech)", 5, 30, int(live.WARMUP_SECONDS), key=common.KEY_LIVE_WARMUP, disabled=not fly
    )
    session = common.live_session(pred, on_the_fly=fly, warmup=warmup)
    servers = []
    with common.report_errors():
        servers = common.ice_servers()
    ctx = webrtc_streamer(
        key=common.KEY_LIVE,
        mode=WebRtcMode.SENDONLY,
        media_stream_constraints={"audio": True, "video": False},
        rtc_configuration={"iceServers": servers},
        sink_audio_track=create_audio_sink_track(session.push_frame, key=common.KEY_LIVE_SINK),
    )
    playing = bool(ctx.state.playing)
    common.live_started(session, playing)
    if playing:
        st.fragment(run_every=0.5)(common.live_panel)(session, pred.unsure_below, True, pred.adaptation())
    else:
        common.live_panel(session, pred.unsure_below, False, pred.adaptation())


source = st.radio(
    "Input",
    list(common.PRED_SOURCES),
    format_func=common.PRED_SOURCES.get,
    horizontal=True,
    key=common.KEY_PRED_SOURCE,
)
if source == "upload":
    st.file_uploader(
        "Audio file",
        type=common.UPLOAD_TYPES,
        key=common.KEY_PRED_UPLOADER,
        on_change=common.store_clip,
        args=(common.KEY_PRED_UPLOADER, "upload"),
        help=common.upload_help(),
    )
    clip_section("upload")
elif source == "recording":
    st.audio_input(
        f"Record up to {common.RECORDING_MAX_SECONDS:.0f} s",
        key=common.KEY_PRED_RECORDER,
        sample_rate=DEFAULT_CONFIG.sr,
        on_change=common.store_clip,
        args=(common.KEY_PRED_RECORDER, "recording"),
    )
    clip_section("recording")
else:
    live_section()
