"""ui.memory: one thread per server hands freed memory back to the system."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def test_one_trimming_thread_per_process():
    def script():
        import streamlit as st

        from ui import memory

        st.session_state.setdefault("threads", []).append(memory.memory_trimmer())

    at = AppTest.from_function(script).run()
    at.run()
    assert not at.exception
    first, second = at.session_state["threads"]
    assert first is second and first.daemon and first.is_alive() and first.name == "ser-trim-memory"
