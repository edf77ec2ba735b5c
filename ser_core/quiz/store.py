"""The quiz tables in the app's SQLite database: codes, quizzes, students' answers, closing
and deleting (WAL mode, a 30-s busy timeout, one atomic statement per answer)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import data
from ..audio import load_audio
from ..config import EMOTIONS, SAMPLE_RATE
from ..errors import QuizClosedError, QuizError
from ..feedback import connect, default_data_dir
from ..i18n import N_

#: Version of the quiz tables (``meta`` key ``quiz_schema``).
SCHEMA_VERSION = 1
#: The app's database file in the data folder (shared with :mod:`ser_core.feedback`).
DB_NAME = "feedback.sqlite3"
MODES = ("heard", "new_voice")
#: What each mode means, for people (translate on display).
MODE_TITLES = {
    "heard": N_("Clips of speakers the model heard"),
    "new_voice": N_("Clips of a speaker the model never heard"),
}
#: Letters of a quiz code: no I, L or O (read as 1 or 0).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 6
MIN_CLIPS, MAX_CLIPS = 3, 60
NICKNAME_MAX = 30
_STUDENT_MAX = 64
_CODE = re.compile(f"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS quizzes (
    code TEXT PRIMARY KEY,
    created REAL NOT NULL,
    mode TEXT NOT NULL,
    model TEXT NOT NULL,
    speaker TEXT,
    seed INTEGER NOT NULL,
    n_clips INTEGER NOT NULL,
    token_hash TEXT NOT NULL,
    closed REAL
);
CREATE TABLE IF NOT EXISTS quiz_clips (
    code TEXT NOT NULL,
    idx INTEGER NOT NULL,
    file_id TEXT NOT NULL,
    emotion TEXT NOT NULL,
    speaker TEXT NOT NULL,
    predicted TEXT NOT NULL,
    probabilities TEXT NOT NULL,
    PRIMARY KEY (code, idx)
);
CREATE TABLE IF NOT EXISTS quiz_answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL,
    idx INTEGER NOT NULL,
    student TEXT NOT NULL,
    nickname TEXT,
    emotion TEXT NOT NULL,
    created REAL NOT NULL,
    UNIQUE (code, idx, student)
);
CREATE INDEX IF NOT EXISTS quiz_answers_code ON quiz_answers (code, id);
"""


# ------------------------------------------------------------------ the database
#: Databases whose quiz tables this process has made or checked (an answer then costs one
#: statement, not a schema check that takes the write lock too).
_READY: set[Path] = set()


def _db(directory: str | os.PathLike | None) -> Path:
    """The database file of ``directory`` (default :func:`default_data_dir`), its quiz
    tables created when missing."""
    d = Path(directory or default_data_dir())
    db = d / DB_NAME
    if db in _READY and db.exists():
        return db
    try:
        d.mkdir(parents=True, exist_ok=True)
        with connect(db) as con:
            con.executescript(_SCHEMA)
            con.execute("INSERT OR IGNORE INTO meta VALUES ('quiz_schema', ?)", (str(SCHEMA_VERSION),))
            version = int(con.execute("SELECT value FROM meta WHERE key = 'quiz_schema'").fetchone()[0])
    except (OSError, sqlite3.Error) as exc:
        raise QuizError(
            N_("Cannot open the quiz database {db}: {reason}"), db=str(db), reason=str(exc)
        ) from exc
    if version > SCHEMA_VERSION:
        raise QuizError(
            N_("The quiz tables of {db} were made by a newer version of the app (schema {version})."),
            db=str(db),
            version=version,
        )
    _READY.add(db)
    return db


@contextlib.contextmanager
def _session(directory: str | os.PathLike | None) -> Iterator[sqlite3.Connection]:
    """:func:`~ser_core.feedback.connect` to the database of ``directory``; SQLite errors become a QuizError."""
    db = _db(directory)
    try:
        with connect(db) as con:
            yield con
    except sqlite3.Error as exc:
        raise QuizError(N_("The quiz database {db} failed: {reason}"), db=str(db), reason=str(exc)) from exc


# ------------------------------------------------------------------ codes, names, keys
def normalise_code(code: str) -> str:
    """A quiz code as typed (any case, spaces or dashes) in its stored form.

    Raises
    ------
    QuizError
        Not six letters of :data:`CODE_ALPHABET`.
    """
    norm = re.sub(r"[\s-]", "", str(code or "")).upper()
    if not _CODE.match(norm):
        raise QuizError(
            N_("{code!r} is not a quiz code: a code is {n} letters, e.g. KWPDTR."), code=code, n=CODE_LENGTH
        )
    return norm


