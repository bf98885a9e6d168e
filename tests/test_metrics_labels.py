"""A server reporting a new model name with every reply cannot grow the metrics without bound (issue 11, item 19)."""

from __future__ import annotations

import agentickit as ak
from agentickit.metrics import MAX_MODEL_LABELS, OTHER_MODELS
from tests.hostile import HostileServer


async def test_model_names_from_the_server_are_capped(hostile: HostileServer) -> None:
    llm = ak.LLMConfig(provider="openai", model="m", api_key="k", base_url=hostile.base_url("model_names"))
    async with ak.Agent("a", llm=llm) as agent:
        for i in range(100):
            await agent.run(f"q{i}")
        snap = agent.metrics()
    assert hostile.hits["model_names/-"] == 100
    assert snap.runs == 100 and snap.tokens_in == 100 and snap.tokens_out == 100  # nothing lost
    labels = set(snap.unpriced_models)
    assert len(labels) == MAX_MODEL_LABELS and OTHER_MODELS in labels
