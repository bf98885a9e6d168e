"""One small opener per MCP transport (stdio, streamable HTTP, SSE) behind the `Opener` protocol.

An opener knows only how to open its transport's byte streams inside the connection's exit stack
(and, for stdio, how to capture the server's stderr); the `Connection` runs the MCP session over
them, whatever the transport. The SDK is imported here, when a server first connects.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from contextvars import ContextVar
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ._connection import Connection

__all__ = ("CONNECTION_CLOSED", "HTTPOpener", "Opener", "SSEOpener", "StderrTail", "StdioOpener", "kill_group")

_log = logging.getLogger("agentickit.mcp")

CONNECTION_CLOSED = -32000
"""JSON-RPC code the SDK uses when the transport closed (`mcp_types.CONNECTION_CLOSED`)."""
_STDERR_TAIL = 8192


class Opener(Protocol):
    """Opens one transport for a `Connection`.

    Attributes:
        subject: how errors name the server, e.g. "command `python srv.py`" or "server at http://...".

    """

    subject: str

    async def open(self, conn: Connection, stack: AsyncExitStack) -> tuple[Any, IO[str] | None]:
        """Open the transport inside `stack`: the SDK transport, and a stderr file to close once spawned (or None)."""
        ...

    def diagnose(self, leaf: BaseException) -> str | None:
        """What a failure to connect means for this transport, or `None` for the generic message."""
        ...


class StderrTail(asyncio.Protocol):
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


# The connection whose server the SDK is spawning right now (in its owner task), so the spawn hook
# below can note the process group. The SDK starts every stdio server in a session of its own
# (pgid == pid) but ends the group only when the server outlives its grace period: a server that
# exits politely leaves the processes it started running. We end the group ourselves afterwards.
_SPAWNING: ContextVar[Connection | None] = ContextVar("agentickit_mcp_spawning", default=None)


def _install_spawn_hook() -> None:
    import mcp.client.stdio as sdk_stdio

    original: Any = getattr(sdk_stdio, "_create_platform_compatible_process", None)
    if original is None or getattr(original, "agentickit_hook", False):
        return  # another SDK layout (the group is then left to the SDK), or already installed

    async def spawn(*args: Any, **kwargs: Any) -> Any:
        process = await original(*args, **kwargs)
        conn = _SPAWNING.get()
        if conn is not None and os.name == "posix":
            conn.pgid = process.pid
        return process

    spawn.agentickit_hook = True  # type: ignore[attr-defined]
    sdk_stdio._create_platform_compatible_process = spawn  # pyright: ignore[reportPrivateUsage]


def kill_group(pgid: int | None, sig: int = signal.SIGKILL) -> bool:
    """Signal a server's whole process group; whether any member was still there."""
    if pgid is None:
        return False
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _end_group(conn: Connection) -> None:
    """After the transport closed: SIGTERM what is left of the server's group, SIGKILL it 0.5 s later."""
    pgid = conn.pgid
    if not kill_group(pgid, signal.SIGTERM):
        return
    try:
        for _ in range(50):
            await asyncio.sleep(0.01)
            if not kill_group(pgid, 0):
                return
    finally:
        kill_group(pgid)


class StdioOpener:
    """A server run as a subprocess, spoken to over its stdin/stdout; its stderr is kept for errors."""

    __slots__ = ("args", "command", "cwd", "env", "label", "subject")

    def __init__(
        self,
        label: str,
        command: str,
        args: Sequence[str],
        env: Mapping[str, str] | None,
        cwd: str | os.PathLike[str] | None,
    ) -> None:
        self.label = label
        self.subject = f"command `{label}`"
        self.command = command
        self.args = list(args)
        self.env = dict(env) if env is not None else None
        self.cwd = cwd

    async def open(self, conn: Connection, stack: AsyncExitStack) -> tuple[Any, IO[str] | None]:
        from mcp.client.stdio import StdioServerParameters, stdio_client

        _install_spawn_hook()
        _SPAWNING.set(conn)  # the owner task's own context: only its spawn sees it
        # Registered before the transport is entered, so it runs after the transport has closed.
        stack.push_async_callback(_end_group, conn)
        loop = asyncio.get_running_loop()
        read_fd, write_fd = os.pipe()
        reader = os.fdopen(read_fd, "rb", buffering=0)
        writer = os.fdopen(write_fd, "w")
        stack.callback(writer.close)
        tail = StderrTail(self.label)
        try:
            pipe, _ = await loop.connect_read_pipe(lambda: tail, reader)
        except BaseException:
            reader.close()  # cancelled before the pipe transport took it over
            raise
        conn.stderr = tail
        # The server's stderr closing usually means it exited: check at once, so the next call
        # reconnects instead of failing on the dead pipe. Only a probe, not a verdict: a server
        # may close stderr on purpose (`2>log` in a wrapper script).
        tail.done.add_done_callback(lambda _: conn.request_probe())
        stack.callback(pipe.close)
        params = StdioServerParameters(
            command=self.command,
            args=self.args,
            env=self.env,
            cwd=os.fspath(self.cwd) if self.cwd else None,
        )
        return stdio_client(params, errlog=writer), writer

    def diagnose(self, leaf: BaseException) -> str | None:
        if isinstance(leaf, OSError):
            return f"could not be started: {type(leaf).__name__}: {leaf}"
        if getattr(leaf, "code", None) == CONNECTION_CLOSED:
            return "exited before finishing the MCP handshake"
        return None


class HTTPOpener:
    """A server reached over streamable HTTP, through our own HTTP client (so `headers` apply)."""

    __slots__ = ("connect_timeout", "headers", "subject", "url")

    def __init__(self, url: str, headers: Mapping[str, str] | None, connect_timeout: float) -> None:
        self.url = url
        self.subject = f"server at {url}"
        self.headers = dict(headers) if headers is not None else None
        self.connect_timeout = connect_timeout

    async def open(self, conn: Connection, stack: AsyncExitStack) -> tuple[Any, IO[str] | None]:
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        # Read timeouts are ours (per call), so the SDK's long SSE read timeout is kept.
        http_client = httpx2.AsyncClient(headers=self.headers, timeout=httpx2.Timeout(self.connect_timeout, read=300.0))
        await stack.enter_async_context(http_client)
        return streamable_http_client(self.url, http_client=http_client), None

    def diagnose(self, leaf: BaseException) -> str | None:
        return None


class SSEOpener(HTTPOpener):
    """A server reached over the older HTTP+SSE transport."""

    __slots__ = ()

    async def open(self, conn: Connection, stack: AsyncExitStack) -> tuple[Any, IO[str] | None]:
        from mcp.client.sse import sse_client

        return sse_client(self.url, headers=self.headers, timeout=self.connect_timeout), None
