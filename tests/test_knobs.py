"""Every public knob, every route it can be given, and the case that proves it does something.

The knobs are found by introspection: the parameters of `Agent`, the builder's `with_*` methods,
the fields of `LLMConfig`, `RunOptions` and `StreamOptions`, the keywords of `run_stream`, `@tool`,
`MCPServer`, `Step` and the four workflow classes, and every key of the config schema. Each must
sit in one row of `KNOBS` below, in the column of its route, and the row must name a case that
proves the knob changes observable behaviour by each route it lists (or is rejected with a clear
error). A new parameter without a row fails `test_every_knob_has_a_row`, naming the knob.

How to add a knob (one line in `KNOBS`):

    Knob("what it sets", ctor="Agent(my_knob)", builder="builder.with_my_knob",
         config="section.my_knob", run="RunOptions.my_knob", case=_my_knob),

- `ctor`, `builder`, `run`: the spellings this file reports for the knob (a failure prints them);
  give a tuple when several spellings set one thing. Other spellings (`"Memory(rag_k)"`) are
  allowed for the README and are not checked.
- `config`: the schema key(s). Their behaviour check lives in `tests/config/test_keys.py`
  (`@effect("key")`); this file only requires that it is there.
- `case`: an `async def` here that proves the effect by every non-config route the row lists
  (fast: simulated models, no subprocesses), or a `"tests/path.py::test_name"` of a test elsewhere
  that does (a test that must exist), or a tuple of both.
- A knob with a constructor route but no config key needs `note=` saying why (or add the key).

Then regenerate the README table: `python -m tests.test_knobs` (the test compares them).
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import inspect
import re
import sys
import typing
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import agentickit as ak
from agentickit.agent._builder import AgentBuilder
from agentickit.mcp import MCPServer
from agentickit.messages import ToolDefinition
from agentickit.providers import SimulatedModel
from agentickit.providers.simulated import call
from agentickit.streaming._options import StreamOptionsDict
from agentickit.testing import ScriptedModel
from agentickit.workflows import DAGWorkflow, LoopWorkflow, ParallelWorkflow, SequentialWorkflow, Step

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
START, END = "<!-- knobs:start -->", "<!-- knobs:end -->"

Check = Callable[[], Awaitable[None]]
Case = Check | str
Spellings = str | tuple[str, ...]


@dataclass(frozen=True)
class Knob:
    """One row of the table: a thing a user can set, where they can set it, and its proof."""

    what: str
    ctor: Spellings = ()
    builder: Spellings = ()
    config: Spellings = ()
    run: Spellings = ()
    case: Case | tuple[Case, ...] = ()
    note: str = ""

    def spellings(self, route: str) -> tuple[str, ...]:
        value: Spellings = getattr(self, route)
        return (value,) if isinstance(value, str) else value

    @property
    def cases(self) -> tuple[Case, ...]:
        return self.case if isinstance(self.case, tuple) else (self.case,)


ROUTES = ("ctor", "builder", "config", "run")
HEADERS = {"ctor": "Constructor", "builder": "Builder", "config": "Config key", "run": "Per run"}


# -- introspection -------------------------------------------------------------------------------


def _params(fn: Callable[..., Any], skip: tuple[str, ...] = ()) -> list[str]:
    return [
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.name not in ("self", *skip) and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]


def introspected() -> dict[str, str]:
    """Every public knob's spelling -> the route it belongs to."""
    out: dict[str, str] = {}
    for p in _params(ak.Agent.__init__):
        out[f"Agent({p})"] = "ctor"
    for m in sorted(n for n in dir(AgentBuilder) if n.startswith("with_")):
        out[f"builder.{m}"] = "builder"
    for f in dataclasses.fields(ak.LLMConfig):
        out[f"LLMConfig.{f.name}"] = "ctor"
    for f in dataclasses.fields(ak.RunOptions):
        out[f"RunOptions.{f.name}"] = "run"
    for f in dataclasses.fields(ak.StreamOptions):
        out[f"StreamOptions.{f.name}"] = "ctor"
    # run_stream's own keywords, and the StreamOptions it takes as keywords (its RunOptions
    # keywords are the RunOptions fields above).
    stream_keys = [*_params(ak.Agent.run_stream, ("query", "options")), *typing.get_type_hints(StreamOptionsDict)]
    for p in stream_keys:
        out[f"run_stream({p})"] = "run"
    for p in _params(ak.Tool.__init__, ("function",)):
        out[f"tool({p})"] = "ctor"
    for p in _params(MCPServer.__init__):
        out[f"MCPServer({p})"] = "ctor"
    for p in _params(Step.__init__):
        out[f"Step({p})"] = "ctor"
    for cls in (SequentialWorkflow, ParallelWorkflow, DAGWorkflow, LoopWorkflow):
        for p in _params(cls.__init__):
            out[f"{cls.__name__}({p})"] = "ctor"
    for key in config_keys():
        out[key] = "config"
    return out


@cache
def config_keys() -> tuple[str, ...]:
    from tests.config.test_keys import leaf_keys

    return tuple(leaf_keys())


@cache
def checked_config_keys() -> frozenset[str]:
    from tests.config import test_keys

    return frozenset(test_keys.EFFECTS) | frozenset(test_keys.HTTP_EFFECTS)


_FAMILIES = re.compile(
    r"^(Agent\(|builder\.with_|LLMConfig\.|RunOptions\.|StreamOptions\.|run_stream\(|tool\(|MCPServer\(|Step\("
    r"|(Sequential|Parallel|DAG|Loop)Workflow\()"
)


def _is_checked_spelling(spelling: str, route: str) -> bool:
    return route == "config" or bool(_FAMILIES.match(spelling))


# -- local cases (fast: simulated models) --------------------------------------------------------


def rec(**options: Any) -> SimulatedModel:
    return SimulatedModel(record=True, **options)


async def _name() -> None:
    assert (await ak.Agent("named").run("q")).agent_name == "named"
    assert (await ak.Agent.builder("built").build().run("q")).agent_name == "built"