def check_nickname(nickname: str | None) -> str | None:
    """A student's nickname, spaces collapsed and cut to :data:`NICKNAME_MAX` characters
    (control characters dropped); None for none."""
    if nickname is None:
        return None
    text = "".join(ch for ch in " ".join(str(nickname).split()) if ch.isprintable())
    return text[:NICKNAME_MAX] or None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for __ in range(CODE_LENGTH))


@dataclass(frozen=True)
class Quiz:
    """What a lecturer knows of a quiz (never its key).

    Attributes
    ----------
    code : str
    mode : str
        One of :data:`MODES`.
    model_name : str
    speaker : str or None
        ``new_voice``: the speaker the model never heard.
    n_clips, seed : int
    created : float
        Unix time.
    closed : float or None
        When it was closed (None while open).
    """

    code: str
    mode: str
    model_name: str
    speaker: str | None
    n_clips: int
    seed: int
    created: float
    closed: float | None = None

    @property
    def is_open(self) -> bool:
        return self.closed is None


def store_quiz(
    clips: pd.DataFrame,
    probabilities: np.ndarray,
    *,
    mode: str,
    model_name: str,
    seed: int,
    speaker: str | None = None,
    directory: str | os.PathLike | None = None,
) -> tuple[Quiz, str]:
    """Store a quiz whose clips are drawn and predicted, under a new code.

    Parameters
    ----------
    clips : pandas.DataFrame
        ``file_id``, ``emotion``, ``speaker`` of each clip, in quiz order.
    probabilities : np.ndarray, shape (len(clips), 6)
        The model's probabilities on each clip.

    Returns
    -------
    quiz : Quiz
    token : str
        The lecturer's key (only its hash is stored).
    """
    probs = np.asarray(probabilities, dtype=float)
    if probs.shape != (len(clips), len(EMOTIONS)):
        raise QuizError(
            N_("{n} clips need probabilities of shape ({n}, 6), not {shape}."),
            n=len(clips),
            shape=probs.shape,
        )
    if mode not in MODES:
        raise QuizError(N_("Unknown quiz mode {mode!r}; choose one of {modes}."), mode=mode, modes=MODES)
    token = secrets.token_urlsafe(16)
    now = time.time()
    rows = [
        (i, r.file_id, r.emotion, r.speaker, EMOTIONS[int(np.argmax(p))], json.dumps(dict(zip(EMOTIONS, p))))
        for i, (r, p) in enumerate(zip(clips.itertuples(index=False), probs.tolist()))
    ]
    with _session(directory) as con:
        for __ in range(20):
            code = _new_code()
            try:
                con.execute("BEGIN IMMEDIATE")
                con.execute(
                    "INSERT INTO quizzes (code, created, mode, model, speaker, seed, n_clips, token_hash) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (code, now, mode, model_name, speaker, int(seed), len(rows), _hash(token)),
                )
            except sqlite3.IntegrityError:  # the code is taken: draw another
                con.execute("ROLLBACK")
                continue
            con.executemany(
                "INSERT INTO quiz_clips (code, idx, file_id, emotion, speaker, predicted, probabilities) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(code, *r) for r in rows],
            )
            con.execute("COMMIT")
            return Quiz(code, mode, model_name, speaker, len(rows), int(seed), now), token
    raise QuizError(N_("Could not find a free quiz code; delete old quizzes."))


# ------------------------------------------------------------------ students
@dataclass(frozen=True)
class StudentView:
    """What a student may see of a quiz: never a clip's emotion, name or the model's answer.

    Attributes
    ----------
    code : str
    mode : str
    n_clips : int
    closed : bool
    answered : dict of int -> str
        This student's own answers, by clip index.
    """

    code: str
    mode: str
    n_clips: int
    closed: bool
    answered: dict[int, str] = field(default_factory=dict)

    @property
    def next_clip(self) -> int | None:
        """The first clip this student has not answered (None: all answered)."""
        return next((i for i in range(self.n_clips) if i not in self.answered), None)


def _quiz_row(con: sqlite3.Connection, code: str) -> tuple:
    row = con.execute(
        "SELECT code, mode, model, speaker, n_clips, seed, created, closed, token_hash FROM quizzes "
        "WHERE code = ?",
        (code,),
    ).fetchone()
    if row is None:
        raise QuizError(N_("No quiz has the code {code}; check the code on the board."), code=code)
    return row


