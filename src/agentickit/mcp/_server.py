"""`MCPServer`: an MCP server as a lazy, self-healing tool source, over the official `mcp` SDK.

This is the façade users see: settings, the tool list, tool calls, and how failures read. The
connection itself is `_connection.Connection` (one session and its owner task) kept by a
`_connection.Connector`; each transport is a small opener in `_transports.py`.

Lifecycle. Nothing happens when the object is built: the server is started (stdio) or reached
(streamable HTTP, SSE) when an agent first needs its tools. Each request is bounded by a timeout.

Policies. The tool policies of `@ak.tool` (`retries`, `retry_backoff`, `retry_on`, `cache_ttl`,
`rate_limit`, `max_concurrency`) apply to every tool of the server, and `tool_policies` sets them
(and a per-call `timeout`) per tool name. They become the policies of the `Tool` objects the
server lists, so an agent runs MCP calls through the same policy chain as its Python tools
(`tools/_chain.py`); nothing here re-implements them.

Failures. A call that finds the connection closed, or a transport error, marks the connection
broken and raises `MCPError`; the next call starts a new connection (stdio respawns the process,
HTTP reconnects). A call that times out asks the owner to probe the server: if it does not answer
a `tools/list` promptly, the connection is recycled too, so a wedged server cannot stall every
later call. A server that cannot start reports the command and the tail of its stderr.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shlex
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

from .._utils import first_leaf
from ..errors import MCPError, ToolError, ToolTimeoutError, UserError
from ..messages import ToolDefinition
from ..telemetry import _hooks as _tel
from ..tools._output import ToolOutput
from ..tools._policies import RateLimit
from ..tools._source import ToolSource
from ..tools._tool import Tool, check_policies
from ._connection import Connection, Connector
from ._results import to_output
from ._transports import HTTPOpener, Opener, SSEOpener, StdioOpener

if TYPE_CHECKING:
    from mcp import Client
    from mcp_types import RequestParamsMeta

__all__ = ("MCPServer", "ToolFilter", "ToolPolicy")

_log = logging.getLogger("agentickit.mcp")

ToolFilter = Collection[str] | Callable[[ToolDefinition], bool]
"""Which server tools to offer: a collection of (unprefixed) names, or a predicate on their definitions."""

ToolPolicy = Mapping[str, Any]
"""The policies of one MCP tool: any of `timeout` (its per-call timeout), `retries`, `retry_backoff`,
`retry_on`, `cache_ttl`, `rate_limit`, `max_concurrency` (as for `@ak.tool`)."""

Transport = Literal["stdio", "http", "sse"]

_PREFIX = re.compile(r"^[A-Za-z0-9_-]+$")
_LIST_PAGES = 100


class MCPServer(ToolSource):
    """An MCP server whose tools an agent can call. Build one with `stdio()`, `http()` or `sse()`.

    Pass it in `tools=[...]` (or `with_tools(...)`). It connects when an agent first needs its
    tools, reconnects after failures, and closes with the agent's `cleanup()` (or `aclose()`).

    Args:
        transport: `"stdio"`, `"http"` (streamable HTTP) or `"sse"`.
        command: the program to run (stdio).
        args: its arguments (stdio).
        env: extra environment variables for it (stdio; merged over a safe default set).
        cwd: its working directory (stdio).
        url: the server's endpoint (http, sse).
        headers: HTTP headers to send (http, sse), e.g. for authentication.
        timeout: seconds the server may take to answer one tool call (the request is then
            cancelled); connecting is bounded by `connect_timeout`, not by this.
        connect_timeout: seconds to start or reach the server and finish the MCP handshake.
        tool_filter: offer only some tools: names, or a predicate on their `ToolDefinition`.
        prefix: put `"<prefix>_"` before every tool name (to avoid clashes between servers).
        cache_tools_list: list the tools once and keep the list; otherwise every run asks again
            (and sees tools the server added or removed).
        name: a label for errors and logs (defaults to the command or URL).
        retries: extra attempts of a failing call, for every tool of the server (as `@ak.tool`).
        retry_backoff: seconds before the first retry; doubles each time.
        retry_on: the exception types worth retrying (default: any `Exception`).
        cache_ttl: seconds to reuse a tool's result for the same arguments (`None`: no caching).
        rate_limit: a token bucket for each tool of the server, e.g. `"10/s"`.
        max_concurrency: at most this many calls of each tool at once.
        tool_policies: per tool (its unprefixed server-side name), policies that replace the
            server's: `{"search": {"cache_ttl": 60, "timeout": 5}}`; `timeout` there replaces
            `timeout` for that tool's calls. A name the server does not offer is an error when
            the tools are listed.

    Header and environment values are secrets: they never appear in `repr()` or in errors.

    Raises:
        UserError: a setting is missing or invalid.

    """

    __slots__ = (
        "_connector",
        "_tools",
        "args",
        "cache_tools_list",
        "policies",
        "tool_policies",
        "command",
        "connect_timeout",
        "cwd",
        "env",
        "headers",
        "name",
        "prefix",
        "timeout",
        "tool_filter",
        "transport",
        "url",
    )

    def __init__(
        self,
        transport: Transport,
        *,
        command: str | None = None,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        url: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        tool_filter: ToolFilter | None = None,
        prefix: str | None = None,
        cache_tools_list: bool = False,
        name: str | None = None,
        retries: int = 0,
        retry_backoff: float = 0.1,
        retry_on: tuple[type[BaseException], ...] = (Exception,),
        cache_ttl: float | None = None,
        rate_limit: str | RateLimit | None = None,
        max_concurrency: int | None = None,
        tool_policies: Mapping[str, ToolPolicy] | None = None,
    ) -> None:
        if transport not in ("stdio", "http", "sse"):
            raise UserError(f"unknown MCP transport {transport!r}; use 'stdio', 'http' or 'sse'")
        if transport == "stdio" and not command:
            raise UserError("MCPServer.stdio needs a command, e.g. MCPServer.stdio('python', ['server.py'])")
        if transport != "stdio" and not url:
            raise UserError(f"MCPServer.{transport} needs a url, e.g. 'http://127.0.0.1:8000/mcp'")
        if isinstance(args, str):
            raise UserError(f"MCP server args must be a list of strings, not one string: use {shlex.split(args)!r}")
        if timeout <= 0 or connect_timeout <= 0:
            raise UserError(
                f"MCP timeouts must be > 0 seconds, got timeout={timeout}, connect_timeout={connect_timeout}"
            )
        if prefix is not None and not _PREFIX.match(prefix):
            raise UserError(f"MCP tool prefix {prefix!r} may only contain letters, digits, '_' and '-'")
        if tool_filter is not None and isinstance(tool_filter, str):
            raise UserError(
                f"tool_filter must be a collection of names or a predicate, not a string: use [{tool_filter!r}]"
            )
        label = name or (command if transport == "stdio" else url) or "?"
        self.policies: dict[str, Any] = check_policies(
            f"MCP server {label!r}",
            {
                "retries": retries,
                "retry_backoff": retry_backoff,
                "retry_on": retry_on,
                "cache_ttl": cache_ttl,
                "rate_limit": rate_limit,
                "max_concurrency": max_concurrency,
            },
        )
        """The server-wide tool policies (validated), applied to each of its tools."""
        if tool_policies is not None and not isinstance(tool_policies, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise UserError(
                f"MCP server {label!r}: tool_policies must map tool names to policies, e.g. "
                f'{{"search": {{"cache_ttl": 60}}}}, got {type(tool_policies).__name__}'
            )
        self.tool_policies: dict[str, dict[str, Any]] = {
            tool: check_policies(f"MCP server {label!r}, tool_policies[{tool!r}]", p, timeout=True)
            for tool, p in (tool_policies or {}).items()
        }
        self.transport: Transport = transport
        self.command = command
        self.args = tuple(args)
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.url = url
        self.headers = dict(headers) if headers is not None else None
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.tool_filter = tool_filter
        self.prefix = prefix
        self.cache_tools_list = cache_tools_list
        self.name = name or (shlex.join([command or "", *self.args]) if transport == "stdio" else (url or ""))
        self._connector = Connector()
        self._tools: dict[str, tuple[Any, Tool]] | None = None

    # -- constructors ---------------------------------------------------------------------------------

    @classmethod
    def stdio(
        cls,
        command: str,
        args: Sequence[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> MCPServer:
        """A server run as a subprocess, spoken to over its stdin/stdout: `MCPServer.stdio("python", ["srv.py"])`.

        `options` are the other settings of `MCPServer`: `timeout`, `connect_timeout`, `tool_filter`,
        `prefix`, `cache_tools_list`, `name`, and the tool policies (`retries`, `cache_ttl`,
        `rate_limit`, `max_concurrency`, `tool_policies`, ...).
        """
        return cls("stdio", command=command, args=args, env=env, cwd=cwd, **options)

    @classmethod
    def http(cls, url: str, *, headers: Mapping[str, str] | None = None, **options: Any) -> MCPServer:
        """A server reached over streamable HTTP: `MCPServer.http("http://127.0.0.1:8000/mcp")`."""
        return cls("http", url=url, headers=headers, **options)

    @classmethod
    def sse(cls, url: str, *, headers: Mapping[str, str] | None = None, **options: Any) -> MCPServer:
        """A server reached over the older HTTP+SSE transport: `MCPServer.sse("http://127.0.0.1:8000/sse")`."""
        return cls("sse", url=url, headers=headers, **options)

    # -- ToolSource -----------------------------------------------------------------------------------

    @property
    def dynamic(self) -> bool:
        """True unless `cache_tools_list`: the agent then lists the tools again on every run."""
        return not self.cache_tools_list

    @property
    def connected(self) -> bool:
        """Whether a live connection is open right now."""
        conn = self._connector.current
        return conn is not None and conn.client is not None and not conn.broken

    async def list_tools(self) -> list[Tool]:
        """The server's tools (filtered and prefixed), connecting first if needed.

        Raises:
            MCPError: the server could not be started or reached, or did not answer in time.

        """
        if self.cache_tools_list and self._tools is not None:
            return [tool for _, tool in self._tools.values()]
        listed = await self._request("tools/list", self._list_remote, None)
        if self.tool_policies:
            offered = {remote.name for remote in listed}
            unknown = sorted(set(self.tool_policies) - offered)
            if unknown:
                raise UserError(
                    f"MCP server {self.name!r}: tool_policies names {', '.join(map(repr, unknown))}, which the "
                    f"server does not offer; its tools are: {', '.join(sorted(offered)) or 'none'} "
                    "(use the server-side names, without the prefix)"
                )
        previous = self._tools or {}
        tools: dict[str, tuple[Any, Tool]] = {}
        for remote in listed:
            definition = ToolDefinition(remote.name, remote.description or "", remote.input_schema)
            if not self._wanted(definition):
                continue
            key = (remote.description, remote.input_schema)
            old = previous.get(remote.name)
            # Same definition as before: keep the same Tool, so agents reuse its compiled plan.
            tools[remote.name] = old if old is not None and old[0] == key else (key, self._make_tool(definition))
        self._tools = tools
        return [tool for _, tool in tools.values()]

    def _wanted(self, definition: ToolDefinition) -> bool:
        f = self.tool_filter
        if f is None:
            return True
        if callable(f):
            return bool(f(definition))
        return definition.name in f

    def _make_tool(self, definition: ToolDefinition) -> Tool:
        remote_name = definition.name
        policies = {**self.policies, **self.tool_policies.get(remote_name, {})}
        request_timeout: float | None = policies.pop("timeout", None)

        async def call_remote(**arguments: Any) -> ToolOutput:
            return await self._call(remote_name, arguments, request_timeout)

        name = f"{self.prefix}_{remote_name}" if self.prefix else remote_name
        call_remote.__name__ = name
        # No executor timeout on the tool itself: the server applies `timeout` to the request only,
        # while (re)connecting is bounded by `connect_timeout` (an agent's `tool_timeout`, if
        # set, still bounds the whole call). The other policies are the Tool's, run by the agent's
        # policy chain like any Python tool's.
        return Tool(
            call_remote,
            name=name,
            description=definition.description,
            parameters=definition.parameters,
            **policies,
        )

    async def call_tool(self, name: str, arguments: Mapping[str, Any] | None = None) -> ToolOutput:
        """Call a tool by its server-side (unprefixed) name: connect if needed, then wait at most `timeout`.

        Raises:
            ToolError: the tool reported an error (`isError`).
            ToolTimeoutError: the server did not answer within `timeout` (the request is cancelled).
            MCPError: the server could not be reached, closed the connection, or sent a malformed result.

        """
        return await self._call(name, dict(arguments or {}))

    async def _call(self, name: str, arguments: dict[str, Any], limit: float | None = None) -> ToolOutput:
        # The W3C trace context of the calling tool's span, for the server (`_meta.traceparent`).
        meta = None if _tel.active is None else _tel.active.carrier()

        async def send(client: Client) -> Any:
            return await client.call_tool(name, arguments, meta=cast("RequestParamsMeta | None", meta))

        if limit is None:
            limit = self._policy_timeout(name)
        result = await self._request(f"tool {name!r}", send, name, limit)
        output = to_output(result)
        if result.is_error:
            raise ToolError(output.text or "the MCP server reported an error without a message", tool_name=name)
        return output

    def _policy_timeout(self, name: str) -> float | None:
        return self.tool_policies.get(name, {}).get("timeout")

    @staticmethod
    async def _list_remote(client: Client) -> list[Any]:
        tools: list[Any] = []
        cursor: str | None = None
        for _ in range(_LIST_PAGES):
            page = await client.list_tools(cursor=cursor, cache_mode="bypass")
            tools.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        return tools

    # -- requests ---------------------------------------------------------------------------------------

    async def _request(
        self, what: str, send: Callable[[Client], Any], tool: str | None, per_call: float | None = None
    ) -> Any:
        """Send one request on the live connection, turning transport failures into `MCPError`s."""
        from mcp.shared.exceptions import MCPError as SDKError
        from mcp_types import CONNECTION_CLOSED
        from pydantic import ValidationError

        conn = await self._connector.connection(self._new_connection)
        client = conn.client
        assert client is not None  # published before `ready` resolves
        limit = self.timeout if per_call is None else per_call
        deadline = asyncio.timeout(limit)
        try:
            async with deadline:
                return await send(client)
        except asyncio.CancelledError:
            # Our caller gave up (its own timeout, or the run was cancelled): have the owner check
            # the server is still alive, so a wedged server is replaced instead of timing out forever.
            conn.request_probe()
            raise
        except TimeoutError as exc:
            if not deadline.expired():
                raise MCPError(f"MCP server {self.name!r} failed during {what}: TimeoutError: {exc}") from exc
            conn.request_probe()
            message = f"MCP server {self.name!r} did not answer {what} within {limit:g} s (its timeout); the request was cancelled"
            if tool is None:
                raise MCPError(message) from None
            raise ToolTimeoutError(message, tool_name=tool, timeout=limit) from None
        except SDKError as exc:
            if exc.code == CONNECTION_CLOSED:
                conn.mark_broken()
                raise MCPError(
                    f"MCP server {self.name!r} closed the connection during {what}{conn.stderr_note()}; "
                    "the next call reconnects"
                ) from exc
            raise MCPError(f"MCP server {self.name!r} rejected {what}: {exc.message} (code {exc.code})") from exc
        except (ValidationError, RuntimeError) as exc:
            # pydantic rejects results that do not match the protocol; the SDK raises RuntimeError
            # for structured content that does not match the tool's output schema.
            raise MCPError(f"MCP server {self.name!r} returned a malformed result for {what}: {exc}") from exc
        except Exception as exc:
            conn.mark_broken()
            leaf = first_leaf(exc)
            raise MCPError(
                f"MCP server {self.name!r} failed during {what}: {type(leaf).__name__}: {leaf}{conn.stderr_note()}; "
                "the next call reconnects"
            ) from exc

    # -- connection lifecycle ---------------------------------------------------------------------------

    def _opener(self) -> Opener:
        if self.transport == "stdio":
            return StdioOpener(self.name, self.command or "", self.args, self.env, self.cwd)
        if self.transport == "http":
            return HTTPOpener(self.url or "", self.headers, self.connect_timeout)
        return SSEOpener(self.url or "", self.headers, self.connect_timeout)

    def _new_connection(self, loop: asyncio.AbstractEventLoop) -> Connection:
        return Connection(
            loop, self._opener(), name=self.name, timeout=self.timeout, connect_timeout=self.connect_timeout
        )

    async def aclose(self) -> None:
        """Close the session and stop the server process (idempotent; the next use reconnects)."""
        await self._connector.aclose()

    # -- pickling: the configuration travels (e.g. to a Ray worker), never a live connection ---------

    def __getstate__(self) -> dict[str, Any]:
        runtime = ("_connector", "_tools")
        return {name: getattr(self, name) for name in self.__slots__ if name not in runtime}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)
        self._connector = Connector()
        self._tools = None

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"MCPServer.{self.transport}({self.name!r}, {state})"
