"""Home page: what the tool does, which corpus and models it found, which model for what."""

from __future__ import annotations

import streamlit as st

from ser_core import figures
from ser_core.inference import scores_table
from ui import errors, loaders, models, navigation

navigation.ensure_navigation()
st.title("nEMO speech emotion explorer")
st.markdown(
    "Explore how a computer hears emotion in Polish speech. The tool turns a 3-second clip "
    "of the **nEMO** corpus (or your own recording) into 13 acoustic representations, "
    "predicts one of six emotions (anger, fear, happiness, neutral, sadness, surprise), "
    "shows *why* with several explanation methods, tests how easily a tiny adversarial "
    "perturbation flips the decision, and compares the trained models."
)

st.subheader("Dataset")
with errors.report_errors():
    meta = loaders.metadata()
    if meta is None:
        loaders.how_to_get_corpus()
    else:
        st.success(
            f"nEMO corpus found at `{loaders.corpus_dir()}`: **{len(meta):,} clips** "
            f"from **{meta['speaker'].nunique()} speakers**.",
            icon=":material/check_circle:",
        )

st.subheader("Which model for what")
table = None
with errors.report_errors():
    table = scores_table() if models.shipped_models() else None
if table is None or table.empty:
    st.caption("No trained models shipped yet (looked for a card and weights under `artifacts/models/`).")
else:
    st.markdown(models.TWO_NUMBERS)
    st.markdown(models.uses_markdown(explain_model=models.EXPLAIN_MODEL))
    st.plotly_chart(figures.new_voices_figure(table), key="home-new-voices")
    with st.expander(
        f"All {len(table)} shipped models, best on new voices first", icon=":material/inventory_2:"
    ):
        columns = st.columns(3)
        for i, row in table.iterrows():
            with columns[i % 3]:
                models.card_box(row)

st.subheader("Pages")
LINKS = [
    (
        "pages/1_dataset.py",
        "Dataset: corpus overview and the 13 representations of a clip",
        ":material/dataset:",
    ),
    (
        "pages/2_predictor.py",
        "Predictor: emotion of an upload, a recording or the live mic",
        ":material/mic:",
    ),
    (
        "pages/3_explain.py",
        "Explain: Grad-CAM, LRP, SmoothGrad and LIME side by side",
        ":material/visibility:",
    ),
    (
        "pages/4_adversarial.py",
        "Adversarial: FGSM and PGD perturbations you can listen to",
        ":material/bolt:",
    ),
    ("pages/5_leaderboard.py", "Leaderboard: every training run from MLflow", ":material/leaderboard:"),
]
for page, label, icon in LINKS:
    st.page_link(page, label=label, icon=icon)
