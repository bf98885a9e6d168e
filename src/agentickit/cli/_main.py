"""Entry point: builds the argument parser from the subcommand modules and dispatches.

Each subcommand module exposes `register(subparsers)`, which adds its parser and sets
`handler=<function(args) -> int>`. Modules must not import heavy dependencies at import time:
`agentickit --help` should start in a few tens of milliseconds.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .._version import __version__

# Subcommand modules, in the order `--help` lists them. Missing optional ones are skipped.
SUBCOMMANDS: tuple[str, ...] = (
    "agentickit.cli._demo",
    "agentickit.cli._run",
    "agentickit.cli._simulate",
    "agentickit.cli._mcp",
    "agentickit.cli._config",
    "agentickit.cli._bench",
    "agentickit.cli._serve",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = argparse.ArgumentParser(
        prog="agentickit",
        description="Async-first LLM agents and workflows. Try `agentickit demo` (no API key needed).",
    )
    parser.add_argument("--version", action="version", version=f"agentickit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the CLI's top-level boundary: print the error, not a traceback
        from ..errors import AgentickitError

        if not isinstance(exc, AgentickitError):
            raise
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
