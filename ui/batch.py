""" "Many files at once" on the predictor page: audio files or zips in, a table, a summary
chart and downloads (CSV, JSON, one HTML report) out (issue #30).

The analysis (:func:`ser_core.report.analyse`) runs through the shared queue
(:func:`ui.jobs.queued`, which shows the queue place and a progress bar); its results hold
no text and are kept in ``st.session_state[KEY_BATCH_RESULTS]`` per uploaded file's
content, model and backend, so a rerun (a filter, another language) or one more file
analyses nothing again.  The files are judged by the model as shipped: a batch usually
holds many voices, not the session's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from ser_core import report
from ser_core.audio import FORMATS_TEXT
from ser_core.config import EMOTIONS
from ser_core.figures.report import summary_figure
from ser_core.i18n import current_language, emotion_name, language
from ser_core.inference import Predictor
from ui import clips, errors, jobs
from ui.i18n import _, ngettext
from ui.state import (
    BATCH,
    KEY_BATCH_CSV,
    KEY_BATCH_HTML,
    KEY_BATCH_JSON,
    KEY_BATCH_LABELS,
    KEY_BATCH_RESULTS,
    KEY_BATCH_UNSURE,
    KEY_BATCH_UPLOADER,
)

#: What the batch uploader takes: every audio format of the single-clip uploader, and zips.
BATCH_TYPES = [*clips.UPLOAD_TYPES, "zip"]


def file_key(name: str, data: bytes, pred: Predictor) -> tuple[str, str, str]:
    """The key of one uploaded file's results: its name and content, the model, the backend."""
    digest = hashlib.blake2b(data, digest_size=12, person=b"batch")
    digest.update(name.encode())
    return digest.hexdigest(), pred.model_name, pred.backend


def _analyse_job(items: list[tuple[str, bytes]], pred: Predictor, progress: Callable[[float], None]) -> list:
    """The queue's job: :func:`ser_core.report.analyse`, its progress as a fraction."""
    return report.analyse(items, predictor=pred, progress=lambda done, total: progress(done / max(total, 1)))


def batch_results(pred: Predictor, files: Sequence[Any]) -> list[report.FileResult]:
    """The results of the uploaded ``files`` (``st.file_uploader`` files), in their order;
    only files not analysed before with this model are analysed now.

    Raises
    ------
    SERError
        The whole batch is too large (:class:`ser_core.report.BatchError`).
    """
    uploaded = [(f.name, f.getvalue()) for f in files]
    keys = [file_key(name, data, pred) for name, data in uploaded]
    kept = st.session_state.get(KEY_BATCH_RESULTS, {})
    missing = [i for i, k in enumerate(keys) if k not in kept]
    if missing:
        n = report.check_batch(uploaded)  # the whole batch's limits, before any work
        items = [uploaded[i] for i in missing]
        what = ngettext("Analysing {n} file", "Analysing {n} files", n).format(n=n)
        results = jobs.queued(("batch", *(keys[i] for i in missing)), _analyse_job, items, pred, what=what)
        kept = dict(kept)
        for j, i in enumerate(missing):
            kept[keys[i]] = [r for r in results if r.item == j]
    st.session_state[KEY_BATCH_RESULTS] = {k: kept[k] for k in keys}  # files removed are forgotten
    return [res for k in keys for res in kept[k]]


def filtered(rows: list[dict], *, labels: Sequence[str], unsure_only: bool) -> list[dict]:
    """The rows with one of ``labels`` (all rows, failed ones too, when none is picked),
    only the unsure ones with ``unsure_only``."""
    if labels:
        rows = [r for r in rows if r["label"] in labels]
    if unsure_only:
        rows = [r for r in rows if r["unsure"]]
    return rows


def table(rows: list[dict]) -> pd.DataFrame:
    """The rows for ``st.dataframe``: titles and emotion names in this language,
    probabilities in per cent."""
    df = pd.DataFrame(rows, columns=list(report.COLUMNS))
    df["label"] = df["label"].map(lambda v: emotion_name(v) if isinstance(v, str) else None)
    for e in EMOTIONS:
        df[e] = (100 * df[e].astype(float)).round(1)
    return df.rename(columns={c: report.column_title(c) for c in report.COLUMNS})


