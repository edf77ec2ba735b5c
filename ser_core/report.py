"""Batch analysis of many recordings, and its report: a table, CSV, JSON and one HTML file.

>>> rows = analyse_files([("a.wav", b"RIFF..."), ("class.zip", Path("class.zip"))], predictor=p)
>>> Path("report.html").write_text(html_report(rows, model_name=p.model_name,
...                                            card=p.loaded.card, settings=settings_of(p)))

An item is ``(name, source)``: encoded audio as bytes, an audio file, a folder (every audio
file and zip archive under it) or a zip archive (each audio member, named
``archive.zip/inner/path.wav`` with any ``..`` or absolute part dropped).  A batch holds at
most :data:`MAX_FILES` files and :data:`MAX_BYTES` of audio (:class:`BatchError`).

Each file gives one row (:func:`to_rows`): its name, duration, label, the six calibrated
probabilities, whether the model is unsure, for files longer than one window the dominant
emotions over time ("anger 0–6 s, neutral 6–12 s"), and, for a file that fails, its error
sentence; a failure never stops the batch.  The analysis itself (:func:`analyse`) keeps no
text, so its results are shown in whichever language the reader picks.
"""

from __future__ import annotations

import contextlib
import csv
import html
import io
import json
import os
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from .audio import FORMATS_TEXT, SUPPORTED_EXTENSIONS, audio_files, load_audio
from .config import EMOTIONS
from .errors import SERError
from .figures.report import file_probabilities_figure, summary_figure
from .i18n import LANGUAGES, N_, _, current_language, emotion_name, error_message, ngettext
from .inference import Predictor, Timeline, Verdict, model_scores

__all__ = [
    "COLUMNS",
    "MAX_BYTES",
    "MAX_FILES",
    "ArchiveError",
    "BatchError",
    "FileResult",
    "analyse",
    "analyse_files",
    "check_batch",
    "column_title",
    "dominant_segments",
    "from_csv",
    "from_json",
    "html_report",
    "over_time_text",
    "safe_member_name",
    "settings_of",
    "to_csv",
    "to_json",
    "to_rows",
]

#: Files one batch may hold at most (after zip archives and folders are expanded).
MAX_FILES = 1000
#: Encoded audio one batch may hold at most (bytes; a zip counts its members' full size).
MAX_BYTES = 1024**3
#: Seconds between the starts of the windows of a long file.
HOP = 1.0
#: Shorter stretches of one dominant emotion are merged into their neighbours.
MIN_SEGMENT_S = 2.0
#: The columns of a row, in order (CSV header and JSON keys: identifiers, in every language).
COLUMNS = ("file", "duration_s", "label", *EMOTIONS, "unsure", "over_time", "error")
_TEXT = ("file", "over_time", "error")
#: The table's column titles (shown translated; emotion columns show the emotion's name).
TITLES = {
    "file": N_("File"),
    "duration_s": N_("Duration (s)"),
    "label": N_("Emotion"),
    "unsure": N_("Unsure"),
    "over_time": N_("Over time"),
    "error": N_("Error"),
}

Source = bytes | str | os.PathLike
Progress = Callable[[int, int], None]


class BatchError(SERError, ValueError):
    """A batch too large to analyse at once (the message says how large, and the limit)."""


class ArchiveError(SERError, ValueError):
    """A zip archive or folder of the batch that gives no audio (damaged, encrypted, empty)."""


@dataclass(frozen=True)
class FileResult:
    """What one file of a batch gave, without any text (rows are made by :func:`to_rows`).

    Attributes
    ----------
    name : str
        The file's name as shown (``archive.zip/inner/a.wav`` for a zip member).
    item : int
        Index of the item of the batch it came from.
    verdict : Verdict or None
        The prediction (None when it failed).
    segments : tuple of (str, float, float)
        Dominant emotion over time, ``(emotion, start s, end s)``; empty up to one window.
    error : SERError or None
        Why it failed.
    """

    name: str
    item: int
    verdict: Verdict | None = None
    segments: tuple[tuple[str, float, float], ...] = ()
    error: SERError | None = None