async def _model() -> None:
    assert (await ak.Agent("a", llm="simulated:echo").run("say this")).content == "say this"
    assert (await ak.Agent("a", llm=ak.LLMConfig(model="echo")).run("say this")).content == "say this"
    assert (await ak.Agent("a", llm=SimulatedModel(reply="model object")).run("q")).content == "model object"
    assert (await ak.Agent.builder("b").with_llm("simulated", "echo").build().run("via builder")).content == (
        "via builder"
    )
    assert (await ak.Agent("a").run("say this")).content != "say this"


async def _system_prompt() -> None:
    for agent in (
        ak.Agent("a", llm=rec(), system_prompt="Be terse."),
        ak.Agent.builder("b").with_llm(rec()).with_system_prompt("Be terse.").build(),
    ):
        await agent.run("q")
        model = agent.model
        assert isinstance(model, SimulatedModel)
        assert model.requests[0].messages[0].content == "Be terse."


async def _temperature() -> None:
    def seen(agent: ak.Agent) -> float | None:
        model = agent.model
        assert isinstance(model, SimulatedModel)
        return model.requests[-1].settings.temperature

    by_config = ak.Agent("a", llm=ak.LLMConfig(temperature=0.3, options={"record": True}))
    await by_config.run("q")
    assert seen(by_config) == 0.3
    by_builder = ak.Agent.builder("b").with_llm(rec(), temperature=0.4).build()
    await by_builder.run("q")
    assert seen(by_builder) == 0.4
    await by_builder.run("q", temperature=0.5)
    assert seen(by_builder) == 0.5
    await by_builder.run("q", options=ak.RunOptions(temperature=0.6))
    assert seen(by_builder) == 0.6
    plain = ak.Agent("c", llm=rec())
    await plain.run("q")
    assert seen(plain) is None


async def _max_tokens() -> None:
    long = "a b c d e f"
    assert (await ak.Agent("a", llm=ak.LLMConfig(model="echo", max_tokens=2)).run(long)).content == "a b"
    assert (await ak.Agent("a", llm="simulated:echo").run(long, max_tokens=3)).content == "a b c"
    built = ak.Agent.builder("b").with_llm(SimulatedModel(reply="echo"), max_tokens=1).build()
    assert (await built.run(long)).content == "a"
    assert (await ak.Agent("a", llm="simulated:echo").run(long)).content == long


async def _hang() -> str:
    await asyncio.sleep(30)
    return "never"


async def _tool_timeout() -> None:
    hang = ak.Tool(_hang, name="hang")
    for agent in (
        ak.Agent("a", ScriptedModel([call("hang"), "done"]), tools=[hang], tool_timeout=0.05),
        ak.Agent.builder("b")
        .with_llm(ScriptedModel([call("hang"), "done"]))
        .with_tools(hang)
        .with_tool_timeout(0.05)
        .build(),
    ):
        record = (await agent.run("q")).tool_calls[0]
        assert record.error is not None and "timed out after 0.05 s" in record.error


async def _description() -> None:
    assert ak.Agent("a", description="Plans trips.").description == "Plans trips."
    assert ak.Agent.builder("b").with_description("Plans trips.").build().description == "Plans trips."
    wf = SequentialWorkflow("w", description="A pipeline.")
    assert wf.as_agent().description == "A pipeline."
    assert Step("s", ak.Agent("x"), description="First.").description == "First."


async def _stream_options() -> None:
    async def types(stream: Any) -> set[ak.ChunkType]:
        out = {c.type async for c in stream}
        await stream.wait()
        return out

    text_only = ak.StreamOptions(text_only=True)
    assert ak.ChunkType.TEXT not in await types(ak.Agent("a", stream_options=text_only).run_stream("q"))
    built = ak.Agent.builder("b").with_stream_options(text_only=True).build()
    assert ak.ChunkType.TEXT not in await types(built.run_stream("q"))
    assert ak.ChunkType.TEXT not in await types(ak.Agent("c").run_stream("q", stream_options=text_only))
    assert ak.ChunkType.TEXT in await types(ak.Agent("d").run_stream("q"))
    with pytest.raises(ak.errors.UserError, match="unknown setting 'text'"):
        ak.Agent.builder("e").with_stream_options(text=True)


async def _default_options() -> None:
    agent = ak.Agent("a", llm="simulated:echo", options=ak.RunOptions(max_tokens=1))
    assert (await agent.run("a b c")).content == "a"
    assert (await agent.run("a b c", max_tokens=2)).content == "a b"  # the run's own option wins
    built = ak.Agent.builder("b").with_llm("simulated:echo").with_options(max_tokens=1).build()
    assert (await built.run("a b c")).content == "a"


async def _message_history() -> None:
    model = rec()
    history = [ak.Message.user("my name is Ada"), ak.Message.assistant("hello Ada")]
    await ak.Agent("a", llm=model).run("what is my name?", message_history=history)
    sent = [m.content for m in model.requests[0].messages]
    assert sent == ["my name is Ada", "hello Ada", "what is my name?"]
    await ak.Agent("a", llm=model).run("what is my name?")
    assert [m.content for m in model.requests[1].messages] == ["what is my name?"]
    with pytest.raises(ak.errors.UserError, match="message_history must be a list of ak.Message"):
        await ak.Agent("a").run("q", message_history="hi")


async def _usage_limits_builder() -> None:
    looping = [call("t"), call("t"), call("t"), "done"]

    async def t() -> str:
        return "ok"

    built = ak.Agent.builder("b").with_llm(ScriptedModel(looping)).with_tools(ak.Tool(t, name="t"))
    with pytest.raises(ak.errors.UsageLimitExceeded):
        await built.with_usage_limits(request_limit=2).build().run("q")
    free = ak.Agent.builder("c").with_llm(ScriptedModel(looping)).with_tools(ak.Tool(t, name="t")).build()
    assert (await free.run("q")).content == "done"


async def _mcp_policies_ctor() -> None:
    # What a server's policies become is checked against a real server in tests/mcp/test_policies.py;
    # here: every policy keyword lands on the tools the server lists (the chain reads these).
    server = MCPServer.stdio(
        sys.executable, retries=2, retry_backoff=0.5, cache_ttl=9, rate_limit="3/s", max_concurrency=2
    )
    made = server._make_tool(ToolDefinition("t", "", {"type": "object", "properties": {}}))
    assert (made.retries, made.retry_backoff, made.cache_ttl, made.rate_limit, made.max_concurrency) == (
        2,
        0.5,
        9,
        "3/s",
        2,
    )


