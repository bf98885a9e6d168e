"""A minimal hand-written MCP server (no SDK) whose tool results break the protocol.

The SDK's own server cannot send a malformed result, so this one speaks just enough JSON-RPC over
stdio: it refuses `server/discover` (so the client falls back to the 2025 `initialize` handshake),
lists one tool, and answers every call with `content` that is not a list.
"""

from __future__ import annotations

import json
import sys


def reply(request_id: object, result: object = None, error: object = None) -> None:
    message: dict[str, object] = {"jsonrpc": "2.0", "id": request_id}
    if error is not None:
        message["error"] = error
    else:
        message["result"] = result
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    request = json.loads(line)
    if "id" not in request:
        continue  # a notification
    method = request.get("method")
    if method == "initialize":
        reply(
            request["id"],
            {
                "protocolVersion": request["params"]["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "malformed", "version": "0"},
            },
        )
    elif method == "tools/list":
        reply(request["id"], {"tools": [{"name": "bad", "inputSchema": {"type": "object"}}]})
    elif method == "tools/call":
        reply(request["id"], {"content": "this should be a list of content blocks"})
    else:
        reply(request["id"], error={"code": -32601, "message": f"method not found: {method}"})
