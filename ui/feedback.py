"""The predictor page's "Was this right?" feedback form."""

from __future__ import annotations

import streamlit as st

from ser_core.config import DEFAULT_CONFIG, EMOTIONS
from ser_core.errors import SERError
from ser_core.feedback import Feedback, FeedbackStore
from ser_core.i18n import emotion_name, error_message
from ui.i18n import N_, _
from ui.predictor import ClipResult
from ui.state import KEY_FB_CONSENT, KEY_FB_CORRECT, KEY_FB_FOR, KEY_FB_RIGHT, KEY_FB_STATUS, KEY_FB_SUBMIT

#: The answers to "Was this right?" (the radio's values; shown with ``_(answer)``).
FB_YES, FB_NO, FB_NOT_SURE = N_("Yes"), N_("No"), N_("Not sure")
CONSENT_LABEL = N_("Donate this recording to improve the model")


def _feedback_reset(tag: str) -> None:
    """Fresh feedback widgets for a new clip or model (call before drawing them)."""
    if st.session_state.get(KEY_FB_FOR) != tag:
        for k in (KEY_FB_RIGHT, KEY_FB_CORRECT, KEY_FB_CONSENT, KEY_FB_STATUS):
            st.session_state.pop(k, None)
        st.session_state[KEY_FB_FOR] = tag


def send_feedback(res: ClipResult) -> None:
    """Button callback: store the feedback (and the audio only with consent)."""
    answer = st.session_state.get(KEY_FB_RIGHT)
    correct = {FB_YES: res.verdict.label, FB_NO: st.session_state.get(KEY_FB_CORRECT), FB_NOT_SURE: None}.get(
        answer
    )
    consent = bool(st.session_state.get(KEY_FB_CONSENT, False))
    fb = Feedback(
        predicted=res.verdict.label,
        correct=correct,
        model=res.model,
        probabilities=dict(zip(EMOTIONS, map(float, res.verdict.probs))),
        source=res.source,
    )
    try:
        FeedbackStore().add(fb, audio=res.y, consent=consent, sr=DEFAULT_CONFIG.sr)
    except SERError as err:
        st.session_state[KEY_FB_STATUS] = (
            "error",
            N_("Your feedback was not stored: {error}"),
            {"error": err},
        )
        return
    if consent:
        st.session_state[KEY_FB_STATUS] = (
            "success",
            N_(
                "Thank you: stored your feedback and your recording ({seconds} s, saved as FLAC "
                "under a random name)."
            ),
            {"seconds": f"{len(res.y) / DEFAULT_CONFIG.sr:.1f}"},
        )
    else:
        st.session_state[KEY_FB_STATUS] = (
            "success",
            N_("Thank you: stored your feedback only (no audio was kept)."),
            {},
        )


def status_text(status: tuple) -> str:
    """A remembered feedback message (``(kind, template, params)``) in the language of this
    run (a library error among the values in it too)."""
    values = {k: error_message(v) if isinstance(v, SERError) else v for k, v in status[2].items()}
    return _(status[1]).format(**values)


def feedback_form(res: ClipResult) -> None:
    """ "Was this right?" + a separate, unticked donation consent + submit."""
    _feedback_reset(f"{res.source}/{res.clip_id}/{res.model}")
    status = st.session_state.get(KEY_FB_STATUS)
    sent = status is not None and status[0] == "success"
    answer = st.radio(
        _("Was this right?"),
        [FB_YES, FB_NO, FB_NOT_SURE],
        format_func=_,
        index=None,
        horizontal=True,
        key=KEY_FB_RIGHT,
        disabled=sent,
    )
    if answer == FB_NO:
        st.selectbox(
            _("What is the right emotion?"),
            [e for e in EMOTIONS if e != res.verdict.label],
            format_func=emotion_name,
            index=None,
            placeholder=_("Pick the emotion"),
            key=KEY_FB_CORRECT,
            disabled=sent,
        )
    st.checkbox(
        _(CONSENT_LABEL),
        value=False,
        key=KEY_FB_CONSENT,
        disabled=sent,
        help=_(
            "Unticked, only your answer is stored, never the audio. Ticked, the recording is "
            "also saved (FLAC, random file name) and may be used to train future models."
        ),
    )
    ready = answer is not None and (answer != FB_NO or st.session_state.get(KEY_FB_CORRECT))
    st.button(
        _("Send feedback"),
        key=KEY_FB_SUBMIT,
        icon=":material/send:",
        on_click=send_feedback,
        args=(res,),
        disabled=sent or not ready,
    )
    if status is not None:
        (st.success if status[0] == "success" else st.error)(
            status_text(status),
            icon=":material/check_circle:" if status[0] == "success" else ":material/error:",
        )
