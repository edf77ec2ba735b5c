"""Command line: ``python -m ser_core <command> [options]``.

One module per command group registers its commands (:mod:`.base`); this one
builds the parser and runs a command. Every command turns a
:class:`~ser_core.errors.SERError` into a one-line message on stderr and exit
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import SERError

# the command groups, imported for their registrations, in the order of `--help`
# isort: off
from . import corpus, training, evaluation, prediction, reports, benchmarks, docs, serving  # noqa: F401

# isort: on
from .base import COMMANDS

__all__ = ["COMMANDS", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ser_core",
        description="Speech emotion recognition on nEMO: data, features, models.",
    )
    parser.add_argument("--version", action="version", version=f"ser_core {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for subcommand, (fn, add, help_) in COMMANDS.items():
        p = sub.add_parser(subcommand, help=help_, description=help_)
        add(p)
        p.set_defaults(_fn=fn)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args._argv = list(sys.argv[1:] if argv is None else argv)
    if not getattr(args, "_fn", None):
        parser.print_help()
        return 1
    try:
        return int(args._fn(args) or 0)
    except SERError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head`
        return 0