@dataclass(frozen=True)
class _Entry:
    """One file to analyse: bytes, a path, or a member of an open zip archive."""

    name: str
    item: int
    size: int
    source: Source | None = None
    archive: zipfile.ZipFile | None = None
    error: SERError | None = None

    def audio(self) -> Source:
        if self.archive is None:
            return self.source
        try:
            return self.archive.read(str(self.source))
        except (zipfile.BadZipFile, RuntimeError, OSError, EOFError, NotImplementedError) as exc:
            raise ArchiveError(
                N_("{name} cannot be read from its zip archive ({reason})."), name=self.name, reason=str(exc)
            ) from None


# ----------------------------------------------------------------------------- expanding items
def safe_member_name(name: str) -> str | None:
    """A zip member's path made harmless for display: no absolute, drive, ``.`` or ``..``
    part, no control character; None when nothing is left.

    >>> safe_member_name("../../etc/passwd"), safe_member_name("C:\\\\x\\\\a.wav")
    ('etc/passwd', 'x/a.wav')
    """
    clean = "".join(c for c in name.replace("\\", "/") if c.isprintable())
    parts = [p for p in PurePosixPath(clean).parts if p not in ("/", ".", "..")]
    if parts and parts[0].endswith(":"):  # a Windows drive
        parts = parts[1:]
    return "/".join(parts) or None


def _is_audio(name: str) -> bool:
    return PurePosixPath(name).suffix.lower().lstrip(".") in SUPPORTED_EXTENSIONS


def _is_zip(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() == ".zip"


def _hidden(path: str) -> bool:
    return any(p.startswith(".") or p == "__MACOSX" for p in PurePosixPath(path).parts)


def _zip_entries(name: str, item: int, source: Source, stack: contextlib.ExitStack) -> list[_Entry]:
    try:
        raw = io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray, memoryview)) else source
        archive = stack.enter_context(zipfile.ZipFile(raw))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        err = ArchiveError(
            N_("{name} is not a readable zip archive ({reason})."), name=name, reason=str(exc) or "damaged"
        )
        return [_Entry(name, item, 0, error=err)]
    out = []
    for info in infos:
        inner = safe_member_name(info.filename)
        if info.is_dir() or inner is None or _hidden(inner) or not _is_audio(inner):
            continue
        out.append(_Entry(f"{name}/{inner}", item, info.file_size, info.filename, archive))
    if not out:
        err = ArchiveError(N_("{name} holds no audio files ({formats})."), name=name, formats=FORMATS_TEXT)
        return [_Entry(name, item, 0, error=err)]
    return out


def _folder_entries(name: str, item: int, folder: Path, stack: contextlib.ExitStack) -> list[_Entry]:
    zips = sorted(p for p in folder.rglob("*.zip") if p.is_file() and not _hidden(str(p.relative_to(folder))))
    out = [_Entry(str(p), item, p.stat().st_size, p) for p in audio_files(folder)]
    for z in zips:
        out += _zip_entries(str(z), item, z, stack)
    if not out:
        err = ArchiveError(
            N_("The folder {name} holds no audio files ({formats})."), name=name, formats=FORMATS_TEXT
        )
        return [_Entry(name, item, 0, error=err)]
    return out


def _entries(items: Iterable[tuple[str, Source]], stack: contextlib.ExitStack) -> list[_Entry]:
    out: list[_Entry] = []
    for item, (name, source) in enumerate(items):
        name = str(name)
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            out += (
                _zip_entries(name, item, data, stack)
                if _is_zip(name)
                else [_Entry(name, item, len(data), data)]
            )
            continue
        path = Path(source)
        if path.is_dir():
            out += _folder_entries(name, item, path, stack)
        elif _is_zip(path.name) and path.is_file():
            out += _zip_entries(name, item, path, stack)
        else:  # a missing file fails when it is read, as its own row
            out.append(_Entry(name, item, path.stat().st_size if path.is_file() else 0, path))
    return out


