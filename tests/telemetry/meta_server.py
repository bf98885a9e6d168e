"""An MCP stdio server whose tool answers with the W3C trace context it received in the request's `_meta`."""

from __future__ import annotations

from mcp.server.mcpserver import Context, MCPServer

app = MCPServer("meta", log_level="WARNING")


@app.tool()
def traceparent(ctx: Context) -> str:
    """The `traceparent` of this request's `_meta` ("" when there is none)."""
    meta = ctx.request_context.meta or {}
    return str(meta.get("traceparent", ""))


if __name__ == "__main__":
    app.run("stdio")
