"""Every attribute, event and metric name we emit is a constant of `opentelemetry-semantic-conventions`.

The few the conventions have no name for are in our own `agentickit.` namespace, listed in
`CUSTOM_ATTRIBUTES`; anything else fails here, in both flavours.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from opentelemetry import semconv

import agentickit as ak
from agentickit.telemetry import _otel
from agentickit.testing import ScriptedModel, call

from .conftest import Traces, attr_names


def _constants(package: str) -> set[str]:
    values: set[str] = set()
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__):
        module = importlib.import_module(f"{package}.{info.name}")
        values.update(v for k, v in vars(module).items() if k.isupper() and isinstance(v, str))
    return values


ATTRIBUTES = _constants("opentelemetry.semconv.attributes") | _constants("opentelemetry.semconv._incubating.attributes")
METRICS = _constants("opentelemetry.semconv._incubating.metrics")


def test_the_package_is_the_real_one() -> None:
    assert semconv.__name__ == "opentelemetry.semconv"
    assert "gen_ai.provider.name" in ATTRIBUTES and "gen_ai.client.token.usage" in METRICS


def test_our_spelled_out_names_are_semconv_constants() -> None:
    names = [v for k, v in vars(_otel).items() if k.isupper() and isinstance(v, str) and "." in v]
    ours = [n for n in names if not n.startswith("agentickit.")]
    assert len(ours) > 30
    assert [n for n in ours if n not in ATTRIBUTES] == []
    assert all(n.startswith("agentickit.") for n in _otel.CUSTOM_ATTRIBUTES)


async def test_every_emitted_name_is_a_convention(traces: Traces, flavour: str) -> None:
    @ak.tool
    def lookup(q: str) -> str:
        """Look up.

        Args:
            q: the query.
        """
        return "found"

    @ak.tool
    def broken(q: str) -> str:
        """Fails.

        Args:
            q: the query.
        """
        raise ValueError(q)

    traces.enable(semconv=flavour, capture_content=True)
    model = ScriptedModel([call("lookup", q="x"), call("broken", q="y"), "done"], failures=["500"])
    agent = ak.Agent("a", model, tools=[lookup, broken], system_prompt="sys", description="helps")
    await agent.run("hello", session_id="s1", temperature=0.2, max_tokens=50, top_p=0.9, stop=["STOP"])
    with pytest.raises(ak.errors.BadRequestError):
        await ak.Agent("b", "simulated:echo").run("[[sim:400]]")
    wf = ak.ParallelWorkflow("wf")
    wf.add_step(ak.Step("ok", lambda t: t))
    wf.add_step(ak.Step("bad", lambda t: 1 / 0, retries=1))
    await wf.run("x", raise_on_error=False)
    async for _ in agent.run_stream("streamed"):
        pass

    spans = traces.spans()
    emitted = attr_names(spans)
    for key in (
        "gen_ai.conversation.id",
        "gen_ai.request.temperature",
        "gen_ai.request.max_tokens",
        "gen_ai.request.top_p",
        "gen_ai.request.stop_sequences",
        "gen_ai.response.time_to_first_chunk",
        "gen_ai.agent.description",
        "error.type",
        "exception.type",
    ):
        assert key in emitted, key
    unknown = sorted(n for n in emitted if n not in ATTRIBUTES and n not in _otel.CUSTOM_ATTRIBUTES)
    assert unknown == []
    assert ("gen_ai.system" in emitted) is (flavour == "default")
    if flavour == "latest":
        assert {"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"} <= emitted
    else:
        assert {"gen_ai.prompt", "gen_ai.completion"} <= emitted

    data = traces.reader.get_metrics_data()
    assert data is not None
    metric_names = {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert metric_names == {
        "gen_ai.client.operation.duration",
        "gen_ai.client.token.usage",
        "gen_ai.client.operation.time_to_first_chunk",
    }
    assert metric_names <= METRICS
    point_attrs = {
        k
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        for p in m.data.data_points
        for k in (p.attributes or {})
    }
    assert sorted(n for n in point_attrs if n not in ATTRIBUTES) == []
