"""The class listening quiz's Streamlit parts (issue #30): the student's tab and the lecturer's.

The quiz itself (codes, clips, answers, results) is :mod:`ser_core.quiz`; this module only
draws it.  A student has no account: a random id kept in the browser session
(:data:`~ui.state.KEY_QUIZ_STUDENT`).  The lecturer's key, returned when the quiz is made,
stays in the lecturer's session (:data:`~ui.state.KEY_QUIZ_LECTURER`) and opens the results.
"""

from __future__ import annotations

import time
import uuid

import pandas as pd
import streamlit as st

from ser_core import quiz
from ser_core.config import EMOTIONS
from ser_core.errors import QuizClosedError, SERError
from ser_core.feedback import default_data_dir
from ser_core.figures import quiz as quiz_figures
from ser_core.i18n import emotion_name
from ui import clips, errors, loaders, state
from ui.i18n import _, ngettext

#: Seconds between two refreshes of the lecturer's live view.
REFRESH_S = 3.0
DEFAULT_CLIPS = 12
#: Clips shown under "where the class and the model disagree most".
DISAGREEMENTS = 5
#: Answers shown in "answers as they come" (newest first).
LATEST_ANSWERS = 200


# ------------------------------------------------------------------ shared
@st.cache_data(show_spinner=False, max_entries=256)
def _clip_wav(code: str, index: int, data_dir: str, corpus: str) -> bytes:
    """A quiz clip as WAV (one decoding for the whole class)."""
    return clips.wav_bytes(quiz.clip_audio(code, index, corpus=corpus, directory=data_dir))


def clip_wav(code: str, index: int) -> bytes:
    """The WAV bytes of clip ``index`` of quiz ``code`` (its name is never sent)."""
    return _clip_wav(code, index, str(default_data_dir()), str(loaders.corpus_dir()))


def student_id() -> str:
    """This browser session's random student id (made once)."""
    return st.session_state.setdefault(state.KEY_QUIZ_STUDENT, uuid.uuid4().hex)


def percent(value: float | None) -> str:
    return "–" if value is None or pd.isna(value) else f"{100 * value:.0f} %"


def big_code(code: str) -> None:
    """The quiz code in letters big enough for the back of a lecture hall."""
    st.markdown(
        f'<div data-testid="quiz-code" style="font: 700 5.5rem/1.1 monospace; letter-spacing: 0.25em">'
        f"{code}</div>",
        unsafe_allow_html=True,
    )


# ------------------------------------------------------------------ student
def _send(code: str, index: int, nickname: str | None) -> None:
    """The Answer button: store the picked emotion, clear the pick for the next clip."""
    pick = st.session_state.get(state.KEY_QUIZ_PICK)
    st.session_state.pop(state.KEY_QUIZ_ERROR, None)
    if pick is None:
        return
    try:
        quiz.answer(code, index, pick, student_id=student_id(), nickname=nickname)
    except QuizClosedError:
        pass  # the page says the quiz is closed
    except SERError as err:
        st.session_state[state.KEY_QUIZ_ERROR] = err
        return
    st.session_state[state.KEY_QUIZ_PICK] = None


def _leave() -> None:
    st.session_state.pop(state.KEY_QUIZ_JOINED, None)
    st.session_state[state.KEY_QUIZ_PICK] = None


def join_form() -> None:
    """Code and nickname; Join."""
    if state.KEY_QUIZ_CODE not in st.session_state and st.query_params.get("code"):
        st.session_state[state.KEY_QUIZ_CODE] = st.query_params["code"]  # a link with ?code=
    st.markdown(_("Type the code your lecturer shows. No account is needed; a nickname is optional."))
    c1, c2 = st.columns(2)
    code = c1.text_input(_("Quiz code"), max_chars=12, key=state.KEY_QUIZ_CODE, placeholder="KWPDTR")
    nickname = c2.text_input(_("Nickname (optional)"), max_chars=quiz.NICKNAME_MAX, key=state.KEY_QUIZ_NICK)
    if st.button(_("Join"), type="primary", key=state.KEY_QUIZ_JOIN, icon=":material/login:"):
        with errors.report_errors():
            view = quiz.join(code, student_id=student_id())
            st.session_state[state.KEY_QUIZ_JOINED] = {
                "code": view.code,
                "nickname": quiz.check_nickname(nickname),
            }
            st.session_state[state.KEY_QUIZ_PICK] = None
            st.rerun()