# -- the table -----------------------------------------------------------------------------------

MCP_POLICY_TESTS = (
    "tests/mcp/test_policies.py::test_server_policies_reach_every_tool_and_tool_policies_replace_them",
    "tests/mcp/test_policies.py::test_server_wide_retries_retry_a_failing_tool",
)
KEYS = "tests/config/test_keys.py::test_key_changes_behaviour"
HTTP_KEYS = "tests/config/test_keys.py::test_mcp_http_keys_change_behaviour"

KNOBS: tuple[Knob, ...] = (
    # -- the agent ---------------------------------------------------------------------------------
    Knob("Agent name", ctor="Agent(name)", config="name", case=_name),
    Knob(
        "Model",
        ctor=("Agent(llm)", "LLMConfig.provider", "LLMConfig.model"),
        builder="builder.with_llm",
        config=("llm.provider", "llm.model"),
        case=_model,
    ),
    Knob(
        "System prompt",
        ctor="Agent(system_prompt)",
        builder="builder.with_system_prompt",
        config="system_prompt",
        case=_system_prompt,
    ),
    Knob(
        "Description",
        ctor="Agent(description)",
        builder="builder.with_description",
        config="description",
        case=_description,
    ),
    Knob(
        "Tools",
        ctor="Agent(tools)",
        builder="builder.with_tools",
        config="tools.functions",
        case=(
            "tests/agent/test_agent.py::test_tool_call_round_trip_through_the_model",
            "tests/tools/test_builder_tools.py::test_builder_takes_tools_sources_and_tool_settings",
        ),
    ),
    Knob(
        "Memory (history, sessions, knowledge)",
        ctor="Agent(memory)",
        builder="builder.with_memory",
        config="memory.provider",
        case="tests/memory/test_memory.py::test_history_is_per_session_and_bounded_by_history_limit",
        note="every `Memory(...)` setting has its `[memory]` key",
    ),
    Knob(
        "Default tool timeout",
        ctor="Agent(tool_timeout)",
        builder="builder.with_tool_timeout",
        config="tools.timeout",
        case=_tool_timeout,
    ),
    Knob(
        "Tool calls at once (all runs of the agent)",
        ctor="Agent(max_concurrent_tools)",
        builder="builder.with_max_concurrent_tools",
        config="tools.max_concurrent",
        case=(
            "tests/tools/test_rate_limit_and_concurrency.py::test_max_concurrent_tools_caps_all_tools_of_an_agent_across_runs",
            "tests/tools/test_builder_tools.py::test_builder_takes_tools_sources_and_tool_settings",
        ),
    ),
    Knob(
        "Tool result cache",
        ctor="Agent(tool_cache)",
        builder="builder.with_tool_cache",
        config=("tools.cache.enabled", "tools.cache.backend", "tools.cache.url"),
        case=(
            "tests/tools/test_cache.py::test_redis_cache_is_shared_between_clients",
            "tests/tools/test_builder_tools.py::test_builder_takes_tools_sources_and_tool_settings",
        ),
    ),
    Knob(
        "Default run options",
        ctor="Agent(options)",
        builder="builder.with_options",
        run="run(options=)",
        case=_default_options,
        note="each option's own row says where else it can be set",
    ),
    Knob(
        "Custom handler",
        ctor="Agent(handler)",
        builder="builder.with_handler",
        config="handler",
        case=(
            "tests/agent/test_handlers.py::test_handler_can_answer_without_calling_the_model",
            "tests/agent/test_handlers.py::test_builder_with_handler_builds_the_same_agent",
        ),
    ),
    Knob(
        "Middleware",
        ctor="Agent(middleware)",
        builder="builder.with_middleware",
        case=(
            "tests/agent/test_middleware.py::test_hooks_run_in_order_and_unwind_in_reverse",
            "tests/agent/test_middleware.py::test_builder_composes_middleware_in_order",
        ),
        note="objects with hooks: code only",
    ),
    Knob(
        "Default stream options",
        ctor="Agent(stream_options)",
        builder="builder.with_stream_options",
        run="run_stream(stream_options)",
        case=_stream_options,
        note="each field below has its `[streaming]` key",
    ),
    Knob(
        "Structured output type",
        ctor="Agent(output_type)",
        builder="builder.with_output",
        config=("output.type", "output.mode"),
        run=("RunOptions.output_type", "run_stream(output_type)"),
        case=(
            "tests/output/test_types.py::test_the_run_option_overrides_the_agent_and_the_builder_sets_it",
            "tests/output/test_stream.py::test_run_stream_takes_the_output_type_per_run_and_the_default_mode",
        ),
    ),
    Knob(
        "Output corrections",
        ctor="Agent(output_retries)",
        builder="with_output(retries=)",
        config="output.retries",
        run="RunOptions.output_retries",
        case="tests/output/test_retries.py::test_zero_retries_fails_on_the_first_bad_answer_and_run_option_wins",
    ),
    Knob(
        "Usage limits (requests, tokens, tool calls, cost)",
        ctor="Agent(usage_limits)",
        builder="builder.with_usage_limits",
        config=tuple(
            f"limits.{k}"
            for k in (
                "request_limit",
                "input_tokens_limit",
                "output_tokens_limit",
                "total_tokens_limit",
                "tool_calls_limit",
                "cost_limit",
            )
        ),
        run="RunOptions.usage_limits",
        case=("tests/agent/test_usage_limits.py::test_a_run_option_replaces_the_agents_limits", _usage_limits_builder),
    ),
    Knob(
        "Durability (journal off / at exit / every step)",
        ctor=(
            "Agent(durability)",
            *(f"{c}(durability)" for c in ("SequentialWorkflow", "ParallelWorkflow", "DAGWorkflow", "LoopWorkflow")),
        ),
        builder="builder.with_durability",
        config="durable.durability",
        run="RunOptions.durability",
        case=(
            "tests/durable/test_agent.py::test_exit_writes_the_journal_only_when_the_run_ends",
            "tests/durable/test_agent.py::test_the_run_option_and_the_builder_set_durability",
            "tests/durable/test_workflow.py::test_failed_step_resumes_without_rerunning_finished_ones",
        ),
    ),
    Knob(
        "Run journal store",
        ctor=(
            "Agent(store)",
            *(f"{c}(store)" for c in ("SequentialWorkflow", "ParallelWorkflow", "DAGWorkflow", "LoopWorkflow")),
        ),
        config="durable.path",
        case=(
            "tests/durable/test_agent.py::test_step_journal_replays_model_and_tools_after_a_failure",
            "tests/durable/test_workflow.py::test_agent_steps_replay_model_and_tools",
        ),
        note="`[durable] path` is a SQLite file; other stores from code",
    ),
    Knob(
        "Workflow budget (one for all steps)",
        ctor=tuple(
            f"{c}(usage_limits)" for c in ("SequentialWorkflow", "ParallelWorkflow", "DAGWorkflow", "LoopWorkflow")
        ),
        case=(
            "tests/agent/test_usage_limits.py::test_a_workflows_own_limits_and_the_run_override",
            "tests/agent/test_usage_limits.py::test_a_parallel_workflows_steps_share_the_budget",
        ),
        note="config: `[workflow.limits]` keys (checked in tests/config/test_keys.py)",
    ),
    Knob(
        "Side-effect tools (never re-run blindly on resume)",
        ctor=("tool(side_effect)", "tool(idempotency_key)"),
        case=(
            "tests/durable/test_agent.py::test_idempotency_key_reaches_the_tool",
            "tests/durable/test_crash.py::test_side_effect_without_key_interrupted_is_uncertain",
        ),
        note="a property of the tool's code, set where the tool is written",
    ),
    Knob(
        "Human approval before a tool call",
        ctor="tool(requires_approval)",
        case="tests/durable/test_agent.py::test_approval_pause_approve_edit_deny",
        note="a property of the tool's code, set where the tool is written",
    ),
    Knob(
        "Cache key scope from the run context",
        ctor="tool(cache_scope)",
        case="tests/tools/test_run_context.py::test_cache_scope_keys_a_cached_tool_by_its_deps",
        note="a function of the context: code only",
    ),
    # -- the model -------------------------------------------------------------------------------
    Knob(
        "Endpoint",
        ctor="LLMConfig.base_url",
        builder="with_llm(base_url=)",
        config="llm.base_url",
        case="tests/agent/test_settings_routes.py::test_with_llm_settings_replace_the_fields_of_an_llm_config",
    ),
    Knob(
        "API key (secret)",
        ctor="LLMConfig.api_key",
        builder="with_llm(api_key=)",
        config="llm.api_key",
        case="tests/providers/test_openai.py::test_local_server_needs_no_key_and_env_key_is_used",
    ),
    Knob(
        "Temperature",
        ctor="LLMConfig.temperature",
        builder="with_llm(temperature=)",
        config="llm.temperature",
        run="RunOptions.temperature",
        case=_temperature,
    ),
    Knob(
        "Output-token limit",
        ctor="LLMConfig.max_tokens",
        builder="with_llm(max_tokens=)",
        config="llm.max_tokens",
        run="RunOptions.max_tokens",
        case=_max_tokens,
    ),
    Knob(
        "Connect / read timeout",
        ctor="LLMConfig.timeout",
        builder="with_llm(timeout=)",
        config="llm.timeout",
        case=f"{KEYS}[llm.timeout]",
    ),
    Knob(
        "Whole-request timeout",
        ctor="LLMConfig.request_timeout",
        builder="with_llm(request_timeout=)",
        config="llm.request_timeout",
        case="tests/providers/test_hostile.py::test_request_timeout_none_removes_the_limit_and_every_route_sets_it",
    ),
    Knob(
        "Provider retries",
        ctor="LLMConfig.max_retries",
        builder="with_llm(max_retries=)",
        config="llm.max_retries",
        case="tests/agent/test_agent.py::test_provider_failures_are_retried_then_succeed",
    ),
    Knob(
        "HTTP client (aiohttp or official SDK)",
        ctor="LLMConfig.transport",
        builder="with_llm(transport=)",
        config="llm.transport",
        case=(
            "tests/providers/test_openai.py::test_plain_answer",
            "tests/providers/test_config_options.py::test_a_bad_transport_is_rejected_at_construction",
        ),
        note='`"sdk"` is rejected for providers it cannot change',
    ),
    Knob(
        "Provider options",
        ctor="LLMConfig.options",
        builder="with_llm(options=)",
        config="llm.options",
        case=(
            "tests/providers/test_config_options.py::test_a_bad_transport_is_rejected_at_construction",
            "tests/providers/test_anthropic_output.py::test_models_without_json_outputs_refuse_native_and_default_to_the_tool",
        ),
        note="per provider; anthropic's `native_output` says whether the model has JSON outputs",
    ),
    Knob(
        "Requests in flight per model (process-wide)",
        ctor="LLMConfig.max_concurrency",
        builder="with_llm(max_concurrency=)",
        config="llm.max_concurrency",
        case="tests/providers/test_fallback.py::test_max_concurrency_is_shared_by_agents_with_the_same_model",
    ),
    # -- per run -----------------------------------------------------------------------------------
    Knob(
        "top_p", run="RunOptions.top_p", case="tests/agent/test_options.py::test_every_model_option_reaches_the_model"
    ),
    Knob(
        "Stop sequences",
        run="RunOptions.stop",
        case="tests/agent/test_options.py::test_every_model_option_reaches_the_model",
    ),
    Knob(
        "Tool choice",
        run="RunOptions.tool_choice",
        case="tests/agent/test_agent.py::test_tool_choice_reaches_the_model_and_is_released_after_first_round",
    ),
    Knob(
        "History messages sent",
        ctor="Memory(history_limit)",
        config="memory.history_limit",
        run="RunOptions.history_limit",
        case="tests/memory/test_memory.py::test_run_history_limit_overrides_memory_default",
    ),
    Knob(
        "Conversation (session)",
        ctor="Memory(session_id)",
        config="memory.session_id",
        run="RunOptions.session_id",
        case="tests/memory/test_memory.py::test_history_is_per_session_and_bounded_by_history_limit",
    ),
    Knob(
        "In-process history size (bytes, all sessions)",
        ctor="InMemory(max_bytes)",
        config="memory.max_bytes",
        case="tests/stores/test_memory_bytes.py::test_300_sessions_with_a_1_mb_answer_stay_within_max_bytes",
        note="`ak.Memory(store=ak.stores.InMemory(max_bytes=...))`; default 256 MiB",
    ),
    Knob(
        "Run deadline",
        run="RunOptions.timeout",
        case="tests/agent/test_agent.py::test_run_timeout_raises_typed_error",
        note="per run (or `Agent(options=)`)",
    ),
    Knob(
        "Tool rounds per run",
        run="RunOptions.max_tool_rounds",
        case="tests/agent/test_agent.py::test_max_tool_rounds_is_enforced",
    ),
    Knob(
        "Metadata",
        run="RunOptions.metadata",
        case="tests/agent/test_options.py::test_metadata_option_is_copied_not_shared",
    ),
    Knob("History given by the caller", run="RunOptions.message_history", case=_message_history),
    Knob(
        "Dependencies for tools (RunContext.deps)",
        run="RunOptions.deps",
        case="tests/tools/test_run_context.py::test_async_tool_gets_the_runs_deps_and_ids",
    ),
    # -- streaming -------------------------------------------------------------------------------
    Knob(
        "Stream buffer",
        ctor="StreamOptions.buffer_size",
        config="streaming.buffer_size",
        run="run_stream(buffer_size)",
        case="tests/streaming/test_flow_control.py::test_slow_consumer_slows_the_producer_and_nothing_is_dropped",
    ),
    Knob(
        "Delta coalescing",
        ctor="StreamOptions.flush_interval",
        config="streaming.flush_interval",
        run="run_stream(flush_interval)",
        case="tests/streaming/test_flow_control.py::test_flush_interval_coalesces_deltas_and_keeps_the_text",
    ),
    Knob(
        "Text-only stream",
        ctor="StreamOptions.text_only",
        config="streaming.text_only",
        run="run_stream(text_only)",
        case=("tests/streaming/test_chunk_types.py::test_text_only_keeps_deltas_errors_and_done", _stream_options),
    ),
    Knob(
        "THOUGHT chunks",
        ctor="StreamOptions.include_thoughts",
        config="streaming.include_thoughts",
        run="run_stream(include_thoughts)",
        case="tests/streaming/test_chunk_types.py::test_include_flags_drop_thoughts_and_tool_chunks",
    ),
    Knob(
        "Tool chunks",
        ctor="StreamOptions.include_tool_calls",
        config="streaming.include_tool_calls",
        run="run_stream(include_tool_calls)",
        case="tests/streaming/test_chunk_types.py::test_include_flags_drop_thoughts_and_tool_chunks",
    ),
    Knob(
        "METADATA chunks",
        ctor="StreamOptions.include_metadata",
        config="streaming.include_metadata",
        run="run_stream(include_metadata)",
        case="tests/streaming/test_chunk_types.py::test_metadata_when_asked_with_usage_and_ttft",
    ),
    Knob(
        "Stream deadline",
        ctor="StreamOptions.timeout",
        config="streaming.timeout",
        run="run_stream(timeout)",
        case="tests/streaming/test_lifecycle.py::test_timeout_ends_with_error_done_and_closes_upstream",
    ),
    Knob(
        "Chunk callback",
        ctor="StreamOptions.on_chunk",
        run="run_stream(on_chunk)",
        case="tests/streaming/test_lifecycle.py::test_on_chunk_runs_for_every_chunk_without_a_reader",
        note="a callable: code only",
    ),
    # -- tools -------------------------------------------------------------------------------------
    Knob(
        "Tool name",
        ctor="tool(name)",
        case="tests/tools/test_tool_basics.py::test_decorator_options_and_nested_models",
        note="the function's own: code only",
    ),
    Knob(
        "Tool description",
        ctor="tool(description)",
        case="tests/tools/test_tool_basics.py::test_decorator_options_and_nested_models",
        note="the function's own: code only",
    ),
    Knob(
        "Hand-written tool schema",
        ctor="tool(parameters)",
        case="tests/tools/test_observability.py::test_hand_written_schema_is_checked_for_shape_and_required_keys",
        note="the function's own: code only",
    ),
    Knob(
        "Tool timeout",
        ctor=("tool(timeout)", "MCPServer(timeout)"),
        config=("mcp.servers[].timeout",),
        case=(
            "tests/tools/test_timeouts.py::test_agent_tool_timeout_is_the_default_and_a_tool_timeout_wins",
            "tests/mcp/test_stdio.py::test_hanging_tool_times_out_and_the_server_keeps_serving",
        ),
        note="MCP: per call; `[tools] timeout` is the default for all tools",
    ),
    Knob(
        "Tool retries",
        ctor=("tool(retries)", "MCPServer(retries)"),
        config=("tools.max_retries", "mcp.servers[].retries"),
        case=(
            "tests/tools/test_retries.py::test_retryable_failures_are_retried_with_backoff_and_attempts_recorded",
            *MCP_POLICY_TESTS,
            _mcp_policies_ctor,
        ),
        note="`[tools]` is the default; what a tool or server sets wins",
    ),
    Knob(
        "Retry backoff",
        ctor=("tool(retry_backoff)", "MCPServer(retry_backoff)"),
        config="mcp.servers[].retry_backoff",
        case=(
            "tests/tools/test_retries.py::test_retryable_failures_are_retried_with_backoff_and_attempts_recorded",
            _mcp_policies_ctor,
        ),
    ),
    Knob(
        "Exceptions worth retrying",
        ctor=("tool(retry_on)", "MCPServer(retry_on)"),
        case=("tests/tools/test_retries.py::test_exceptions_not_marked_retryable_fail_at_once",),
        note="exception types: code only",
    ),
    Knob(
        "Result cache TTL",
        ctor=("tool(cache_ttl)", "MCPServer(cache_ttl)"),
        config=("tools.cache.ttl", "mcp.servers[].cache_ttl"),
        case=(
            "tests/tools/test_cache.py::test_same_arguments_within_ttl_are_served_from_the_cache",
            *MCP_POLICY_TESTS,
            _mcp_policies_ctor,
        ),
    ),
    Knob(
        "Rate limit",
        ctor=("tool(rate_limit)", "MCPServer(rate_limit)"),
        config=("tools.rate_limit", "mcp.servers[].rate_limit"),
        case=(
            "tests/tools/test_rate_limit_and_concurrency.py::test_rate_limit_spaces_real_calls",
            *MCP_POLICY_TESTS,
            _mcp_policies_ctor,
        ),
    ),
    Knob(
        "Calls of one tool at once",
        ctor=("tool(max_concurrency)", "MCPServer(max_concurrency)"),
        config="mcp.servers[].max_concurrency",
        case=(
            "tests/tools/test_rate_limit_and_concurrency.py::test_max_concurrency_caps_parallel_calls_of_one_tool",
            *MCP_POLICY_TESTS,
            _mcp_policies_ctor,
        ),
    ),
    # -- MCP servers -----------------------------------------------------------------------------
    Knob(
        "MCP policies per tool name",
        ctor="MCPServer(tool_policies)",
        config="mcp.servers[].tool_policies",
        case=MCP_POLICY_TESTS[0],
    ),
    Knob(
        "MCP transport",
        ctor="MCPServer(transport)",
        config="mcp.servers[].transport",
        case=(
            "tests/mcp/test_http.py::test_streamable_http_server_tools_run_in_an_agent",
            "tests/mcp/test_http.py::test_sse_transport",
        ),
    ),
    Knob(
        "MCP command",
        ctor="MCPServer(command)",
        config="mcp.servers[].command",
        case="tests/mcp/test_stdio.py::test_server_that_cannot_start_names_the_command_and_its_stderr",
    ),
    Knob(
        "MCP arguments",
        ctor="MCPServer(args)",
        config="mcp.servers[].args",
        case="tests/mcp/test_stdio.py::test_lazy_connect_discovery_results_and_cleanup",
    ),
    Knob(
        "MCP environment (secret)", ctor="MCPServer(env)", config="mcp.servers[].env", case=f"{KEYS}[mcp.servers[].env]"
    ),
    Knob("MCP working directory", ctor="MCPServer(cwd)", config="mcp.servers[].cwd", case=f"{KEYS}[mcp.servers[].cwd]"),
    Knob(
        "MCP URL",
        ctor="MCPServer(url)",
        config="mcp.servers[].url",
        case="tests/mcp/test_http.py::test_unreachable_http_server_fails_fast_with_the_url",
    ),
    Knob(
        "MCP HTTP headers (secret)",
        ctor="MCPServer(headers)",
        config="mcp.servers[].headers",
        case=(
            f"{HTTP_KEYS}[mcp.servers[].headers]",
            "tests/mcp/test_policies.py::test_headers_and_env_never_show_in_repr",
        ),
    ),
    Knob(
        "MCP connect + handshake timeout",
        ctor="MCPServer(connect_timeout)",
        config="mcp.servers[].connect_timeout",
        case="tests/mcp/test_stdio.py::test_silent_server_fails_at_connect_timeout_instead_of_hanging",
    ),
    Knob(
        "MCP tool filter",
        ctor="MCPServer(tool_filter)",
        config="mcp.servers[].tool_filter",
        case="tests/mcp/test_stdio.py::test_lazy_connect_discovery_results_and_cleanup",
    ),
    Knob(
        "MCP tool-name prefix",
        ctor="MCPServer(prefix)",
        config="mcp.servers[].prefix",
        case="tests/mcp/test_stdio.py::test_lazy_connect_discovery_results_and_cleanup",
    ),
    Knob(
        "MCP tool list cached",
        ctor="MCPServer(cache_tools_list)",
        config="mcp.servers[].cache_tools_list",
        case="tests/mcp/test_stdio.py::test_tool_list_is_cached_only_when_asked",
    ),
    Knob("MCP server label", ctor="MCPServer(name)", config="mcp.servers[].name", case=f"{KEYS}[mcp.servers[].name]"),
    # -- workflows -------------------------------------------------------------------------------
    Knob(
        "Workflow name",
        ctor=tuple(f"{c}(name)" for c in ("SequentialWorkflow", "ParallelWorkflow", "DAGWorkflow", "LoopWorkflow")),
        config="workflow.name",
        case=f"{KEYS}[workflow.name]",
    ),
    Knob(
        "Workflow description",
        ctor=tuple(
            f"{c}(description)" for c in ("SequentialWorkflow", "ParallelWorkflow", "DAGWorkflow", "LoopWorkflow")
        ),
        config="workflow.description",
        case=_description,
    ),
    Knob(
        "Workflow deadline",
        ctor=tuple(f"{c}(timeout)" for c in ("SequentialWorkflow", "ParallelWorkflow", "DAGWorkflow", "LoopWorkflow")),
        config="workflow.timeout",
        case="tests/workflows/test_control.py::test_workflow_timeout_returns_partial_results",
    ),
    Knob(
        "Workflow steps",
        ctor=tuple(f"{c}(steps)" for c in ("SequentialWorkflow", "ParallelWorkflow", "DAGWorkflow", "LoopWorkflow")),
        config="workflow.mode",
        case="tests/workflows/test_sequential.py::test_step_objects_and_constructor_steps",
        note="`mode` picks the class; `[[workflow.steps]]` the steps",
    ),
    Knob(
        "Steps at once",
        ctor=("ParallelWorkflow(max_concurrency)", "DAGWorkflow(max_concurrency)"),
        config="workflow.max_concurrency",
        case="tests/workflows/test_parallel.py::test_max_concurrency_bounds_running_steps",
    ),
    Knob(
        "Fail fast",
        ctor=("ParallelWorkflow(fail_fast)", "DAGWorkflow(fail_fast)"),
        config="workflow.fail_fast",
        case="tests/workflows/test_parallel.py::test_fail_fast_cancels_siblings",
    ),
    Knob(
        "Loop iterations",
        ctor="LoopWorkflow(max_iterations)",
        config="workflow.max_iterations",
        case="tests/workflows/test_loop.py::test_loop_stops_at_max_iterations",
    ),
    Knob(
        "Loop stop condition",
        ctor="LoopWorkflow(until)",
        config="workflow.until_contains",
        case="tests/workflows/test_loop.py::test_loop_repeats_until_the_condition_holds",
        note="a callable in code; a file gives the text to look for",
    ),
    Knob("Step name", ctor="Step(name)", config="workflow.steps[].name", case=f"{KEYS}[workflow.steps[].name]"),
    Knob(
        "Step agent",
        ctor="Step(agent)",
        config="workflow.steps[].agent",
        case="tests/workflows/test_sequential.py::test_sequential_passes_each_output_to_the_next_step",
    ),
    Knob(
        "Step dependencies",
        ctor="Step(depends_on)",
        config="workflow.steps[].depends_on",
        case="tests/workflows/test_dag.py::test_a_step_starts_the_moment_its_own_dependencies_are_done",
    ),
    Knob(
        "Step condition",
        ctor="Step(condition)",
        case="tests/workflows/test_control.py::test_condition_false_skips_the_step_and_its_input_passes_through",
        note="a callable: code only",
    ),
    Knob(
        "Step input transform",
        ctor="Step(transform)",
        case="tests/workflows/test_sequential.py::test_transform_builds_the_input_from_previous_output_and_context",
        note="a callable: code only",
    ),
    Knob(
        "Step timeout",
        ctor="Step(timeout)",
        config="workflow.steps[].timeout",
        case="tests/workflows/test_control.py::test_step_timeout_cancels_the_step",
    ),
    Knob(
        "Step retries",
        ctor="Step(retries)",
        config="workflow.steps[].retries",
        case="tests/workflows/test_control.py::test_retries_run_the_step_again",
    ),
    Knob(
        "Step retry delay",
        ctor="Step(retry_delay)",
        config="workflow.steps[].retry_delay",
        case=f"{KEYS}[workflow.steps[].retry_delay]",
    ),
    Knob("Step description", ctor="Step(description)", config="workflow.steps[].description", case=_description),
    Knob(
        "Step executor",
        ctor="Step(executor)",
        case=(
            "tests/executors/test_ray.py::test_a_step_runs_on_the_cluster",
            "tests/executors/test_ray.py::test_local_executor_runs_a_step_in_process",
        ),
        note="an executor object: code only (`[executor]` configures `run_batch`)",
    ),
    # -- the server (`ak.serve.app(...)` keywords, `agentickit serve` flags, `[serve]`) ----------
    Knob(
        "Server address",
        ctor=("serve.app(host)", "Server(host)"),
        config="serve.host",
        case=(
            f"{KEYS}[serve.host]",
            "tests/cli/test_serve_cli.py::test_refuses_a_public_host_without_keys_and_bad_keys_files",
        ),
        note="flag `--host`",
    ),
    Knob("Server port", ctor="Server(port)", config="serve.port", case=f"{KEYS}[serve.port]", note="flag `--port`"),
    Knob(
        "API keys (SHA-256, scoped)",
        ctor=("serve.app(api_keys)", "APIKey(name)", "APIKey(sha256)", "APIKey(scopes)"),
        config=("serve.api_keys[].name", "serve.api_keys[].sha256", "serve.api_keys[].scopes"),
        case=(
            "tests/serve/test_mcp.py::test_mcp_needs_a_key_with_every_scope",
            "tests/cli/test_serve_cli.py::test_keys_file_and_hash_key",
        ),
        note="flag `--keys FILE`",
    ),
    Knob(
        "Rate limit (per key, or per client address)",
        ctor=("serve.app(rate_limit)", "APIKey(rate_limit)"),
        config=("serve.rate_limit", "serve.api_keys[].rate_limit"),
        case=(
            "tests/serve/test_limits.py::test_rate_limits_per_key_and_per_client_with_retry_after",
            "tests/serve/test_limits.py::test_without_keys_the_limit_is_per_client_address",
        ),
        note="flag `--rate-limit`; 429 with Retry-After",
    ),
    Knob(
        "Request body limit",
        ctor="serve.app(max_body_bytes)",
        config="serve.max_body_bytes",
        case="tests/serve/test_native.py::test_errors_are_typed_json",
        note="flag `--max-body-bytes`",
    ),
    Knob(
        "Messages per request",
        ctor="serve.app(max_messages)",
        config="serve.max_messages",
        case="tests/serve/test_openai.py::test_errors_reach_the_sdk_typed",
        note="flag `--max-messages`",
    ),
    Knob(
        "Served run timeout",
        ctor="serve.app(request_timeout)",
        config="serve.request_timeout",
        case="tests/serve/test_native.py::test_request_timeout_ends_the_run_with_a_timeout_error",
        note="flag `--request-timeout`",
    ),
    Knob(
        "SSE replay buffer (Last-Event-ID)",
        ctor="serve.app(replay_buffer)",
        config="serve.replay_buffer",
        case="tests/serve/test_native.py::test_replay_older_than_the_buffer_is_a_typed_410",
        note="flag `--replay-buffer`",
    ),
    Knob(
        "Run records kept",
        ctor="serve.app(max_runs)",
        config="serve.max_runs",
        case="tests/serve/test_limits.py::test_cors_origins_playground_and_max_runs",
        note="flag `--max-runs`",
    ),
    Knob(
        "CORS origins",
        ctor="serve.app(cors_origins)",
        config="serve.cors_origins",
        case="tests/serve/test_limits.py::test_cors_origins_playground_and_max_runs",
        note="flag `--cors-origin`; off by default",
    ),
    Knob(
        "Shutdown grace",
        ctor="serve.app(shutdown_deadline)",
        config="serve.shutdown_deadline",
        case="tests/serve/test_native.py::test_graceful_shutdown_ends_open_streams_with_error_and_done",
        note="flag `--shutdown-deadline`",
    ),
    Knob(
        "Playground page",
        ctor="serve.app(playground)",
        config="serve.playground",
        case="tests/serve/test_limits.py::test_cors_origins_playground_and_max_runs",
        note="flag `--no-playground`",
    ),
    Knob(
        "Access log",
        config="serve.access_log",
        case=f"{KEYS}[serve.access_log]",
        note="flag `--access-log`; logger `agentickit.serve.access`",
    ),
    Knob(
        "Responses session store",
        ctor="serve.app(sessions)",
        config="serve.sessions",
        case="tests/serve/test_responses.py::test_previous_response_id_continues_the_conversation_from_the_session_store",
        note="flag `--sessions`",
    ),
    Knob(
        "Run record store (resume after a restart)",
        ctor="serve.app(store)",
        config="serve.runs",
        case="tests/serve/test_resume.py::test_a_paused_run_resumes_on_a_restarted_server",
        note="flag `--runs`",
    ),
)
"""The rows. Config keys no row claims are listed as config-only rows (their checks are in test_keys)."""


