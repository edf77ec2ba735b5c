"""The README is a newcomer's first page: short, its example runs, its links and figures hold."""

from __future__ import annotations

import re

import numpy as np
import soundfile as sf

from ser_core import models, results_page
from ser_core.config import EMOTIONS
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = sorted((ROOT / "docs").glob("*.md"))


def _section(text: str, title: str) -> str:
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else None]


def test_the_readme_is_short_and_gives_the_two_commands():
    assert len(README.splitlines()) <= 200
    install = 'python3 -m venv .venv && .venv/bin/pip install -e ".[test]"'
    assert f"{install} && .venv/bin/streamlit run app.py" in README
    assert f"{install} && .venv/bin/python -m pytest" in README


def test_the_python_example_runs_on_a_recording(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert blocks and all(len(b.strip().splitlines()) <= 12 for b in blocks)
    sr = 16000
    t = np.arange(3 * sr) / sr
    y = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    sf.write(tmp_path / "my_clip.wav", y.astype(np.float32), sr)  # the example's `path`
    monkeypatch.chdir(tmp_path)
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out.splitlines()
    assert out[0].split(" ")[0] in EMOTIONS or out[0].startswith("The model is unsure")
    assert [line.split()[0] for line in out[1:]] == list(EMOTIONS)


def test_the_readme_figures_are_those_of_the_results_page():
    """The model advice quotes figures; each must be on the generated page (cards, MLflow)."""
    advice = _section(README, "Which model to use for what")
    figures = re.findall(r"\d+\.\d+(?: ± \d+\.\d+)? %", advice)
    assert len(figures) >= 5
    page = results_page.results_page()
    assert [f for f in figures if f not in page] == []
    for name in re.findall(r"`([a-z0-9_]+)`", advice):
        assert name in models.shipped(), name


def test_links_point_at_files_that_exist():
    for doc in [ROOT / "README.md", *DOCS]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text(encoding="utf-8")):
            assert (doc.parent / target).exists(), f"{doc.name} links to a missing {target}"


def test_the_reproduce_page_holds_every_shipped_card_command():
    page = (ROOT / "docs" / "reproduce.md").read_text(encoding="utf-8")
    for name, card in models.shipped_cards().items():
        assert card["reproduce"] in page, f"docs/reproduce.md lacks the command of {name}"
