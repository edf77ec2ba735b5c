"""nEMO speech emotion explorer: ``streamlit run app.py``.

The entry point only sets the page config and the navigation; every page lives
under ``pages/`` (one thin file each: layout and calls), its Streamlit helpers in the
package :mod:`ui` beside it and its figures in :mod:`ser_core.figures`.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui import i18n, memory, state
from ui.i18n import _

#: The tab's icon, shipped with the app: a Material icon name would make every browser fetch
#: it from fonts.gstatic.com, which fails offline (a classroom without internet).
FAVICON = Path(__file__).resolve().parent / "assets" / "favicon.png"

st.set_page_config(page_title="nEMO speech emotion explorer", page_icon=str(FAVICON), layout="wide")

memory.memory_trimmer()  # a class that left gives its memory back
state.keep_choices()  # choices survive a page switch
i18n.apply_language()  # the session's language (first: the browser's)
i18n.language_picker()
i18n.translate_streamlit_widgets()  # Streamlit's own words in its uploaders

PAGES = [
    st.Page("pages/home.py", title=_("Home"), icon=":material/home:", default=True),
    st.Page("pages/1_dataset.py", title=_("Dataset"), icon=":material/dataset:", url_path="dataset"),
    st.Page("pages/2_predictor.py", title=_("Predictor"), icon=":material/mic:", url_path="predictor"),
    st.Page("pages/3_explain.py", title=_("Explain (XAI)"), icon=":material/visibility:", url_path="explain"),
    st.Page("pages/4_adversarial.py", title=_("Adversarial"), icon=":material/bolt:", url_path="adversarial"),
    st.Page(
        "pages/5_leaderboard.py",
        title=_("Leaderboard"),
        icon=":material/leaderboard:",
        url_path="leaderboard",
    ),
    st.Page("pages/6_quiz.py", title=_("Class quiz"), icon=":material/quiz:", url_path="quiz"),
]
st.navigation(PAGES).run()