def answer_view(joined: dict) -> None:
    """The next clip the student has not answered, and the six emotions."""
    code, nickname = joined["code"], joined.get("nickname")
    leave = dict(key=state.KEY_QUIZ_LEAVE, on_click=_leave, icon=":material/logout:")
    try:
        view = quiz.join(code, student_id=student_id())
    except SERError as err:
        errors.show_error(err)
        st.button(_("Leave this quiz"), **leave)
        return
    who = _("Quiz {code} · {nickname}") if nickname else _("Quiz {code}")
    st.subheader(who.format(code=code, nickname=nickname))
    if state.KEY_QUIZ_ERROR in st.session_state:
        errors.show_error(st.session_state.pop(state.KEY_QUIZ_ERROR))
    index = view.next_clip
    if index is None:
        st.success(
            ngettext(
                "You answered the quiz's {n} clip. Thank you! Your lecturer will show how the "
                "class did against the model.",
                "You answered all {n} clips. Thank you! Your lecturer will show how the class "
                "did against the model.",
                view.n_clips,
            ).format(n=view.n_clips),
            icon=":material/celebration:",
        )
    elif view.closed:
        st.info(_("The lecturer has closed this quiz: it takes no more answers."), icon=":material/lock:")
    else:
        st.progress(
            len(view.answered) / view.n_clips,
            text=_("Clip {i} of {n}").format(i=index + 1, n=view.n_clips),
        )
        st.audio(clip_wav(code, index), format="audio/wav")
        st.radio(
            _("Which emotion do you hear?"),
            EMOTIONS,
            index=None,
            format_func=emotion_name,
            horizontal=True,
            key=state.KEY_QUIZ_PICK,
        )
        st.button(
            _("Answer and go on"),
            type="primary",
            key=state.KEY_QUIZ_ANSWER,
            icon=":material/arrow_forward:",
            disabled=st.session_state.get(state.KEY_QUIZ_PICK) is None,
            on_click=_send,
            args=(code, index, nickname),
        )
        st.caption(_("Listen as often as you like. One answer per clip; it cannot be changed."))
    st.button(_("Leave this quiz"), **leave)


def student_tab() -> None:
    """Join a quiz, then answer its clips one by one."""
    joined = st.session_state.get(state.KEY_QUIZ_JOINED)
    if joined is None:
        join_form()
    else:
        answer_view(joined)


# ------------------------------------------------------------------ lecturer: making a quiz
def _model_choice(mode: str) -> dict | None:
    """The model (heard) or speaker (new voice) picker; the arguments of create_quiz, or
    None when no model can make this kind of quiz (the reason is shown)."""
    if mode == "heard":
        names = quiz.heard_models()
        if not names:
            st.info(_("No seed-split model is shipped in artifacts/models."), icon=":material/info:")
            return None
        state.keep_valid(state.KEY_QUIZ_MODEL, names)
        name = st.selectbox(_("Model"), names, key=state.KEY_QUIZ_MODEL)
        st.caption(
            _(
                "`{model}` was trained on the voices of these clips, though never on the clips "
                "themselves (they are the seed split's test clips)."
            ).format(model=name)
        )
        return {"model_name": name}
    found = quiz.fold_models()
    try:
        quiz.pick_fold_model(None, found)  # no fold model: the reason and how to make one
    except SERError as err:
        errors.show_error(err)
        return None
    speakers = list(found)
    state.keep_valid(state.KEY_QUIZ_SPEAKER, speakers)
    speaker = st.selectbox(
        _("Speaker"),
        speakers,
        key=state.KEY_QUIZ_SPEAKER,
        format_func=lambda s: f"{s} · {found[s].model_name}",
    )
    fm = found[speaker]
    st.caption(
        _(
            "`{model}` is a leave-one-speaker-out model (LOSO fold {fold}): it never heard "
            "{speaker}, neither in training nor in validation. Just like the class."
        ).format(model=fm.model_name, fold=fm.fold, speaker=speaker)
    )
    return {"speaker": speaker}


