"""Explainability page (placeholder)."""

import streamlit as st

from pages import common

common.ensure_navigation()
st.title("Explain (XAI)")
st.info("Coming soon: Grad-CAM, LRP, SmoothGrad and LIME maps of one prediction side by side, "
        "each scored by a deletion test (how fast confidence drops when the most relevant "
        "regions are removed).",
        icon=":material/construction:")
