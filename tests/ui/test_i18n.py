"""ui.i18n: the session's language, and Streamlit's own uploader words (issue #30)."""

from __future__ import annotations

import json
import re

from streamlit.testing.v1 import AppTest


def _table(lang: str) -> list[list[str]]:
    def script():
        import streamlit as st

        from ui import i18n

        st.session_state["app.language"] = st.session_state.get("want")
        i18n.apply_language()
        i18n.translate_streamlit_widgets()

    at = AppTest.from_function(script, default_timeout=30)
    at.session_state["want"] = lang
    at.run()
    assert not at.exception
    (html,) = at.get("html")
    return json.loads(re.search(r"const table = (\[.*?\]);", html.proto.body).group(1))


def test_the_uploader_words_follow_the_language_both_ways():
    """In Polish the script turns Streamlit's "Upload" / "per file" into Polish; after a switch
    back to English it turns them back (the page is not reloaded)."""
    assert _table("pl") == [["Upload", "Prześlij"], ["per file", "na plik"]]
    assert _table("en") == [["Prześlij", "Upload"], ["na plik", "per file"]]
