"""The server's memory after a class leaves: one thread per process returns freed memory to
the system (:func:`ser_core.serving.keep_trimming`)."""

from __future__ import annotations

import threading

import streamlit as st

from ser_core import serving


@st.cache_resource(show_spinner=False)
def memory_trimmer() -> threading.Thread:
    """Start, once per server process, the thread that returns freed memory every minute."""
    return serving.keep_trimming()