# -- the rows, completed and rendered ------------------------------------------------------------


_IN_CODE = {
    "memory.": "ak.Memory(...), ak.stores",
    "telemetry.": "ak.telemetry.enable(...)",
    "executor.": "ak.executors.RayExecutor(...)",
    "preset": "ak.chat_agent / research_agent / data_agent",
    "agents": "a Step's agent, by name",
}
"""What a config-only row's setting is called in code (these rows are generated; their checks are in test_keys)."""


def all_rows() -> list[Knob]:
    claimed = {s for k in KNOBS for s in k.spellings("config")}
    extra = [
        Knob(key, ctor=next((v for p, v in _IN_CODE.items() if key.startswith(p)), ()), config=key)
        for key in config_keys()
        if key not in claimed
    ]
    return [*KNOBS, *extra]


def _cell(spellings: tuple[str, ...]) -> str:
    if not spellings:
        return "—"
    return ", ".join(f"`{s}`" for s in spellings)


def render_table() -> str:
    lines = [
        "| Knob | " + " | ".join(HEADERS[r] for r in ROUTES) + " | Notes |",
        "|---|" + "---|" * len(ROUTES) + "---|",
    ]
    for k in all_rows():
        cells = [_cell(k.spellings(r)) for r in ROUTES]
        lines.append(f"| {k.what} | " + " | ".join(cells) + f" | {k.note} |")
    return "\n".join(lines)


