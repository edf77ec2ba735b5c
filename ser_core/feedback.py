"""User feedback and consented audio donations, kept in SQLite.

The store lives in a data folder outside the repository by default
(``$SER_DATA_DIR`` or ``~/.local/share/nemo-ser``): ``feedback.sqlite3``
(WAL mode, safe under concurrent writers) and ``donations/<uuid>.flac``.
Audio is stored **only** with explicit consent, always under a generated name,
never the uploaded file's.  ``export_nemo`` writes the donations in nEMO's
layout (``data.tsv`` + ``samples/``) so they can be folded into training.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np

from .audio import encode_flac
from .config import EMOTIONS, SAMPLE_RATE
from .errors import SERError

__all__ = ["FeedbackError", "FeedbackStore", "Feedback", "default_data_dir", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1


class FeedbackError(SERError):
    """The feedback store could not read or write (the message says why)."""


def default_data_dir() -> Path:
    """``$SER_DATA_DIR`` or ``~/.local/share/nemo-ser`` (outside the repository)."""
    env = os.environ.get("SER_DATA_DIR")
    return Path(env) if env else Path.home() / ".local" / "share" / "nemo-ser"


@dataclass(frozen=True)
class Feedback:
    """One piece of feedback.

    Attributes
    ----------
    predicted : str
        The label the model gave.
    correct : str or None
        The emotion the user says is right (None: "don't know").
    model : str
    probabilities : mapping emotion -> float
    source : str
        ``upload`` / ``recording`` / ``live``.
    """

    predicted: str
    correct: str | None
    model: str
    probabilities: Mapping[str, float]
    source: str = "upload"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    model TEXT NOT NULL,
    source TEXT NOT NULL,
    predicted TEXT NOT NULL,
    correct TEXT,
    probabilities TEXT NOT NULL,
    donation TEXT,
    duration REAL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class FeedbackStore:
    """SQLite-backed feedback store.

    Parameters
    ----------
    directory : path, optional
        Data folder (default :func:`default_data_dir`); created when missing.
    """

    def __init__(self, directory: str | os.PathLike | None = None) -> None:
        self.directory = Path(directory or default_data_dir())
        self.db = self.directory / "feedback.sqlite3"
        self.donations = self.directory / "donations"
        try:
            self.donations.mkdir(parents=True, exist_ok=True)
            with self._connect() as con:
                con.executescript(_SCHEMA)
                con.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        except (OSError, sqlite3.Error) as exc:
            raise FeedbackError(f"cannot open the feedback store in {self.directory}: {exc}") from exc

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.db, timeout=30.0, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute("PRAGMA busy_timeout=30000")
            yield con
        finally:
            con.close()

    def add(self, fb: Feedback, *, audio: np.ndarray | None = None, consent: bool = False,
            sr: int = SAMPLE_RATE) -> int:
        """Store feedback; with ``consent`` (and only then) also the audio.

        Parameters
        ----------
        fb : Feedback
        audio : np.ndarray, shape (n,), optional
            The waveform that was predicted.
        consent : bool
            The user ticked the separate "donate my recording" box.

        Returns
        -------
        int
            The new row id.

        Raises
        ------
        FeedbackError
            Invalid labels, or the write failed; nothing half-written is left.
        """
        for label in (fb.predicted, fb.correct):
            if label is not None and label not in EMOTIONS:
                raise FeedbackError(f"unknown emotion {label!r}; expected one of {EMOTIONS}")
        donation, duration, path = None, None, None
        if consent and audio is not None:
            y = np.asarray(audio, dtype=np.float32)
            if y.size == 0 or not np.isfinite(y).all():
                raise FeedbackError("the recording to donate is empty or invalid")
            donation = f"{uuid.uuid4().hex}.flac"
            duration = float(len(y) / sr)
            path = self.donations / donation
            try:
                tmp = path.with_suffix(".partial")
                tmp.write_bytes(encode_flac(y, sr=sr))
                os.replace(tmp, path)
            except OSError as exc:
                raise FeedbackError(f"could not save the donated recording in {self.donations}: {exc}") from exc
        try:
            with self._connect() as con:
                cur = con.execute(
                    "INSERT INTO feedback (created, model, source, predicted, correct, probabilities, "
                    "donation, duration) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (time.time(), fb.model, fb.source, fb.predicted, fb.correct,
                     json.dumps({k: float(v) for k, v in fb.probabilities.items()}), donation, duration),
                )
                return int(cur.lastrowid)
        except sqlite3.Error as exc:
            if path is not None:
                path.unlink(missing_ok=True)
            raise FeedbackError(f"could not store the feedback in {self.db}: {exc}") from exc

    def rows(self) -> list[dict]:
        """All feedback rows, oldest first."""
        try:
            with self._connect() as con:
                con.row_factory = sqlite3.Row
                return [dict(r) for r in con.execute("SELECT * FROM feedback ORDER BY id")]
        except sqlite3.Error as exc:
            raise FeedbackError(f"could not read {self.db}: {exc}") from exc

    def export_nemo(self, dest: str | os.PathLike) -> Path:
        """Write labelled donations in nEMO's layout: ``data.tsv`` + ``samples/*.flac``.

        Only donations with a confirmed emotion (``correct``) are exported; the
        speaker id is ``DON`` and gender/age are unknown.
        """
        import soundfile as sf

        dest = Path(dest)
        (dest / "samples").mkdir(parents=True, exist_ok=True)
        lines = ["file_id\temotion\traw_text\tnormalized_text\tspeaker_id\tgender\tage"]
        for r in self.rows():
            if not r["donation"] or not r["correct"]:
                continue
            src = self.donations / r["donation"]
            if not src.exists():
                continue
            stem = f"DON_{r['correct']}_{r['id']}"
            y, sr = sf.read(src, dtype="float32")
            sf.write(dest / "samples" / f"{stem}.flac", y, sr, subtype="PCM_16")
            lines.append(f"{stem}.wav\t{r['correct']}\t\t\tDON\tunknown\t-1")
        (dest / "data.tsv").write_text("\n".join(lines) + "\n")
        return dest
