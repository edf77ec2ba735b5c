"""The command registry shared by every command group of :mod:`ser_core.cli`."""

from __future__ import annotations

import argparse
from collections.abc import Callable

Handler = Callable[[argparse.Namespace], int]
AddArguments = Callable[[argparse.ArgumentParser], None]

COMMANDS: dict[str, tuple[Handler, AddArguments, str]] = {}


def command(subcommand: str, help: str):
    """Register ``fn(args) -> exit code``; the decorated function's ``.args``
    attribute (set with :func:`arguments`) adds its options."""

    def deco(fn):
        COMMANDS[subcommand] = (fn, getattr(fn, "_add_args", lambda p: None), help)
        return fn

    return deco


def arguments(add: AddArguments):
    def deco(fn):
        fn._add_args = add
        return fn

    return deco


def corpus_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nemo-dir", default=None, help="corpus folder (default: $NEMO_DIR or data/nEMO)")


def command_line(a: argparse.Namespace) -> str:
    """The command that produced ``a`` (for model cards: how to reproduce them)."""
    argv = getattr(a, "_argv", None) or []
    return "python -m ser_core " + " ".join(argv) if argv else ""
