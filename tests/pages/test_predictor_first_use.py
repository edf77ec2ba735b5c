"""The predictor's first use (issue #25), with AppTest: "talk for 20 s about anything" comes
before the inputs; skipping is one click; a 20-s clip, staged as the step's recorder
callback stages it (``KEY_CAL_CLIP``), calibrates at once and the first prediction is adapted.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import encode, tone
from tests.pages import test_predictor_page as page_tests
from tests.pages.test_predictor_page import SPK, TINY, no_exception, run_page, speech, texts
from ui import clips, first_use, state

# the predictor page tests' fixtures (tiny models shipped at test time), used by name
artifacts, env = page_tests.artifacts, page_tests.env
spk_artifacts, spk_env = page_tests.spk_artifacts, page_tests.spk_env
webrtc_in_apptest = page_tests.webrtc_in_apptest

STEP = "Before your first prediction: talk for 20 s"


def has_step(at) -> bool:
    return any(h.value == STEP for h in at.subheader)


def has_inputs(at) -> bool:
    return bool(at.get("radio")) and any(r.key == state.KEY_PRED_SOURCE for r in at.radio)


def predict(at, data: bytes | None = None):
    """Upload a 2-s clip (as the uploader callback would) and run; returns its ClipResult."""
    at.session_state[state.KEY_PRED_CLIP["upload"]] = clips.make_clip(
        data or encode(tone(2.0), ext="wav"), "a.wav", "upload"
    )
    no_exception(at.run())
    assert not at.error, [e.value for e in at.error]
    return at.session_state[state.KEY_PRED_RESULT]["upload"]


def stage(at, data: bytes, name: str = "your recording"):
    """Stage calibration audio as the step's recorder / uploader callback does, and run."""
    at.session_state[state.KEY_CAL_CLIP] = clips.make_clip(data, name, "calibration")
    return no_exception(at.run())


def test_first_visit_shows_the_step_before_any_input(spk_env):
    at = run_page(skipped=False)
    assert at.selectbox(key=state.KEY_PRED_MODEL).value == SPK  # it can adapt
    assert has_step(at) and not has_inputs(at)
    assert "Talk for **20 s about anything**" in texts(at)
    assert at.button(key=state.KEY_FIRST_SKIP).label == first_use.SKIP_LABEL
    assert first_use.length_hint() in texts(at)
    assert not at.error and not at.info  # the step replaces "Not adapted to this voice"
    assert at.button(key=state.KEY_CAL_RUN)  # the expander stays (saved profiles)


def test_skip_hides_the_step_and_predicts_unadapted(spk_env):
    at = run_page(skipped=False)
    at.button(key=state.KEY_FIRST_SKIP).click().run()
    no_exception(at)
    assert not has_step(at) and has_inputs(at)
    assert "Not adapted to this voice" in at.info[0].value
    res = predict(at)
    assert res.voice == "" and res.adaptation.startswith("Not adapted")
    assert "Adapted to your voice" not in texts(at)
    no_exception(at.run())
    assert not has_step(at)  # for the rest of the session


def test_a_20_s_clip_calibrates_at_once_and_the_first_prediction_is_adapted(spk_env):
    at = run_page(skipped=False)
    stage(at, encode(speech(24.0), ext="wav"))
    assert not at.error, [e.value for e in at.error]
    assert not has_step(at) and has_inputs(at)
    seconds = at.session_state[state.KEY_VOICE]["seconds"]
    assert seconds >= 20
    # one box says it, once (issue #28: the adaptation sentence appeared three times)
    assert at.success[0].value.startswith(f"Adapted to the voice ({seconds:.0f} s of calibration speech")
    assert "re-estimated on this speech too (AdaBN)" in at.success[0].value
    assert "change or forget it under **Calibrate to my voice**" in at.success[0].value
    assert page_tests.said(at, "Adapted to the voice (") == 1
    res = predict(at)
    assert res.voice and res.adaptation.startswith("Adapted to the voice (")
    assert "Adapted to your voice" in texts(at) and res.adaptation in texts(at)
    assert page_tests.said(at, res.adaptation) == 1
    # the same clip without calibration predicts otherwise
    plain = predict(run_page())
    assert plain.voice == "" and not np.array_equal(plain.verdict.probs, res.verdict.probs)
    # forgetting the voice does not bring the step back
    at.button(key=state.KEY_CAL_FORGET).click().run()
    no_exception(at)
    assert not has_step(at) and "Not adapted to this voice" in at.info[0].value


