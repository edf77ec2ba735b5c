"""Leaderboard page (placeholder)."""

import streamlit as st

from pages import common

common.ensure_navigation()
st.title("Leaderboard")
st.info("Coming soon: every model run read from MLflow, ranked by its test metrics per "
        "representation and protocol (seed split, leave-one-speaker-out).",
        icon=":material/construction:")
