"""The interface language of a session: picked in the sidebar, first taken from the browser.

Pages and helpers translate with ``from ui.i18n import _, ngettext, pgettext, N_`` (the functions of
:mod:`ser_core.i18n`); :func:`apply_language` sets the run's language before anything is
drawn (``app.py`` and :func:`ui.navigation.ensure_navigation`, which every page calls first).
A fragment's rerun and a widget callback run without the page: for them (and anything else
in a session's script thread that never set a language) the library asks
:func:`session_language`, registered here as its resolver.
"""

from __future__ import annotations

import json

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ser_core.i18n import (
    LANGUAGES,
    N_,
    current_language,
    gettext,
    language,
    language_from_locale,
    ngettext,
    pgettext,
    set_language,
    set_language_resolver,
)
from ui.state import KEY_LANG

__all__ = [
    "N_",
    "_",
    "apply_language",
    "language_picker",
    "ngettext",
    "pgettext",
    "session_language",
    "translate_streamlit_widgets",
]

_ = gettext


def _browser_locale() -> str | None:
    """The browser's language (``navigator.language``, e.g. ``"pl-PL"``), None if unknown."""
    try:
        return st.context.locale
    except Exception:  # noqa: BLE001 - no browser context (bare mode): English
        return None


def session_language() -> str | None:
    """The language the browser session chose, None outside a session's script thread."""
    if get_script_run_ctx(suppress_warning=True) is None:
        return None
    lang = st.session_state.get(KEY_LANG)
    return lang if lang in LANGUAGES else None


set_language_resolver(session_language)


def apply_language() -> str:
    """Set this run's language: the session's choice, else the browser's; returns its code."""
    lang = st.session_state.get(KEY_LANG)
    if lang not in LANGUAGES:
        lang = language_from_locale(_browser_locale())
        st.session_state[KEY_LANG] = lang
    set_language(lang)
    return lang


def language_picker() -> None:
    """The sidebar's language switch (both names in their own language, so anyone finds it)."""
    st.sidebar.radio(
        "Language / Język",
        options=list(LANGUAGES),
        format_func=LANGUAGES.__getitem__,
        key=KEY_LANG,
        horizontal=True,
    )


def _streamlit_words() -> dict[str, str]:
    """Streamlit's own words in its file uploader (Streamlit translates nothing), in the
    language of this run: ``{"Upload": ..., "per file": ...}``."""
    return {
        "Upload": pgettext("streamlit uploader", "Upload"),
        "per file": pgettext("streamlit uploader", "per file"),
    }


#: Rewrites the uploader's words in the page (and again whenever Streamlit redraws it):
#: "Upload" where it is a whole label, "per file" inside the size limit.  One observer per
#: browser tab; a later run only swaps its table.
_WIDGET_SCRIPT = """<script>(() => {
  const table = __TABLE__;
  if (window.serWidgetWords) { window.serWidgetWords.table = table; window.serWidgetWords.run(); return; }
  const state = { table };
  state.run = () => {
    document.querySelectorAll('[data-testid="stFileUploader"]').forEach((box) => {
      const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const inLimit = node.parentElement && node.parentElement.closest('[data-testid="stFileUploaderDropzoneInstructions"]');
        for (const [from, to] of state.table) {
          if (node.nodeValue === from) node.nodeValue = to;
          else if (inLimit && node.nodeValue.includes(from)) node.nodeValue = node.nodeValue.split(from).join(to);
        }
      }
    });
  };
  window.serWidgetWords = state;
  new MutationObserver(() => state.run()).observe(document.body, { childList: true, subtree: true, characterData: true });
  state.run();
})();</script>"""


def translate_streamlit_widgets() -> None:
    """Put Streamlit's own uploader words into the session's language (and back to English
    after a switch): a small script in the sidebar, since Streamlit has no translations."""
    lang = current_language()
    here = _streamlit_words()
    table = []
    for other in LANGUAGES:
        if other == lang:
            continue
        with language(other):
            there = _streamlit_words()
        table += [[there[k], here[k]] for k in here if there[k] != here[k]]
    script = _WIDGET_SCRIPT.replace("__TABLE__", json.dumps(table, ensure_ascii=False))
    with st.sidebar:
        st.html(script, unsafe_allow_javascript=True)
