"""Home page: what the tool does, which corpus and models it found, which model for what."""

from __future__ import annotations

import streamlit as st

from ser_core import figures
from ser_core.i18n import emotion_names
from ser_core.inference import scores_table
from ui import errors, loaders, models, navigation
from ui.i18n import _, ngettext

navigation.ensure_navigation()
st.title(_("nEMO speech emotion explorer"))
st.markdown(
    _(
        "Explore how a computer hears emotion in Polish speech. The tool turns a 3-second clip "
        "of the **nEMO** corpus (or your own recording) into 13 acoustic representations, "
        "predicts one of six emotions ({emotions}), "
        "shows *why* with several explanation methods, tests how easily a tiny adversarial "
        "perturbation flips the decision, and compares the trained models."
    ).format(emotions=", ".join(emotion_names()))
)

st.subheader(_("Dataset"))
with errors.report_errors():
    meta = loaders.metadata()
    if meta is None:
        loaders.how_to_get_corpus()
    else:
        n_clips = len(meta)
        st.success(
            ngettext(
                "nEMO corpus found at `{path}`: **{n:,} clip** from **{speakers} speakers**.",
                "nEMO corpus found at `{path}`: **{n:,} clips** from **{speakers} speakers**.",
                n_clips,
            ).format(path=loaders.corpus_dir(), n=n_clips, speakers=meta["speaker"].nunique()),
            icon=":material/check_circle:",
        )

st.subheader(_("Which model for what"))
table = None
with errors.report_errors():
    table = scores_table() if models.shipped_models() else None
if table is None or table.empty:
    st.caption(_("No trained models shipped yet (looked for a card and weights under `artifacts/models/`)."))
else:
    st.markdown(models.two_numbers())
    st.markdown(models.uses_markdown(explain_model=models.EXPLAIN_MODEL))
    st.plotly_chart(figures.new_voices_figure(table), key="home-new-voices")
    with st.expander(
        ngettext(
            "The {n} shipped model, best on new voices first",
            "All {n} shipped models, best on new voices first",
            len(table),
        ).format(n=len(table)),
        icon=":material/inventory_2:",
    ):
        columns = st.columns(3)
        for i, row in table.iterrows():
            with columns[i % 3]:
                models.card_box(row)

st.subheader(_("Pages"))
LINKS = [
    (
        "pages/1_dataset.py",
        _("Dataset: corpus overview and the 13 representations of a clip"),
        ":material/dataset:",
    ),
    (
        "pages/2_predictor.py",
        _("Predictor: emotion of an upload, a recording, the live mic or many files at once"),
        ":material/mic:",
    ),
    (
        "pages/3_explain.py",
        _("Explain: Grad-CAM, LRP, SmoothGrad and LIME side by side"),
        ":material/visibility:",
    ),
    (
        "pages/4_adversarial.py",
        _("Adversarial: FGSM and PGD perturbations you can listen to"),
        ":material/bolt:",
    ),
    ("pages/5_leaderboard.py", _("Leaderboard: every training run from MLflow"), ":material/leaderboard:"),
    (
        "pages/6_quiz.py",
        _("Class quiz: are you better than the model at hearing emotions?"),
        ":material/quiz:",
    ),
]
for page, label, icon in LINKS:
    st.page_link(page, label=label, icon=icon)
