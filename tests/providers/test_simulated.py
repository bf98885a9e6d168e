from __future__ import annotations

import pytest

import agentickit as ak
from agentickit.errors import (
    AuthenticationError,
    BadRequestError,
    BadResponseError,
    ProviderTimeoutError,
    RateLimitError,
    ServerError,
)
from agentickit.messages import Message
from agentickit.options import ModelSettings
from agentickit.providers import SimulatedModel, TextDelta, ThoughtDelta, call, infer_model, parse_llm
from agentickit.providers.simulated import tokenize

S = ModelSettings()


def test_tokenize_round_trips_text() -> None:
    for text in ["", "one", "hello world", "  lead and trail  ", "a\nb\tc"]:
        assert "".join(tokenize(text)) == text
    assert tokenize("hello big world") == ["hello", " big", " world"]


async def test_stream_and_request_agree() -> None:
    model = SimulatedModel(reply="the quick brown fox", thoughts="thinking hard")
    msgs = [Message.user("hi")]
    full = await model.request(msgs, (), S)
    async with model.request_stream(msgs, (), S) as stream:
        events = [e async for e in stream]
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    thoughts = [e.text for e in events if isinstance(e, ThoughtDelta)]
    assert "".join(texts) == full.content == "the quick brown fox"
    assert "".join(thoughts) == full.thoughts == "thinking hard"
    assert stream.response().content == full.content
    assert stream.response().usage.output_tokens == full.usage.output_tokens == 4


async def test_script_is_chosen_by_conversation_round() -> None:
    model = SimulatedModel(script=[call("t", x=1), "final"], tools_mode="never")
    first = await model.request([Message.user("go")], (), S)
    assert first.tool_calls[0].name == "t" and first.tool_calls[0].arguments == '{"x":1}'
    second = await model.request(
        [Message.user("go"), Message.assistant(None, first.tool_calls), Message.tool(first.tool_calls[0].id, "t", "1")],
        (),
        S,
    )
    assert second.content == "final"
    # a new conversation starts the script again, whatever ran before
    again = await model.request([Message.user("new")], (), S)
    assert again.tool_calls


@pytest.mark.parametrize(
    ("directive", "error"),
    [
        ("429", RateLimitError),
        ("500", ServerError),
        ("401", AuthenticationError),
        ("400", BadRequestError),
        ("timeout", ProviderTimeoutError),
        ("malformed", BadResponseError),
    ],
)
async def test_failure_directives(directive: str, error: type[Exception]) -> None:
    model = SimulatedModel()
    with pytest.raises(error):
        await model.request([Message.user(f"x [[sim:{directive}]]")], (), S)
    with pytest.raises(error):
        async with model.request_stream([Message.user(f"x [[sim:{directive}]]")], (), S) as stream:
            async for _ in stream:
                pass


async def test_scripted_failures_are_consumed_in_order() -> None:
    model = SimulatedModel(reply="ok", failures=["429", "500"])
    with pytest.raises(RateLimitError):
        await model.request([Message.user("a")], (), S)
    with pytest.raises(ServerError):
        await model.request([Message.user("a")], (), S)
    assert (await model.request([Message.user("a")], (), S)).content == "ok"


def test_bad_simulated_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown simulated failure"):
        SimulatedModel(failures=["418"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="ttft"):
        SimulatedModel(ttft=-1)
    with pytest.raises(ValueError, match="tokens_per_s"):
        SimulatedModel(tokens_per_s=0)
    with pytest.raises(ValueError, match="tools_mode must be 'auto' or 'never', not 'always'"):
        SimulatedModel(tools_mode="always")  # type: ignore[arg-type]


async def test_ttft_and_tokens_per_second_pace_the_stream() -> None:
    import time

    model = SimulatedModel(reply=" ".join(["w"] * 20), ttft=0.05, tokens_per_s=200)
    start = time.perf_counter()
    first = None
    async with model.request_stream([Message.user("x")], (), S) as stream:
        async for _ in stream:
            if first is None:
                first = time.perf_counter() - start
    total = time.perf_counter() - start
    assert first is not None and first >= 0.05
    assert total >= 0.05 + 19 / 200 - 0.005  # pacing is real, not skipped


def test_parse_llm_and_infer_model() -> None:
    assert parse_llm("simulated").model == "simulated"
    cfg = parse_llm("openai:gpt-4o-mini")
    assert (cfg.provider, cfg.model) == ("openai", "gpt-4o-mini")
    assert parse_llm("ollama").model == "llama3.2"
    with pytest.raises(ak.errors.UnknownProviderError, match="names no model"):
        parse_llm("openai")
    echo = infer_model("simulated:echo")
    assert isinstance(echo, SimulatedModel) and echo.reply == "echo"
    tuned = infer_model(ak.LLMConfig(provider="simulated", model="x", options={"ttft": 0.2}))
    assert isinstance(tuned, SimulatedModel) and tuned.ttft == 0.2
    model = SimulatedModel()
    assert infer_model(model) is model


async def test_default_simulated_model_answers_about_the_question() -> None:
    result = await ak.Agent("d").run("Why is the sky blue?")
    assert "Why is the sky blue?" in result.content


async def test_llm_config_timeout_and_retries_reach_the_simulated_model() -> None:
    cfg = ak.LLMConfig(provider="simulated", model="slow", timeout=0.05, max_retries=0, options={"ttft": 5.0})
    model = infer_model(cfg)
    assert isinstance(model, SimulatedModel) and model.timeout == 0.05 and model.max_retries == 0
    with pytest.raises(ProviderTimeoutError, match="within its timeout of 0.05 s"):
        await ak.Agent("t", cfg).run("x")
    with pytest.raises(ProviderTimeoutError):
        await ak.Agent("t", cfg).run_stream("x").wait()
    with pytest.raises(ValueError, match="timeout must be > 0"):
        SimulatedModel(timeout=0)
