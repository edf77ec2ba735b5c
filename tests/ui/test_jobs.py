"""Heavy work through the shared queue (:mod:`ui.jobs`)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from ser_core.jobs import JobStatus
from ui import jobs


def test_waiting_text_says_the_place_then_the_progress():
    assert "next in line" in jobs.waiting_text(JobStatus("queued", 0), what="Explaining")
    assert "3 requests ahead of yours" in jobs.waiting_text(JobStatus("queued", 3), what="Explaining")
    assert "1 request ahead of yours" in jobs.waiting_text(JobStatus("queued", 1), what="Explaining")
    assert (
        jobs.waiting_text(JobStatus("running", 0, 0.4), what="Explaining") == "Explaining: running, 40% done…"
    )


def test_queued_returns_the_result_and_shows_bad_input_as_an_error():
    def script():
        import streamlit as st

        from ser_core.errors import SERError
        from ui import errors, jobs

        def slow(x, *, progress):
            import time

            progress(0.5)
            time.sleep(0.6)
            return x + 1

        def bad():
            raise SERError("'x.wav' is not audio")

        st.write(f"result {jobs.queued(('t', 1), slow, 41, what='Adding')}")
        with errors.report_errors():
            jobs.queued(("t", "bad"), bad, what="Reading")

    at = AppTest.from_function(script, default_timeout=30).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(m.value == "result 42" for m in at.markdown)
    assert [e.value for e in at.error] and "'x.wav' is not audio" in at.error[0].value


def test_a_held_place_is_shown_at_once_when_others_are_ahead():
    def script():
        import threading

        import streamlit as st

        from ui import jobs

        q = jobs.shared_queue()
        gate = st.session_state.setdefault("gate", threading.Event())
        q.submit(("other", id(gate)), gate.wait, 10, owner="another student")
        q.submit(("other2", id(gate)), gate.wait, 10, owner="another student")
        place, done = jobs.hold_place(("clip", "model"), what="Explanations")
        st.session_state["place"] = place
        gate.set()

    at = AppTest.from_function(script, default_timeout=30).run()
    assert not at.exception, [e.value for e in at.exception]
    line = [c.value for c in at.caption]
    assert line in (
        ["Explanations: 1 request ahead of yours in the queue…"],
        ["Explanations: 2 requests ahead of yours in the queue…"],
    )
    from ui import jobs

    jobs.shared_queue().unreserve(at.session_state["place"])


def test_waiting_text_in_polish_counts_the_requests_ahead():
    """Issue #30: the queue place line in Polish, with its three plural forms."""
    from ser_core.i18n import language

    with language("pl"):
        one, few, many = (jobs.waiting_text(JobStatus("queued", n), what="Wyjaśnienia") for n in (1, 3, 5))
        next_in_line = jobs.waiting_text(JobStatus("queued", 0), what="Wyjaśnienia")
        running = jobs.waiting_text(JobStatus("running", 0, 0.4), what="Wyjaśnienia")
    assert one == "Wyjaśnienia: w kolejce przed tym zgłoszeniem jest jeszcze 1 inne…"
    assert few == "Wyjaśnienia: w kolejce przed tym zgłoszeniem są jeszcze 3 inne…"
    assert many == "Wyjaśnienia: w kolejce przed tym zgłoszeniem jest jeszcze 5 innych…"
    assert (
        next_in_line.startswith("Wyjaśnienia: następne w kolejce")
        and running == "Wyjaśnienia: w toku, gotowe 40%…"
    )