def join(
    code: str, *, student_id: str | None = None, directory: str | os.PathLike | None = None
) -> StudentView:
    """A student's view of the quiz ``code`` (with that student's own answers).

    Raises
    ------
    QuizError
        No such quiz.
    """
    code = normalise_code(code)
    with _session(directory) as con:
        row = _quiz_row(con, code)
        mine = con.execute(
            "SELECT idx, emotion FROM quiz_answers WHERE code = ? AND student = ?", (code, student_id or "")
        ).fetchall()
    return StudentView(code, row[1], int(row[4]), row[7] is not None, {int(i): e for i, e in mine})


def answer(
    code: str,
    clip_index: int,
    emotion: str,
    *,
    student_id: str,
    nickname: str | None = None,
    directory: str | os.PathLike | None = None,
) -> bool:
    """Store a student's answer to one clip (one statement: safe with many at once).

    Returns
    -------
    bool
        True when stored; False when this student had already answered the clip (the
        first answer stays).

    Raises
    ------
    QuizClosedError
        The quiz is closed.
    QuizError
        No such quiz or clip, an unknown emotion, no student id.
    """
    code = normalise_code(code)
    if emotion not in EMOTIONS:
        raise QuizError(
            N_("Unknown emotion {emotion!r}; choose one of {emotions}."), emotion=emotion, emotions=EMOTIONS
        )
    student = str(student_id or "").strip()[:_STUDENT_MAX]
    if not student:
        raise QuizError(N_("An answer needs a student id."))
    with _session(directory) as con:
        cur = con.execute(
            "INSERT INTO quiz_answers (code, idx, student, nickname, emotion, created) "
            "SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM quizzes q JOIN quiz_clips c "
            "ON c.code = q.code WHERE q.code = ? AND q.closed IS NULL AND c.idx = ?) "
            "ON CONFLICT (code, idx, student) DO NOTHING",
            (
                code,
                int(clip_index),
                student,
                check_nickname(nickname),
                emotion,
                time.time(),
                code,
                int(clip_index),
            ),
        )
        if cur.rowcount == 1:
            return True
        row = _quiz_row(con, code)
        if row[7] is not None:
            raise QuizClosedError(N_("Quiz {code} is closed: it takes no more answers."), code=code)
        if not 0 <= int(clip_index) < int(row[4]):
            raise QuizError(
                N_("Quiz {code} has no clip {index}; it has {n}."), code=code, index=clip_index, n=row[4]
            )
    return False


def clip_audio(
    code: str,
    clip_index: int,
    *,
    corpus: str | os.PathLike | None = None,
    directory: str | os.PathLike | None = None,
) -> np.ndarray:
    """The waveform of a quiz clip (16 kHz mono), without telling its name.

    Returns
    -------
    np.ndarray, float32, shape (n,)
    """
    code = normalise_code(code)
    with _session(directory) as con:
        row = con.execute(
            "SELECT file_id FROM quiz_clips WHERE code = ? AND idx = ?", (code, int(clip_index))
        ).fetchone()
        if row is None:
            _quiz_row(con, code)  # no such quiz: says so
            raise QuizError(N_("Quiz {code} has no clip {index}."), code=code, index=clip_index)
    return load_audio(data.clip_path(data.find_corpus(corpus), row[0]), sr=SAMPLE_RATE)


# ------------------------------------------------------------------ the lecturer
def _lecturer(con: sqlite3.Connection, code: str, token: str) -> Quiz:
    row = _quiz_row(con, code)
    if not hmac.compare_digest(row[8], _hash(str(token or ""))):
        raise QuizError(N_("Wrong lecturer key for quiz {code}."), code=code)
    return Quiz(row[0], row[1], row[2], row[3], int(row[4]), int(row[5]), float(row[6]), row[7])


def close(code: str, *, token: str, directory: str | os.PathLike | None = None) -> None:
    """Close a quiz: it takes no more answers (closing it again changes nothing)."""
    code = normalise_code(code)
    with _session(directory) as con:
        _lecturer(con, code, token)
        con.execute("UPDATE quizzes SET closed = ? WHERE code = ? AND closed IS NULL", (time.time(), code))


def delete(code: str, *, token: str, directory: str | os.PathLike | None = None) -> int:
    """Delete a quiz with its clips and answers.

    Returns
    -------
    int
        How many answers were deleted.
    """
    code = normalise_code(code)
    with _session(directory) as con:
        _lecturer(con, code, token)
        con.execute("BEGIN IMMEDIATE")
        n = con.execute("DELETE FROM quiz_answers WHERE code = ?", (code,)).rowcount
        con.execute("DELETE FROM quiz_clips WHERE code = ?", (code,))
        con.execute("DELETE FROM quizzes WHERE code = ?", (code,))
        con.execute("COMMIT")
    return int(n)