def _size_text(n: int) -> str:
    return f"{n / 1024**3:.1f} GB" if n >= 1024**3 else f"{n / 1024**2:.0f} MB"


def _check_caps(entries: Sequence[_Entry], *, max_files: int, max_bytes: int) -> None:
    if len(entries) > max_files:
        raise BatchError(
            N_(
                "Too many files at once: {n}, and at most {limit} can be analysed together. Split them into smaller batches."
            ),
            n=len(entries),
            limit=max_files,
        )
    total = sum(e.size for e in entries)
    if total > max_bytes:
        raise BatchError(
            N_(
                "Too much audio at once: {size}, and at most {limit} can be analysed together. Split it into smaller batches."
            ),
            size=_size_text(total),
            limit=_size_text(max_bytes),
        )


def check_batch(
    items: Iterable[tuple[str, Source]], *, max_files: int = MAX_FILES, max_bytes: int = MAX_BYTES
) -> int:
    """How many files a batch holds once zip archives and folders are expanded.

    Raises
    ------
    BatchError
        More than ``max_files`` files, or more than ``max_bytes`` of audio.
    """
    with contextlib.ExitStack() as stack:
        entries = _entries(items, stack)
        _check_caps(entries, max_files=max_files, max_bytes=max_bytes)
        return len(entries)


# ----------------------------------------------------------------------------- analysing
def dominant_segments(
    timeline: Timeline, *, seconds: float, window: float, min_seconds: float = MIN_SEGMENT_S
) -> list[tuple[str, float, float]]:
    """The dominant emotion over time: runs of windows with the same most likely emotion,
    runs shorter than ``min_seconds`` merged into their longer neighbour.

    Parameters
    ----------
    timeline : Timeline
        ``starts`` (n,) and ``probs`` (n, 6) of the file's windows.
    seconds : float
        The file's duration.
    window : float
        The windows' length (s); each window stands for the time around its centre.

    Returns
    -------
    list of (str, float, float)
        ``(emotion, start, end)`` in seconds, covering 0 to ``seconds``.
    """
    centres = np.asarray(timeline.starts, float) + window / 2
    edges = np.concatenate([[0.0], (centres[1:] + centres[:-1]) / 2, [seconds]])
    edges = np.maximum.accumulate(np.clip(edges, 0.0, seconds))
    labels = np.asarray(timeline.probs).argmax(axis=1)
    runs: list[list] = []
    for k, label in enumerate(labels.tolist()):
        if runs and runs[-1][0] == label:
            runs[-1][2] = edges[k + 1]
        else:
            runs.append([label, edges[k], edges[k + 1]])
    while len(runs) > 1:
        short = [i for i, r in enumerate(runs) if r[2] - r[1] < min_seconds]
        if not short:
            break
        i = min(short, key=lambda j: runs[j][2] - runs[j][1])
        nb = [j for j in (i - 1, i + 1) if 0 <= j < len(runs)]
        j = max(nb, key=lambda j: runs[j][2] - runs[j][1])
        lo, hi = min(runs[i][1], runs[j][1]), max(runs[i][2], runs[j][2])
        runs[j] = [runs[j][0], lo, hi]
        del runs[i]
        merged: list[list] = []
        for r in runs:  # neighbours that now share a label become one run
            if merged and merged[-1][0] == r[0]:
                merged[-1][2] = r[2]
            else:
                merged.append(r)
        runs = merged
    return [(EMOTIONS[int(label)], float(lo), float(hi)) for label, lo, hi in runs]


