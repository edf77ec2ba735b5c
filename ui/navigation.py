"""Keeping every page inside ``app.py``'s ``st.navigation``."""

from __future__ import annotations

import streamlit as st

from ui.i18n import apply_language


def ensure_navigation() -> None:
    """Make sure the page runs inside ``app.py``'s ``st.navigation``, in the session's
    language; call it first.

    Why this patch of Streamlit internals must stay (checked against Streamlit 1.67):
    ``PagesManager.__init__`` sets the class flag ``uses_pages_directory`` to True
    whenever a ``pages/`` folder sits next to the entry point, and only
    ``st.navigation`` resets it.  While it is True, ``ScriptRunner`` does not run
    ``app.py`` at all: ``_mpa_v1`` builds a page list from ``pages/*.py`` and runs the
    requested page script alone.  So a deep link (``/dataset``) as the very first
    request of a fresh server would show the page without ``app.py``'s page config,
    with a sidebar listing every module of ``pages/`` (``__init__``, ``home``...).
    No public API or config option turns the folder detection off, and the issue
    fixes the ``pages/`` layout; so the flag is cleared here and the run restarted,
    now through ``app.py``, whose ``url_path`` keys the same page.  If the internal
    class moves, the import fails and nothing is patched (the old behaviour of a
    deep link as the first request, nothing worse).  ``tests/browser/
    test_dataset_browser.py`` opens a deep link first on a fresh server.
    """
    apply_language()  # the session's language, before the page draws anything
    try:
        from streamlit.runtime.pages_manager import PagesManager  # internal, see above
    except ImportError:  # pragma: no cover - internal module moved
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()
