"""The lecturer's view of a quiz: the class against the model on the same clips."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from ..config import EMOTION_TO_INDEX, EMOTIONS
from .store import Quiz, _lecturer, _session, normalise_code


def _confusion(truth: Sequence[str], guess: Sequence[str]) -> np.ndarray:
    cm = np.zeros((len(EMOTIONS), len(EMOTIONS)), dtype=int)
    np.add.at(cm, ([EMOTION_TO_INDEX[t] for t in truth], [EMOTION_TO_INDEX[g] for g in guess]), 1)
    return cm


@dataclass(frozen=True)
class QuizResults:
    """The lecturer's view of a quiz.

    Attributes
    ----------
    quiz : Quiz
    clips : pandas.DataFrame
        One row per clip, in quiz order: ``clip`` (index), ``file_id``, ``emotion``,
        ``speaker``, ``predicted`` (the model's answer), ``model_correct``, ``answers``
        (how many), ``class_correct`` (share of right answers; NaN without answers),
        ``agree`` (share of answers equal to the model's; NaN without answers),
        ``top_answer`` (the class's most frequent answer; None without answers).
    answers : pandas.DataFrame
        One row per answer, oldest first: ``time`` (Unix), ``clip``, ``student``,
        ``nickname``, ``answer``, ``emotion`` (the truth), ``correct``, ``predicted``.
    class_confusion : np.ndarray, shape (6, 6)
        Answers: rows the true emotion, columns the class's answer.
    model_confusion : np.ndarray, shape (6, 6)
        Clips: rows the true emotion, columns the model's answer.
    """

    quiz: Quiz
    clips: pd.DataFrame
    answers: pd.DataFrame
    class_confusion: np.ndarray
    model_confusion: np.ndarray

    @property
    def n_answers(self) -> int:
        return len(self.answers)

    @property
    def n_students(self) -> int:
        return int(self.answers["student"].nunique())

    @property
    def class_accuracy(self) -> float | None:
        """Share of right answers (None before the first answer)."""
        return float(self.answers["correct"].mean()) if len(self.answers) else None

    @property
    def model_accuracy(self) -> float:
        """The model's accuracy on every clip of the quiz."""
        return float(self.clips["model_correct"].mean())

    @property
    def model_accuracy_answered(self) -> float | None:
        """The model on the same answers: each answer counts the model's right or wrong
        on its clip, so the two numbers weigh the clips alike (None before an answer)."""
        if not len(self.answers):
            return None
        return float(self.answers["clip"].map(self.clips.set_index("clip")["model_correct"]).mean())

    @property
    def students(self) -> pd.DataFrame:
        """One row per student: ``student``, ``nickname``, ``answered``, ``correct``,
        ``accuracy``, ``model_accuracy`` (the model on the clips that student answered)."""
        a = self.answers.assign(model=self.answers["clip"].map(self.clips.set_index("clip")["model_correct"]))
        g = a.groupby("student", sort=False)
        out = pd.DataFrame(
            {
                "nickname": g["nickname"].last(),
                "answered": g.size(),
                "correct": g["correct"].sum().astype(int),
                "accuracy": g["correct"].mean(),
                "model_accuracy": g["model"].mean(),
            }
        )
        return out.reset_index()

    def disagreements(self, k: int = 5) -> pd.DataFrame:
        """The ``k`` answered clips where the class agrees least with the model (most
        answers first among equals): rows of :attr:`clips`."""
        answered = self.clips[self.clips["answers"] > 0]
        return answered.sort_values(["agree", "answers"], ascending=[True, False], kind="stable").head(k)

    def to_csv(self) -> str:
        """Every answer with its clip, the truth and the model's answer (CSV, English headers)."""
        a = self.answers.copy()
        a.insert(0, "quiz", self.quiz.code)
        a["time"] = [datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds") for t in a["time"]]
        files = self.clips.set_index("clip")
        a["file_id"] = a["clip"].map(files["file_id"])
        a["speaker"] = a["clip"].map(files["speaker"])
        a["model_correct"] = a["clip"].map(files["model_correct"])
        cols = ["quiz", "time", "clip", "file_id", "speaker", "student", "nickname", "answer", "emotion"]
        return a[[*cols, "correct", "predicted", "model_correct"]].to_csv(index=False)


def results(code: str, *, token: str, directory: str | os.PathLike | None = None) -> QuizResults:
    """The lecturer's view of quiz ``code``: class against model on the same clips.

    Raises
    ------
    QuizError
        No such quiz, or a wrong lecturer key.
    """
    code = normalise_code(code)
    with _session(directory) as con:
        quiz = _lecturer(con, code, token)
        clips = pd.read_sql_query(
            "SELECT idx AS clip, file_id, emotion, speaker, predicted FROM quiz_clips WHERE code = ? "
            "ORDER BY idx",
            con,
            params=(code,),
        )
        answers = pd.read_sql_query(
            "SELECT created AS time, idx AS clip, student, nickname, emotion AS answer FROM quiz_answers "
            "WHERE code = ? ORDER BY id",
            con,
            params=(code,),
        )
    clips["model_correct"] = clips["predicted"] == clips["emotion"]
    by_clip = clips.set_index("clip")
    answers["emotion"] = answers["clip"].map(by_clip["emotion"])
    answers["predicted"] = answers["clip"].map(by_clip["predicted"])
    answers["correct"] = answers["answer"] == answers["emotion"]
    g = answers.assign(agree=answers["answer"] == answers["predicted"]).groupby("clip")
    clips["answers"] = clips["clip"].map(g.size()).fillna(0).astype(int)
    clips["class_correct"] = clips["clip"].map(g["correct"].mean())
    clips["agree"] = clips["clip"].map(g["agree"].mean())
    top = g["answer"].agg(lambda s: s.value_counts().index[0]) if len(answers) else pd.Series(dtype=object)
    clips["top_answer"] = clips["clip"].map(top)
    return QuizResults(
        quiz,
        clips,
        answers,
        _confusion(answers["emotion"], answers["answer"]),
        _confusion(clips["emotion"], clips["predicted"]),
    )
