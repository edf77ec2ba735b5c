"""User feedback and consented audio donations, kept in SQLite.

The store lives in a data folder outside the repository by default
(``$SER_DATA_DIR`` or ``~/.local/share/nemo-ser``): ``feedback.sqlite3``
(WAL mode, safe under concurrent writers) and ``donations/<uuid>.flac``.
Audio is stored **only** with explicit consent, always under a generated name,
never the uploaded file's.

The same database keeps named **voice profiles** (``profiles`` table): the
per-bin mean and standard deviation of a user's calibration speech
(:class:`ser_core.adapt.VoiceProfile`, a few kilobytes of JSON), saved only
when the user asks and gives a name.  The calibration audio itself is never
stored.  ``export_nemo`` writes the donations in nEMO's
layout (``data.tsv`` + ``samples/``) so they can be folded into training.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from .adapt import VoiceProfile
from .audio import encode_flac
from .config import EMOTIONS, SAMPLE_RATE
from .errors import FeedbackError
from .i18n import N_

__all__ = [
    "FeedbackError",
    "FeedbackStore",
    "Feedback",
    "connect",
    "default_data_dir",
    "SCHEMA_VERSION",
    "check_profile_name",
    "PROFILE_NAME_MAX",
]

SCHEMA_VERSION = 1


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
CREATE TABLE IF NOT EXISTS profiles (
    name TEXT PRIMARY KEY,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    seconds REAL NOT NULL,
    representations TEXT NOT NULL,
    profile TEXT NOT NULL
);
"""

#: Longest voice-profile name (characters).
PROFILE_NAME_MAX = 40
_PROFILE_NAME = re.compile(r"^\w[\w .'-]*$")


def check_profile_name(profile_name: str) -> str:
    """A voice-profile name, stripped; letters (any script), digits, spaces and ``.'-_``.

    Raises
    ------
    FeedbackError
        Empty, longer than :data:`PROFILE_NAME_MAX` or with other characters.
    """
    if not isinstance(profile_name, str) or not profile_name.strip():
        raise FeedbackError(N_("a voice profile needs a name; type one (e.g. your first name)"))
    profile_name = " ".join(profile_name.split())
    if len(profile_name) > PROFILE_NAME_MAX:
        raise FeedbackError(
            N_("the profile name {name!r}... is {length} characters long; use at most {most}"),
            name=profile_name[:20],
            length=len(profile_name),
            most=PROFILE_NAME_MAX,
        )
    if not _PROFILE_NAME.match(profile_name):
        raise FeedbackError(
            N_(
                "the profile name {name!r} may hold only letters, digits, spaces "
                "and . ' - _ (and must start with a letter or digit)"
            ),
            name=profile_name,
        )
    return profile_name


