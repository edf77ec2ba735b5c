""" "Many files at once" on the predictor page (issue #30), with AppTest on a tiny model.

Files go through the real multi-file uploader (AppTest stages uploads); the analysis runs
through the shared queue and its results are kept per file content, model and backend.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ser_core import report
from ser_core.config import EMOTIONS
from tests.conftest import encode, tone
from tests.pages.english import english_left
from tests.test_report import zip_of
from tests.tiny_model import TINY
from ui import state

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "2_predictor.py")


@pytest.fixture
def env(tiny_env) -> Path:
    return tiny_env


def no_exception(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


FILES = [
    ("a.wav", encode(tone(2.0)), "audio/wav"),
    ("long.flac", encode(tone(5.0), ext="flac"), "audio/flac"),
    ("broken.mp3", b"\x00" * 64, "audio/mpeg"),
    ("more.zip", zip_of({"in/b.wav": encode(tone(1.0, freq=330.0)), "../c.ogg": encode(tone(1.0), ext="ogg")}), "application/zip"),
]  # fmt: skip


def page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state[state.KEY_FIRST_ANSWER] = "skipped"
    return no_exception(at.run())


def uploaded(files=FILES) -> AppTest:
    at = page()
    at.file_uploader(key=state.KEY_BATCH_UPLOADER).set_value(files).run()
    return no_exception(at)


def table(at: AppTest):
    return at.dataframe[0].value


def downloads(at: AppTest) -> dict[str, object]:
    return {el.proto.id.rsplit(".", 1)[-1]: el.proto for el in at.get("download_button")}


def test_the_section_takes_many_audio_files_and_zips(env):
    at = page()
    up = at.file_uploader(key=state.KEY_BATCH_UPLOADER)
    assert up.accept_multiple_files and set(up.allowed_type) >= {".wav", ".mp3", ".zip"}
    assert any(h.value == "Many files at once" for h in at.subheader)
    assert not at.dataframe  # nothing before an upload


def test_a_batch_gives_a_table_a_chart_and_downloads(env):
    at = uploaded()
    assert not at.error, [e.value for e in at.error]
    df = table(at)
    assert list(df["File"]) == ["a.wav", "long.flac", "broken.mp3", "more.zip/in/b.wav", "more.zip/c.ogg"]
    assert df["Error"].astype(bool).tolist() == [False, False, True, False, False]
    assert "damaged" in df["Error"][2]
    assert df["Over time"][1] and not df["Over time"][0]
    good = df[~df["Error"].astype(bool)]
    assert ((good[list(EMOTIONS)].sum(axis=1) - 100).abs() < 0.5).all()  # per cent
    assert set(good["Emotion"]) <= set(EMOTIONS)  # English names in English
    chart = json.loads(at.get("plotly_chart")[-1].proto.spec)
    assert sum(chart["data"][0]["y"]) + sum(chart["data"][1]["y"]) == 4  # four files analysed
    assert {"csv", "json", "html"} <= set(downloads(at))
    assert "5 files shown; 1 could not be analysed" in " ".join(c.value for c in at.caption)


def test_reruns_and_new_files_do_not_recompute(env, monkeypatch):
    calls = []
    analyse = report.analyse

    def counting(items, **kw):
        calls.append([name for name, _data in items])
        return analyse(items, **kw)

    monkeypatch.setattr(report, "analyse", counting)
    at = uploaded(FILES[:2])
    kept = at.session_state[state.KEY_BATCH_RESULTS]
    first = [r for results in kept.values() for r in results]
    assert calls == [["a.wav", "long.flac"]]
    at.checkbox(key=state.KEY_BATCH_UNSURE).check().run()  # a filter: nothing analysed again
    no_exception(at)
    at.file_uploader(key=state.KEY_BATCH_UPLOADER).set_value(
        [*FILES[:2], FILES[3]]
    ).run()  # one more: only it
    no_exception(at)
    assert calls == [["a.wav", "long.flac"], ["more.zip"]]
    again = [r for results in at.session_state[state.KEY_BATCH_RESULTS].values() for r in results]
    assert again[:2] == first and all(a is b for a, b in zip(again, first))


def test_filters_by_label_and_unsure(env):
    at = uploaded()
    df = table(at)
    label = df["Emotion"].dropna().iloc[0]
    at.multiselect(key=state.KEY_BATCH_LABELS).set_value([label]).run()
    no_exception(at)
    shown = table(at)
    assert len(shown) == (df["Emotion"] == label).sum() and set(shown["Emotion"]) == {label}
    at.multiselect(key=state.KEY_BATCH_LABELS).set_value([]).run()
    at.checkbox(key=state.KEY_BATCH_UNSURE).check().run()
    no_exception(at)
    assert len(table(at)) == df["Unsure"].fillna(False).astype(bool).sum()


def test_html_report_of_the_page(env):
    from ui import batch, models

    at = uploaded(FILES[:2])
    results = [r for rs in at.session_state[state.KEY_BATCH_RESULTS].values() for r in rs]
    pred = models.predictor(TINY)
    page = batch.html_maker(pred, report.to_rows(results))()
    assert page.count("Plotly.newPlot") == 2 and "long.flac" in page and TINY in page


def _section_alone():
    """The section on its own, as the page draws it (in the session's language)."""
    from ui import batch, models
    from ui.i18n import apply_language

    apply_language()
    batch.batch_section(models.predictor(models.shipped_models()[0]))


def test_the_section_in_polish(env):
    at = AppTest.from_function(_section_alone, default_timeout=120)
    at.session_state[state.KEY_LANG] = "pl"
    no_exception(at.run())
    at.file_uploader(key=state.KEY_BATCH_UPLOADER).set_value(FILES).run()
    no_exception(at)
    assert english_left(at) == []
    assert any(h.value == "Wiele plików naraz" for h in at.subheader)
    df = table(at)
    assert "Plik" in df.columns and set(df["Emocja"].dropna()) <= {"złość", "strach", "szczęście",
                                                                   "stan neutralny", "smutek", "zaskoczenie"}  # fmt: skip
