"""The report command: many audio files (folders, zip archives) in, one HTML report out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm.auto import tqdm

from ..errors import SERError
from ..i18n import LANGUAGES, N_, _, error_message, language, ngettext
from ..inference import Predictor
from ..report import analyse, html_report, settings_of, to_csv, to_json, to_rows
from .base import arguments, command


@command("report", "analyse many audio files, folders or zip archives into one HTML report (and CSV / JSON)")
@arguments(
    lambda p: (
        p.add_argument(
            "paths",
            nargs="+",
            metavar="FILE_OR_DIR",
            help="audio files, zip archives, or folders (every audio file and zip in them)",
        ),
        p.add_argument(
            "-o", "--output", required=True, metavar="REPORT.html", help="the HTML report to write"
        ),
        p.add_argument(
            "--model", default=None, help="shipped model (default: the best on new voices, the LOSO mean)"
        ),
        p.add_argument("--csv", metavar="FILE", default=None, help="also write the table as CSV"),
        p.add_argument("--json", metavar="FILE", default=None, help="also write the table as JSON"),
        p.add_argument(
            "--language", choices=sorted(LANGUAGES), default="en", help="language of the report (default: en)"
        ),
    )
)
def _report(a: argparse.Namespace) -> int:
    with language(a.language):
        try:
            return _write_report(a)
        except SERError as exc:  # in the report's language (main() would print English)
            print(_("error: {message}").format(message=error_message(exc)), file=sys.stderr)
            return 2


def _write(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SERError(
            N_("cannot write {path}: {reason}"), path=path, reason=exc.strerror or str(exc)
        ) from None


def _write_report(a: argparse.Namespace) -> int:
    pred = Predictor.load(a.model)
    bar: tqdm | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="file", desc=pred.model_name, file=sys.stderr)
        bar.update(done - bar.n)

    try:
        results = analyse([(p, Path(p)) for p in a.paths], predictor=pred, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    rows = to_rows(results)
    page = html_report(rows, model_name=pred.model_name, card=pred.loaded.card, settings=settings_of(pred))
    _write(a.output, page)
    for path, text in ((a.csv, to_csv), (a.json, to_json)):
        if path:
            _write(path, text(rows))
    failed = sum(bool(r["error"]) for r in rows)
    for r in rows:
        if r["error"]:
            print(r["error"], file=sys.stderr)
    summary = ngettext(
        "{path}: {done} of {total} file analysed, {failed} failed",
        "{path}: {done} of {total} files analysed, {failed} failed",
        len(rows),
    )
    print(summary.format(path=a.output, done=len(rows) - failed, total=len(rows), failed=failed))
    return 1 if failed == len(rows) else 0
