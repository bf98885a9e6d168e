"""Settings reach the model by every route: `with_llm` settings, options objects of the right type."""

from __future__ import annotations

import pytest

import agentickit as ak
from agentickit.errors import UserError
from agentickit.testing import SimulatedModel


def _recorded(agent: ak.Agent) -> SimulatedModel:
    model = agent.model
    assert isinstance(model, SimulatedModel)
    return model


async def test_with_llm_settings_apply_to_a_model_object() -> None:
    model = SimulatedModel(reply="one two three four five", record=True)
    agent = ak.Agent.builder("a").with_llm(model, temperature=0.7, max_tokens=3).build()
    result = await agent.run("q")
    settings = model.requests[0].settings
    assert (settings.temperature, settings.max_tokens) == (0.7, 3)
    assert result.content == "one two three"
    # The run's own options still win.
    await agent.run("q", temperature=0.1)
    assert model.requests[1].settings.temperature == 0.1


async def test_with_llm_settings_replace_the_fields_of_an_llm_config() -> None:
    base = ak.LLMConfig(provider="simulated", options={"record": True, "reply": "a b c d"})
    agent = ak.Agent.builder("a").with_llm(base, temperature=0.7, max_tokens=2).build()
    assert isinstance(agent.llm, ak.LLMConfig) and agent.llm.temperature == 0.7 and agent.llm.max_tokens == 2
    result = await agent.run("q")
    assert _recorded(agent).requests[0].settings.temperature == 0.7
    assert result.content == "a b"
    assert base.temperature is None  # the caller's config is not changed


def test_with_llm_rejects_settings_a_ready_model_cannot_take() -> None:
    with pytest.raises(UserError, match="'base_url' cannot change a Model"):
        ak.Agent.builder("a").with_llm(SimulatedModel(), base_url="http://127.0.0.1:1/v1")
    with pytest.raises(UserError, match="unknown setting 'temprature'"):
        ak.Agent.builder("a").with_llm("simulated", temprature=0.1)


async def test_a_stream_options_object_in_options_is_rejected_at_once() -> None:
    agent = ak.Agent("a")
    with pytest.raises(UserError, match="stream_options="):
        agent.run_stream("q", options=ak.StreamOptions())  # type: ignore[arg-type]
    with pytest.raises(UserError, match="stream_options="):
        await agent.run("q", options=ak.StreamOptions())  # type: ignore[arg-type]
    with pytest.raises(UserError, match="stream_options= takes an ak.StreamOptions, got RunOptions"):
        agent.run_stream("q", stream_options=ak.RunOptions())  # type: ignore[arg-type]
    with pytest.raises(UserError, match="stream_options="):
        ak.Agent("a", options=ak.StreamOptions())  # type: ignore[arg-type]
    with pytest.raises(UserError, match="options= takes an ak.RunOptions"):
        await ak.SequentialWorkflow("w").add_step("s", agent).run("q", options={"max_tokens": 1})  # type: ignore[arg-type]