def _analyse_entry(entry: _Entry, predictor: Predictor) -> FileResult:
    if entry.error is not None:
        return FileResult(entry.name, entry.item, error=entry.error)
    try:
        y = load_audio(entry.audio(), name=entry.name, sr=predictor.cfg.sr, silent_ok=False)
        v = predictor.verdict(y, hop=HOP)
        segments = ()
        if v.timeline is not None:
            segments = tuple(dominant_segments(v.timeline, seconds=v.seconds, window=predictor.cfg.duration))
        return FileResult(entry.name, entry.item, v, segments)
    except SERError as err:
        return FileResult(entry.name, entry.item, error=err)
    except Exception as exc:  # noqa: BLE001 - one file's failure never stops the batch
        err = SERError(
            N_("{name} could not be analysed ({reason})."),
            name=entry.name,
            reason=f"{type(exc).__name__}: {exc}",
        )
        return FileResult(entry.name, entry.item, error=err)


def analyse(
    items: Iterable[tuple[str, Source]],
    *,
    predictor: Predictor,
    progress: Progress | None = None,
    max_files: int = MAX_FILES,
    max_bytes: int = MAX_BYTES,
) -> list[FileResult]:
    """Predict every file of a batch; a file that fails is a result with its error.

    Parameters
    ----------
    items : iterable of (str, bytes or path)
        Names and sources: encoded audio, audio files, folders, zip archives.
    predictor : Predictor
        The model (its :meth:`~ser_core.inference.Predictor.verdict`: long files are judged
        over sliding windows, :data:`HOP` s apart).
    progress : callable, optional
        ``progress(done, total)``: once before the first file, then after each.
    max_files, max_bytes : int
        The batch's limits (:func:`check_batch`).

    Returns
    -------
    list of FileResult
        One per file, in the order of the items (a folder's and a zip's files sorted).

    Raises
    ------
    BatchError
        The batch is too large (nothing is analysed).
    """
    with contextlib.ExitStack() as stack:
        entries = _entries(items, stack)
        _check_caps(entries, max_files=max_files, max_bytes=max_bytes)
        out = []
        if progress is not None:
            progress(0, len(entries))
        for k, entry in enumerate(entries, 1):
            out.append(_analyse_entry(entry, predictor))
            if progress is not None:
                progress(k, len(entries))
        return out


def over_time_text(segments: Iterable[tuple[str, float, float]]) -> str:
    """``"anger 0–6 s, neutral 6–12 s"`` in the language of this run ("" for none)."""
    return ", ".join(
        _("{emotion} {start}–{end} s").format(emotion=emotion_name(e), start=f"{lo:.0f}", end=f"{hi:.0f}")
        for e, lo, hi in segments
    )


def to_rows(results: Iterable[FileResult]) -> list[dict[str, Any]]:
    """One row per file (keys :data:`COLUMNS`), its texts in the language of this run.

    A row has ``file``, ``duration_s``, ``label`` (an identifier of ``EMOTIONS``), one
    probability per emotion, ``unsure``, ``over_time`` ("" up to one window) and ``error``
    ("" when analysed; then the numbers and the label are None).
    """
    rows = []
    for res in results:
        row: dict[str, Any] = {c: ("" if c in _TEXT else None) for c in COLUMNS}
        row["file"] = res.name
        if res.verdict is None:
            row["error"] = error_message(res.error) if res.error is not None else ""
        else:
            v = res.verdict
            row.update({e: round(float(p), 4) for e, p in zip(EMOTIONS, v.probs)})
            row.update(
                duration_s=round(float(v.seconds), 2),
                label=v.label,
                unsure=bool(v.unsure),
                over_time=over_time_text(res.segments),
            )
        rows.append(row)
    return rows


def analyse_files(
    items: Iterable[tuple[str, Source]], *, predictor: Predictor, progress: Progress | None = None
) -> list[dict[str, Any]]:
    """:func:`to_rows` of :func:`analyse`: one row per file of the batch."""
    return to_rows(analyse(items, predictor=predictor, progress=progress))


