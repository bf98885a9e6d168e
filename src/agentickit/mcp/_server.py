"""`MCPServer`: an MCP server as a lazy, self-healing tool source, over the official `mcp` SDK.

Lifecycle. Nothing happens when the object is built: the server is started (stdio) or reached
(streamable HTTP, SSE) when an agent first needs its tools. The SDK's client session lives in
anyio cancel scopes, which must be entered and exited by the same task, so every connection has
ONE owner task: it opens the transport and the session, publishes the session, then waits until
it is told to stop (or to check the server's health) and closes everything itself. Callers from
any task send requests through the published session; each request is bounded by a timeout.

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
from contextlib import AsyncExitStack
from typing import IO, TYPE_CHECKING, Any, Literal

from .._version import __version__
from ..errors import MCPError, ToolError, UserError
from ..messages import ToolDefinition
from ..tools._output import ToolOutput
from ..tools._policies import ToolTimeoutError
from ..tools._source import ToolSource
from ..tools._tool import Tool
from ._results import to_output

if TYPE_CHECKING:
    from mcp import Client

__all__ = ("MCPServer", "ToolFilter")

_log = logging.getLogger("agentickit.mcp")

ToolFilter = Collection[str] | Callable[[ToolDefinition], bool]
"""Which server tools to offer: a collection of (unprefixed) names, or a predicate on their definitions."""

Transport = Literal["stdio", "http", "sse"]

_CONNECTION_CLOSED = -32000
"""JSON-RPC code the SDK uses when the transport closed (`mcp_types.CONNECTION_CLOSED`)."""
_PREFIX = re.compile(r"^[A-Za-z0-9_-]+$")
_STDERR_TAIL = 8192
_LIST_PAGES = 100
_RETIRE_TIMEOUT = 10.0
"""Seconds to wait for an old connection to close (the SDK's stdio shutdown waits up to ~6 s for a stuck process)."""


class _StderrTail(asyncio.Protocol):
    """Keeps the last few KiB of a server's stderr (for error messages) and logs it at DEBUG."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.buffer = bytearray()
        self.done = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _STDERR_TAIL:
            del self.buffer[:-_STDERR_TAIL]
        if _log.isEnabledFor(logging.DEBUG):
            for line in data.decode(errors="replace").splitlines():
                _log.debug("[%s] %s", self.label, line)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def text(self) -> str:
        return self.buffer.decode(errors="replace").strip()


class _Connection:
    """One live session and the task that owns it."""

    __slots__ = ("broken", "checked", "client", "loop", "probe", "ready", "stderr", "stopping", "task", "wake")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.client: Client | None = None
        self.ready: asyncio.Future[None] = loop.create_future()
        self.wake = asyncio.Event()
        self.stopping = False
        self.probe = False
        self.checked: asyncio.Event | None = None
        """Set while a health probe runs; new requests wait for its verdict instead of piling onto a wedged server."""
        self.broken = False
        self.stderr: _StderrTail | None = None
        self.task: asyncio.Task[None] | None = None

    def request_probe(self) -> None:
        if not self.broken and self.checked is None:
            self.probe = True
            self.checked = asyncio.Event()
            self.wake.set()


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside (nested) exception groups, which anyio task groups produce."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:  # pyright: ignore[reportUnknownMemberType]
        exc = exc.exceptions[0]  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    return exc  # pyright: ignore[reportUnknownVariableType]


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
        timeout: seconds one tool call may take (also the tools' timeout in an agent).
        connect_timeout: seconds to start or reach the server and finish the MCP handshake.
        tool_filter: offer only some tools: names, or a predicate on their `ToolDefinition`.
        prefix: put `"<prefix>_"` before every tool name (to avoid clashes between servers).
        cache_tools_list: list the tools once and keep the list; otherwise every run asks again
            (and sees tools the server added or removed).
        name: a label for errors and logs (defaults to the command or URL).

    Raises:
        UserError: a setting is missing or invalid.

    """

    __slots__ = (
        "_closing",
        "_conn",
        "_failed",
        "_lock",
        "_tools",
        "args",
        "cache_tools_list",
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
        self._conn: _Connection | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._failed: tuple[float, MCPError] | None = None
        """Owner tasks of replaced connections, still closing their transport; awaited by `aclose()`."""
        self._lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
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

        `options` are `timeout`, `connect_timeout`, `tool_filter`, `prefix`, `cache_tools_list`, `name`.
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
        conn = self._conn
        return conn is not None and conn.client is not None and not conn.broken

    async def list_tools(self) -> list[Tool]:
        """The server's tools (filtered and prefixed), connecting first if needed.

        Raises:
            MCPError: the server could not be started or reached, or did not answer in time.

        """
        if self.cache_tools_list and self._tools is not None:
            return [tool for _, tool in self._tools.values()]
        listed = await self._request("tools/list", self._list_remote, None)
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

        async def call_remote(**arguments: Any) -> ToolOutput:
            return await self._call(remote_name, arguments)

        name = f"{self.prefix}_{remote_name}" if self.prefix else remote_name
        call_remote.__name__ = name
        # No executor timeout on the tool itself: the server applies `timeout` to the request only,
        # while (re)connecting is bounded by `connect_timeout` (an agent's `tool_timeout`, if
        # set, still bounds the whole call).
        return Tool(call_remote, name=name, description=definition.description, parameters=definition.parameters)

    async def call_tool(self, name: str, arguments: Mapping[str, Any] | None = None) -> ToolOutput:
        """Call a tool by its server-side (unprefixed) name: connect if needed, then wait at most `timeout`.

        Raises:
            ToolError: the tool reported an error (`isError`).
            ToolTimeoutError: the server did not answer within `timeout` (the request is cancelled).
            MCPError: the server could not be reached, closed the connection, or sent a malformed result.

        """
        return await self._call(name, dict(arguments or {}))

    async def _call(self, name: str, arguments: dict[str, Any]) -> ToolOutput:
        async def send(client: Client) -> Any:
            return await client.call_tool(name, arguments)

        result = await self._request(f"tool {name!r}", send, name)
        output = to_output(result)
        if result.is_error:
            raise ToolError(output.text or "the MCP server reported an error without a message", tool_name=name)
        return output

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

    async def _request(self, what: str, send: Callable[[Client], Any], tool: str | None) -> Any:
        """Send one request on the live connection, turning transport failures into `MCPError`s."""
        from mcp.shared.exceptions import MCPError as SDKError
        from mcp_types import CONNECTION_CLOSED
        from pydantic import ValidationError

        conn = await self._connection()
        client = conn.client
        assert client is not None  # published before `ready` resolves
        deadline = asyncio.timeout(self.timeout)
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
            message = f"MCP server {self.name!r} did not answer {what} within {self.timeout:g} s (its timeout); the request was cancelled"
            if tool is None:
                raise MCPError(message) from None
            raise ToolTimeoutError(message, tool_name=tool, timeout=self.timeout) from None
        except SDKError as exc:
            if exc.code == CONNECTION_CLOSED:
                self._mark_broken(conn)
                raise MCPError(
                    f"MCP server {self.name!r} closed the connection during {what}{self._stderr_note(conn)}; "
                    "the next call reconnects"
                ) from exc
            raise MCPError(f"MCP server {self.name!r} rejected {what}: {exc.message} (code {exc.code})") from exc
        except (ValidationError, RuntimeError) as exc:
            # pydantic rejects results that do not match the protocol; the SDK raises RuntimeError
            # for structured content that does not match the tool's output schema.
            raise MCPError(f"MCP server {self.name!r} returned a malformed result for {what}: {exc}") from exc
        except Exception as exc:
            self._mark_broken(conn)
            leaf = _leaf(exc)
            raise MCPError(
                f"MCP server {self.name!r} failed during {what}: {type(leaf).__name__}: {leaf}{self._stderr_note(conn)}; "
                "the next call reconnects"
            ) from exc

    def _mark_broken(self, conn: _Connection) -> None:
        conn.broken = True
        conn.wake.set()  # the owner closes the dead transport now, not at the next call

    def _stderr_note(self, conn: _Connection) -> str:
        text = conn.stderr.text() if conn.stderr is not None else ""
        return f"; its stderr ends with:\n{text[-2000:]}" if text else ""

    # -- connection lifecycle ---------------------------------------------------------------------------

    def _the_lock(self, loop: asyncio.AbstractEventLoop) -> asyncio.Lock:
        current = self._lock
        if current is None or current[0] is not loop:
            current = self._lock = (loop, asyncio.Lock())
        return current[1]

    async def _connection(self) -> _Connection:
        conn = self._conn
        loop = asyncio.get_running_loop()
        if conn is not None and conn.checked is not None and conn.loop is loop:
            await conn.checked.wait()  # bounded: the probe has its own timeout
        if conn is not None and conn.client is not None and not conn.broken and conn.loop is loop:
            return conn
        asked = loop.time()
        async with self._the_lock(loop):
            conn = self._conn
            if conn is not None and conn.client is not None and not conn.broken and conn.loop is loop:
                return conn
            failed = self._failed
            if failed is not None and failed[0] >= asked:
                # A connect attempt failed while we waited for it: share its error instead of
                # queueing another full connect_timeout behind it.
                raise MCPError(str(failed[1])) from failed[1]
            if conn is not None:
                self._conn = None
                if conn.loop is loop:
                    # A dead server can take seconds to close (the SDK waits, then kills it);
                    # the replacement starts now and `aclose()` collects the old owner later.
                    self._abandon(conn)
            conn = _Connection(loop)
            conn.task = loop.create_task(self._own(conn), name=f"agentickit-mcp {self.name}")
            self._conn = conn
            try:
                # The owner bounds the handshake by connect_timeout itself; this outer bound only
                # guards against a teardown that never finishes.
                async with asyncio.timeout(self.connect_timeout + _RETIRE_TIMEOUT):
                    await asyncio.shield(conn.ready)
            except BaseException as exc:
                self._conn = None
                if isinstance(exc, MCPError):
                    self._failed = (loop.time(), exc)
                await self._retire(conn)
                raise
            self._failed = None
            return conn

    def _abandon(self, conn: _Connection) -> None:
        conn.stopping = True
        conn.wake.set()
        task = conn.task
        if task is not None and not task.done():
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _retire(self, conn: _Connection) -> None:
        """Tell the owner to close the connection and wait for it (bounded; cancelled as a last resort)."""
        conn.stopping = True
        conn.wake.set()
        task = conn.task
        if task is None or task.done():
            return
        done, _ = await asyncio.wait({task}, timeout=_RETIRE_TIMEOUT)
        if not done:
            task.cancel()
            await asyncio.wait({task}, timeout=_RETIRE_TIMEOUT)

    async def _own(self, conn: _Connection) -> None:
        """The owner task: opens the transport and session, serves until told to stop, closes them."""
        try:
            async with AsyncExitStack() as stack:
                client = await self._open(conn, stack)
                conn.client = client
                conn.ready.set_result(None)
                while not conn.stopping and not conn.broken:
                    await conn.wake.wait()
                    conn.wake.clear()
                    if conn.probe and not conn.stopping and not conn.broken:
                        conn.probe = False
                        healthy = await self._healthy(client)
                        if not healthy:
                            # Broken before the (possibly slow) teardown, so new calls reconnect at once.
                            conn.broken = True
                            _log.warning("MCP server %r stopped answering; reconnecting on the next call", self.name)
                        checked, conn.checked = conn.checked, None
                        if checked is not None:
                            checked.set()
                        if not healthy:
                            break
        except asyncio.CancelledError:
            if not conn.ready.done():
                conn.ready.set_exception(MCPError(f"connecting to MCP server {self.name!r} was cancelled"))
            raise
        except BaseException as exc:
            if not conn.ready.done():
                conn.ready.set_exception(await self._start_error(conn, exc))
            else:
                leaf = _leaf(exc)
                _log.warning("MCP server %r connection ended: %s: %s", self.name, type(leaf).__name__, leaf)
        finally:
            conn.broken = True
            checked, conn.checked = conn.checked, None
            if checked is not None:
                checked.set()
            if not conn.ready.done():
                conn.ready.set_exception(MCPError(f"MCP server {self.name!r} closed before it was ready"))
            # Mark the outcome as retrieved: a caller that gave up waiting never reads it, and
            # asyncio would log "Future exception was never retrieved".
            if not conn.ready.cancelled():
                conn.ready.exception()

    async def _healthy(self, client: Client) -> bool:
        try:
            async with asyncio.timeout(min(self.timeout, 5.0)):
                await client.session.list_tools()
        except asyncio.CancelledError:
            raise
        except Exception:
            return False
        return True

    async def _open(self, conn: _Connection, stack: AsyncExitStack) -> Client:
        try:
            from mcp import Client
            from mcp_types import Implementation
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise UserError('MCP support needs the mcp SDK: pip install "agentickit[mcp]"') from exc
        transport, errlog = await self._transport(conn, stack)
        client = Client(transport, client_info=Implementation(name="agentickit", version=__version__))
        async with asyncio.timeout(self.connect_timeout):
            try:
                await stack.enter_async_context(client)
            finally:
                # The child holds its own copy of the stderr pipe's write end once spawned; ours
                # is closed now so the pipe reaches EOF (and the error message is complete) when
                # the child exits.
                if errlog is not None:
                    errlog.close()
        return client

    async def _transport(self, conn: _Connection, stack: AsyncExitStack) -> tuple[Any, IO[str] | None]:
        if self.transport == "stdio":
            from mcp.client.stdio import StdioServerParameters, stdio_client

            loop = asyncio.get_running_loop()
            read_fd, write_fd = os.pipe()
            reader = os.fdopen(read_fd, "rb", buffering=0)
            writer = os.fdopen(write_fd, "w")
            tail = _StderrTail(self.name)
            pipe, _ = await loop.connect_read_pipe(lambda: tail, reader)
            conn.stderr = tail
            # The server's stderr closing usually means it exited: check at once, so the next call
            # reconnects instead of failing on the dead pipe. Only a probe, not a verdict: a server
            # may close stderr on purpose (`2>log` in a wrapper script).
            tail.done.add_done_callback(lambda _: conn.request_probe())
            stack.callback(pipe.close)
            stack.callback(writer.close)
            params = StdioServerParameters(
                command=self.command or "",
                args=list(self.args),
                env=self.env,
                cwd=os.fspath(self.cwd) if self.cwd else None,
            )
            return stdio_client(params, errlog=writer), writer
        if self.transport == "http":
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            # Our own client so `headers` can be set; read timeouts are ours (per call), so the
            # SDK's long SSE read timeout is kept.
            http_client = httpx2.AsyncClient(
                headers=self.headers, timeout=httpx2.Timeout(self.connect_timeout, read=300.0)
            )
            await stack.enter_async_context(http_client)
            return streamable_http_client(self.url or "", http_client=http_client), None
        from mcp.client.sse import sse_client

        return sse_client(self.url or "", headers=self.headers, timeout=self.connect_timeout), None

    async def _start_error(self, conn: _Connection, exc: BaseException) -> MCPError:
        leaf = _leaf(exc)
        what = f"`{self.name}`" if self.transport == "stdio" else f"at {self.url}"
        if isinstance(exc, TimeoutError) or isinstance(leaf, TimeoutError):
            problem = f"did not finish the MCP handshake within {self.connect_timeout:g} s (connect_timeout)"
        elif self.transport == "stdio" and isinstance(leaf, OSError):
            problem = f"could not be started: {type(leaf).__name__}: {leaf}"
        elif self.transport == "stdio" and getattr(leaf, "code", None) == _CONNECTION_CLOSED:
            problem = "exited before finishing the MCP handshake"
        else:
            problem = f"failed while connecting: {type(leaf).__name__}: {leaf}"
        note = ""
        if conn.stderr is not None:
            # The process may still be flushing stderr as it exits; wait briefly for the pipe's EOF.
            try:
                async with asyncio.timeout(1.0):
                    await asyncio.shield(conn.stderr.done)
            except TimeoutError:
                pass
            text = conn.stderr.text()
            note = f"; its stderr:\n{text[-2000:]}" if text else "; it wrote nothing to stderr"
        kind = "command" if self.transport == "stdio" else "server"
        error = MCPError(f"MCP {kind} {what} {problem}{note}")
        error.__cause__ = exc
        return error

    async def aclose(self) -> None:
        """Close the session and stop the server process (idempotent; the next use reconnects)."""
        conn, self._conn = self._conn, None
        loop = asyncio.get_running_loop()
        if conn is not None and conn.loop is loop:
            await self._retire(conn)
        closing = [t for t in self._closing if t.get_loop() is loop]
        if closing:
            _, pending = await asyncio.wait(closing, timeout=_RETIRE_TIMEOUT)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=_RETIRE_TIMEOUT)

    # -- pickling: the configuration travels (e.g. to a Ray worker), never a live connection ---------

    def __getstate__(self) -> dict[str, Any]:
        runtime = ("_closing", "_conn", "_failed", "_lock", "_tools")
        return {name: getattr(self, name) for name in self.__slots__ if name not in runtime}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)
        self._conn = None
        self._closing = set()
        self._failed = None
        self._lock = None
        self._tools = None

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"MCPServer.{self.transport}({self.name!r}, {state})"
