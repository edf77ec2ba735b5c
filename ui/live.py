"""The predictor page's live microphone (WebRTC): session, ICE servers, live panel."""

from __future__ import annotations

import streamlit as st

from ser_core import live
from ser_core.figures.predictor import probability_figure, timeline_figure
from ser_core.inference import Predictor, Verdict
from ui.state import KEY_LIVE_PLAYING, KEY_LIVE_SESSION


def ice_servers() -> list[dict]:
    """ICE (STUN/TURN) servers: ``ice_servers`` in Streamlit secrets, else
    ``$SER_ICE_SERVERS`` (JSON); none by default, which localhost needs.

    Raises
    ------
    ConfigError
        The setting is malformed.
    """
    value = None
    try:
        if st.secrets.load_if_toml_exists():
            value = st.secrets.to_dict().get("ice_servers")
    except Exception:  # noqa: BLE001 - unreadable secrets: fall back to the environment
        value = None
    return live.ice_servers(value)


def live_session(
    pred: Predictor, *, on_the_fly: bool = False, warmup: float = live.WARMUP_SECONDS
) -> live.LivePredictor:
    """This browser session's :class:`~ser_core.live.LivePredictor`, using ``pred``
    (already adapted to the session's voice, if any).

    With ``on_the_fly`` (and a model that can adapt) it gets an
    :class:`~ser_core.live.OnlineAdapter`: running voice statistics, used after
    ``warmup`` seconds of speech; they survive reruns and restart at each START.
    """
    session = st.session_state.get(KEY_LIVE_SESSION)
    if not isinstance(session, live.LivePredictor):
        session = st.session_state[KEY_LIVE_SESSION] = live.LivePredictor(pred.predict)
    session.predict = pred.predict
    if on_the_fly and pred.speaker_normalised:
        if session.adapter is None:
            session.adapter = live.OnlineAdapter(pred, warmup=warmup)
        session.adapter.use(pred)
        session.adapter.warmup = float(warmup)
    else:
        session.adapter = None
    return session


def live_started(session: live.LivePredictor, playing: bool) -> None:
    """Forget the previous session's audio and history when the stream starts."""
    if playing and not st.session_state.get(KEY_LIVE_PLAYING):
        session.reset()
    st.session_state[KEY_LIVE_PLAYING] = playing


def live_panel(session: live.LivePredictor, unsure_below: float, running: bool, adaptation: str = "") -> None:
    """The live label and the probabilities over the session (re-predicts when running).

    ``adaptation`` is the model's :meth:`~Predictor.adaptation` sentence; with on-the-fly
    adaptation the adapter's own status (warm-up progress) is shown instead.
    """
    if running:
        session.step()
    point = session.latest
    adapter = session.adapter
    note = adapter.status() if adapter is not None else adaptation
    with st.container(key="predictor-live-label"):
        if note:
            st.caption(note)
        if point is None:
            st.info(
                "Listening… the first label appears after half a second of audio."
                if running
                else "Press **START** and allow the microphone: the label "
                "follows the last 3 s of your voice, updated twice a second.",
                icon=":material/mic:",
            )
        else:
            v = Verdict(point.probs, None, 0.0, 0.0, unsure_below)
            st.markdown(f"#### Live label: {v.label} · {100 * v.confidence:.0f} %")
            if v.unsure:
                st.warning(v.message(), icon=":material/help:")
            quiet = " The input is very quiet: is the microphone muted?" if point.rms < 1e-3 else ""
            st.caption(
                (
                    "Listening: the last 3 s, re-predicted twice a second."
                    if running
                    else "Stopped: the label at the end of the last session; press START for a new one."
                )
                + quiet
            )
    times, probs = session.history()
    if len(times):
        left, right = st.columns([2, 3], gap="large")
        left.plotly_chart(
            probability_figure(point.probs, unsure_below=unsure_below), key="predictor.live.probs"
        )
        right.plotly_chart(
            timeline_figure(probs, times=times, x_title="seconds since START", height=300),
            key="predictor.live.timeline",
        )
        right.caption(f"{len(times)} predictions of the last 3 s of audio, over {times[-1]:.0f} s of audio.")
