from __future__ import annotations

import json

import pytest

from agentickit.cli._main import main
from tests.mcp.conftest import BASIC, PYTHON, HTTPServer


def test_list_tools_of_a_stdio_server(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mcp", "list-tools", "--", PYTHON, BASIC, "stdio"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("10 tools on ")
    assert "  add(a: integer, b: integer)  - Add two integers." in out
    assert "  echo(text: string)  - Say it back." in out


def test_list_tools_and_call_over_http(http_server: HTTPServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mcp", "list-tools", "--json", "--url", http_server.url, "--header", "X-Test=1"]) == 0
    tools = json.loads(capsys.readouterr().out)
    add = next(t for t in tools if t["name"] == "add")
    assert add["parameters"]["required"] == ["a", "b"]
    assert main(["mcp", "call", "--tool", "add", "--args", '{"a": 40, "b": 2}', "--url", http_server.url]) == 0
    assert capsys.readouterr().out.strip() == "42"
    assert main(["mcp", "call", "--tool", "fail", "--args", '{"message": "nope"}', "--url", http_server.url]) == 2
    assert "tool error:" in capsys.readouterr().err


def test_cli_errors_say_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mcp", "list-tools"]) == 1
    assert "add `-- COMMAND ARGS` (stdio) or `--url URL` (HTTP)" in capsys.readouterr().err
    assert main(["mcp", "call", "--tool", "x", "--args", "[1]", "--url", "http://127.0.0.1:1/mcp"]) == 1
    assert "--args must be a JSON object" in capsys.readouterr().err
    assert main(["mcp", "list-tools", "--url", "http://127.0.0.1:1/mcp", "--header", "novalue"]) == 1
    assert "NAME=VALUE" in capsys.readouterr().err
    assert main(["mcp", "list-tools", "--", "agentickit-no-such-server"]) == 1
    assert "could not be started" in capsys.readouterr().err
