"""Session-state keys and helpers (:mod:`ui.state`)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from ui import models, state


def test_widget_keys_are_prefixed_by_their_page():
    assert state.KEY_SOURCE == "dataset.source" and state.KEY_PRED_MODEL == "predictor.model"
    assert state.KEY_CAL_CLIP == "predictor.calibration.clip" and state.KEY_XAI_TOPK == "explain.top_k"
    assert state.KEY_ADV_EPS == {
        "spectrogram": "adversarial.epsilon.spectrogram",
        "waveform": "adversarial.epsilon.waveform",
    }


def test_keep_valid_forgets_choices_no_longer_offered():
    def script():
        import streamlit as st

        from ui import state

        st.session_state.update(one="gone", many=["a", "gone", "b"], ok="a")
        for key in ("one", "many", "ok", "absent"):
            state.keep_valid(key, ["a", "b"])

    at = AppTest.from_function(script).run()
    assert not at.exception
    assert "one" not in at.session_state and at.session_state["many"] == ["a", "b"]
    assert at.session_state["ok"] == "a" and "absent" not in at.session_state


APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGES = ["pages/1_dataset.py", "pages/2_predictor.py", "pages/3_explain.py", "pages/4_adversarial.py"]
PAGES += ["pages/5_leaderboard.py", "pages/6_quiz.py"]
#: Widget kinds whose value is a choice (buttons, uploaders and recorders hold none).
CHOICE_KINDS = (
    "selectbox", "multiselect", "radio", "select_slider", "slider", "toggle", "checkbox",
    "number_input", "text_input", "text_area", "date_input", "time_input", "color_picker",
)  # fmt: skip


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state[state.KEY_FIRST_ANSWER] = "skipped"  # no first-use step in the way
    return at.run()


def test_every_choice_widget_of_every_page_is_kept():
    at = _app()
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        for kind in CHOICE_KINDS:
            for widget in at.get(kind):
                key = widget.key
                assert key, f"{page}: a {kind} without a key cannot keep its value"
                assert key in state.CHOICES | state.NOT_KEPT, f"{page}: {kind} {key!r} not in state.CHOICES"
        for widget in at.get("button"):
            assert widget.key not in state.CHOICES


def test_choices_survive_a_page_switch():
    at = _app()
    at.switch_page("pages/1_dataset.py").run()
    at.radio(key=state.KEY_PROJ_METHOD).set_value("tsne")
    at.toggle(key=state.KEY_MEANS_DIFF).set_value(True).run()
    at.switch_page("pages/2_predictor.py").run()
    names = models.shipped_models()
    if len(names) > 1:
        at.selectbox(key=state.KEY_PRED_MODEL).set_value(names[-1]).run()
    at.switch_page("pages/4_adversarial.py").run()
    at.radio(key=state.KEY_ADV_DOMAIN).set_value("waveform").run()
    for page in ("pages/home.py", "pages/5_leaderboard.py", "pages/1_dataset.py"):
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key=state.KEY_PROJ_METHOD).value == "tsne"
    assert at.toggle(key=state.KEY_MEANS_DIFF).value is True
    at.switch_page("pages/2_predictor.py").run()
    if len(names) > 1:
        assert at.selectbox(key=state.KEY_PRED_MODEL).value == names[-1]
    at.switch_page("pages/4_adversarial.py").run()
    assert at.radio(key=state.KEY_ADV_DOMAIN).value == "waveform"
