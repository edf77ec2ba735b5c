"""The results-page command: write (or check) docs/results.md from the cards and MLflow."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import project_root
from ..results_page import COMMAND, results_page
from .base import arguments, command


@command("results-page", "write docs/results.md from the model cards and MLflow (--check: is it current?)")
@arguments(
    lambda p: (
        p.add_argument("--output", default=None, help="the page (default: docs/results.md)"),
        p.add_argument(
            "--check",
            action="store_true",
            help="write nothing; exit 1 when the page differs from what the cards and MLflow give",
        ),
    )
)
def _results_page(a: argparse.Namespace) -> int:
    path = Path(a.output) if a.output else project_root() / "docs" / "results.md"
    text = results_page()
    if a.check:
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            print(f"{path} is out of date: run `{COMMAND}`", file=sys.stderr)
            return 1
        print(f"{path} is up to date")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0