def readme_table() -> str | None:
    text = README.read_text(encoding="utf-8")
    if START not in text or END not in text:
        return None
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def write_readme() -> None:
    text = README.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{render_table()}\n{END}{tail}", encoding="utf-8")


def _local_checks() -> dict[str, Check]:
    out: dict[str, Check] = {}
    for k in KNOBS:
        for c in k.cases:
            if not isinstance(c, str):
                out[c.__name__] = c
    return out


@cache
def _test_names(path: str) -> frozenset[str]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    return frozenset(
        n.name
        for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name.startswith("test_")
    )


def _references() -> Iterator[tuple[str, str]]:
    for k in KNOBS:
        for c in k.cases:
            if isinstance(c, str):
                yield k.what, c


# -- the tests -----------------------------------------------------------------------------------


def test_every_knob_has_a_row() -> None:
    found = introspected()
    claimed = {s for k in all_rows() for r in ROUTES for s in k.spellings(r)}
    missing = sorted(set(found) - claimed)
    hint = "\n".join(
        f'  {s}  ->  add to KNOBS in tests/test_knobs.py: Knob("<what it sets>", {found[s]}="{s}", case=<proof>)'
        for s in missing
    )
    assert not missing, f"public knobs without a row (see the top of tests/test_knobs.py):\n{hint}"