def create_form() -> None:
    """How many clips, which kind; Create."""
    st.subheader(_("Create a quiz"))
    c1, c2 = st.columns([1, 2])
    n = c1.number_input(
        _("Clips"),
        min_value=quiz.MIN_CLIPS,
        max_value=quiz.MAX_CLIPS,
        value=DEFAULT_CLIPS,
        step=1,
        key=state.KEY_QUIZ_N,
        help=_("Drawn from the seed split's test clips, as many of each emotion as possible."),
    )
    with c2:
        mode = st.radio(
            _("Kind of quiz"),
            quiz.MODES,
            format_func=lambda m: _(quiz.MODE_TITLES[m]),
            key=state.KEY_QUIZ_MODE,
        )
        choice = _model_choice(mode)
    if choice is None:
        return
    if st.button(_("Create the quiz"), type="primary", key=state.KEY_QUIZ_CREATE, icon=":material/quiz:"):
        with errors.report_errors(), st.spinner(_("Drawing the clips and letting the model answer…")):
            made, token = quiz.create_quiz(n_clips=int(n), mode=mode, **choice)
            st.session_state[state.KEY_QUIZ_LECTURER] = {"code": made.code, "token": token}
            st.rerun()


def reopen_form() -> None:
    """Reopen a quiz after a reload, with its code and the lecturer's key."""
    with st.expander(_("Reopen a quiz of yours")):
        c1, c2 = st.columns(2)
        code = c1.text_input(_("Quiz code"), max_chars=12, key=state.KEY_QUIZ_OPEN_CODE)
        token = c2.text_input(_("Lecturer key"), type="password", key=state.KEY_QUIZ_OPEN_KEY)
        if st.button(_("Open"), key=state.KEY_QUIZ_OPEN, icon=":material/lock_open:"):
            with errors.report_errors():
                res = quiz.results(code, token=token)
                st.session_state[state.KEY_QUIZ_LECTURER] = {"code": res.quiz.code, "token": token}
                st.rerun()


# ------------------------------------------------------------------ lecturer: the live view
def _close(code: str, token: str) -> None:
    try:
        quiz.close(code, token=token)
        st.session_state[state.KEY_QUIZ_STATUS] = ("closed", {"code": code})
    except SERError as err:
        st.session_state[state.KEY_QUIZ_STATUS] = ("error", err)


def _delete(code: str, token: str) -> None:
    try:
        n = quiz.delete(code, token=token)
    except SERError as err:
        st.session_state[state.KEY_QUIZ_STATUS] = ("error", err)
        return
    st.session_state.pop(state.KEY_QUIZ_LECTURER, None)
    st.session_state[state.KEY_QUIZ_STATUS] = ("deleted", {"code": code, "n": n})


def _forget() -> None:
    st.session_state.pop(state.KEY_QUIZ_LECTURER, None)
    st.session_state.pop(state.KEY_QUIZ_STATUS, None)


def show_status() -> None:
    """The lecturer's last action (translated now, in the session's language)."""
    kind, payload = st.session_state.get(state.KEY_QUIZ_STATUS, (None, None))
    if kind == "error":
        errors.show_error(payload)
    elif kind == "closed":
        text = _("Quiz {code} is closed: the results stay, no more answers come in.")
        st.success(text.format(**payload), icon=":material/lock:")
    elif kind == "deleted":
        text = ngettext(
            "Quiz {code} is deleted with its {n} answer.",
            "Quiz {code} is deleted with its {n} answers.",
            payload["n"],
        )
        st.success(text.format(**payload), icon=":material/delete:")


def _metrics(res: quiz.QuizResults) -> None:
    better = res.students
    beat = int((better["accuracy"] > better["model_accuracy"]).sum())
    c = st.columns(5)
    c[0].metric(_("Students"), res.n_students)
    c[1].metric(_("Answers"), res.n_answers)
    c[2].metric(_("The class"), percent(res.class_accuracy), help=_("Share of right answers."))
    c[3].metric(
        _("The model, same clips"),
        percent(res.model_accuracy_answered),
        help=_(
            "The model's accuracy counted like the class's answers (each answer counts the "
            "model's right or wrong on its clip), so both numbers are on the same clips. "
            "On all {n} clips: {acc}."
        ).format(n=res.quiz.n_clips, acc=percent(res.model_accuracy)),
    )
    c[4].metric(
        _("Better than the model"),
        f"{beat} / {res.n_students}",
        help=_("Students whose accuracy beats the model's on the clips they answered."),
    )


def _answers_table(res: quiz.QuizResults) -> None:
    a = res.answers.iloc[::-1].head(LATEST_ANSWERS)
    table = pd.DataFrame(
        {
            _("time"): a["time"].map(lambda t: time.strftime("%H:%M:%S", time.localtime(t))),
            _("nickname"): a["nickname"].fillna("–"),
            _("clip"): a["clip"] + 1,
            _("answer"): a["answer"].map(emotion_name),
            _("right"): a["correct"].map({True: "✓", False: "✗"}),
        }
    )
    st.dataframe(table, hide_index=True, height=260)


