"""``python -m ser_core report``: files, folders and zips in, one HTML report (and CSV / JSON) out;
bad input is one sentence, never a traceback."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from ser_core import report
from tests.conftest import encode, tone
from tests.test_cli import run
from tests.tiny_model import TINY, ship_tiny_model


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("report-cli")
    artifacts = ship_tiny_model(root)
    return {"SER_ARTIFACTS": str(artifacts), "SER_ONNX_CACHE": str(root / "onnx")}


def batch(tmp_path: Path) -> Path:
    d = tmp_path / "rec"
    d.mkdir()
    (d / "a.wav").write_bytes(encode(tone(2.0)))
    (d / "long.flac").write_bytes(encode(tone(5.0), ext="flac"))
    (d / "bad.mp3").write_bytes(b"\x00" * 64)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("inner/b.wav", encode(tone(1.0)))
    (tmp_path / "more.zip").write_bytes(buf.getvalue())
    return d


def test_report_writes_html_csv_and_json(env, tmp_path):
    d = batch(tmp_path)
    out = tmp_path / "report.html"
    r = run(
        "report", str(d), str(tmp_path / "more.zip"), "-o", str(out),
        "--csv", str(tmp_path / "t.csv"), "--json", str(tmp_path / "t.json"), env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "4/4" in r.stderr  # the progress bar
    assert f"{out}: 3 of 4 files analysed, 1 failed" in r.stdout
    assert "bad.mp3" in r.stderr  # the failed file's sentence
    page = out.read_text(encoding="utf-8")
    assert page.count("Plotly.newPlot") == 2 and TINY in page and "more.zip/inner/b.wav" in page
    rows = report.from_csv((tmp_path / "t.csv").read_text(encoding="utf-8"))
    assert [Path(r["file"]).name for r in rows] == ["a.wav", "bad.mp3", "long.flac", "b.wav"]
    assert rows == json.loads((tmp_path / "t.json").read_text(encoding="utf-8"))
    assert rows[2]["over_time"] and rows[1]["error"] and rows[1]["label"] is None


def test_report_in_polish(env, tmp_path):
    (tmp_path / "a.wav").write_bytes(encode(tone(2.0)))
    out = tmp_path / "raport.html"
    r = run("report", str(tmp_path / "a.wav"), "-o", str(out), "--language", "pl", env=env)
    assert r.returncode == 0, r.stderr
    assert '<html lang="pl">' in out.read_text(encoding="utf-8")


def test_bad_input_is_one_sentence(env, tmp_path):
    r = run("report", str(tmp_path / "none.wav"), "-o", str(tmp_path / "r.html"), env=env)
    assert r.returncode == 1 and "no such file" in r.stderr and "Traceback" not in r.stderr
    r = run("report", str(tmp_path), "-o", str(tmp_path / "no" / "r.html"), env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("error: cannot write")
    r = run("report", str(tmp_path), "-o", str(tmp_path / "r.html"), "--model", "nope", env=env)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    r = run("report", "-o", str(tmp_path / "r.html"), env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr  # argparse: FILE_OR_DIR is required
