"""The first-use step's logic (:mod:`ui.first_use`), on a stand-in model (no weights needed);
the page with a real one is in tests/pages/test_predictor_first_use.py."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def test_stage_follows_the_session():
    def script():
        from types import SimpleNamespace

        import streamlit as st

        from ui import first_use, state

        can = SimpleNamespace(speaker_normalised=True)
        out = [first_use.stage(can)]
        first_use.skip()
        out.append(first_use.stage(can))
        st.session_state.pop(state.KEY_FIRST_ANSWER)
        st.session_state[state.KEY_VOICE] = {"id": "v1", "seconds": 21.0}
        out.append(first_use.stage(can))  # calibrated elsewhere (the expander)
        st.session_state[state.KEY_FIRST_DONE] = "v1"
        out.append(first_use.stage(can))
        del st.session_state[state.KEY_VOICE]
        out.append(first_use.stage(can))  # forgotten: the step stays answered
        st.session_state["out"] = out

    at = AppTest.from_function(script, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["out"] == ["ask", None, None, "done", None]


def test_a_short_or_broken_clip_is_refused_once_in_one_sentence():
    def script():
        from types import SimpleNamespace

        import streamlit as st

        from tests.conftest import encode, tone
        from ui import calibration, clips, first_use, state

        class Upload:
            name = "mine.wav"

            def getvalue(self):
                return encode(tone(6.0))

        st.session_state[state.KEY_FIRST_UPLOADER] = Upload()
        calibration.store_calibration_clip(state.KEY_FIRST_UPLOADER)
        st.session_state["name"] = st.session_state[state.KEY_CAL_CLIP]["name"]
        model = SimpleNamespace(cfg=SimpleNamespace(sr=16_000))
        first_use.calibrate_staged(model)
        short = st.session_state.pop(state.KEY_CAL_STATUS)
        st.session_state["short"] = (short[0], calibration.status_text(short))
        first_use.calibrate_staged(model)  # the same clip is not tried again
        st.session_state["again"] = state.KEY_CAL_STATUS in st.session_state
        st.session_state[state.KEY_CAL_CLIP] = clips.make_clip(b"not audio" * 40, "x.ogg", "calibration")
        first_use.calibrate_staged(model)
        broken = st.session_state[state.KEY_CAL_STATUS]
        st.session_state["broken"] = (broken[0], calibration.status_text(broken))

    at = AppTest.from_function(script, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["name"] == "mine.wav"  # the step's uploader keeps the file name
    kind, message = at.session_state["short"]
    assert kind == "error" and message == (
        "That recording lasts 6 s: talk for at least 10 s (20 s is best), then record again."
    )
    assert not at.session_state["again"]
    kind, message = at.session_state["broken"]
    assert kind == "error" and message.startswith("Calibration failed:") and "x.ogg" in message
