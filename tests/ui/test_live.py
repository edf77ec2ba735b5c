"""ui.live: the live panel reads what the shared batcher predicted, and draws it cheaply."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def test_figures_are_built_once_per_prediction_and_a_long_timeline_less_often():
    def script():
        import numpy as np
        import streamlit as st

        from ser_core.live import LivePredictor
        from ui import live

        session = st.session_state.setdefault("s", LivePredictor(lambda y: None))
        rng = np.random.default_rng(0)
        probs = rng.dirichlet(np.ones(6), 200).astype(np.float32)
        times = 0.5 * np.arange(1, 201)
        seen = st.session_state.setdefault("seen", [])
        for n in (1, 1, 2, 120, 121, 122, 123, 100):
            bars, timeline, drawn, last = live.live_figures(session, times[:n], probs[:n], unsure_below=0.4)
            seen.append((bars, timeline, drawn, last))

    at = AppTest.from_function(script).run()
    assert not at.exception, [e.value for e in at.exception]
    seen = at.session_state["seen"]
    bars, timelines, drawn, last = zip(*seen, strict=True)
    assert bars[0] is bars[1] and timelines[0] is timelines[1]  # a rerun without a new point
    assert len({id(b) for b in bars[1:7]}) == 6  # the bars follow every new point
    # 120 points: the timeline waits until it has grown by 2 (120 // 60); a shorter history
    # (START again) draws afresh
    assert drawn == (1, 1, 2, 120, 120, 122, 122, 100)
    assert last == (0.5, 0.5, 1.0, 60.0, 60.0, 61.0, 61.0, 50.0)


def test_the_panel_shows_a_failed_prediction_and_who_shares_the_server():
    def script():
        import numpy as np
        import streamlit as st

        from ser_core.live import LivePredictor
        from ser_core.live_batch import LiveBatcher
        from ui import live

        def session(n):
            s = LivePredictor(lambda y: np.eye(6, dtype=np.float32)[0])
            for _ in range(n):
                s.buffer.push(np.full(8000, 0.3, np.float32), 16_000)
                s.step()
            return s

        broken = session(2)
        broken.fail(broken.take(force=True), "The live prediction failed: the model is gone")
        live.live_panel(broken, 0.4, False)
        batcher = LiveBatcher()
        others = [session(1), session(1)]  # the batcher holds sessions weakly: keep them
        for s in others:
            batcher.add(s)
        batcher.last_round = (0.42, 2)
        st.write(live.listening_caption(batcher) + "|")
        batcher.crowd = 1
        st.write(live.listening_caption(batcher) + "|")
        st.write(live.listening_caption(LiveBatcher()) + "|")

    at = AppTest.from_function(script).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.error[0].value == "The live prediction failed: the model is gone"
    assert "Live label: anger · 100 %" in [m.value for m in at.markdown][0]
    lines = [m.value for m in at.markdown][-3:]
    assert lines == [
        "Listening: the last 3 s, re-predicted twice a second. 2 live microphones share this "
        "server; the last round of predictions (2 windows) took 0.4 s.|",
        "Listening: the last 3 s, re-predicted every 0.8 s while more than 1 share the server. "
        "2 live microphones share this server; the last round of predictions (2 windows) took 0.4 s.|",
        "Listening: the last 3 s, re-predicted twice a second.|",
    ]


def test_the_panel_in_polish_says_a_failure_and_the_figures_again_in_polish():
    """Issue #30: the batcher's thread writes its failure in English; a Polish panel says it
    in Polish from the error itself, and the live figures are drawn in Polish."""

    def script():
        import numpy as np
        import streamlit as st

        from ser_core.errors import SERError
        from ser_core.i18n import set_language
        from ser_core.live import LivePredictor
        from ser_core.live_batch import failure_message
        from ui import live

        s = LivePredictor(lambda y: np.eye(6, dtype=np.float32)[0])
        for _i in range(2):
            s.buffer.push(np.full(8000, 0.3, np.float32), 16_000)
            s.step()
        err = SERError("the model is gone")
        s.fail(s.take(force=True), failure_message(err), err)  # in the batcher: English
        st.session_state["english"] = s.failure
        set_language("pl")
        live.live_panel(s, 0.4, False)
        st.session_state["names"] = [t.name for t in st.session_state[live.KEY_LIVE_FIGURES]["timeline"].data]

    at = AppTest.from_function(script).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["english"] == "The live prediction failed: the model is gone"
    assert at.error[0].value == "Rozpoznawanie na żywo nie powiodło się: the model is gone"
    assert "Etykieta na żywo: złość · 100 %" in [m.value for m in at.markdown][0]
    assert at.session_state["names"][0] == "złość"
