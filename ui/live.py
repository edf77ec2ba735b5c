"""The predictor page's live microphone (WebRTC): session, ICE servers, live panel."""

from __future__ import annotations

import streamlit as st

from ser_core import live
from ser_core.config import EMOTIONS
from ser_core.figures.predictor import probability_figure, timeline_figure, timeline_note
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


def calibration_note(pred: Predictor, *, on_the_fly: bool) -> str:
    """One sentence under the on-the-fly switch when this session has a calibration: what the
    switch does to it ("" without a calibration, or for a model that cannot adapt)."""
    profile = getattr(pred, "profile", None)
    if profile is None or not pred.speaker_normalised:
        return ""
    who = f" ({profile.name!r})" if profile.name else ""
    if on_the_fly:
        return (
            f"After the warm-up, statistics of what you say now replace your calibration{who}; "
            "switch this off to keep the calibration."
        )
    return f"Your calibration{who} is used live; adapting on the fly would replace it after the warm-up."


def live_started(session: live.LivePredictor, playing: bool) -> None:
    """Forget the previous session's audio and history when the stream starts."""
    if playing and not st.session_state.get(KEY_LIVE_PLAYING):
        session.reset()
    st.session_state[KEY_LIVE_PLAYING] = playing


def live_label(point: live.LivePoint, unsure_below: float) -> tuple[str, bool]:
    """``(line, unsure)``: the label line of a live prediction with its "unsure" state in the
    same words, ``"Live label: anger · 72 %"`` or ``"Live label: unsure · best guess fear at
    39 %"``."""
    v = Verdict(point.probs, None, 0.0, 0.0, unsure_below)
    pct = f"{100 * v.confidence:.0f} %"
    if v.unsure:
        return f"Live label: unsure · best guess {v.label} at {pct}", True
    return f"Live label: {v.label} · {pct}", False


def session_sentence(session: live.LivePredictor, last: live.LivePoint) -> str:
    """After STOP: the whole session pooled, and why it may differ from the last label."""
    overall = session.overall()
    label = EMOTIONS[int(overall.argmax())]
    head = f"Whole session: **{label} · {100 * overall.max():.0f} %**, all {len(session)} predictions pooled"
    if label == last.label:
        return f"{head} (weighted by loudness)."
    return (
        f"{head} (weighted by loudness), so it can differ from the last label, which judges "
        "only the last 3 s before STOP."
    )


def live_panel(session: live.LivePredictor, unsure_below: float, running: bool) -> None:
    """The live label and the probabilities over the session (re-predicts when running).

    The label and its "unsure" state are one element, so they always describe the same
    prediction; with on-the-fly adaptation the adapter's status (warm-up progress) is shown
    above it (the model's own adaptation is said once, under the model picker).  Stopped,
    the label is the last live one, and the whole session's pooled label follows.
    """
    if running:
        session.step()
    point = session.latest
    with st.container(key="predictor-live-label"):
        if session.adapter is not None:
            st.caption(session.adapter.status())
        if point is None:
            st.info(
                "Listening… the first label appears after half a second of audio."
                if running
                else "Press **START** and allow the microphone: the label "
                "follows the last 3 s of your voice, updated twice a second.",
                icon=":material/mic:",
            )
            return
        label, unsure = live_label(point, unsure_below)
        if unsure:  # one element for the label and its unsure state: never one left stale
            st.warning(f"**{label}**", icon=":material/help:")
        else:
            st.markdown(f"#### {label}")
        quiet = " The input is very quiet: is the microphone muted?" if point.rms < 1e-3 else ""
        if running:
            st.caption("Listening: the last 3 s, re-predicted twice a second." + quiet)
        else:
            st.caption("Stopped: the last label before STOP (its last 3 s); press START for a new session.")
            st.markdown(session_sentence(session, point))
    times, probs = session.history()
    if not len(times):
        return
    left, right = st.columns([2, 3], gap="large")
    left.plotly_chart(probability_figure(point.probs, unsure_below=unsure_below), key="predictor.live.probs")
    right.plotly_chart(
        timeline_figure(
            probs, times=times, x_title="seconds since START", height=300, unsure_below=unsure_below
        ),
        key="predictor.live.timeline",
    )
    right.caption(
        f"{len(times)} predictions of the last 3 s of audio, over {times[-1]:.0f} s of audio. "
        + timeline_note(len(times))
    )
