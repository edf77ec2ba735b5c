"""The class listening quiz (:mod:`ser_core.quiz`): drawing, storing, answering, results.

Quizzes on the real corpus use the tiny models of ``tests/tiny_model.py`` (shipped again
as a LOSO fold model in ``tests/quiz_fixtures.py``) and skip, saying so, without the
corpus; the database tests store hand-made quizzes and need neither.
"""

from __future__ import annotations

import dataclasses
import io
import multiprocessing
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ser_core import data, quiz
from ser_core.config import EMOTIONS
from ser_core.errors import QuizClosedError, QuizError, SERError
from tests.quiz_fixtures import FOLD, handmade_quiz, ship_quiz_models
from tests.tiny_model import TINY

STUDENTS = 30


# ------------------------------------------------------------------ drawing
def test_draw_is_balanced_by_emotion_from_the_seed_test_clips(meta):
    test = data.split_indices(meta, "seed").test
    drawn = quiz.draw_clips(meta, test, n_clips=12, seed=7)
    assert drawn["emotion"].value_counts().to_dict() == dict.fromkeys(EMOTIONS, 2)
    assert set(drawn["file_id"]) <= set(meta["file_id"].iloc[test])
    assert drawn["file_id"].is_unique and list(drawn.index) == list(range(12))
    odd = quiz.draw_clips(meta, test, n_clips=15, seed=7)["emotion"].value_counts()
    assert odd.sum() == 15 and set(odd) == {2, 3} and len(odd) == 6
    # the same seed: the same clips in the same order; another seed: others
    again = quiz.draw_clips(meta, test, n_clips=12, seed=7)
    assert list(again["file_id"]) == list(drawn["file_id"])
    assert list(quiz.draw_clips(meta, test, n_clips=12, seed=8)["file_id"]) != list(drawn["file_id"])
    eb0 = quiz.draw_clips(meta, test, n_clips=18, seed=1, speaker="EB0")
    assert set(eb0["speaker"]) == {"EB0"} and set(eb0["emotion"].value_counts()) == {3}


def test_draw_refuses_more_clips_than_an_emotion_has(meta):
    test = data.split_indices(meta, "seed").test
    with pytest.raises(QuizError, match="ask for fewer clips"):
        quiz.draw_clips(meta, test[:40], n_clips=60, seed=0)


# ------------------------------------------------------------------ quizzes on the corpus
@pytest.fixture(scope="module")
def quiz_artifacts(tmp_path_factory, nemo_dir) -> Path:
    return ship_quiz_models(tmp_path_factory.mktemp("quiz"))