def _column_config() -> dict:
    title = report.column_title
    cfg = {title(e): st.column_config.NumberColumn(format="%.0f %%") for e in EMOTIONS}
    cfg[title("duration_s")] = st.column_config.NumberColumn(format="%.1f")
    cfg[title("unsure")] = st.column_config.CheckboxColumn()
    return cfg


def html_maker(pred: Predictor, rows: list[dict]) -> Callable[[], str]:
    """The HTML report, made when its button is clicked (Streamlit calls this in another
    thread: the language, settings and card are taken now)."""
    lang, settings = current_language(), report.settings_of(pred)
    name, card = pred.model_name, pred.loaded.card

    def make() -> str:
        with language(lang):
            return report.html_report(rows, model_name=name, card=card, settings=settings)

    return make


def downloads(pred: Predictor, rows: list[dict]) -> None:
    """Buttons: the table as CSV and JSON, and the HTML report."""
    csv_col, json_col, html_col = st.columns(3)
    common = dict(on_click="ignore", icon=":material/download:")
    csv_col.download_button(
        _("Table as CSV"), report.to_csv(rows), "emotions.csv", "text/csv", key=KEY_BATCH_CSV, **common
    )
    json_col.download_button(
        _("Table as JSON"),
        report.to_json(rows),
        "emotions.json",
        "application/json",
        key=KEY_BATCH_JSON,
        **common,
    )
    html_col.download_button(
        _("Report as one HTML file"),
        html_maker(pred, rows),
        "emotion-report.html",
        "text/html",
        key=KEY_BATCH_HTML,
        help=_(
            "Figures included: it opens offline in any browser, with the model, its numbers and the settings."
        ),
        type="primary",
        **common,
    )


def show_results(pred: Predictor, results: list[report.FileResult]) -> None:
    """The table (sortable, filtered by label and 'unsure only'), the summary chart, downloads."""
    rows = report.to_rows(results)
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    labels = left.multiselect(
        _("Emotions shown"),
        list(EMOTIONS),
        format_func=emotion_name,
        key=KEY_BATCH_LABELS,
        placeholder=_("All files"),
    )
    unsure_only = right.checkbox(_("Unsure only"), key=KEY_BATCH_UNSURE)
    shown = filtered(rows, labels=labels, unsure_only=unsure_only)
    st.dataframe(table(shown), hide_index=True, column_config=_column_config())
    failed = sum(bool(r["error"]) for r in rows)
    st.caption(
        ngettext(
            "{shown} of {total} file shown; {failed} could not be analysed. Click a column title to sort.",
            "{shown} of {total} files shown; {failed} could not be analysed. Click a column title to sort.",
            len(rows),
        ).format(shown=len(shown), total=len(rows), failed=failed)
    )
    if failed < len(rows):
        st.plotly_chart(summary_figure(rows), key=f"{BATCH}.summary")
    downloads(pred, rows)


@st.fragment
def batch_section(pred: Predictor | None) -> None:
    """ "Many files at once": the uploader, then the results of what it holds."""
    if pred is None:
        return
    st.subheader(_("Many files at once"))
    st.caption(
        _(
            "Upload several audio files, or a zip of them, for a table of what the model hears in "
            "each, a summary chart and a report to download. The files are judged by the model as "
            "shipped, not adapted to your voice: a batch usually holds many voices."
        )
    )
    files = st.file_uploader(
        _("Audio files or zip archives"),
        type=BATCH_TYPES,
        accept_multiple_files=True,
        key=KEY_BATCH_UPLOADER,
        help=_("{formats}, or zip archives of them; at most {n} files at once.").format(
            formats=FORMATS_TEXT, n=report.MAX_FILES
        ),
    )
    if not files:
        return
    with errors.report_errors():
        show_results(pred, batch_results(pred, files))
