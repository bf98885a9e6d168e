"""schemathesis against `/openapi.json`: generated requests to every operation, checked against the document.

The server runs under uvicorn in a thread (its own loop), since schemathesis calls it synchronously;
the document it tests is the one that server serves. A few examples per operation keep it fast.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, positive_data_acceptance

import agentickit as ak
from agentickit.serve._ops import openapi_document
from tests.conftest import free_port
from tests.serve.conftest import make_agent, make_workflow

APP = ak.serve.app(
    agents=[make_agent(), ak.Agent("echo", llm="simulated:echo", memory=ak.Memory())], workflows=[make_workflow()]
)
schema = schemathesis.openapi.from_dict(openapi_document(APP.state.agentickit))


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    port = free_port()
    server = ak.serve.Server(APP, host="127.0.0.1", port=port)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.01)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def test_the_served_document_is_the_one_tested(base_url: str) -> None:
    served = httpx.get(base_url + "/openapi.json").json()
    assert served == openapi_document(APP.state.agentickit)
    assert {"/v1/responses", "/v1/chat/completions", "/v1/agents/{name}/runs"} <= set(served["paths"])


@schema.parametrize()  # pyright: ignore[reportUntypedFunctionDecorator]
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)  # pyright: ignore[reportArgumentType]
def test_api_conforms_to_its_openapi_document(case: Any, base_url: str) -> None:
    # A generated run may legitimately fail (a timeout of 5e-324 s is valid and times out: 504): a
    # documented, typed 502/504 is an answer. Any 500 still fails, and every other check applies.
    response = case.call(base_url=base_url, timeout=30)
    excluded: list[Any] = []
    if case.operation.path in ("/v1/chat/completions", "/v1/responses"):
        # The document cannot say "the last message is the user's" nor "history only for an agent with
        # memory": such schema-valid requests get a typed 400, which positive_data_acceptance flags.
        excluded.append(positive_data_acceptance)
    if response.status_code in (502, 504):
        assert response.json()["error"]["type"] in ("timeout", "workflow_error", "provider_error"), response.text
        excluded.append(not_a_server_error)
    case.validate_response(response, excluded_checks=excluded)