@contextlib.contextmanager
def connect(db: str | os.PathLike) -> Iterator[sqlite3.Connection]:
    """A connection to the app's database in autocommit mode, WAL, waiting up to 30 s for
    another writer (thirty sessions writing at once wait their turn); closed after the block."""
    con = sqlite3.connect(db, timeout=30.0, isolation_level=None)
    try:
        con.execute("PRAGMA busy_timeout=30000")
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        yield con
    finally:
        con.close()


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
            raise FeedbackError(
                N_("cannot open the feedback store in {folder}: {error}"),
                folder=str(self.directory),
                error=str(exc),
            ) from exc

    def _connect(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return connect(self.db)

    def add(
        self, fb: Feedback, *, audio: np.ndarray | None = None, consent: bool = False, sr: int = SAMPLE_RATE
    ) -> int:
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
                raise FeedbackError(
                    N_("unknown emotion {label!r}; expected one of {emotions}"),
                    label=label,
                    emotions=EMOTIONS,
                )
        donation, duration, path = None, None, None
        if consent and audio is not None:
            y = np.asarray(audio, dtype=np.float32)
            if y.size == 0 or not np.isfinite(y).all():
                raise FeedbackError(N_("the recording to donate is empty or invalid"))
            donation = f"{uuid.uuid4().hex}.flac"
            duration = float(len(y) / sr)
            path = self.donations / donation
            try:
                tmp = path.with_suffix(".partial")
                tmp.write_bytes(encode_flac(y, sr=sr))
                os.replace(tmp, path)
            except OSError as exc:
                raise FeedbackError(
                    N_("could not save the donated recording in {folder}: {error}"),
                    folder=str(self.donations),
                    error=str(exc),
                ) from exc
        try:
            with self._connect() as con:
                cur = con.execute(
                    "INSERT INTO feedback (created, model, source, predicted, correct, probabilities, "
                    "donation, duration) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        time.time(),
                        fb.model,
                        fb.source,
                        fb.predicted,
                        fb.correct,
                        json.dumps({k: float(v) for k, v in fb.probabilities.items()}),
                        donation,
                        duration,
                    ),
                )
                return int(cur.lastrowid)
        except sqlite3.Error as exc:
            if path is not None:
                path.unlink(missing_ok=True)
            raise FeedbackError(
                N_("could not store the feedback in {path}: {error}"), path=str(self.db), error=str(exc)
            ) from exc

    def rows(self) -> list[dict]:
        """All feedback rows, oldest first."""
        try:
            with self._connect() as con:
                con.row_factory = sqlite3.Row
                return [dict(r) for r in con.execute("SELECT * FROM feedback ORDER BY id")]
        except sqlite3.Error as exc:
            raise FeedbackError(
                N_("could not read {path}: {error}"), path=str(self.db), error=str(exc)
            ) from exc

    def export_nemo(self, dest: str | os.PathLike) -> Path:
        """Write labelled donations in nEMO's layout: ``data.tsv`` + ``samples/*.flac``.

        Only donations with a confirmed emotion (``correct``) are exported; the
        speaker id is ``DON`` and gender/age are unknown.
        """
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

    # ------------------------------------------------------------------ voice profiles
    def save_profile(self, profile_name: str, profile_json: str, *, overwrite: bool = False) -> str:
        """Save a voice profile under ``profile_name``.

        Only the statistics are stored (the JSON of
        :meth:`ser_core.adapt.VoiceProfile.to_json`), never audio.  An existing
        name is **refused** unless ``overwrite`` is given (then it is replaced
        and keeps its creation time): two people typing the same name never
        silently replace each other's profile.  Concurrent writers are safe
        (one SQLite transaction each); of two racing saves of a new name,
        exactly one succeeds.

        Parameters
        ----------
        profile_name : str
            See :func:`check_profile_name` (it is stripped; the stored profile
            carries this name).
        profile_json : str
            A serialised :class:`~ser_core.adapt.VoiceProfile`.
        overwrite : bool
            Replace a profile of the same name.

        Returns
        -------
        str
            The name as stored.

        Raises
        ------
        FeedbackError
            Bad name, not a voice profile, the name is taken, or the write failed.
        """
        profile_name = check_profile_name(profile_name)
        try:
            prof = VoiceProfile.from_json(profile_json)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise FeedbackError(
                N_("not a voice profile (expected the JSON of VoiceProfile.to_json): {error}"), error=str(exc)
            ) from None
        if not prof.stats:
            raise FeedbackError(N_("the voice profile holds no statistics; calibrate first"))
        prof = VoiceProfile(prof.stats, prof.seconds, profile_name)
        now = time.time()
        row = (profile_name, now, now, float(prof.seconds), json.dumps(sorted(prof.stats)), prof.to_json())
        sql = (
            "INSERT INTO profiles (name, created, updated, seconds, representations, profile) "
            "VALUES (?, ?, ?, ?, ?, ?)"
        )
        if overwrite:
            sql += (
                " ON CONFLICT(name) DO UPDATE SET updated=excluded.updated, "
                "seconds=excluded.seconds, representations=excluded.representations, "
                "profile=excluded.profile"
            )
        try:
            with self._connect() as con:
                con.execute(sql, row)
        except sqlite3.IntegrityError:
            raise FeedbackError(
                N_(
                    "a voice profile named {name!r} already exists; pick another "
                    "name or delete the old one first"
                ),
                name=profile_name,
            ) from None
        except sqlite3.Error as exc:
            raise FeedbackError(
                N_("could not save the voice profile {name!r} in {path}: {error}"),
                name=profile_name,
                path=str(self.db),
                error=str(exc),
            ) from exc
        return profile_name

    def list_profiles(self) -> list[dict]:
        """Saved voice profiles, by name: ``[{"name", "created", "updated", "seconds",
        "representations": [str]}]`` (no statistics)."""
        try:
            with self._connect() as con:
                con.row_factory = sqlite3.Row
                rows = [
                    dict(r)
                    for r in con.execute(
                        "SELECT name, created, updated, seconds, representations FROM profiles "
                        "ORDER BY name COLLATE NOCASE"
                    )
                ]
        except sqlite3.Error as exc:
            raise FeedbackError(
                N_("could not read the voice profiles in {path}: {error}"), path=str(self.db), error=str(exc)
            ) from exc
        for r in rows:
            r["representations"] = json.loads(r["representations"])
        return rows

    def load_profile(self, profile_name: str):
        """The saved :class:`~ser_core.adapt.VoiceProfile` called ``profile_name``.

        Raises
        ------
        FeedbackError
            No such profile (the message lists the saved ones), or unreadable.
        """
        try:
            with self._connect() as con:
                row = con.execute("SELECT profile FROM profiles WHERE name = ?", (profile_name,)).fetchone()
        except sqlite3.Error as exc:
            raise FeedbackError(
                N_("could not read the voice profiles in {path}: {error}"), path=str(self.db), error=str(exc)
            ) from exc
        if row is None:
            have = ", ".join(p["name"] for p in self.list_profiles())
            if not have:
                raise FeedbackError(
                    N_("no saved voice profile named {name!r} (saved: none)"), name=profile_name
                )
            raise FeedbackError(
                N_("no saved voice profile named {name!r} (saved: {saved})"), name=profile_name, saved=have
            )
        try:
            return VoiceProfile.from_json(row[0])
        except (ValueError, KeyError, TypeError) as exc:
            raise FeedbackError(
                N_("the saved voice profile {name!r} is damaged: {error}"), name=profile_name, error=str(exc)
            ) from None

    def delete_profile(self, profile_name: str) -> None:
        """Delete the saved voice profile ``profile_name`` (FeedbackError when there is none)."""
        try:
            with self._connect() as con:
                n = con.execute("DELETE FROM profiles WHERE name = ?", (profile_name,)).rowcount
        except sqlite3.Error as exc:
            raise FeedbackError(
                N_("could not delete the voice profile {name!r}: {error}"), name=profile_name, error=str(exc)
            ) from exc
        if not n:
            raise FeedbackError(N_("no saved voice profile named {name!r} to delete"), name=profile_name)
