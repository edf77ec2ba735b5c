"""nEMO speech emotion explorer: ``streamlit run app.py``.

The entry point only sets the page config and the navigation; every page lives
under ``pages/`` (one thin file each: layout and calls), its Streamlit helpers in the
package :mod:`ui` beside it and its figures in :mod:`ser_core.figures`.
"""

from __future__ import annotations

import streamlit as st

st.set_page_config(
    page_title="nEMO speech emotion explorer", page_icon=":material/graphic_eq:", layout="wide"
)

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/1_dataset.py", title="Dataset", icon=":material/dataset:", url_path="dataset"),
    st.Page("pages/2_predictor.py", title="Predictor", icon=":material/mic:", url_path="predictor"),
    st.Page("pages/3_explain.py", title="Explain (XAI)", icon=":material/visibility:", url_path="explain"),
    st.Page("pages/4_adversarial.py", title="Adversarial", icon=":material/bolt:", url_path="adversarial"),
    st.Page(
        "pages/5_leaderboard.py", title="Leaderboard", icon=":material/leaderboard:", url_path="leaderboard"
    ),
]

st.navigation(PAGES).run()