# ----------------------------------------------------------------------------- CSV and JSON
def to_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """The rows as CSV (header :data:`COLUMNS`; an empty cell for None)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows({c: ("" if r.get(c) is None else r.get(c)) for c in COLUMNS} for r in rows)
    return buf.getvalue()


def _cell(column: str, text: str) -> Any:
    if column in _TEXT:
        return text
    if text == "":
        return None
    if column == "unsure":
        return text == "True"
    return text if column == "label" else float(text)


def from_csv(text: str) -> list[dict[str, Any]]:
    """The rows of :func:`to_csv` read back (numbers, booleans and None restored)."""
    return [{c: _cell(c, r.get(c, "")) for c in COLUMNS} for r in csv.DictReader(io.StringIO(text))]


def to_json(rows: Iterable[Mapping[str, Any]]) -> str:
    """The rows as a JSON array of objects (keys :data:`COLUMNS`, null for None)."""
    return json.dumps([{c: r.get(c) for c in COLUMNS} for r in rows], ensure_ascii=False, indent=1) + "\n"


def from_json(text: str) -> list[dict[str, Any]]:
    """The rows of :func:`to_json` read back."""
    return list(json.loads(text))


# ----------------------------------------------------------------------------- the HTML report
def settings_of(predictor: Predictor) -> dict[str, str]:
    """The settings of a batch analysis with ``predictor``, titles and values in the language
    of this run (for :func:`html_report`)."""
    window = predictor.cfg.duration
    return {
        _("Backend"): predictor.backend,
        _("Long files"): _("judged over {window:g}-s windows, {hop:g} s apart").format(
            window=window, hop=HOP
        ),
        _("Unsure below"): f"{100 * predictor.unsure_below:.0f} %",
        _("Adapted to a voice"): _("no: the model as shipped"),
        _("Language"): LANGUAGES[current_language()],
    }


def model_numbers(card: Mapping[str, Any]) -> dict[str, str]:
    """The card's two numbers in words: new voices (LOSO) and the seed split."""
    sc = model_scores(dict(card))
    if sc.has_loso:
        acc = (
            f"{100 * sc.loso:.1f}" + (f" ± {100 * sc.loso_std:.1f}" if sc.loso_std is not None else "") + " %"
        )
        new = ngettext(
            "{accuracy} on voices it never heard (LOSO, mean over {n} held-out speaker)",
            "{accuracy} on voices it never heard (LOSO, mean over {n} held-out speakers)",
            sc.n_folds,
        ).format(accuracy=acc, n=sc.n_folds)
    else:
        new = _("not measured ({why})").format(why=sc.loso_missing)
    seed = (
        _("not measured")
        if sc.seed is None
        else _("{accuracy} on test clips of the speakers it trained on").format(
            accuracy=f"{100 * sc.seed:.1f} %"
        )
    )
    return {_("New voices"): new, _("Seed split"): seed}


def _dl(items: Mapping[str, str]) -> str:
    return (
        "<dl>"
        + "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in items.items())
        + "</dl>"
    )


def column_title(column: str) -> str:
    """The title of a column of :data:`COLUMNS` in the language of this run."""
    return emotion_name(column) if column in EMOTIONS else _(TITLES[column])


def _html_cell(column: str, value: Any) -> str:
    if value is None or value == "":
        return "<td></td>"
    if column in EMOTIONS:
        return f'<td data-v="{value}">{100 * float(value):.0f} %</td>'
    if column == "duration_s":
        return f'<td data-v="{value}">{float(value):.1f}</td>'
    if column == "label":
        return f"<td>{html.escape(emotion_name(str(value)))}</td>"
    if column == "unsure":
        answer = _("yes") if value else _("no")
        return f"<td>{html.escape(answer)}</td>"
    return f"<td>{html.escape(str(value))}</td>"


def _table(rows: Sequence[Mapping[str, Any]]) -> str:
    head = "".join(f"<th>{html.escape(column_title(c))}</th>" for c in COLUMNS)
    body = "".join(
        f'<tr class="{"failed" if r.get("error") else ""}">'
        + "".join(_html_cell(c, r.get(c)) for c in COLUMNS)
        + "</tr>"
        for r in rows
    )
    return f'<table id="files"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1200px;
