"""`agentickit mcp`: inspect an MCP server (list its tools, call one) before giving it to an agent.

```
agentickit mcp list-tools -- python server.py --db data.sqlite     # stdio
agentickit mcp list-tools --url http://127.0.0.1:8000/mcp          # streamable HTTP
agentickit mcp call --tool add --args '{"a": 1, "b": 2}' -- python server.py
```
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..mcp import MCPServer


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:  # pyright: ignore[reportPrivateUsage]
    """Add the `mcp` subcommand."""
    parser = subparsers.add_parser(
        "mcp",
        help="inspect an MCP server: list its tools or call one",
        description="Inspect an MCP server. Give a stdio command after `--`, or --url for an HTTP server.",
    )
    actions = parser.add_subparsers(dest="mcp_action", metavar="ACTION")
    parser.set_defaults(handler=lambda _args: _help(parser))  # pyright: ignore[reportUnknownLambdaType]

    list_tools = actions.add_parser("list-tools", help="connect and print the server's tools with their arguments")
    _server_options(list_tools)
    list_tools.add_argument("--json", action="store_true", help="print the tool definitions as JSON")
    list_tools.set_defaults(handler=_list_tools)

    call = actions.add_parser("call", help="call one tool and print its result")
    # An option, not a positional: argparse cannot split two positional groups around `--`.
    call.add_argument("--tool", required=True, help="the tool's name on the server")
    call.add_argument("--args", default="{}", help="the arguments as a JSON object (default: {})")
    _server_options(call)
    call.set_defaults(handler=_call)


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 0


def _server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="an HTTP server's endpoint, e.g. http://127.0.0.1:8000/mcp")
    parser.add_argument("--sse", action="store_true", help="the URL speaks the older HTTP+SSE transport")
    parser.add_argument(
        "--header", action="append", default=[], metavar="NAME=VALUE", help="an HTTP header (repeatable)"
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default: 30)")
    parser.add_argument("--connect-timeout", type=float, default=10.0, help="seconds to connect (default: 10)")
    parser.add_argument("server_command", nargs="*", metavar="-- COMMAND ARGS", help="a stdio server to run")


def _server(args: argparse.Namespace) -> MCPServer:
    from ..errors import UserError
    from ..mcp import MCPServer

    command: list[str] = list(args.server_command)
    if command and command[0] == "--":
        command = command[1:]
    options: dict[str, Any] = {"timeout": args.timeout, "connect_timeout": args.connect_timeout}
    if args.url:
        if command:
            raise UserError("give either --url or a command after `--`, not both")
        headers = dict(_header(h) for h in args.header)
        return (MCPServer.sse if args.sse else MCPServer.http)(args.url, headers=headers or None, **options)
    if not command:
        raise UserError("which server? add `-- COMMAND ARGS` (stdio) or `--url URL` (HTTP)")
    return MCPServer.stdio(command[0], command[1:], **options)


def _header(text: str) -> tuple[str, str]:
    from ..errors import UserError

    name, sep, value = text.partition("=")
    if not sep or not name:
        raise UserError(f"--header takes NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()


def _list_tools(args: argparse.Namespace) -> int:
    from ._common import run_async

    server = _server(args)

    async def main() -> list[Any]:
        try:
            return [t.definition for t in await server.list_tools()]
        finally:
            await server.aclose()

    definitions = run_async(main())
    if args.json:
        import orjson

        payload = [{"name": d.name, "description": d.description, "parameters": d.parameters} for d in definitions]
        sys.stdout.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    print(f"{len(definitions)} tool{'s' if len(definitions) != 1 else ''} on {server.name}")
    for d in definitions:
        props: dict[str, Any] = d.parameters.get("properties", {})
        required = set(d.parameters.get("required", ()))
        params = ", ".join(f"{n}{'' if n in required else '?'}: {p.get('type', 'any')}" for n, p in props.items())
        summary = d.description.strip().splitlines()[0] if d.description.strip() else ""
        print(f"  {d.name}({params})" + (f"  - {summary}" if summary else ""))
    return 0


def _call(args: argparse.Namespace) -> int:
    import orjson

    from ..errors import ToolError, UserError
    from ._common import run_async

    try:
        arguments = orjson.loads(args.args)
    except orjson.JSONDecodeError as exc:
        raise UserError(f"--args must be a JSON object, e.g. '{{\"a\": 1}}': {exc}") from exc
    if not isinstance(arguments, dict):
        raise UserError("--args must be a JSON object, e.g. '{\"a\": 1}'")
    server = _server(args)

    async def main() -> Any:
        try:
            return await server.call_tool(args.tool, arguments)  # pyright: ignore[reportUnknownArgumentType]
        finally:
            await server.aclose()

    try:
        output = run_async(main())
    except ToolError as exc:
        print(f"tool error: {exc}", file=sys.stderr)
        return 2
    print(output.text)
    for item in output.attachments:
        print(f"[attachment: {item.get('type')} {item.get('mime_type') or item.get('uri') or ''}]")
    return 0
