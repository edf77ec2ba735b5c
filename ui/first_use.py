"""The predictor's first use (issue #25): "talk for 20 s about anything" before the first
prediction, so that the first prediction a new user sees is already adapted to their voice.

Until this browser session has a voice, or the user skipped, the predictor page shows this
step instead of its inputs.  The step's recorder and uploader stage their audio with
:func:`ui.calibration.store_calibration_clip` (in :data:`~ui.state.KEY_CAL_CLIP`, like the
"Calibrate to my voice" expander's); :func:`calibrate_staged` calibrates from it as soon as
it is there, once per clip, with :func:`ui.calibration.calibrate`.  Tests set that key
directly.
"""

from __future__ import annotations

import streamlit as st

from ser_core import adapt
from ser_core.errors import SERError
from ser_core.inference import Predictor
from ui.calibration import CALIBRATION_MIN_SECONDS, adaptable_suggestion, calibrate
from ui.clips import decode_upload, shown_name
from ui.i18n import N_, _
from ui.state import (
    KEY_CAL_CLIP,
    KEY_CAL_STATUS,
    KEY_FIRST_ANSWER,
    KEY_FIRST_DONE,
    KEY_FIRST_TRIED,
    KEY_VOICE,
)

#: Shortest first-use recording accepted (s), as in the expander; shorter ones are refused
#: with one sentence.
MIN_SECONDS = CALIBRATION_MIN_SECONDS
#: What the step asks for (s): from here a calibration re-estimates batch norm too (AdaBN).
RECOMMENDED_SECONDS = adapt.ADABN_SECONDS
#: The step's button that hides it (shown with ``_(SKIP_LABEL)``).
SKIP_LABEL = N_("Skip — predict without calibrating")


def invitation() -> str:
    """What the step asks for, in the language of this run."""
    return _(
        "Talk for **{seconds} s about anything**: what you did today, your favourite food, in "
        "your ordinary voice. The model then listens to *your* voice: it normalises what it "
        "hears with your own averages instead of those of the corpus speakers. The audio stays "
        "in this browser session and is never stored."
    ).format(seconds=f"{RECOMMENDED_SECONDS:.0f}")


def length_hint() -> str:
    """How long to talk, in the language of this run."""
    return _(
        "At least {least} s, {best} s is best: the recorder shows the time while you talk, and "
        "calibration starts as soon as you stop."
    ).format(least=f"{MIN_SECONDS:.0f}", best=f"{RECOMMENDED_SECONDS:.0f}")


def stage(base: Predictor) -> str | None:
    """Where this session stands with the first-use step, for the selected model ``base``.

    Returns
    -------
    str or None
        ``"ask"``: offer the recorder (``base`` can adapt); ``"switch"``: ``base`` cannot
        adapt but a shipped model can, offer it; ``"done"``: the step calibrated this
        session's voice; None: nothing to offer (skipped, calibrated elsewhere, or no
        shipped model can adapt).
    """
    voice = st.session_state.get(KEY_VOICE)
    if voice is not None:
        st.session_state.setdefault(KEY_FIRST_ANSWER, "calibrated")
        done = voice.get("id") is not None and voice.get("id") == st.session_state.get(KEY_FIRST_DONE)
        return "done" if done else None
    if st.session_state.get(KEY_FIRST_ANSWER) is not None:
        return None
    if base.speaker_normalised:
        return "ask"
    return "switch" if adaptable_suggestion()[0] is not None else None


def skip() -> None:
    """Button callback: hide the step for this session (the expander still calibrates)."""
    st.session_state[KEY_FIRST_ANSWER] = "skipped"
    st.session_state.pop(KEY_CAL_STATUS, None)


def _refuse(message: str, **params: object) -> None:
    """Remember why the staged clip was refused, as :func:`ui.calibration.calibrate` does
    (an English template and its values, said in the reader's language when shown)."""
    st.session_state[KEY_CAL_STATUS] = ("error", message, params)


def calibrate_staged(base: Predictor) -> None:
    """Calibrate from the staged clip (:data:`KEY_CAL_CLIP`), once per clip: a clip shorter
    than :data:`MIN_SECONDS` or that cannot be decoded is refused with one sentence (in
    :data:`KEY_CAL_STATUS`, as :func:`~ui.calibration.calibrate`'s own errors are)."""
    clip = st.session_state.get(KEY_CAL_CLIP)
    if clip is None or st.session_state.get(KEY_FIRST_TRIED) == clip["id"]:
        return
    st.session_state[KEY_FIRST_TRIED] = clip["id"]
    try:
        seconds = len(decode_upload(clip["data"], shown_name(clip["name"]))) / base.cfg.sr
    except SERError as err:
        return _refuse(N_("Calibration failed: {error}"), error=err)
    if seconds < MIN_SECONDS:
        return _refuse(
            N_(
                "That recording lasts {seconds} s: talk for at least {least} s ({best} s is best), "
                "then record again."
            ),
            seconds=f"{seconds:.0f}",
            least=f"{MIN_SECONDS:.0f}",
            best=f"{RECOMMENDED_SECONDS:.0f}",
        )
    calibrate(base)
    voice = st.session_state.get(KEY_VOICE)
    if voice is not None and voice.get("id") == clip["id"]:
        st.session_state[KEY_FIRST_DONE] = clip["id"]
        st.session_state[KEY_FIRST_ANSWER] = "calibrated"


def switch_sentence(base: Predictor) -> tuple[str | None, str]:
    """``(model_name, sentence)``: the best adaptable model, and one sentence offering it."""
    model_name, _how = adaptable_suggestion()
    return model_name, _(
        "**{model}** cannot adapt to a voice (it normalises with the corpus speakers' "
        "averages): switch to **{best}**, the best model that can, and talk for {seconds} s, "
        "or skip."
    ).format(model=base.model_name, best=model_name, seconds=f"{RECOMMENDED_SECONDS:.0f}")


def adapted_note(pred: Predictor) -> bool:
    """After the step calibrated: one box, the model's adaptation sentence (to whom, on how
    much speech, with what) and where to change it.

    Returns False (and shows nothing) when ``pred`` is not adapted (another model that
    cannot adapt was picked since).
    """
    voice = st.session_state.get(KEY_VOICE)
    if voice is None or pred.profile is None:
        return False
    st.success(
        pred.adaptation()
        + " "
        + _("Every prediction below uses it; change or forget it under **Calibrate to my voice**."),
        icon=":material/record_voice_over:",
    )
    return True
