"""`agentickit config check CONFIG` and `agentickit config init [PATH]`."""

from __future__ import annotations

import argparse
import functools
import sys
from typing import Any

__all__ = ("register",)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:  # pyright: ignore[reportPrivateUsage]
    """Add the `config` subcommand and its `check` and `init` actions."""
    p = sub.add_parser("config", help="check a config file, or write a commented starter file")
    actions = p.add_subparsers(dest="config_command", metavar="ACTION")

    check = actions.add_parser("check", help="validate a config file and build what it declares (no model is called)")
    check.add_argument("path", metavar="CONFIG", help="the TOML file")
    check.add_argument("--print", action="store_true", help="print the validated config as TOML (secrets included)")
    check.add_argument(
        "--import",
        dest="do_import",
        action="store_true",
        help="also import the tool and handler modules it names (runs their code); by default they are "
        "only found and checked for the names, without running anything",
    )
    check.set_defaults(handler=_check)

    init = actions.add_parser("init", help="write a commented starter file that runs offline")
    init.add_argument("path", metavar="PATH", nargs="?", default=None, help="default: agent.toml (workflow.toml)")
    init.add_argument("--workflow", action="store_true", help="a workflow of agents instead of one agent")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(handler=_init)

    p.set_defaults(handler=functools.partial(_usage, p))


def _usage(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    parser.print_help()
    return 2


def _describe(runnable: Any) -> str:
    from ..agent import Agent

    if isinstance(runnable, Agent):
        llm = runnable.llm
        model = f"{getattr(llm, 'provider', '?')}:{getattr(llm, 'model', '?')}" if not isinstance(llm, str) else llm
        parts = [f"agent {runnable.name!r} ({model})"]
        if runnable.tools:
            parts.append(f"{len(runnable.tools)} tool(s)/source(s)")
        if runnable.handler is not None:
            parts.append("custom handler")
        if runnable.memory is not None:
            parts.append(f"memory (history_limit={runnable.memory.history_limit})")
        return ", ".join(parts)
    steps = getattr(runnable, "steps", ())
    return f"{type(runnable).__name__} {runnable.name!r} with {len(steps)} step(s)"


def _check(args: argparse.Namespace) -> int:
    from ..config import load_config, load_runnable
    from ..config._build import STATIC_IMPORTS

    cfg = load_config(args.path)
    token = STATIC_IMPORTS.set(not args.do_import)
    try:
        runnable = load_runnable(cfg)
    finally:
        STATIC_IMPORTS.reset(token)
    if args.print:
        sys.stdout.write(cfg.to_toml())
    sys.stdout.write(f"{args.path}: OK: {_describe(runnable)}\n")
    return 0


def _init(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..config._starter import STARTER_AGENT, STARTER_WORKFLOW
    from ..errors import UserError

    path = Path(args.path or ("workflow.toml" if args.workflow else "agent.toml"))
    if path.exists() and not args.force:
        raise UserError(f"{path} already exists; pass --force to overwrite it, or give another PATH")
    path.write_text(STARTER_WORKFLOW if args.workflow else STARTER_AGENT, encoding="utf-8")
    sys.stdout.write(f"wrote {path}; check it with `agentickit config check {path}`\n")
    return 0
