"""Batch analysis and its report (:mod:`ser_core.report`), on a tiny model trained at test time."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from ser_core import report
from ser_core.config import EMOTIONS
from ser_core.i18n import language
from ser_core.inference import Predictor, Timeline
from tests.conftest import encode, tone
from tests.tiny_model import TINY, ship_tiny_model


@pytest.fixture(scope="module")
def pred(tmp_path_factory) -> Predictor:
    artifacts = ship_tiny_model(tmp_path_factory.mktemp("report"))
    return Predictor.load(TINY, directory=artifacts / "models")


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def mixed_batch(tmp_path: Path) -> list[tuple[str, object]]:
    """Two good files (one long), a damaged one, a silent one, a missing path and a zip with
    a good member, a traversal name, a readme (skipped) and a bad member."""
    (tmp_path / "long.flac").write_bytes(encode(tone(7.5), ext="flac"))
    archive = zip_of(
        {
            "class/a.wav": encode(tone(1.5)),
            "../../evil.wav": encode(tone(2.0, freq=330.0)),
            "readme.txt": b"not audio",
            "__MACOSX/._a.wav": b"junk",
            "class/broken.mp3": b"\x00" * 100,
        }
    )
    return [
        ("short.wav", encode(tone(2.0))),
        ("long.flac", tmp_path / "long.flac"),
        ("damaged.wav", b"RIFF not really"),
        ("quiet.wav", encode(np.zeros(16000, np.float32))),
        ("missing.wav", tmp_path / "nowhere.wav"),
        ("class.zip", archive),
    ]


def test_a_mixed_batch_gives_one_row_per_file(pred, tmp_path):
    seen = []
    rows = report.analyse_files(
        mixed_batch(tmp_path), predictor=pred, progress=lambda d, t: seen.append((d, t))
    )
    names = [r["file"] for r in rows]
    assert names == [
        "short.wav",
        "long.flac",
        "damaged.wav",
        "quiet.wav",
        "missing.wav",
        "class.zip/class/a.wav",
        "class.zip/evil.wav",  # '../..' dropped: no path traversal
        "class.zip/class/broken.mp3",
    ]
    assert seen[0] == (0, 8) and seen[-1] == (8, 8) and len(seen) == 9
    good = {r["file"]: r for r in rows if not r["error"]}
    assert set(good) == {"short.wav", "long.flac", "class.zip/class/a.wav", "class.zip/evil.wav"}
    for r in good.values():
        assert list(r) == list(report.COLUMNS)
        assert r["label"] in EMOTIONS and abs(sum(r[e] for e in EMOTIONS) - 1) < 1e-3
        assert r["label"] == max(EMOTIONS, key=lambda e: r[e])
        assert isinstance(r["unsure"], bool)
    assert good["short.wav"]["duration_s"] == 2.0 and good["short.wav"]["over_time"] == ""
    long = good["long.flac"]
    assert long["duration_s"] == 7.5 and re.fullmatch(r"(\w+ \d+–\d+ s)(, \w+ \d+–\d+ s)*", long["over_time"])
    assert long["over_time"].split(" ")[1].startswith("0–") and long["over_time"].endswith("–8 s")  # 7.5 s
    bad = {r["file"]: r for r in rows if r["error"]}
    assert "damaged" in bad["damaged.wav"]["error"] and "silent" in bad["quiet.wav"]["error"]
    assert "no such file" in bad["missing.wav"]["error"]
    for r in bad.values():
        assert r["label"] is None and r["unsure"] is None and all(r[e] is None for e in EMOTIONS)


def test_the_unsure_flag_follows_the_models_threshold(pred):
    items = [("a.wav", encode(tone(2.0)))]
    res = report.analyse(items, predictor=pred)[0]
    assert report.to_rows([res])[0]["unsure"] == (res.verdict.confidence < pred.unsure_below)


def test_zip_and_folder_errors_are_rows(pred, tmp_path):
    (tmp_path / "empty").mkdir()
    rows = report.analyse_files(
        [
            ("bad.zip", b"PK but not a zip"),
            ("texts.zip", zip_of({"a.txt": b"x"})),
            ("empty", tmp_path / "empty"),
        ],
        predictor=pred,
    )
    assert [r["file"] for r in rows] == ["bad.zip", "texts.zip", "empty"]
    assert "not a readable zip archive" in rows[0]["error"]
    assert "holds no audio files" in rows[1]["error"] and "holds no audio files" in rows[2]["error"]


def test_a_folder_stands_for_its_audio_files_and_zips(pred, tmp_path):
    d = tmp_path / "rec"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "b.ogg").write_bytes(encode(tone(1.0), ext="ogg"))
    (d / "a.wav").write_bytes(encode(tone(1.0)))
    (d / "notes.txt").write_text("x")
    (d / "more.zip").write_bytes(zip_of({"c.wav": encode(tone(1.0))}))
    rows = report.analyse_files([(str(d), d)], predictor=pred)
    assert [Path(r["file"]).name for r in rows] == ["a.wav", "b.ogg", "c.wav"]
    assert not any(r["error"] for r in rows)


def test_the_batch_is_capped_with_a_clear_error(pred):
    items = [("many.zip", zip_of({f"{k}.wav": b"x" for k in range(5)}))]
    assert report.check_batch(items) == 5
    with pytest.raises(report.BatchError, match=r"Too many files at once: 5, and at most 4"):
        report.analyse(items, predictor=pred, max_files=4)
    with pytest.raises(report.BatchError, match=r"Too much audio at once"):
        report.check_batch([("a.wav", b"x" * 2000)], max_bytes=1000)


def test_safe_member_names():
    assert report.safe_member_name("../../etc/passwd") == "etc/passwd"
    assert report.safe_member_name("/abs/a.wav") == "abs/a.wav"
    assert report.safe_member_name("C:\\x\\..\\a.wav") == "x/a.wav"
    assert report.safe_member_name("a/\x00b.wav") == "a/b.wav"
    assert report.safe_member_name("../..") is None


def test_dominant_segments_merge_short_flickers():
    probs = np.full((10, 6), 0.1)
    top = [0, 0, 0, 0, 3, 0, 3, 3, 3, 3]  # one window of neutral inside anger: a flicker
    probs[np.arange(10), top] = 0.5
    tl = Timeline(np.arange(10.0), probs, probs.mean(0))
    seg = report.dominant_segments(tl, seconds=12.0, window=3.0)
    assert [s[0] for s in seg] == ["anger", "neutral"]
    assert seg[0][1] == 0.0 and seg[-1][2] == 12.0 and seg[0][2] == seg[1][1]
    assert report.over_time_text(seg) == "anger 0–7 s, neutral 7–12 s"
    with language("pl"):
        assert report.over_time_text(seg).startswith("złość 0–7 s")


def test_csv_and_json_round_trip(pred, tmp_path):
    rows = report.analyse_files(mixed_batch(tmp_path), predictor=pred)
    assert report.from_csv(report.to_csv(rows)) == rows
    assert report.from_json(report.to_json(rows)) == rows
    header = report.to_csv(rows).splitlines()[0]
    assert header == ",".join(report.COLUMNS)


def test_html_report_is_one_offline_file(pred, tmp_path):
    rows = report.analyse_files(mixed_batch(tmp_path), predictor=pred)
    page = report.html_report(
        rows,
        model_name=pred.model_name,
        card=pred.loaded.card,
        settings=report.settings_of(pred),
        date=datetime(2026, 12, 5, 10, 30),
    )
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count("plotly.js v") >= 1 and page.count("Plotly.newPlot") == 2  # two figures, one library
    # nothing is fetched: no external script, stylesheet, image or frame
    assert not re.search(r"""<(script|link|img|iframe)[^>]+(src|href)=["']?(https?:)?//""", page, re.I)
    assert "2026-12-05 10:30" in page and TINY in page
    assert (
        "Seed split" in page and "New voices" in page and "not measured" in page
    )  # no LOSO in the tiny card
    assert "class.zip/evil.wav" in page and "damaged" in page
    assert page.count("<tr") == len(rows) + 1


def test_html_report_in_polish(pred):
    rows = report.analyse_files([("a.wav", encode(tone(2.0)))], predictor=pred)
    with language("pl"):
        page = report.html_report(
            rows, model_name=TINY, card=pred.loaded.card, settings=report.settings_of(pred)
        )
    assert '<html lang="pl">' in page
    assert "Raport analizy emocji" in page and "Podział losowy (seed)" in page
