"""Every served agent and workflow as a tool of a streamable-HTTP MCP server at `/mcp`.

Built on the official SDK's `MCPServer`. The SDK's session manager can run once per instance, so a
fresh server is made each time the app starts (its lifespan), and `/mcp` forwards to it. Auth is
the app's: `/mcp` needs a key whose scopes are `"*"` when keys are configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from starlette.types import Receive, Scope, Send

from ..errors import AgentickitError
from ._http import error_response
from ._state import ServerState
from ._wire import public_message, timeout_error

try:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.server.transport_security import TransportSecuritySettings
except ImportError as exc:  # pragma: no cover - mcp is a dependency of the serve extra
    raise ImportError('the MCP endpoint needs the mcp SDK: pip install "agentickit[serve]"') from exc

__all__ = ("MCPEndpoint",)


def _tool(state: ServerState, target: Any, kind: str) -> Callable[[str], Awaitable[str]]:
    async def run(input: str) -> str:
        if state.closing:
            raise ToolError("the server is shutting down; retry on another instance")
        try:
            try:
                async with asyncio.timeout(state.settings.request_timeout):
                    result = await target.run(input)
            except TimeoutError as exc:
                if isinstance(exc, AgentickitError):
                    raise
                raise timeout_error(state.settings.request_timeout) from exc
            result_error = getattr(result, "error", None)
            if result_error is not None:
                raise result_error
            if getattr(result, "status", None) == "paused":
                # Not an answer: an error result the host's model cannot mistake for one, naming the run.
                record = await state.registry.record_paused(target, kind, result)
                raise ToolError(record.paused_text())
        except ToolError:
            raise
        except Exception as exc:  # the tool boundary: the SDK sends the message as an error result
            raise ToolError(public_message(exc)) from exc
        return result.content

    return run


class MCPEndpoint:
    """The ASGI app at `/mcp`, and the lifespan that runs the SDK's session manager."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self._asgi: Any = None

    def _build(self) -> Any:
        state = self.state
        # The SDK's constructor calls logging.basicConfig(level=INFO) with a rich handler: on a process
        # whose root logger had no handler yet, every INFO record (our access log: ~1 ms per request)
        # would then be rendered to stderr. A library must not configure the application's logging.
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        try:
            server: MCPServer[Any] = MCPServer(
                "agentickit", instructions="Each tool runs one agentickit agent or workflow."
            )
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)
        for kind, targets in (("agent", state.agents), ("workflow", state.workflows)):
            for name, target in targets.items():
                about = (
                    getattr(target, "description", "") or f"Run the {kind} {name!r} on an input and return its answer."
                )
                server.add_tool(_tool(state, target, kind), name=name, description=about, structured_output=False)
        host = state.settings.host
        if host in ("127.0.0.1", "localhost", "::1"):
            security = None  # the SDK's own DNS-rebinding guard for loopback hosts
        else:
            # Bound to another address, clients use names the SDK cannot know; API keys guard the endpoint.
            security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
        server.streamable_http_app(streamable_http_path="/mcp", transport_security=security, host=host)
        return server

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncGenerator[None]:
        """Run a fresh MCP server's session manager for the app's lifetime."""
        server = self._build()
        manager = server.session_manager
        async with manager.run():
            self._asgi = manager.handle_request
            try:
                yield
            finally:
                self._asgi = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = scope.get("agentickit.key")
        if key is not None and "*" not in key.scopes:
            await error_response(403, "permission_denied", f"API key {key.name!r} needs the scope '*' for /mcp")(
                scope, receive, send
            )
            return
        handler = self._asgi
        if handler is None:
            await error_response(503, "unavailable", "the MCP endpoint is not running (the app has not started)")(
                scope, receive, send
            )
            return
        await handler(scope, receive, send)
