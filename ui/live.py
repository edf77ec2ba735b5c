"""The predictor page's live microphone (WebRTC): session, ICE servers, live panel.

Every session's windows are predicted by one :class:`~ser_core.live_batch.LiveBatcher` shared by
the whole server (one thread, sessions with the same model in one batch); the panel only
reads the session's latest prediction and draws it.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ser_core import live, live_batch
from ser_core.config import EMOTIONS
from ser_core.figures.predictor import probability_figure, timeline_figure, timeline_note
from ser_core.i18n import current_language, emotion_name
from ser_core.inference import Predictor, Verdict
from ui.i18n import _, ngettext
from ui.state import KEY_LIVE_FIGURES, KEY_LIVE_PLAYING, KEY_LIVE_SESSION

#: Seconds of new audio between two predictions of a session (twice a second).
LIVE_EVERY = 0.5


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
        session = live.LivePredictor(pred.predict, min_new=LIVE_EVERY)
        st.session_state[KEY_LIVE_SESSION] = session
    session.predict, session.predict_many = pred.predict, pred.predict_many
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
    name = repr(profile.name)
    if on_the_fly and profile.name:
        return _(
            "After the warm-up, statistics of what you say now replace your calibration ({name}); "
            "switch this off to keep the calibration."
        ).format(name=name)
    if on_the_fly:
        return _(
            "After the warm-up, statistics of what you say now replace your calibration; "
            "switch this off to keep the calibration."
        )
    if profile.name:
        return _(
            "Your calibration ({name}) is used live; adapting on the fly would replace it after the warm-up."
        ).format(name=name)
    return _("Your calibration is used live; adapting on the fly would replace it after the warm-up.")


@st.cache_resource(show_spinner=False)
def shared_batcher() -> live_batch.LiveBatcher:
    """The server's one :class:`~ser_core.live_batch.LiveBatcher`, started (``st.cache_resource``)."""
    batcher = live_batch.LiveBatcher()
    batcher.start()
    return batcher


def live_started(session: live.LivePredictor, playing: bool) -> None:
    """Forget the previous session's audio and history when the stream starts; the shared
    batcher predicts the session while it plays, and no longer after STOP."""
    if playing and not st.session_state.get(KEY_LIVE_PLAYING):
        session.reset()
    st.session_state[KEY_LIVE_PLAYING] = playing
    if playing:
        shared_batcher().add(session)
    else:
        shared_batcher().discard(session)


def listening_caption(batcher: live_batch.LiveBatcher) -> str:
    """The caption under a running live label: how often it is re-predicted, and, when
    other live microphones share the server, how many and how long a round takes."""
    n = len(batcher)
    took, windows = batcher.last_round
    if n < 2 or not windows:
        return _("Listening: the last 3 s, re-predicted twice a second.")
    if batcher.crowded:
        head = _(
            "Listening: the last 3 s, re-predicted every {every} s while more than {crowd} share the server."
        ).format(every=f"{batcher.crowd_every:.1f}", crowd=batcher.crowd)
    else:
        head = _("Listening: the last 3 s, re-predicted twice a second.")
    share = ngettext(
        "{n} live microphones share this server; the last round of predictions ({windows} "
        "window) took {took} s.",
        "{n} live microphones share this server; the last round of predictions ({windows} "
        "windows) took {took} s.",
        windows,
    ).format(n=n, windows=windows, took=f"{took:.1f}")
    return f"{head} {share}"


