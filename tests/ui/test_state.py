"""Session-state keys and helpers (:mod:`ui.state`)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from ui import state


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
