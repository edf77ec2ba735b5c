"""Adversarial page (placeholder)."""

import streamlit as st

from pages import common

common.ensure_navigation()
st.title("Adversarial examples")
st.info("Coming soon: an FGSM attack with an epsilon slider, the prediction before and after, "
        "and the perturbed spectrogram played back through Griffin-Lim.",
        icon=":material/construction:")