def live_figures(
    session: live.LivePredictor, times: np.ndarray, probs: np.ndarray, *, unsure_below: float
) -> tuple[go.Figure, go.Figure, int, float]:
    """``(probabilities, timeline, points drawn, last time drawn)`` of a live session's
    history (``times (n,)``, ``probs (n, 6)``, n ≥ 1).

    Built once per new prediction, not on every rerun of the panel; the timeline is built
    again only once it has grown by a sixtieth of its length (a ten-minute timeline costs
    tens of milliseconds to build, and ten sessions redraw twice a second).
    """
    n, key = len(times), (id(session), unsure_below, current_language())
    memo = st.session_state.get(KEY_LIVE_FIGURES)
    fresh = memo is None or memo["key"] != key or n < memo["n"]
    if fresh or memo["time"] != times[-1]:
        bars = probability_figure(probs[-1], unsure_below=unsure_below)
        if fresh or n - memo["n"] >= max(1, memo["n"] // 60):
            timeline = timeline_figure(
                probs, times=times, x_title=_("seconds since START"), height=300, unsure_below=unsure_below
            )
            memo = {"key": key, "n": n, "last": float(times[-1]), "timeline": timeline}
        memo = {**memo, "time": times[-1], "bars": bars}
        st.session_state[KEY_LIVE_FIGURES] = memo
    return memo["bars"], memo["timeline"], memo["n"], memo["last"]


def live_label(point: live.LivePoint, unsure_below: float) -> tuple[str, bool]:
    """``(line, unsure)``: the label line of a live prediction with its "unsure" state in the
    same words, ``"Live label: anger · 72 %"`` or ``"Live label: unsure · best guess fear at
    39 %"``."""
    v = Verdict(point.probs, None, 0.0, 0.0, unsure_below)
    values = {"emotion": emotion_name(v.label), "pct": f"{100 * v.confidence:.0f}"}
    if v.unsure:
        return _("Live label: unsure · best guess {emotion} at {pct} %").format(**values), True
    return _("Live label: {emotion} · {pct} %").format(**values), False


def session_sentence(session: live.LivePredictor, last: live.LivePoint) -> str:
    """After STOP: the whole session pooled, and why it may differ from the last label."""
    overall = session.overall()
    label = EMOTIONS[int(overall.argmax())]
    n = len(session)
    values = {"emotion": emotion_name(label), "pct": f"{100 * overall.max():.0f}", "n": n}
    if label == last.label:
        return ngettext(
            "Whole session: **{emotion} · {pct} %**, all {n} prediction pooled (weighted by loudness).",
            "Whole session: **{emotion} · {pct} %**, all {n} predictions pooled (weighted by loudness).",
            n,
        ).format(**values)
    return ngettext(
        "Whole session: **{emotion} · {pct} %**, all {n} prediction pooled (weighted by loudness), "
        "so it can differ from the last label, which judges only the last 3 s before STOP.",
        "Whole session: **{emotion} · {pct} %**, all {n} predictions pooled (weighted by loudness), "
        "so it can differ from the last label, which judges only the last 3 s before STOP.",
        n,
    ).format(**values)


def live_panel(session: live.LivePredictor, unsure_below: float, running: bool) -> None:
    """The live label and the probabilities over the session, as the shared batcher last
    predicted them (``running``: the stream plays and the panel reruns twice a second).

    The label and its "unsure" state are one element, so they always describe the same
    prediction; with on-the-fly adaptation the adapter's status (warm-up progress) is shown
    above it (the model's own adaptation is said once, under the model picker).  Stopped,
    the label is the last live one, and the whole session's pooled label follows.
    """
    point, times, probs = session.snapshot()
    if session.failure:
        error = session.failure_error
        st.error(live_batch.failure_message(error) if error else session.failure, icon=":material/error:")
    with st.container(key="predictor-live-label"):
        if session.adapter is not None:
            st.caption(session.adapter.status())
        if point is None:
            st.info(
                _("Listening… the first label appears after half a second of audio.")
                if running
                else _(
                    "Press **START** and allow the microphone: the label follows the last 3 s of "
                    "your voice, updated twice a second."
                ),
                icon=":material/mic:",
            )
            return
        label, unsure = live_label(point, unsure_below)
        if unsure:  # one element for the label and its unsure state: never one left stale
            st.warning(f"**{label}**", icon=":material/help:")
        else:
            st.markdown(f"#### {label}")
        quiet = " " + _("The input is very quiet: is the microphone muted?") if point.rms < 1e-3 else ""
        if running:
            st.caption(listening_caption(shared_batcher()) + quiet)
        else:
            st.caption(
                _("Stopped: the last label before STOP (its last 3 s); press START for a new session.")
            )
            st.markdown(session_sentence(session, point))
    if not len(times):
        return
    bars, timeline, n, last = live_figures(session, times, probs, unsure_below=unsure_below)
    left, right = st.columns([2, 3], gap="large")
    left.plotly_chart(bars, key="predictor.live.probs")
    right.plotly_chart(timeline, key="predictor.live.timeline")
    said = ngettext(
        "{n} prediction of the last 3 s of audio, over {seconds} s of audio.",
        "{n} predictions of the last 3 s of audio, over {seconds} s of audio.",
        n,
    ).format(n=n, seconds=f"{last:.0f}")
    right.caption(f"{said} {timeline_note(n)}".strip())
