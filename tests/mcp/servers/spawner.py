"""A real MCP server that starts a helper process of its own, which outlives the server if nobody ends it.

Run: `python spawner.py PIDFILE`. The helper's pid is written to PIDFILE. The server itself exits
when its stdin closes, as a polite server does; its helper would not (issue 11, item 20).
"""

from __future__ import annotations

import subprocess
import sys

from mcp.server.mcpserver import MCPServer

helper = subprocess.Popen([sys.executable, "-c", "import time\nwhile True: time.sleep(3600)"])
with open(sys.argv[1], "w") as f:
    f.write(str(helper.pid))

app = MCPServer("spawner", log_level="WARNING")


@app.tool()
def ping() -> str:
    """Answer pong."""
    return "pong"


if __name__ == "__main__":
    app.run("stdio")