@pytest.fixture
def env(quiz_artifacts, nemo_dir, tmp_path, monkeypatch) -> Path:
    """Tiny models and the saved splits in ``$SER_ARTIFACTS``, the real corpus, a fresh
    database folder (returned)."""
    monkeypatch.setenv("SER_ARTIFACTS", str(quiz_artifacts))
    monkeypatch.setenv("NEMO_DIR", str(nemo_dir))
    monkeypatch.setenv("SER_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_models_for_each_mode(env, quiz_artifacts):
    assert quiz.heard_models() == [TINY]
    found = quiz.fold_models()
    assert list(found) == ["EB0"] and found["EB0"].model_name == FOLD
    assert found["EB0"].directory == quiz_artifacts / "heldout"


def test_a_heard_quiz_stores_the_model_predictions_once(env, meta):
    made, token = quiz.create_quiz(n_clips=6, mode="heard", seed=3)
    assert made.model_name == TINY and made.speaker is None and made.n_clips == 6
    assert quiz.normalise_code(made.code) == made.code and len(token) >= 16
    res = quiz.results(made.code, token=token)
    test_ids = set(meta["file_id"].iloc[data.split_indices(meta, "seed").test])
    assert set(res.clips["file_id"]) <= test_ids
    assert res.clips["emotion"].value_counts().to_dict() == dict.fromkeys(EMOTIONS, 1)
    # the stored answers are the model's on those clips
    paths = meta.set_index("file_id").loc[res.clips["file_id"], "path"].tolist()
    fresh = quiz.predict_clips(paths, TINY)
    assert list(res.clips["predicted"]) == [EMOTIONS[i] for i in fresh.argmax(1)]
    assert res.model_accuracy == pytest.approx(np.mean(res.clips["predicted"] == res.clips["emotion"]))


def test_the_same_clips_for_everyone_with_the_code(env):
    made, token = quiz.create_quiz(n_clips=6, mode="heard", seed=11)
    a = [quiz.clip_audio(made.code, i) for i in range(6)]
    b = [quiz.clip_audio(made.code.lower(), i) for i in range(6)]  # another student, typed in lower case
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert quiz.join(made.code, student_id="s1").n_clips == quiz.join(made.code, student_id="s2").n_clips == 6
    twin, twin_token = quiz.create_quiz(n_clips=6, mode="heard", seed=11)
    assert twin.code != made.code
    same = quiz.results(twin.code, token=twin_token).clips["file_id"].tolist()
    assert same == quiz.results(made.code, token=token).clips["file_id"].tolist()


def test_a_new_voice_quiz_uses_the_fold_model_that_never_heard_the_speaker(env):
    made, token = quiz.create_quiz(n_clips=6, mode="new_voice", seed=0)
    assert made.model_name == FOLD and made.speaker == "EB0"
    clips = quiz.results(made.code, token=token).clips
    assert set(clips["speaker"]) == {"EB0"} and clips["file_id"].str.startswith("EB0_").all()
    with pytest.raises(QuizError, match=r"never heard speaker KD0.*EB0 \(`tiny_mel_fold0`\)") as err:
        quiz.create_quiz(n_clips=6, mode="new_voice", speaker="KD0")
    assert err.value.params["speaker"] == "KD0"  # a template with its arguments (errors.py)


def test_no_fold_model_refuses_clearly(env, tmp_path):
    with pytest.raises(QuizError, match="LOSO fold model") as err:
        quiz.create_quiz(n_clips=6, mode="new_voice", heldout_directories=[tmp_path / "none"])
    assert "--protocol loso" in str(err.value)


def test_bad_arguments_are_refused(env):
    with pytest.raises(QuizError, match="3 to 60 clips"):
        quiz.create_quiz(n_clips=2, mode="heard")
    with pytest.raises(QuizError, match="Unknown quiz mode"):
        quiz.create_quiz(n_clips=6, mode="guess")


# ------------------------------------------------------------------ the database alone
def test_codes_and_nicknames():
    assert quiz.normalise_code(" kwp-dtr ") == "KWPDTR"
    for bad in ("KWPDT", "KWPDT0", "KWPDTI", "", None):
        with pytest.raises(QuizError, match="not a quiz code"):
            quiz.normalise_code(bad)
    assert quiz.check_nickname("  Ala \n ma\tkota ") == "Ala ma kota"
    assert quiz.check_nickname("x" * 99) == "x" * quiz.NICKNAME_MAX
    assert quiz.check_nickname("   ") is None and quiz.check_nickname(None) is None


def test_results_class_against_model(tmp_path):
    made, token = handmade_quiz(tmp_path)
    # student a: all right; student b: right on 0..2, wrong on 3..5 (says anger on the last clip,
    # as the model does)
    for i, e in enumerate(EMOTIONS):
        assert quiz.answer(made.code, i, e, student_id="a", nickname="Ala", directory=tmp_path)
    for i, e in enumerate(["anger", "fear", "happiness", "sadness", "neutral", "anger"]):
        quiz.answer(made.code, i, e, student_id="b", directory=tmp_path)
    # a second answer to the same clip is not stored; the first stays
    assert not quiz.answer(made.code, 0, "fear", student_id="a", directory=tmp_path)
    res = quiz.results(made.code, token=token, directory=tmp_path)
    assert res.n_answers == 12 and res.n_students == 2
    assert res.class_accuracy == pytest.approx(9 / 12)
    assert res.model_accuracy == pytest.approx(5 / 6) == res.model_accuracy_answered
    assert res.class_confusion.sum() == 12 and np.trace(res.class_confusion) == 9
    assert res.class_confusion[EMOTIONS.index("surprised"), EMOTIONS.index("anger")] == 1
    assert res.model_confusion.sum() == 6 and np.trace(res.model_confusion) == 5
    # most disagreement with the model: clips 3 and 4 (b disagrees) and 5 (a disagrees), not 0..2
    assert set(res.disagreements(3)["clip"]) == {3, 4, 5}
    assert res.clips.loc[5, "class_correct"] == 0.5 and res.clips.loc[5, "agree"] == 0.5
    students = res.students.set_index("student")
    assert students.loc["a", "nickname"] == "Ala" and students.loc["a", "correct"] == 6
    assert students.loc["b", "accuracy"] == 0.5
    csv = pd.read_csv(io.StringIO(res.to_csv()))
    assert len(csv) == 12 and set(csv["quiz"]) == {made.code}
    assert {"file_id", "answer", "emotion", "correct", "predicted", "model_correct"} <= set(csv.columns)


def test_results_before_any_answer(tmp_path):
    made, token = handmade_quiz(tmp_path)
    res = quiz.results(made.code, token=token, directory=tmp_path)
    assert res.n_answers == 0 and res.class_accuracy is None and res.model_accuracy_answered is None
    assert res.disagreements().empty and res.class_confusion.sum() == 0
    assert len(pd.read_csv(io.StringIO(res.to_csv()))) == 0


def test_the_student_view_holds_no_answer_key(tmp_path):
    made, __ = handmade_quiz(tmp_path)
    quiz.answer(made.code, 2, "sadness", student_id="me", directory=tmp_path)
    quiz.answer(made.code, 3, "anger", student_id="other", directory=tmp_path)
    view = quiz.join(made.code, student_id="me", directory=tmp_path)
    assert {f.name for f in dataclasses.fields(view)} == {"code", "mode", "n_clips", "closed", "answered"}
    assert view.answered == {2: "sadness"} and view.next_clip == 0  # only this student's own answer
    text = repr(view)
    assert "EB0" not in text and "handmade" not in text and "happiness" not in text and "anger" not in text
    # without the lecturer's key, no results
    with pytest.raises(QuizError, match="Wrong lecturer key"):
        quiz.results(made.code, token="guess", directory=tmp_path)
    # the audio of a clip comes without its name
    assert "clip_audio" in quiz.__all__ and not hasattr(view, "file_ids")


def test_a_closed_quiz_takes_no_more_answers(tmp_path):
    made, token = handmade_quiz(tmp_path)
    assert quiz.answer(made.code, 0, "anger", student_id="a", directory=tmp_path)
    with pytest.raises(QuizError, match="Wrong lecturer key"):
        quiz.close(made.code, token="nope", directory=tmp_path)
    quiz.close(made.code, token=token, directory=tmp_path)
    quiz.close(made.code, token=token, directory=tmp_path)  # twice: nothing changes
    with pytest.raises(QuizClosedError, match=f"Quiz {made.code} is closed") as err:
        quiz.answer(made.code, 1, "fear", student_id="a", directory=tmp_path)
    assert isinstance(err.value, SERError) and err.value.params == {"code": made.code}
    assert quiz.join(made.code, directory=tmp_path).closed
    res = quiz.results(made.code, token=token, directory=tmp_path)
    assert res.n_answers == 1 and not res.quiz.is_open


def test_unknown_quiz_and_clip(tmp_path):
    made, __ = handmade_quiz(tmp_path)
    with pytest.raises(QuizError, match="No quiz has the code ABCDEF"):
        quiz.join("abcdef", directory=tmp_path)
    with pytest.raises(QuizError, match="has no clip 6"):
        quiz.answer(made.code, 6, "fear", student_id="a", directory=tmp_path)
    with pytest.raises(QuizError, match="Unknown emotion"):
        quiz.answer(made.code, 0, "joy", student_id="a", directory=tmp_path)
    with pytest.raises(QuizError, match="student id"):
        quiz.answer(made.code, 0, "fear", student_id=" ", directory=tmp_path)


def test_delete_removes_the_quiz_with_its_answers(tmp_path):
    made, token = handmade_quiz(tmp_path)
    other, __ = handmade_quiz(tmp_path)
    for student in ("a", "b", "c"):
        quiz.answer(made.code, 0, "anger", student_id=student, directory=tmp_path)
    quiz.answer(other.code, 0, "anger", student_id="a", directory=tmp_path)
    with pytest.raises(QuizError, match="Wrong lecturer key"):
        quiz.delete(made.code, token="nope", directory=tmp_path)
    assert quiz.delete(made.code, token=token, directory=tmp_path) == 3
    with sqlite3.connect(tmp_path / quiz.DB_NAME) as con:
        for table in ("quizzes", "quiz_clips", "quiz_answers"):
            assert con.execute(f"SELECT COUNT(*) FROM {table} WHERE code = ?", (made.code,)).fetchone() == (
                0,
            )
        assert con.execute("SELECT COUNT(*) FROM quiz_answers WHERE code = ?", (other.code,)).fetchone() == (
            1,
        )
    with pytest.raises(QuizError, match="No quiz has the code"):
        quiz.join(made.code, directory=tmp_path)


def test_schema_version_is_stored_and_a_newer_one_refused(tmp_path):
    handmade_quiz(tmp_path)
    db = tmp_path / quiz.DB_NAME
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT value FROM meta WHERE key = 'quiz_schema'").fetchone() == ("1",)
        assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        con.execute("UPDATE meta SET value = '99' WHERE key = 'quiz_schema'")
    quiz.store._READY.discard(db)
    with pytest.raises(QuizError, match="newer version"):
        quiz.join("ABCDEF", directory=tmp_path)


def test_the_feedback_store_shares_the_database(tmp_path):
    from ser_core.feedback import Feedback, FeedbackStore

    made, token = handmade_quiz(tmp_path)
    store = FeedbackStore(tmp_path)
    store.add(Feedback("anger", "fear", "m", dict.fromkeys(EMOTIONS, 1 / 6)))
    assert store.db == tmp_path / quiz.DB_NAME and len(store.rows()) == 1
    assert quiz.results(made.code, token=token, directory=tmp_path).quiz.code == made.code


# ------------------------------------------------------------------ thirty at once
def _answer_all(code: str, student: str, directory: str, start) -> None:
    """One student: wait for the start, then answer every clip as fast as possible."""
    start.wait()
    for i, e in enumerate(EMOTIONS):
        assert quiz.answer(code, i, e, student_id=student, nickname=f"n{student}", directory=directory)


def _check_all_answers(code: str, token: str, directory: Path) -> None:
    res = quiz.results(code, token=token, directory=directory)
    assert res.n_answers == STUDENTS * len(EMOTIONS), res.n_answers
    assert res.n_students == STUDENTS and res.class_accuracy == 1.0
    assert (res.clips["answers"] == STUDENTS).all()


def test_thirty_students_in_threads_lose_no_answer(tmp_path):
    made, token = handmade_quiz(tmp_path)
    start = threading.Barrier(STUDENTS)
    errors: list[BaseException] = []

    def student(k: int) -> None:
        try:
            _answer_all(made.code, f"t{k}", str(tmp_path), start)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=student, args=(k,)) for k in range(STUDENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    _check_all_answers(made.code, token, tmp_path)


def test_thirty_students_in_processes_lose_no_answer(tmp_path):
    made, token = handmade_quiz(tmp_path)
    ctx = multiprocessing.get_context("fork")  # the children inherit the imported modules
    start = ctx.Event()
    procs = [
        ctx.Process(target=_answer_all, args=(made.code, f"p{k}", str(tmp_path), start))
        for k in range(STUDENTS)
    ]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * STUDENTS
    _check_all_answers(made.code, token, tmp_path)
