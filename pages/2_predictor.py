"""Predictor page (placeholder)."""

import streamlit as st

from pages import common

common.ensure_navigation()
st.title("Predictor")
st.info("Coming soon: upload a file, record a clip or use the live microphone, and see the "
        "emotion each trained model predicts, with class probabilities.",
        icon=":material/construction:")