padding:0 1rem;color:#1f2937}h1{margin-bottom:.2rem}.date{color:#6b7280;margin-top:0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}dt{font-weight:600}dd{margin:0}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{border-bottom:1px solid #e5e7eb;
padding:.3rem .5rem;text-align:left;vertical-align:top}th{cursor:pointer;background:#f3f4f6;position:sticky;top:0}
tr.failed td{color:#b91c1c}footer{margin-top:2rem;color:#6b7280;font-size:.85rem}
"""
#: Click a column title to sort the table (numbers by value; no library, works offline).
_SORT_JS = """
document.querySelectorAll('#files th').forEach((th, i) => th.addEventListener('click', () => {
  const body = th.closest('table').tBodies[0], rows = [...body.rows];
  const key = r => { const c = r.cells[i]; return c.dataset.v !== undefined ? parseFloat(c.dataset.v) : c.textContent; };
  const dir = th.dataset.dir = th.dataset.dir === 'asc' ? 'desc' : 'asc';
  rows.sort((a, b) => { const x = key(a), y = key(b); const o = x < y ? -1 : x > y ? 1 : 0; return dir === 'asc' ? o : -o; });
  rows.forEach(r => body.appendChild(r));
}));
"""


def _counts(rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    done = [r for r in rows if not r.get("error")]
    return {
        _("Files"): str(len(rows)),
        _("Analysed"): str(len(done)),
        _("Unsure"): str(sum(bool(r.get("unsure")) for r in done)),
        _("Failed"): str(len(rows) - len(done)),
    }


def html_report(
    rows: Sequence[Mapping[str, Any]],
    *,
    model_name: str,
    card: Mapping[str, Any],
    settings: Mapping[str, str],
    date: datetime | None = None,
    title: str | None = None,
) -> str:
    """One self-contained HTML file: the model and its numbers, the date and settings, a
    summary chart, the table and each file's probabilities, in the language of this run.

    Parameters
    ----------
    rows : sequence of dict
        :func:`to_rows`.
    model_name : str
        The model that analysed the files.
    card : dict
        Its model card (the new-voice LOSO and seed-split numbers are read from it).
    settings : dict
        Titles and values of the settings (:func:`settings_of`), already in this language.
    date : datetime, optional
        When the analysis ran (default: now).
    title : str, optional
        The report's title.

    Returns
    -------
    str
        The page: plotly.js inline with the first figure, no external resource, so it opens
        offline.
    """
    title = title or _("Emotion analysis report")
    when = (date or datetime.now()).strftime("%Y-%m-%d %H:%M")
    config = {"displaylogo": False, "responsive": True}
    figs = [
        summary_figure(rows).to_html(full_html=False, include_plotlyjs=True, config=config),
        file_probabilities_figure(rows).to_html(full_html=False, include_plotlyjs=False, config=config)
        if any(not r.get("error") for r in rows)
        else "",
    ]
    model = {_("Model"): model_name, **model_numbers(card)}
    text = {
        "settings": _("Model and settings"),
        "summary": _("Summary"),
        "files": _("Files"),
        "sort": _("Click a column title to sort the table."),
        "footer": _(
            "Probabilities are the model's calibrated estimates, not certainties: read them "
            "with its new-voice number above."
        ),
    }
    t = {k: html.escape(v) for k, v in text.items()}
    return f"""<!DOCTYPE html>
<html lang="{html.escape(current_language())}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p class="date">{html.escape(when)}</p>
<h2>{t["settings"]}</h2>
{_dl({**model, **settings})}
<h2>{t["summary"]}</h2>
{_dl(_counts(rows))}
{figs[0]}
<h2>{t["files"]}</h2>
<p>{t["sort"]}</p>
{_table(rows)}
{figs[1]}
<footer>{t["footer"]}</footer>
<script>{_SORT_JS}</script>
</body>
</html>
"""
