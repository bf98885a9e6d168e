"""An MCP server whose tools show what the client's policies did: `python policies.py [http PORT]`.

`count` counts the calls that reached the server, `flaky` fails until it has been called `failures`
times for a key, `overlap` reports the most calls it saw in flight at once, `hang` never answers.
"""

from __future__ import annotations

import asyncio
import sys
import time

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

app = MCPServer("policies", log_level="WARNING")
_calls: dict[str, int] = {}
_inflight = [0, 0]  # now, peak


@app.tool()
def count(key: str) -> int:
    """How many calls with this key reached the server (this one included)."""
    _calls[key] = _calls.get(key, 0) + 1
    return _calls[key]


@app.tool()
def flaky(key: str, failures: int) -> str:
    """Fail the first `failures` calls for a key, then succeed."""
    _calls[key] = _calls.get(key, 0) + 1
    if _calls[key] <= failures:
        raise ToolError(f"attempt {_calls[key]} failed")
    return f"ok after {_calls[key]}"


@app.tool()
async def overlap(seconds: float) -> int:
    """Stay in flight a while; answer the most calls in flight at once so far."""
    _inflight[0] += 1
    _inflight[1] = max(_inflight)
    try:
        await asyncio.sleep(seconds)
    finally:
        _inflight[0] -= 1
    return _inflight[1]


@app.tool()
def stamp() -> float:
    """The server's clock when the call arrived."""
    return time.monotonic()


@app.tool()
async def hang() -> str:
    """Never answers."""
    await asyncio.sleep(3600)
    return "never"


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "http":
        app.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        app.run()
