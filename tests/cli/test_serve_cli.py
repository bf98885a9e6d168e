"""`agentickit serve` as a real subprocess, talked to over real HTTP."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from agentickit.serve import hash_key

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@contextmanager
def serve(*args: str) -> Generator[tuple[str, subprocess.Popen[str]]]:
    """`agentickit serve ARGS --port 0`; yields the base URL from its startup line, then SIGTERMs it."""
    with subprocess.Popen(
        [sys.executable, "-m", "agentickit.cli", "serve", *args, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None and proc.stderr is not None
            line = proc.stdout.readline()
            assert line.startswith("agentickit serve: http://"), (line, proc.stderr.read() if proc.poll() else "")
            yield line.split()[2], proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            finally:
                if proc.poll() is None:
                    proc.kill()


def _events(text: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for frame in text.split("\n\n"):
        for line in frame.splitlines():
            if line.startswith("data: "):
                out.append(orjson.loads(line[6:]))
    return out


def test_serve_config_files_agents_workflows_sessions_and_a_graceful_sigterm() -> None:
    with serve(str(EXAMPLES / "agent.toml"), str(EXAMPLES / "workflow.toml")) as (url, proc):
        with httpx.Client(base_url=url, timeout=30) as http:
            models = http.get("/v1/models").json()
            assert {m["id"]: m["agentickit_kind"] for m in models["data"]} == {"guide": "agent", "research": "workflow"}
            run = http.post("/v1/agents/guide/runs", json={"input": "weather in Lisbon?", "session_id": "s-cli"})
            assert run.status_code == 200, run.text
            assert "Lisbon" in run.json()["result"]["content"]
            assert http.get(f"/v1/runs/{run.json()['id']}").json()["status"] == "completed"
            # The session by id: the agent's memory kept the turn.
            session = http.get("/v1/agents/guide/sessions/s-cli").json()
            assert [m["role"] for m in session["messages"]][0] == "user"
            assert session["messages"][0]["content"] == "weather in Lisbon?"
            assert http.delete("/v1/agents/guide/sessions/s-cli").json()["deleted"] is True
            assert http.get("/v1/agents/guide/sessions/s-cli").status_code == 404
            # A workflow's events are tagged with their step.
            wf = http.post("/v1/workflows/research/runs?stream=true", json={"input": "quantum batteries"})
            events = _events(wf.text)
            started = [e["step"] for e in events if e["type"] == "agent_start"]
            assert sorted(started) == ["facts", "questions", "summary"], started
            assert all("step" in e for e in events if e["type"] == "delta")
            assert events[-1]["type"] == "done" and events[-1]["status"] == "completed"
            chat = http.post(
                "/v1/chat/completions", json={"model": "guide", "messages": [{"role": "user", "content": "hi"}]}
            )
            assert chat.status_code == 200 and chat.json()["choices"][0]["message"]["content"]
            assert http.get("/").headers["content-type"].startswith("text/html")
            assert "agentickit_http_requests_total" in http.get("/metrics").text
        proc.send_signal(signal.SIGTERM)
        start = time.monotonic()
        proc.wait(20)
        assert time.monotonic() - start < 15


def test_keys_file_and_hash_key(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "agentickit.cli", "serve", "--hash-key", "s3cret"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.strip() == hash_key("s3cret")
    keys = tmp_path / "keys.toml"
    keys.write_text(f'[[keys]]\nname = "ci"\nsha256 = "{hash_key("s3cret")}"\nscopes = ["agent"]\n')
    with serve("--llm", "simulated:echo", "--keys", str(keys), "--no-playground") as (url, _):
        with httpx.Client(base_url=url, timeout=30) as http:
            assert http.post("/v1/agents/agent/runs", json={"input": "hi"}).status_code == 401
            ok = http.post("/v1/agents/agent/runs", json={"input": "hi"}, headers={"authorization": "Bearer s3cret"})
            assert ok.status_code == 200 and ok.json()["result"]["content"] == "hi"
            assert http.get("/", headers={"authorization": "Bearer s3cret"}).status_code == 404


def test_refuses_a_public_host_without_keys_and_bad_keys_files(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "agentickit.cli", "serve", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and "without API keys" in out.stderr and "Traceback" not in out.stderr
    bad = tmp_path / "keys.toml"
    bad.write_text('[[keys]]\nname = "ci"\nsha256 = "s3cret"\n')
    out = subprocess.run(
        [sys.executable, "-m", "agentickit.cli", "serve", "--keys", str(bad), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1 and "64 hex digits" in out.stderr and "Traceback" not in out.stderr


def test_sessions_flag_keeps_responses_across_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "sessions.db")
    with serve("--llm", "simulated:echo", "--sessions", db) as (url, _), httpx.Client(base_url=url, timeout=30) as http:
        first = http.post("/v1/responses", json={"model": "agent", "input": "remember me"}).json()
        assert first["status"] == "completed" and first["output"][0]["content"][0]["text"] == "remember me"
    with serve("--llm", "simulated:echo", "--sessions", db) as (url, _), httpx.Client(base_url=url, timeout=30) as http:
        again = http.get(f"/v1/responses/{first['id']}")
        assert again.status_code == 200 and again.json()["id"] == first["id"]
        second = http.post(
            "/v1/responses", json={"model": "agent", "input": "next", "previous_response_id": first["id"]}
        ).json()
        assert second["status"] == "completed" and second["previous_response_id"] == first["id"]
        assert second["usage"]["input_tokens"] > first["usage"]["input_tokens"], "the history was sent"


def test_the_serve_command_collects_less_often_from_a_frozen_startup_heap() -> None:
    import gc

    from agentickit.cli._serve import _tune_gc

    before = gc.get_threshold()
    try:
        _tune_gc()
        assert gc.get_threshold() == (50_000, 20, 1_000) and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
