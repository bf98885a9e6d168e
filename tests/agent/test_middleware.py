from __future__ import annotations

from typing import Any

import pytest

import agentickit as ak
from agentickit.errors import UserError
from agentickit.providers import SimulatedModel


class Recorder(ak.Middleware):
    def __init__(self, name: str, log: list[str], *, stop: str | ak.Result | None = None) -> None:
        self.name = name
        self.log = log
        self.stop = stop

    async def before_run(self, ctx: ak.MiddlewareContext) -> str | ak.Result | None:
        self.log.append(f"before {self.name}")
        return self.stop

    async def after_run(self, ctx: ak.MiddlewareContext, result: ak.Result) -> ak.Result | None:
        self.log.append(f"after {self.name}")
        return None


async def test_hooks_run_in_order_and_unwind_in_reverse() -> None:
    log: list[str] = []
    agent = ak.Agent("m", "simulated:echo", middleware=[Recorder("a", log), Recorder("b", log)])
    result = await agent.run("hi")
    assert result.content == "hi"
    assert log == ["before a", "before b", "after b", "after a"]


async def test_before_run_short_circuits_with_a_string_and_skips_the_model() -> None:
    log: list[str] = []
    model = SimulatedModel(reply="model", record=True)
    agent = ak.Agent(
        "m", model, middleware=[Recorder("a", log), Recorder("guard", log, stop="blocked"), Recorder("c", log)]
    )
    result = await agent.run("hi")
    assert result.content == "blocked"
    assert result.metadata["short_circuit"] == "Recorder.before_run"
    assert result.agent_name == "m" and result.run_id
    assert len(model.requests) == 0
    # c never ran; only the middleware that already ran unwind
    assert log == ["before a", "before guard", "after guard", "after a"]


async def test_before_run_short_circuits_with_a_result() -> None:
    canned = ak.Result(content="from cache", metadata={"cache": "hit"})
    result = await ak.Agent("m", middleware=[Recorder("c", [], stop=canned)]).run("hi")
    assert result is canned and result.agent_name == "m" and result.run_id


async def test_after_run_replaces_the_result_and_state_is_shared() -> None:
    class Stamp(ak.Middleware):
        async def before_run(self, ctx: ak.MiddlewareContext) -> None:
            ctx.state["seen_input"] = ctx.input

        async def after_run(self, ctx: ak.MiddlewareContext, result: ak.Result) -> ak.Result:
            assert ctx.run_id == result.run_id
            return ak.Result(content=f"[{ctx.state['seen_input']}] {result.content}", run_id=result.run_id)

    result = await ak.Agent("m", "simulated:echo", middleware=[Stamp()]).run("hi")
    assert result.content == "[hi] hi"


async def test_before_run_can_rewrite_the_input_and_options() -> None:
    import dataclasses

    class Redact(ak.Middleware):
        async def before_run(self, ctx: ak.MiddlewareContext) -> None:
            ctx.input = ctx.input.replace("secret", "*****")
            ctx.options = dataclasses.replace(ctx.options, max_tokens=2)

    model = SimulatedModel(reply="echo", record=True)
    result = await ak.Agent("m", model, middleware=[Redact()]).run("my secret word")
    assert result.content == "my *****"
    assert model.requests[0].last_user == "my ***** word"


async def test_duck_typed_middleware_with_one_hook() -> None:
    class AfterOnly:
        async def after_run(self, ctx: ak.MiddlewareContext, result: ak.Result) -> None:
            result.metadata["audited"] = True

    result = await ak.Agent("m", middleware=[AfterOnly()]).run("hi")  # pyright: ignore[reportArgumentType]
    assert result.metadata["audited"] is True


async def test_middleware_wraps_a_handler() -> None:
    log: list[str] = []

    async def handler(input: str, caps: ak.Capabilities) -> str:
        log.append("handler")
        return "handled"

    agent = ak.Agent("m", handler=handler, middleware=[Recorder("a", log)])
    assert (await agent.run("hi")).content == "handled"
    assert log == ["before a", "handler", "after a"]


async def test_builder_composes_middleware_in_order() -> None:
    log: list[str] = []
    agent = (
        ak.Agent.builder("m")
        .with_llm("simulated:echo")
        .with_middleware(Recorder("a", log))
        .with_middleware(Recorder("b", log), Recorder("c", log))
        .build()
    )
    await agent.run("hi")
    assert log == ["before a", "before b", "before c", "after c", "after b", "after a"]


async def test_short_circuit_in_a_stream_delivers_the_answer() -> None:
    stream = ak.Agent("m", middleware=[Recorder("g", [], stop="no")]).run_stream("hi")
    chunks = [c async for c in stream]
    assert [c.delta for c in chunks if c.type is ak.ChunkType.DELTA] == ["no"]
    assert chunks[-1].type is ak.ChunkType.DONE
    assert (await stream.wait()).content == "no"


async def test_plain_agents_are_untouched_by_the_middleware_machinery() -> None:
    agent = ak.Agent("plain", "simulated:echo")
    assert agent.handler is None and agent.middleware == ()
    assert (await agent.run("hi")).content == "hi"


# -- bad input -----------------------------------------------------------------------------------


class NoHooks:
    pass


class SyncHook:
    def before_run(self, ctx: Any) -> None:
        return None


@pytest.mark.parametrize(
    ("middleware", "match"),
    [
        (NoHooks(), r"middleware\[0\] \(NoHooks\) has neither `before_run` nor `after_run`"),
        (SyncHook(), r"middleware\[0\] \(SyncHook\)\.before_run must be a coroutine function"),
    ],
)
def test_bad_middleware_is_rejected_at_build_time(middleware: Any, match: str) -> None:
    with pytest.raises(UserError, match=match):
        ak.Agent("m", middleware=[middleware])
    with pytest.raises(UserError, match=match):
        ak.Agent.builder("m").with_middleware(middleware)


async def test_hooks_returning_the_wrong_type_are_typed_errors() -> None:
    class BadBefore(ak.Middleware):
        async def before_run(self, ctx: ak.MiddlewareContext) -> Any:
            return 42

    class BadAfter(ak.Middleware):
        async def after_run(self, ctx: ak.MiddlewareContext, result: ak.Result) -> Any:
            return "text"

    with pytest.raises(UserError, match=r"BadBefore.before_run returned int; return a str or an ak.Result"):
        await ak.Agent("m", middleware=[BadBefore()]).run("hi")
    with pytest.raises(UserError, match=r"BadAfter.after_run returned str; return an ak.Result or None"):
        await ak.Agent("m", middleware=[BadAfter()]).run("hi")


async def test_hook_errors_propagate() -> None:
    class Guard(ak.Middleware):
        async def before_run(self, ctx: ak.MiddlewareContext) -> None:
            raise PermissionError("not allowed")

    with pytest.raises(PermissionError, match="not allowed"):
        await ak.Agent("m", middleware=[Guard()]).run("hi")
