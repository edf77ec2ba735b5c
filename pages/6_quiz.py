"""Class quiz page: "Are you better than the model?" A lecturer makes a quiz, students answer."""

from __future__ import annotations

import streamlit as st

from ui import loaders, navigation, quiz
from ui.i18n import _

navigation.ensure_navigation()
st.title(_("Are you better than the model?"))
st.caption(
    _(
        "A listening quiz for a class: everyone hears the same nEMO clips and picks an emotion; "
        "the lecturer sees the class against the model, on the same clips."
    )
)
if loaders.corpus_dir() is None:
    loaders.how_to_get_corpus()
    st.stop()
student, lecturer = st.tabs([_("Student"), _("Lecturer")])
with student:
    quiz.student_tab()
with lecturer:
    quiz.lecturer_tab()
