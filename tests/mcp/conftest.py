"""Real MCP servers for the tests: stdio subprocesses and HTTP servers on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

SERVERS = Path(__file__).parent / "servers"
PYTHON = sys.executable
BASIC = str(SERVERS / "basic.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HTTPServer:
    """`basic.py` served over HTTP in a subprocess; `stop()`/`start()` simulate a server restart."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        path = "/mcp" if self.mode == "http" else "/sse"
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [PYTHON, BASIC, self.mode, str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"MCP test server exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)  # polling a port a subprocess opens: there is no event to wait on
        raise RuntimeError("MCP test server did not start listening within 20 s")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture(scope="session")
def http_server() -> Iterator[HTTPServer]:
    server = HTTPServer("http")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_http_server() -> Iterator[HTTPServer]:
    """A streamable-HTTP server this test may kill and restart."""
    server = HTTPServer("http")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sse_server() -> Iterator[HTTPServer]:
    server = HTTPServer("sse")
    server.start()
    yield server
    server.stop()
