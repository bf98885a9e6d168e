"""A tiny MCP server for the config tests: `python say.py WORD [http PORT]`; its `say` tool answers WORD."""

from __future__ import annotations

import asyncio
import sys

from mcp.server.mcpserver import MCPServer

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


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[2] == "http":
        app.run("streamable-http", host="127.0.0.1", port=int(sys.argv[3]))
    else:
        app.run()