def _disagreements(res: quiz.QuizResults) -> None:
    worst = res.disagreements(DISAGREEMENTS)
    if worst.empty:
        st.caption(_("No answers yet."))
        return
    for row in worst.itertuples(index=False):
        left, right = st.columns([3, 2], vertical_alignment="center")
        left.markdown(
            _(
                "**Clip {i}** · true: **{truth}** · the model: **{model}** · the class mostly: "
                "**{top}** · {agree} of the answers agree with the model"
            ).format(
                i=row.clip + 1,
                truth=emotion_name(row.emotion),
                model=emotion_name(row.predicted),
                top=emotion_name(row.top_answer),
                agree=percent(row.agree),
            )
        )
        right.audio(clip_wav(res.quiz.code, int(row.clip)), format="audio/wav")


def results_view(code: str, token: str) -> None:
    """Class against model, the two confusion matrices, disagreements, answers, CSV."""
    with errors.report_errors():
        res = quiz.results(code, token=token)
        _metrics(res)
        left, right = st.columns([2, 3])
        left.plotly_chart(
            quiz_figures.accuracy_figure(res.class_confusion, res.model_confusion), key="quiz.acc"
        )
        right.plotly_chart(
            quiz_figures.confusion_pair_figure(res.class_confusion, res.model_confusion), key="quiz.cm"
        )
        st.subheader(_("Where the class and the model disagree most"))
        _disagreements(res)
        st.subheader(_("Answers as they come"))
        _answers_table(res)
        st.download_button(
            _("Download the answers (CSV)"),
            data=res.to_csv(),
            file_name=f"quiz-{code}.csv",
            mime="text/csv",
            key=state.KEY_QUIZ_CSV,
            icon=":material/download:",
        )


@st.fragment(run_every=REFRESH_S)
def live_results(code: str, token: str) -> None:
    """:func:`results_view`, refreshed every :data:`REFRESH_S` seconds while the quiz is open."""
    results_view(code, token)


@st.fragment
def still_results(code: str, token: str) -> None:
    """:func:`results_view` of a closed quiz (nothing new can come)."""
    results_view(code, token)


def _mode_line(q: quiz.Quiz) -> str:
    if q.mode == "heard":
        return _("Clips of the speakers `{model}` was trained on.").format(model=q.model_name)
    return _("Clips of {speaker}, whom `{model}` never heard.").format(speaker=q.speaker, model=q.model_name)


def quiz_view(code: str, token: str) -> None:
    """The code, the live results and the lecturer's buttons."""
    try:
        q = quiz.results(code, token=token).quiz
    except SERError as err:
        errors.show_error(err)
        st.button(_("Start another quiz"), key=state.KEY_QUIZ_NEW, on_click=_forget)
        return
    st.markdown(_("Students open **Class quiz**, tab **Student**, and type this code:"))
    big_code(code)
    st.caption(
        (_("{mode} Open: answers come in.") if q.is_open else _("{mode} Closed.")).format(mode=_mode_line(q))
    )
    with st.expander(_("Lecturer key (to reopen this quiz after a reload)")):
        st.code(token, language=None)
    (live_results if q.is_open else still_results)(code, token)
    c = st.columns(3)
    if q.is_open:
        c[0].button(
            _("Close the quiz"),
            key=state.KEY_QUIZ_CLOSE,
            on_click=_close,
            args=(code, token),
            icon=":material/lock:",
            help=_("Students can no longer answer; the results stay."),
        )
    with c[1].popover(_("Delete the quiz…"), icon=":material/delete:"):
        st.markdown(_("Delete quiz {code} with all its answers? This cannot be undone.").format(code=code))
        st.button(
            _("Delete for good"),
            type="primary",
            key=state.KEY_QUIZ_DELETE,
            on_click=_delete,
            args=(code, token),
        )
    c[2].button(
        _("Start another quiz"),
        key=state.KEY_QUIZ_NEW,
        on_click=_forget,
        help=_("This quiz stays; reopen it with its code and lecturer key."),
    )


def lecturer_tab() -> None:
    """Create a quiz (or reopen one); then its live view."""
    show_status()
    mine = st.session_state.get(state.KEY_QUIZ_LECTURER)
    if mine is None:
        create_form()
        reopen_form()
    else:
        quiz_view(mine["code"], mine["token"])
