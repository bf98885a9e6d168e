"""A real MCP server for the tests, written with the official SDK.

Run: `python basic.py stdio`, `python basic.py http PORT` (streamable HTTP) or `python basic.py sse PORT`.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from mcp.server.mcpserver import Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

app = MCPServer("basic", log_level="WARNING")


@app.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@app.tool()
def echo(text: str) -> str:
    """Say it back."""
    return text


@app.tool()
def pid() -> int:
    """The server's process id (a respawned server has a new one)."""
    return os.getpid()


@app.tool()
def fail(message: str) -> str:
    """Report a tool error."""
    raise ToolError(message)


@app.tool()
def picture() -> Image:
    """A tiny PNG."""
    return Image(data=b"\x89PNG\r\n\x1a\n0000", format="png")


@app.tool()
def weather(city: str) -> dict[str, object]:
    """Structured weather."""
    return {"city": city, "temp": 21}


@app.tool()
async def hang() -> str:
    """Never answers."""
    await asyncio.sleep(3600)
    return "never"


@app.tool()
def crash() -> str:
    """The process dies mid-call."""
    sys.stderr.write("about to crash\n")
    sys.stderr.flush()
    os._exit(1)


@app.tool()
async def wedge() -> str:
    """Blocks the server's whole event loop: every later request hangs too."""
    time.sleep(30)  # noqa: ASYNC251 - blocking the loop is the point of this tool
    return "never"


@app.tool()
def add_tool(name: str) -> str:
    """Register a new tool at run time (the tool list changes)."""
    app.add_tool(lambda: name, name=name, description="added at run time")
    return f"added {name}"


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "stdio"
    if mode == "stdio":
        app.run()
    elif mode == "http":
        app.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        app.run("sse", host="127.0.0.1", port=int(sys.argv[2]))
