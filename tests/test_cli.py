"""python -m ser_core: commands, and errors as messages (never tracebacks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ser_core.cli import main
from tests.conftest import ROOT, make_corpus


def run(*args, env=None):
    e = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "ser_core", *args],
        cwd=ROOT,
        env=e,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_representations_lists_the_registry():
    r = run("representations")
    assert r.returncode == 0
    assert "tonnetz" in r.stdout and "(2, 128, 188)" in r.stdout
    rows = json.loads(run("representations", "--json").stdout)
    assert len(rows) == 13 and rows[0]["name"] == "mel"


def test_no_command_prints_help(capsys):
    assert main([]) == 1
    assert "representations" in capsys.readouterr().out


def test_missing_corpus_is_a_message_not_a_traceback(tmp_path):
    r = run("cache", "--nemo-dir", str(tmp_path / "none"))
    assert r.returncode == 2
    assert r.stderr.startswith("error: no nEMO corpus") and "Traceback" not in r.stderr


def test_download_offline(tmp_path):
    r = run("download", "--dest", str(tmp_path / "n"), "--url", "http://127.0.0.1:9/x.zip")
    assert r.returncode == 2 and "could not download" in r.stderr and "Traceback" not in r.stderr


def test_cache_and_info_on_a_tiny_corpus(tmp_path):
    root = make_corpus(tmp_path / "c")
    env = {"SER_CACHE_DIR": str(tmp_path / "cache"), "NEMO_DIR": str(root)}
    r = run("cache", "-r", "mel", "-r", "rms", "--workers", "1", env=env)
    assert r.returncode == 0, r.stderr
    assert "ready for 2 representations, 18 clips" in r.stdout
    r = run("info", env=env)
    assert "18 clips" in r.stdout and "mel                ready" in r.stdout
    r = run("cache", "-r", "mell", env=env)
    assert r.returncode == 2 and "unknown representation 'mell'" in r.stderr
