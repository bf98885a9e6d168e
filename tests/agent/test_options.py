from __future__ import annotations

import asyncio

import pytest

import agentickit as ak
from agentickit.errors import UserError


async def test_every_model_option_reaches_the_model() -> None:
    model = ak.SimulatedModel(record=True, reply="one two three four five")
    agent = ak.Agent("o", model)
    result = await agent.run("x", max_tokens=3, temperature=0.0, top_p=0.5, stop=["END"], tool_choice="none")
    settings = model.requests[-1].settings
    assert settings.max_tokens == 3
    assert settings.temperature == 0.0  # 0.0 is a real value, not "unset"
    assert settings.top_p == 0.5 and list(settings.stop or ()) == ["END"] and settings.tool_choice == "none"
    # max_tokens is honoured by the model: the answer is cut.
    assert result.content == "one two three" and result.metadata["finish_reason"] == "length"


async def test_options_object_and_keywords_combine_keywords_win() -> None:
    model = ak.SimulatedModel(record=True)
    agent = ak.Agent("o", model, options=ak.RunOptions(temperature=0.9, max_tokens=7))
    await agent.run("x", options=ak.RunOptions(temperature=0.1, top_p=0.3), temperature=0.2)
    s = model.requests[-1].settings
    assert (s.temperature, s.top_p, s.max_tokens) == (0.2, 0.3, 7)


async def test_unknown_option_names_the_closest() -> None:
    agent = ak.Agent("o", "simulated")
    with pytest.raises(UserError, match="did you mean 'max_tokens'"):
        await agent.run("x", max_token=5)  # type: ignore[call-arg]


async def test_concurrent_runs_with_different_options_do_not_interfere() -> None:
    model = ak.SimulatedModel(record=True, reply=lambda r: f"t={r.settings.temperature}", ttft=0.01)
    agent = ak.Agent("o", model)
    temps = [i / 10 for i in range(10)]
    results = await asyncio.gather(*(agent.run("x", temperature=t) for t in temps))
    assert [r.content for r in results] == [f"t={t}" for t in temps]
    assert agent.options == ak.RunOptions()  # the agent itself never changed


async def test_metadata_option_is_copied_not_shared() -> None:
    meta = {"k": 1}
    r = await ak.Agent("o", "simulated").run("x", metadata=meta)
    r.metadata["k"] = 2
    assert meta == {"k": 1}


async def test_max_tool_rounds_option_zero_means_no_tools_rounds() -> None:
    @ak.tool
    def t(x: int) -> int:
        return x

    from agentickit.errors import UsageLimitExceeded

    with pytest.raises(UsageLimitExceeded):
        await ak.Agent("o", "simulated", tools=[t]).run("x 1", max_tool_rounds=0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_tokens": 0}, "max_tokens must be an int >= 1"),
        ({"max_tokens": 2.5}, "max_tokens must be an int >= 1"),
        ({"temperature": "hot"}, "temperature must be a number >= 0"),
        ({"temperature": -0.1}, "temperature must be a number >= 0"),
        ({"top_p": 1.5}, "top_p must be a number between 0 and 1"),
        ({"stop": "END"}, "stop must be a list of strings"),
        ({"history_limit": -1}, "history_limit must be an int >= 0"),
        ({"timeout": -1}, "timeout must be a number of seconds > 0"),
        ({"timeout": True}, "timeout must be a number of seconds > 0"),
        ({"max_tool_rounds": -2}, "max_tool_rounds must be an int >= 0"),
        ({"tool_choice": 3}, "tool_choice must be"),
        ({"session_id": 7}, "session_id must be a string"),
    ],
)
async def test_bad_option_values_name_the_option(options: dict[str, object], message: str) -> None:
    agent = ak.Agent("o", "simulated")
    with pytest.raises(UserError, match=message):
        await agent.run("x", **options)  # type: ignore[arg-type]
    with pytest.raises(UserError, match=message):
        ak.RunOptions(**options)  # type: ignore[arg-type]


async def test_bad_query_and_memory_types_are_clear_errors() -> None:
    agent = ak.Agent("o", "simulated")
    with pytest.raises(UserError, match="the query must be a string, got int"):
        await agent.run(123)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="the query must be a string"):
        agent.run_stream(None)  # type: ignore[arg-type]
    with pytest.raises(UserError, match=r"memory must be an ak.Memory"):
        ak.Agent("o", memory=5)  # type: ignore[arg-type]
