"""The connection owner: one live MCP session, the task that owns it, and reconnecting after failures.

The SDK's client session lives in anyio cancel scopes, which must be entered and exited by the same
task, so every `Connection` has ONE owner task: it opens the transport (through its `Opener`) and
the session, publishes the session, then waits until it is told to stop (or to check the server's
health) and closes everything itself. Callers from any task send requests through the published
session.

A `Connector` keeps a server's current connection for the running loop: it starts one when none is
usable, lets a caller that waited share a failed attempt's error instead of queueing another full
`connect_timeout`, and collects the owners of replaced connections on `aclose()`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

from .._utils import LoopBound, first_leaf
from .._version import __version__
from ..errors import MCPError, UserError
from ._transports import Opener, StderrTail

if TYPE_CHECKING:
    from mcp import Client

__all__ = ("RETIRE_TIMEOUT", "Connection", "Connector")

_log = logging.getLogger("agentickit.mcp")

RETIRE_TIMEOUT = 10.0
"""Seconds to wait for an old connection to close (the SDK's stdio shutdown waits up to ~6 s for a stuck process)."""


class Connection:
    """One live session and the task that owns it."""

    __slots__ = (
        "broken",
        "checked",
        "client",
        "connect_timeout",
        "loop",
        "name",
        "opener",
        "probe",
        "ready",
        "stderr",
        "stopping",
        "task",
        "timeout",
        "wake",
    )

    def __init__(
        self, loop: asyncio.AbstractEventLoop, opener: Opener, *, name: str, timeout: float, connect_timeout: float
    ) -> None:
        self.loop = loop
        self.opener = opener
        self.name = name
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.client: Client | None = None
        self.ready: asyncio.Future[None] = loop.create_future()
        self.wake = asyncio.Event()
        self.stopping = False
        self.probe = False
        self.checked: asyncio.Event | None = None
        """Set while a health probe runs; new requests wait for its verdict instead of piling onto a wedged server."""
        self.broken = False
        self.stderr: StderrTail | None = None
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the owner task."""
        self.task = self.loop.create_task(self._own(), name=f"agentickit-mcp {self.name}")

    def usable(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Whether requests on `loop` can go through this connection now."""
        return self.client is not None and not self.broken and self.loop is loop

    def request_probe(self) -> None:
        """Ask the owner to check that the server still answers (after a timeout or a cancelled call)."""
        if not self.broken and self.checked is None:
            self.probe = True
            self.checked = asyncio.Event()
            self.wake.set()

    def mark_broken(self) -> None:
        """The transport failed: new calls reconnect, and the owner closes the dead transport now."""
        self.broken = True
        self.wake.set()

    def stderr_note(self) -> str:
        """The tail of the server's stderr, for an error message (empty when there is none)."""
        text = self.stderr.text() if self.stderr is not None else ""
        return f"; its stderr ends with:\n{text[-2000:]}" if text else ""

    def abandon(self) -> asyncio.Task[None] | None:
        """Tell the owner to close without waiting for it; returns its task if it is still running."""
        self.stopping = True
        self.wake.set()
        task = self.task
        return task if task is not None and not task.done() else None

    async def retire(self) -> None:
        """Tell the owner to close the connection and wait for it (bounded; cancelled as a last resort)."""
        task = self.abandon()
        if task is None:
            return
        done, _ = await asyncio.wait({task}, timeout=RETIRE_TIMEOUT)
        if not done:
            task.cancel()
            await asyncio.wait({task}, timeout=RETIRE_TIMEOUT)

    async def _own(self) -> None:
        """The owner task: opens the transport and session, serves until told to stop, closes them."""
        try:
            async with AsyncExitStack() as stack:
                client = await self._open(stack)
                self.client = client
                self.ready.set_result(None)
                while not self.stopping and not self.broken:
                    await self.wake.wait()
                    self.wake.clear()
                    if self.probe and not self.stopping and not self.broken:
                        self.probe = False
                        healthy = await self._healthy(client)
                        if not healthy:
                            # Broken before the (possibly slow) teardown, so new calls reconnect at once.
                            self.broken = True
                            _log.warning("MCP server %r stopped answering; reconnecting on the next call", self.name)
                        checked, self.checked = self.checked, None
                        if checked is not None:
                            checked.set()
                        if not healthy:
                            break
        except asyncio.CancelledError:
            if not self.ready.done():
                self.ready.set_exception(MCPError(f"connecting to MCP server {self.name!r} was cancelled"))
            raise
        except BaseException as exc:
            if not self.ready.done():
                self.ready.set_exception(await self._start_error(exc))
            else:
                leaf = first_leaf(exc)
                _log.warning("MCP server %r connection ended: %s: %s", self.name, type(leaf).__name__, leaf)
        finally:
            self.broken = True
            checked, self.checked = self.checked, None
            if checked is not None:
                checked.set()
            if not self.ready.done():
                self.ready.set_exception(MCPError(f"MCP server {self.name!r} closed before it was ready"))
            # Mark the outcome as retrieved: a caller that gave up waiting never reads it, and
            # asyncio would log "Future exception was never retrieved".
            if not self.ready.cancelled():
                self.ready.exception()

    async def _healthy(self, client: Client) -> bool:
        try:
            async with asyncio.timeout(min(self.timeout, 5.0)):
                await client.session.list_tools()
        except asyncio.CancelledError:
            raise
        except Exception:
            return False
        return True

    async def _open(self, stack: AsyncExitStack) -> Client:
        try:
            from mcp import Client
            from mcp_types import Implementation
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise UserError('MCP support needs the mcp SDK: pip install "agentickit[mcp]"') from exc
        transport, errlog = await self.opener.open(self, stack)
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

    async def _start_error(self, exc: BaseException) -> MCPError:
        leaf = first_leaf(exc)
        if isinstance(exc, TimeoutError) or isinstance(leaf, TimeoutError):
            problem = f"did not finish the MCP handshake within {self.connect_timeout:g} s (connect_timeout)"
        else:
            problem = self.opener.diagnose(leaf) or f"failed while connecting: {type(leaf).__name__}: {leaf}"
        note = ""
        if self.stderr is not None:
            # The process may still be flushing stderr as it exits; wait briefly for the pipe's EOF.
            try:
                async with asyncio.timeout(1.0):
                    await asyncio.shield(self.stderr.done)
            except TimeoutError:
                pass
            text = self.stderr.text()
            note = f"; its stderr:\n{text[-2000:]}" if text else "; it wrote nothing to stderr"
        error = MCPError(f"MCP {self.opener.subject} {problem}{note}")
        error.__cause__ = exc
        return error


class Connector:
    """A server's current connection for the running loop, reconnecting after failures."""

    __slots__ = ("_closing", "_failed", "_lock", "current")

    def __init__(self) -> None:
        self.current: Connection | None = None
        self._closing: set[asyncio.Task[None]] = set()
        """Owner tasks of replaced connections, still closing their transport; awaited by `aclose()`."""
        self._failed: tuple[float, MCPError] | None = None
        self._lock: LoopBound[asyncio.Lock] = LoopBound(asyncio.Lock)

    async def connection(self, make: Callable[[asyncio.AbstractEventLoop], Connection]) -> Connection:
        """The live connection, or a new one from `make(loop)` (started and ready) when there is none.

        Raises:
            MCPError: the server could not be started or reached (the error of the attempt).

        """
        conn = self.current
        loop = asyncio.get_running_loop()
        if conn is not None and conn.checked is not None and conn.loop is loop:
            await conn.checked.wait()  # bounded: the probe has its own timeout
        if conn is not None and conn.usable(loop):
            return conn
        asked = loop.time()
        async with self._lock.get():
            conn = self.current
            if conn is not None and conn.usable(loop):
                return conn
            failed = self._failed
            if failed is not None and failed[0] >= asked:
                # A connect attempt failed while we waited for it: share its error instead of
                # queueing another full connect_timeout behind it.
                raise MCPError(str(failed[1])) from failed[1]
            if conn is not None:
                self.current = None
                if conn.loop is loop:
                    # A dead server can take seconds to close (the SDK waits, then kills it);
                    # the replacement starts now and `aclose()` collects the old owner later.
                    self._collect(conn.abandon())
            conn = make(loop)
            conn.start()
            self.current = conn
            try:
                # The owner bounds the handshake by connect_timeout itself; this outer bound only
                # guards against a teardown that never finishes.
                async with asyncio.timeout(conn.connect_timeout + RETIRE_TIMEOUT):
                    await asyncio.shield(conn.ready)
            except BaseException as exc:
                self.current = None
                if isinstance(exc, MCPError):
                    self._failed = (loop.time(), exc)
                await conn.retire()
                raise
            self._failed = None
            return conn

    def _collect(self, task: asyncio.Task[None] | None) -> None:
        if task is not None:
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        """Close the current connection and wait for replaced ones still closing (idempotent)."""
        conn, self.current = self.current, None
        loop = asyncio.get_running_loop()
        if conn is not None and conn.loop is loop:
            await conn.retire()
        closing = [t for t in self._closing if t.get_loop() is loop]
        if closing:
            _, pending = await asyncio.wait(closing, timeout=RETIRE_TIMEOUT)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=RETIRE_TIMEOUT)
