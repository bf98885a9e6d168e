"""A tiny MCP server for the config tests: `python say.py WORD [http PORT]`; its `say` tool answers WORD."""

from __future__ import annotations

import asyncio
import os
import sys

from mcp.server.mcpserver import Context, MCPServer

app = MCPServer("say", log_level="WARNING")
WORD = sys.argv[1] if len(sys.argv) > 1 else "nothing"


@app.tool()
def say() -> str:
    """Say the server's word."""
    return WORD


@app.tool()
async def slow(seconds: float) -> str:
    """Answer after a while."""
    await asyncio.sleep(seconds)
    return "slow done"


@app.tool()
def env(name: str) -> str:
    """An environment variable of the server process."""
    return os.environ.get(name, "<unset>")


@app.tool()
def cwd() -> str:
    """The server's working directory."""
    return os.getcwd()


@app.tool()
def header(name: str, ctx: Context) -> str:
    """A header of the HTTP request that carried this call."""
    return (ctx.headers or {}).get(name.lower(), "<none>")


@app.tool()
def grow(name: str) -> str:
    """Add a tool at run time (the tool list changes)."""
    app.add_tool(lambda: name, name=name, description="added at run time")
    return f"added {name}"


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[2] == "http":
        app.run("streamable-http", host="127.0.0.1", port=int(sys.argv[3]))
    else:
        app.run()
