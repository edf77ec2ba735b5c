"""The class quiz page (pages/6_quiz.py) with AppTest: one lecturer, students, one database.

Each person is an AppTest of their own (their own session) on the same database folder;
the clips come from the real corpus (skipped without it) and the model is the tiny one of
``tests/tiny_model.py`` (``tests/quiz_fixtures.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ser_core import quiz
from ser_core.config import EMOTIONS
from ser_core.i18n import language
from tests.pages.english import english_left, page_texts
from tests.quiz_fixtures import FOLD, ship_quiz_models
from tests.tiny_model import TINY
from ui import state

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "6_quiz.py")


@pytest.fixture(scope="module")
def quiz_artifacts(tmp_path_factory, nemo_dir) -> Path:
    return ship_quiz_models(tmp_path_factory.mktemp("quiz_page"))


@pytest.fixture
def env(quiz_artifacts, nemo_dir, tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SER_ARTIFACTS", str(quiz_artifacts))
    monkeypatch.setenv("NEMO_DIR", str(nemo_dir))
    monkeypatch.setenv("SER_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def person(lang: str | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    if lang:
        at.session_state[state.KEY_LANG] = lang
    return ok(at.run())


def create(lecturer: AppTest, *, n: int = 6, mode: str = "heard") -> tuple[str, str]:
    lecturer.number_input(key=state.KEY_QUIZ_N).set_value(n)
    ok(lecturer.radio(key=state.KEY_QUIZ_MODE).set_value(mode).run())
    ok(lecturer.button(key=state.KEY_QUIZ_CREATE).click().run())
    mine = lecturer.session_state[state.KEY_QUIZ_LECTURER]
    return mine["code"], mine["token"]


def join(student: AppTest, code: str, nickname: str = "") -> AppTest:
    student.text_input(key=state.KEY_QUIZ_CODE).set_value(code.lower())
    student.text_input(key=state.KEY_QUIZ_NICK).set_value(nickname)
    return ok(student.button(key=state.KEY_QUIZ_JOIN).click().run())


def answer(student: AppTest, emotion: str) -> AppTest:
    assert student.button(key=state.KEY_QUIZ_ANSWER).disabled  # nothing picked yet
    ok(student.radio(key=state.KEY_QUIZ_PICK).set_value(emotion).run())
    return ok(student.button(key=state.KEY_QUIZ_ANSWER).click().run())


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_lecturer_creates_students_answer_lecturer_sees_them(env):
    lecturer = person()
    assert lecturer.selectbox(key=state.KEY_QUIZ_MODEL).value == TINY
    code, token = create(lecturer)
    assert any(code in str(m.value) for m in lecturer.markdown)  # the code, big
    assert metric(lecturer, "Answers") == "0"

    ala, bob = person(), person()
    join(ala, code, "Ala")
    assert ala.subheader[0].value == f"Quiz {code} · Ala"
    assert len(ala.get("audio")) == 1 and ala.radio(key=state.KEY_QUIZ_PICK).options == [
        "anger", "fear", "happiness", "neutral", "sadness", "surprised"
    ]  # fmt: skip
    for e in EMOTIONS[:3]:
        answer(ala, e)
    assert "Clip 4 of 6" in str(ala.get("progress")[0].proto.text)
    join(bob, code)
    answer(bob, "anger")

    ok(lecturer.run())
    assert metric(lecturer, "Students") == "2" and metric(lecturer, "Answers") == "4"
    assert len(lecturer.get("plotly_chart")) == 2
    assert lecturer.get("audio")  # the disagreement clips are playable
    assert len(lecturer.dataframe[0].value) == 4

    # the student's tab never shows a clip's name, its emotion or the model's answer
    res = quiz.results(code, token=token)
    tab = ala.tabs[0]
    seen = " ".join(page_texts(tab))
    assert "Which emotion do you hear?" in seen and "Clip 4 of 6" not in seen
    assert not any(f in seen for f in res.clips["file_id"]) and TINY not in seen
    assert not tab.get("plotly_chart") and not tab.get("arrow_data_frame") and not tab.get("metric")
    assert state.KEY_QUIZ_LECTURER not in ala.session_state
    assert not ala.get("plotly_chart") and not ala.dataframe  # nor anywhere else on the page

    # closed: the student is told, the lecturer keeps the results
    ok(lecturer.button(key=state.KEY_QUIZ_CLOSE).click().run())
    assert any("is closed" in s.value for s in lecturer.success)
    ok(ala.run())
    assert any("closed this quiz" in i.value for i in ala.info)
    assert not [b for b in ala.button if b.key == state.KEY_QUIZ_ANSWER]

    # delete (inside its confirmation popover): the quiz and its answers are gone
    ok(lecturer.button(key=state.KEY_QUIZ_DELETE).click().run())
    assert state.KEY_QUIZ_LECTURER not in lecturer.session_state
    assert any("deleted with its 4 answers" in s.value for s in lecturer.success)
    ok(ala.run())
    assert any("No quiz has the code" in e.value for e in ala.error)


def test_every_choice_widget_is_kept(env):
    """As tests/ui/test_state.py checks the other pages: each choice widget of both tabs has
    a key of ``state.CHOICES`` (kept across page switches), no button has one."""
    from tests.ui.test_state import CHOICE_KINDS

    lecturer = person()
    code, __ = create(lecturer, n=3)
    student = join(person(), code)
    new_voice = person()
    ok(new_voice.radio(key=state.KEY_QUIZ_MODE).set_value("new_voice").run())
    for at in (person(), new_voice, lecturer, student):
        for kind in CHOICE_KINDS:
            for widget in at.get(kind):
                assert widget.key in state.CHOICES, (kind, widget.key)
        assert not {b.key for b in at.button} & state.CHOICES


def test_a_student_finishes_the_quiz(env):
    lecturer = person()
    code, __ = create(lecturer, n=3)
    student = join(person(), code)
    for e in ("sadness", "fear", "neutral"):
        answer(student, e)
    assert "You answered all 3 clips" in student.success[0].value
    ok(student.button(key=state.KEY_QUIZ_LEAVE).click().run())
    assert student.text_input(key=state.KEY_QUIZ_CODE)  # back at the join form


def test_a_new_voice_quiz_and_a_wrong_code(env):
    lecturer = person()
    ok(lecturer.radio(key=state.KEY_QUIZ_MODE).set_value("new_voice").run())
    assert lecturer.selectbox(key=state.KEY_QUIZ_SPEAKER).value == "EB0"
    assert any(FOLD in c.value and "never heard" in c.value for c in lecturer.caption)
    code, token = create(lecturer, mode="new_voice")
    assert quiz.results(code, token=token).quiz.speaker == "EB0"
    student = join(person(), "ABCDEF")
    assert any("No quiz has the code ABCDEF" in e.value for e in student.error)
    # the lecturer reopens the quiz in a new session with its code and key
    again = person()
    again.text_input(key=state.KEY_QUIZ_OPEN_CODE).set_value(code)
    again.text_input(key=state.KEY_QUIZ_OPEN_KEY).set_value(token)
    ok(again.button(key=state.KEY_QUIZ_OPEN).click().run())
    assert again.session_state[state.KEY_QUIZ_LECTURER]["code"] == code


def test_in_polish(env):
    # AppTest calls a widget's format_func in the test's thread: Polish there too
    with language("pl"):
        lecturer = person("pl")
        assert english_left(lecturer) == []
        code, __ = create(lecturer)
        student = join(person("pl"), code, "Zosia")
        assert english_left(student) == []
        assert student.radio(key=state.KEY_QUIZ_PICK).label == "Jaką emocję słychać?"
        assert "złość" in student.radio(key=state.KEY_QUIZ_PICK).options
        answer(student, "anger")
        assert english_left(student) == []
        ok(lecturer.run())
        assert english_left(lecturer) == []
        assert any(m.label == "Studenci" for m in lecturer.metric)
        assert lecturer.title[0].value == "Kto lepiej rozpoznaje emocje: ludzie czy model?"