def test_the_step_recorder_widget_calibrates(spk_env):
    """Through the real widget: its on_change callback stages the clip."""
    at = run_page(skipped=False)
    at.audio_input(key=state.KEY_FIRST_RECORDER).upload("rec.wav", encode(speech(22.0))).run()
    no_exception(at)
    assert not has_step(at) and at.session_state[state.KEY_VOICE]["source"] == "your recording"
    assert predict(at).voice


@pytest.mark.parametrize(
    "data, name, reason",
    [
        (
            encode(speech(6.0), ext="wav"),
            "your recording",
            "That recording lasts 6 s: talk for at least 10 s",
        ),
        (encode(np.zeros(16_000 * 12, np.float32), ext="wav"), "your recording", "silent"),
        (b"garbage, not audio " * 50, "broken.ogg", "broken.ogg"),
    ],
)
def test_bad_audio_is_one_sentence_and_the_step_stays(spk_env, data, name, reason):
    at = run_page(skipped=False)
    stage(at, data, name)
    assert len(at.error) == 1 and reason in at.error[0].value, [e.value for e in at.error]
    assert has_step(at) and not has_inputs(at) and state.KEY_VOICE not in at.session_state
    no_exception(at.run())  # tried once: no second attempt, the message stays
    assert len(at.error) == 1
    stage(at, encode(speech(24.0, seed=1), ext="wav"))  # then good speech calibrates
    assert not at.error and not has_step(at) and predict(at).voice


def test_a_model_that_cannot_adapt_offers_the_best_one_that_can(spk_env):
    at = run_page(skipped=False)
    at.selectbox(key=state.KEY_PRED_MODEL).set_value(TINY).run()
    no_exception(at)
    assert has_step(at) and not has_inputs(at)
    assert f"**{TINY}** cannot adapt to a voice" in texts(at) and f"switch to **{SPK}**" in texts(at)
    assert state.KEY_FIRST_RECORDER not in [a.key for a in at.get("audio_input")]
    at.button(key=state.KEY_FIRST_SWITCH).click().run()
    no_exception(at)
    assert at.selectbox(key=state.KEY_PRED_MODEL).value == SPK
    assert has_step(at) and at.audio_input(key=state.KEY_FIRST_RECORDER)


def test_no_step_when_no_shipped_model_can_adapt(env):
    at = run_page(skipped=False)
    assert not has_step(at) and has_inputs(at)
    assert "cannot adapt" in at.info[0].value


def test_the_step_comes_before_the_live_microphone(spk_env, webrtc_in_apptest):
    at = run_page(skipped=False)
    at.session_state[state.KEY_PRED_SOURCE] = "live"
    no_exception(at.run())
    assert has_step(at) and state.KEY_LIVE_SESSION not in at.session_state
    at.button(key=state.KEY_FIRST_SKIP).click().run()
    no_exception(at)
    assert state.KEY_LIVE_SESSION in at.session_state


def test_the_step_in_polish(spk_env):
    """Issue #30: a Polish session reads the first-use step in Polish, and its refusal too
    (the test runs in Polish: AppTest formats the model box's options in its own thread)."""
    from ser_core.i18n import language
    from tests.pages.english import english_left

    with language("pl"):
        at = page_tests.page(skipped=False)
        at.session_state[state.KEY_LANG] = "pl"
        no_exception(at.run())
        assert [h.value for h in at.subheader] == ["Przed pierwszym rozpoznaniem: mów przez 20 s"]
        assert "Mów przez **20 s o czymkolwiek**" in texts(at)
        assert at.button(key=state.KEY_FIRST_SKIP).label == "Pomiń — rozpoznawaj bez kalibracji"
        assert english_left(at) == []
        stage(at, encode(speech(6.0), ext="wav"))
        assert [e.value for e in at.error] == [
            "To nagranie trwa 6 s: mów przez co najmniej 10 s (najlepiej 20 s) i nagraj ponownie."
        ]
        assert english_left(at) == []
        at.selectbox(key=state.KEY_PRED_MODEL).set_value(TINY).run()  # a model that cannot adapt
        no_exception(at)
        assert f"**{TINY}** nie potrafi dopasować się do głosu" in texts(at)
        assert at.button(key=state.KEY_FIRST_SWITCH).label == f"Przełącz na {SPK}"
        assert english_left(at) == []
