"""`LLMConfig` rejects unknown provider options when it is built; every provider applies its defaults."""

from __future__ import annotations

import dataclasses

import pytest

import agentickit as ak
from agentickit.errors import ConfigError
from agentickit.providers._registry import PROVIDER_OPTIONS, PROVIDERS
from agentickit.testing import SimulatedModel


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_unknown_options_are_rejected_at_construction_for_every_provider(provider: str) -> None:
    with pytest.raises(ConfigError) as raised:
        ak.LLMConfig(provider=provider, model="m", options={"nonsense": 1})
    message = str(raised.value)
    assert "'nonsense'" in message and f"provider {provider!r}" in message
    assert all(name in message for name in PROVIDER_OPTIONS[provider])


def test_an_llm_config_field_given_as_an_option_points_to_the_field() -> None:
    with pytest.raises(ConfigError, match=r"'timeout' is an LLMConfig field: pass LLMConfig\(timeout=...\)"):
        ak.LLMConfig(options={"timeout": 1.0})


def test_a_bad_transport_is_rejected_at_construction() -> None:
    with pytest.raises(ConfigError, match="unknown transport 'grpc'"):
        ak.LLMConfig(provider="openai", model="m", transport="grpc")  # type: ignore[arg-type]


def test_the_simulated_option_list_matches_the_model() -> None:
    from_llm_config = {"model_name", "provider", "max_retries", "timeout", "temperature", "max_tokens"}
    internal = {"requests", "_pending_failures"}
    names = {f.name for f in dataclasses.fields(SimulatedModel) if f.init} - from_llm_config - internal
    assert names == set(PROVIDER_OPTIONS["simulated"])


async def test_simulated_honours_llm_config_temperature_and_max_tokens() -> None:
    llm = ak.LLMConfig(
        provider="simulated", temperature=0.3, max_tokens=2, options={"reply": "a b c d", "record": True}
    )
    agent = ak.Agent("a", llm)
    assert (await agent.run("q")).content == "a b"
    chunks = [c.delta or "" async for c in agent.run_stream("q", text_only=True) if c.type is ak.ChunkType.DELTA]
    assert "".join(chunks) == "a b"
    model = agent.model
    assert isinstance(model, SimulatedModel)
    assert model.requests[0].settings.temperature == 0.3 and model.requests[0].settings.max_tokens == 2
    # A run's own settings win over the config's defaults.
    assert (await agent.run("q", max_tokens=3)).content == "a b c"
    await agent.run("q", temperature=0.0)
    assert model.requests[-1].settings.temperature == 0.0
