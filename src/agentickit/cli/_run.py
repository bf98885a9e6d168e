"""`agentickit run`: run an agent (or a workflow from a config file) on one query."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import run_async

__all__ = ("register",)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:  # pyright: ignore[reportPrivateUsage]
    """Add the `run` subcommand."""
    p = sub.add_parser(
        "run",
        help="run an agent on a query: `agentickit run --llm simulated:echo 'hi'` or `agentickit run agent.toml 'hi'`",
    )
    p.add_argument("args", nargs="+", metavar="[CONFIG] QUERY", help="an optional TOML config file, then the query")
    p.add_argument("--llm", default=None, help="'provider:model' (default: simulated), e.g. openai:gpt-4o-mini")
    p.add_argument("--base-url", default=None, help="endpoint for OpenAI-compatible servers")
    p.add_argument("--system", default="", help="system prompt")
    p.add_argument("--stream", action="store_true", help="render the answer as it streams")
    p.add_argument("--max-tokens", type=int, default=None)
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--timeout", type=float, default=None, help="seconds the run may take")
    p.add_argument(
        "--mcp", action="append", default=[], metavar="CMD_OR_URL", help="an MCP server (command line or URL)"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=_main)


def _build(args: argparse.Namespace) -> tuple[Any, str]:
    import agentickit as ak

    from ..errors import UserError

    if len(args.args) > 2:
        raise UserError("run takes [CONFIG] QUERY; quote a query that has spaces")
    query: str = args.args[-1]
    if len(args.args) == 2:
        from agentickit.config import load_runnable

        return load_runnable(args.args[0]), query
    llm: Any = args.llm or "simulated"
    if args.base_url:
        provider, _, model = llm.partition(":")
        llm = ak.LLMConfig(provider=provider, model=model or provider, base_url=args.base_url)
    tools: list[Any] = []
    for spec in args.mcp:
        tools.append(_mcp_server(spec))
    return ak.Agent("cli", llm, system_prompt=args.system, tools=tools), query


def _mcp_server(spec: str) -> Any:
    import shlex

    import agentickit as ak

    if spec.startswith(("http://", "https://")):
        return ak.MCPServer.http(spec)
    parts = shlex.split(spec)
    return ak.MCPServer.stdio(parts[0], parts[1:])


def _main(args: argparse.Namespace) -> int:
    runnable, query = _build(args)
    options: dict[str, Any] = {
        k: v
        for k, v in (("max_tokens", args.max_tokens), ("temperature", args.temperature), ("timeout", args.timeout))
        if v is not None
    }

    async def main() -> int:
        try:
            if args.stream:
                from rich.console import Console

                from ._render import render_stream

                await render_stream(runnable.run_stream(query, **options), Console())
                return 0
            result = await runnable.run(query, **options)
        finally:
            cleanup = getattr(runnable, "cleanup", None)
            if cleanup is not None:
                await cleanup()
        if args.json:
            import orjson

            payload = {
                "content": result.content,
                "usage": {"input_tokens": result.usage.input_tokens, "output_tokens": result.usage.output_tokens},
                "duration": result.duration,
                "tool_calls": [
                    {"name": c.name, "args": c.args, "error": c.error, "duration": c.duration}
                    for c in result.tool_calls
                ],
                "run_id": result.run_id,
            }
            sys.stdout.write(orjson.dumps(payload, default=str).decode() + "\n")
        else:
            sys.stdout.write(result.content + "\n")
        return 0

    return run_async(main())