def test_rows_name_real_knobs_in_the_right_column() -> None:
    found = introspected()
    problems: list[str] = []
    seen: dict[str, str] = {}
    for k in KNOBS:
        for route in ROUTES:
            for s in k.spellings(route):
                if s in seen:
                    problems.append(f"{s!r} is in two rows: {seen[s]!r} and {k.what!r}")
                seen[s] = k.what
                if not _is_checked_spelling(s, route):
                    continue
                if s not in found:
                    problems.append(f"row {k.what!r}: {s!r} is not a public knob (renamed or removed?)")
                elif found[s] != route:
                    problems.append(f"row {k.what!r}: {s!r} belongs in the {found[s]!r} column, not {route!r}")
    assert not problems, "\n".join(problems)


def test_every_route_has_a_proof() -> None:
    problems: list[str] = []
    checked = checked_config_keys()
    for k in all_rows():
        code_routes = [s for r in ("ctor", "builder", "run") for s in k.spellings(r) if _is_checked_spelling(s, r)]
        if code_routes and not k.cases:
            problems.append(f"row {k.what!r} ({', '.join(code_routes)}) has no case")
        for key in k.spellings("config"):
            if key not in checked:
                problems.append(f"row {k.what!r}: config key {key!r} has no @effect check in tests/config/test_keys.py")
        if k.spellings("ctor") and not k.spellings("config") and not k.note:
            problems.append(
                f"row {k.what!r}: a constructor option without a config key needs a key or a note= saying why"
            )
    assert not problems, "\n".join(problems)


def test_referenced_tests_exist() -> None:
    problems: list[str] = []
    for what, ref in _references():
        path, _, name = ref.partition("::")
        name = name.split("[", 1)[0]
        if not (ROOT / path).is_file():
            problems.append(f"row {what!r}: {path} does not exist")
        elif name not in _test_names(path):
            problems.append(f"row {what!r}: {path} has no test {name!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", sorted(_local_checks()))
async def test_local_case(name: str) -> None:
    async with asyncio.timeout(10):
        await _local_checks()[name]()


def test_readme_table_is_current() -> None:
    current = readme_table()
    assert current is not None, f"README.md needs the knob table between {START} and {END}"
    assert current == render_table(), "the README knob table is stale: run `python -m tests.test_knobs` to rewrite it"


if __name__ == "__main__":
    write_readme()
    print(f"wrote the knob table to {README}")
