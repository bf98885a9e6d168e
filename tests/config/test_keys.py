"""Every key of the config schema changes what the runtime does.

`leaf_keys()` walks the schema; each key must have a check in `EFFECTS` (which builds the runtime
from two configs differing in that key and observes a difference) or be listed in `PENDING` with
the reason. A new key without either fails `test_every_key_is_covered`.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import subprocess
import sys
import textwrap
import time
import typing
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import agentickit as ak
from agentickit.config import Config, load_runnable, loads_config
from agentickit.errors import AuthenticationError, ProviderTimeoutError, ServerError, ToolError
from agentickit.providers import SimulatedModel
from agentickit.simulator import SimulatorServer
from tests.conftest import require_service

SERVERS = Path(__file__).parent / "servers"
_ids = itertools.count()


# -- the schema walk -----------------------------------------------------------------------------


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    out: list[type[BaseModel]] = []
    stack = [annotation]
    while stack:
        a = stack.pop()
        origin = typing.get_origin(a)
        if origin is not None and origin is not dict:
            stack.extend(typing.get_args(a))
        elif isinstance(a, type) and issubclass(a, BaseModel):
            out.append(a)
    return out


def leaf_keys(model: type[BaseModel] = Config, prefix: str = "") -> list[str]:
    """Every key a file can set, as dotted paths (`[]` marks arrays of tables)."""
    keys: list[str] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        annotation = info.annotation
        is_list = typing.get_origin(annotation) is list or any(
            typing.get_origin(a) is list for a in typing.get_args(annotation)
        )
        sub = [] if name in ("agents", "agent") else _models_in(annotation)
        if sub:
            keys.extend(leaf_keys(sub[0], f"{path}{'[]' if is_list else ''}."))
        else:
            keys.append(path)
    return keys


# -- helpers -------------------------------------------------------------------------------------


def cfg(text: str) -> Config:
    return loads_config(textwrap.dedent(text), env={})


def build(text: str) -> Any:
    return load_runnable(cfg(text))


def sim(agent: ak.Agent) -> SimulatedModel:
    model = agent.model
    assert isinstance(model, SimulatedModel)
    return model


def py_module(tmp_path: Path, source: str) -> str:
    name = f"ak_keys_mod_{next(_ids)}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    if str(tmp_path) not in sys.path:
        sys.path.insert(0, str(tmp_path))
    return name


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))


async def chunks_of(stream: Any) -> list[ak.Chunk]:
    out = [c async for c in stream]
    await stream.wait()
    return out


Check = Callable[[Path], Awaitable[None]]
EFFECTS: dict[str, Check] = {}


def effect(key: str) -> Callable[[Check], Check]:
    def register(fn: Check) -> Check:
        EFFECTS[key] = fn
        return fn

    return register


# -- top level -----------------------------------------------------------------------------------


@effect("name")
async def _(tmp_path: Path) -> None:
    assert (await build("name = 'x'").run("q")).agent_name == "x"
    assert (await build("").run("q")).agent_name == "agent"


@effect("system_prompt")
async def _(tmp_path: Path) -> None:
    a = build("system_prompt = 'Be terse.'\n[llm.options]\nrecord = true")
    b = build("[llm.options]\nrecord = true")
    await a.run("q")
    await b.run("q")
    assert sim(a).requests[0].messages[0].content == "Be terse."
    assert sim(b).requests[0].messages[0].role == "user"


@effect("preset")
async def _(tmp_path: Path) -> None:
    a = build("preset = 'data'\n[llm.options]\nrecord = true")
    b = build("[llm.options]\nrecord = true")
    await a.run("q")
    await b.run("q")
    assert sim(a).requests[0].settings.temperature == 0.0
    assert sim(b).requests[0].settings.temperature is None


@effect("handler")
async def _(tmp_path: Path) -> None:
    mod = py_module(tmp_path, "async def h(input, caps):\n    return 'handled'\n")
    assert (await build(f"handler = '{mod}:h'").run("q")).content == "handled"
    assert (await build("").run("q")).content != "handled"


# -- [llm] ---------------------------------------------------------------------------------------


@effect("llm.provider")
async def _(tmp_path: Path) -> None:
    async with SimulatorServer(reply="over HTTP") as srv:
        text = f"[llm]\nprovider = 'openai'\nmodel = 'sim'\nbase_url = '{srv.base_url}/v1'\napi_key = 'k'"
        async with build(text) as agent:
            assert (await agent.run("q")).content == "over HTTP"
        assert len(srv.requests) == 1
    assert (await build("[llm]\nprovider = 'simulated'").run("q")).content != "over HTTP"


@effect("llm.model")
async def _(tmp_path: Path) -> None:
    assert (await build("[llm]\nmodel = 'echo'").run("repeat me")).content == "repeat me"
    assert (await build("[llm]\nmodel = 'simulated'").run("repeat me")).content != "repeat me"


@effect("llm.base_url")
async def _(tmp_path: Path) -> None:
    async with SimulatorServer(reply="one") as one, SimulatorServer(reply="two") as two:
        for srv, expected in ((one, "one"), (two, "two")):
            text = f"[llm]\nprovider = 'openai'\nmodel = 'sim'\napi_key = 'k'\nbase_url = '{srv.base_url}/v1'"
            async with build(text) as agent:
                assert (await agent.run("q")).content == expected


@effect("llm.api_key")
async def _(tmp_path: Path) -> None:
    async with SimulatorServer(api_key="right") as srv:
        base = f"[llm]\nprovider = 'openai'\nmodel = 'sim'\nbase_url = '{srv.base_url}/v1'\nmax_retries = 0\n"
        async with build(base + "api_key = 'right'") as agent:
            assert (await agent.run("q")).content == "q"
        async with build(base + "api_key = 'wrong'") as agent:
            with pytest.raises(AuthenticationError):
                await agent.run("q")


@effect("llm.temperature")
async def _(tmp_path: Path) -> None:
    a = build("[llm]\ntemperature = 0.0\n[llm.options]\nrecord = true")
    await a.run("q")
    assert sim(a).requests[0].settings.temperature == 0.0
    b = build("[llm]\ntemperature = 1.3\n[llm.options]\nrecord = true")
    await b.run("q")
    assert sim(b).requests[0].settings.temperature == 1.3


@effect("llm.max_tokens")
async def _(tmp_path: Path) -> None:
    assert (await build("[llm]\nmodel = 'echo'\nmax_tokens = 2").run("a b c d")).content == "a b"
    assert (await build("[llm]\nmodel = 'echo'").run("a b c d")).content == "a b c d"


@effect("llm.request_timeout")
async def _(tmp_path: Path) -> None:
    # 40 tokens at 20/s: 2 s of streaming, each read well inside `timeout`; the whole is not.
    async with SimulatorServer(tokens_per_s=20) as srv:
        base = f"[llm]\nprovider = 'openai'\nmodel = 'sim'\napi_key = 'k'\nbase_url = '{srv.base_url}/v1'\nmax_retries = 0\n"
        words = " ".join(["w"] * 40)
        async with build(base + "request_timeout = '300ms'") as agent:
            stream = agent.run_stream(words)
            async for _ in stream:
                pass
            with pytest.raises(ProviderTimeoutError, match="request_timeout"):
                await stream.wait()
        async with build(base + "request_timeout = 'none'") as agent:
            assert agent.llm.request_timeout is None


@effect("llm.timeout")
async def _(tmp_path: Path) -> None:
    async with SimulatorServer(ttft_ms=300) as srv:
        base = f"[llm]\nprovider = 'openai'\nmodel = 'sim'\napi_key = 'k'\nbase_url = '{srv.base_url}/v1'\nmax_retries = 0\n"
        async with build(base + "timeout = '50ms'") as agent:
            with pytest.raises(ProviderTimeoutError):
                await agent.run("q")
        async with build(base + "timeout = '10s'") as agent:
            assert (await agent.run("q")).content == "q"


@effect("llm.max_retries")
async def _(tmp_path: Path) -> None:
    with pytest.raises(ServerError):
        await build("[llm]\nmax_retries = 0\n[llm.options]\nfailures = ['500']\nreply = 'ok'").run("q")
    assert (
        await build("[llm]\nmax_retries = 1\n[llm.options]\nfailures = ['500']\nreply = 'ok'").run("q")
    ).content == "ok"


@effect("llm.transport")
async def _(tmp_path: Path) -> None:
    async with SimulatorServer(reply="hi") as srv:
        base = f"[llm]\nprovider = 'openai'\nmodel = 'sim'\napi_key = 'k'\nbase_url = '{srv.base_url}/v1'\n"
        for transport, agent_prefix in (("sdk", "AsyncOpenAI/"), ("aiohttp", "agentickit/")):
            async with build(base + f"transport = '{transport}'") as agent:
                assert (await agent.run("q")).content == "hi"
            assert srv.requests[-1].headers["User-Agent"].startswith(agent_prefix)
    with pytest.raises(ak.errors.ConfigError, match='transport = "sdk" applies to providers openai'):
        cfg("[llm]\nprovider = 'simulated'\ntransport = 'sdk'")


@effect("llm.max_concurrency")
async def _(tmp_path: Path) -> None:
    async def three_at_once(text: str) -> float:
        agent = build(text + "\n[llm.options]\nttft = 0.3\nreply = 'ok'")
        start = time.perf_counter()
        await asyncio.gather(*(agent.run(f"q{i}") for i in range(3)))
        return time.perf_counter() - start

    capped = await three_at_once(f"[llm]\nmodel = 'cap{next(_ids)}'\nmax_concurrency = 1")
    free = await three_at_once("[llm]\nmodel = 'free'")
    assert capped >= 0.85 and free < capped - 0.3, (capped, free)


@effect("llm.options")
async def _(tmp_path: Path) -> None:
    assert (await build("[llm.options]\nreply = 'configured'").run("q")).content == "configured"


@effect("llm.max_concurrency")
async def _(tmp_path: Path) -> None:
    # Three runs at once, 60 ms each: a cap of 1 makes them take turns.
    text = "[llm]\nmax_concurrency = 1\n[llm.options]\nttft = 0.06\nreply = 'ok'"
    capped = [build(text) for _ in range(3)]  # separate agents share the cap: same model and limit
    t0 = time.perf_counter()
    await asyncio.gather(*(a.run("q") for a in capped))
    assert time.perf_counter() - t0 >= 0.17
    from agentickit.providers._limit import ConcurrencyLimitedModel

    assert isinstance(capped[0].model, ConcurrencyLimitedModel)
    assert not isinstance(build("[llm.options]\nreply = 'ok'").model, ConcurrencyLimitedModel)


@effect("llm.fallbacks")
async def _(tmp_path: Path) -> None:
    down = "provider = 'simulated'\nmax_retries = 0\n[llm.options]\nfailures = ['500']\nreply = 'primary'"
    with pytest.raises(ServerError):
        await build(f"[llm]\n{down}").run("q")
    chain = build(
        "llm = [{provider = 'simulated', max_retries = 0, options = {failures = ['429'], reply = 'primary'}},"
        " 'simulated:echo']"
    )
    assert isinstance(chain.llm, ak.FallbackModel)
    result = await chain.run("from the backup")
    assert result.content == "from the backup" and result.metadata["fallbacks"] == 1
    assert chain.metrics().fallbacks == 1
    # The long form: `fallbacks` in [llm].
    long = build("[llm]\nfallbacks = ['simulated:echo']\n" + down)
    assert (await long.run("echoed")).content == "echoed"


# -- [limits] ------------------------------------------------------------------------------------


def _limit_key(key: str, value: str, tools: bool = False) -> None:
    async def check(tmp_path: Path) -> None:
        from agentickit.errors import UsageLimitExceeded
        from agentickit.metrics import PRICES, set_price

        set_price("keys-priced", input_per_mtok=1e6, output_per_mtok=1e6)  # $1 a token
        try:
            base = "[llm]\nmodel = 'keys-priced'\n"
            # With a tool offered the simulated model calls it once, then answers: 2 requests, 1 call.
            base += (
                "[tools]\nfunctions = ['tests.config.test_keys:lookup']\n"
                if tools
                else "[llm.options]\nreply = 'a b c'\n"
            )
            agent = build(base + f"[limits]\n{key} = {value}")
            assert agent.usage_limits is not None
            with pytest.raises(UsageLimitExceeded) as info:
                await agent.run("one two three")
            assert info.value.limit == key and info.value.result is not None
            result = await build(base).run("one two three")
            assert result.usage.requests == (2 if tools else 1)
        finally:
            PRICES.pop("keys-priced", None)

    effect(f"limits.{key}")(check)


def lookup() -> str:
    """A tool for the [limits] checks."""
    return "found"


for _key, _value, _tools in (
    ("request_limit", "1", True),
    ("input_tokens_limit", "1", False),
    ("output_tokens_limit", "2", False),
    ("total_tokens_limit", "4", False),
    ("tool_calls_limit", "0", True),
    ("cost_limit", "2.5", False),
):
    _limit_key(_key, _value, _tools)


# -- [memory] ------------------------------------------------------------------------------------


async def _history_sizes(text: str, session: str | None = None) -> int:
    agent = build(text + "\n[llm.options]\nrecord = true\nreply = 'ok'")
    for i in range(3):
        await agent.run(f"turn {i}", session_id=session)
    return len(sim(agent).requests[-1].messages)


@effect("memory.provider")
async def _(tmp_path: Path) -> None:
    assert await _history_sizes("[memory]\nprovider = 'memory'\nsession_id = 's'") == 5
    assert await _history_sizes("[memory]\nprovider = 'none'\nsession_id = 's'") == 1


@effect("memory.history_limit")
async def _(tmp_path: Path) -> None:
    assert await _history_sizes("[memory]\nsession_id = 's'\nhistory_limit = 2") == 3
    assert await _history_sizes("[memory]\nsession_id = 's'") == 5


@effect("memory.session_id")
async def _(tmp_path: Path) -> None:
    assert await _history_sizes("[memory]\nsession_id = 's'") == 5
    assert await _history_sizes("[memory]") == 1  # no session: stateless runs


@effect("memory.max_history_tokens")
async def _(tmp_path: Path) -> None:
    assert await _history_sizes("[memory]\nsession_id = 's'\nmax_history_tokens = 12") < 5
    assert await _history_sizes("[memory]\nsession_id = 's'\nmax_history_tokens = 10000") == 5


# -- [output] ------------------------------------------------------------------------------------

_OUTPUT_MODEL = """
from pydantic import BaseModel

class Invoice(BaseModel):
    number: str
    total: float
"""


@effect("output.type")
async def _(tmp_path: Path) -> None:
    mod = py_module(tmp_path, _OUTPUT_MODEL)
    result = await build(f"[output]\ntype = '{mod}:Invoice'").run("q")
    assert type(result.output).__name__ == "Invoice"
    assert result.output.number == "example number"
    assert isinstance((await build("").run("q")).output, str)


@effect("output.mode")
async def _(tmp_path: Path) -> None:
    mod = py_module(tmp_path, _OUTPUT_MODEL)
    native = await build(f"[output]\ntype = '{mod}:Invoice'\nmode = 'native'").run("q")
    prompted = await build(f"[output]\ntype = '{mod}:Invoice'\nmode = 'prompted'").run("q")
    default = await build(f"[output]\ntype = '{mod}:Invoice'").run("q")
    assert (native.metadata["output_mode"], prompted.metadata["output_mode"]) == ("native", "prompted")
    assert default.metadata["output_mode"] == "tool"


@effect("output.retries")
async def _(tmp_path: Path) -> None:
    mod = py_module(tmp_path, _OUTPUT_MODEL)
    bad = "[llm]\n[llm.options]\nreply = 'not json'\n"
    text = f"{bad}[output]\ntype = '{mod}:Invoice'\nmode = 'native'\nretries = "
    with pytest.raises(ak.errors.OutputValidationError) as zero:
        await build(text + "0").run("q")
    with pytest.raises(ak.errors.OutputValidationError) as three:
        await build(text + "3").run("q")
    assert (zero.value.attempts, three.value.attempts) == (1, 4)


# -- [streaming] ---------------------------------------------------------------------------------


@effect("streaming.buffer_size")
async def _(tmp_path: Path) -> None:
    mod = py_module(
        tmp_path,
        """
        progress = {}
        async def h(input, caps):
            for i in range(50):
                await caps.emit(str(i))
                progress[input] = i + 1
            return "".join(str(i) for i in range(50))
        """,
    )
    module = sys.modules.get(mod) or __import__(mod)
    for size, key in ((4, "small"), (100, "large")):
        agent = build(f"handler = '{mod}:h'\n[streaming]\nbuffer_size = {size}")
        stream = agent.run_stream(key)
        iterator = aiter(stream)
        await anext(iterator)
        for _ in range(1000):  # let the producer run as far as the buffer allows (loop turns, not time)
            await asyncio.sleep(0)
        produced = module.progress[key]
        if size == 4:
            assert produced < 12, produced  # held back by the consumer
        else:
            assert produced == 50
        stream.cancel()
        async for _ in iterator:
            pass


@effect("streaming.flush_interval")
async def _(tmp_path: Path) -> None:
    text = "[llm.options]\nreply = '{}'\ntokens_per_s = 400\n".format(" ".join(["w"] * 20))
    fast = [c for c in await chunks_of(build(text).run_stream("q")) if c.type is ak.ChunkType.DELTA]
    slow = [
        c
        for c in await chunks_of(build(text + "[streaming]\nflush_interval = '20ms'").run_stream("q"))
        if c.type is ak.ChunkType.DELTA
    ]
    assert len(fast) == 20
    assert len(slow) < 20 and "".join(c.delta or "" for c in slow) == "".join(c.delta or "" for c in fast)


@effect("streaming.include_metadata")
async def _(tmp_path: Path) -> None:
    on = {c.type for c in await chunks_of(build("[streaming]\ninclude_metadata = true").run_stream("q"))}
    off = {c.type for c in await chunks_of(build("[streaming]\ninclude_metadata = false").run_stream("q"))}
    assert ak.ChunkType.METADATA in on and ak.ChunkType.METADATA not in off


@effect("streaming.timeout")
async def _(tmp_path: Path) -> None:
    slow = "[llm.options]\nttft = 0.5\n"
    stream = build(slow + "[streaming]\ntimeout = '50ms'").run_stream("q")
    types = [c.type for c in await chunks_of_failing(stream)]
    assert ak.ChunkType.ERROR in types
    assert ak.ChunkType.ERROR not in {c.type for c in await chunks_of(build(slow).run_stream("q"))}


async def chunks_of_failing(stream: Any) -> list[ak.Chunk]:
    out = [c async for c in stream]
    with pytest.raises(TimeoutError):
        await stream.wait()
    return out


@effect("description")
async def _(tmp_path: Path) -> None:
    assert build("description = 'Answers travel questions.'").description == "Answers travel questions."
    assert build("").description == ""


@effect("streaming.text_only")
async def _(tmp_path: Path) -> None:
    on = {c.type for c in await chunks_of(build("[streaming]\ntext_only = true").run_stream("q"))}
    off = {c.type for c in await chunks_of(build("[streaming]\ntext_only = false").run_stream("q"))}
    assert ak.ChunkType.TEXT not in on and ak.ChunkType.TEXT in off


@effect("streaming.include_thoughts")
async def _(tmp_path: Path) -> None:
    text = "[llm.options]\nthoughts = 'hmm let me think'\n[streaming]\ninclude_thoughts = "
    on = {c.type for c in await chunks_of(build(text + "true").run_stream("q"))}
    off = {c.type for c in await chunks_of(build(text + "false").run_stream("q"))}
    assert ak.ChunkType.THOUGHT in on and ak.ChunkType.THOUGHT not in off


@effect("streaming.include_tool_calls")
async def _(tmp_path: Path) -> None:
    mod = py_module(tmp_path, "async def lookup(city: str) -> str:\n    '''Look up.'''\n    return 'sunny'\n")
    text = f"[tools]\nfunctions = ['{mod}:lookup']\n[streaming]\ninclude_tool_calls = "
    on = {c.type for c in await chunks_of(build(text + "true").run_stream("Paris"))}
    off = {c.type for c in await chunks_of(build(text + "false").run_stream("Paris"))}
    assert ak.ChunkType.TOOL_CALL in on and ak.ChunkType.TOOL_CALL not in off


# -- [tools] -------------------------------------------------------------------------------------

TOOLS = """
import asyncio
calls = {"n": 0, "active": 0, "peak": 0}

async def lookup(city: str) -> str:
    '''Look a city up.'''
    calls["n"] += 1
    return f"sunny in {city}"

async def slow(city: str) -> str:
    '''Slow.'''
    await asyncio.sleep(0.2)
    return "slow"

async def flaky(city: str) -> str:
    '''Fails every other call.'''
    calls["n"] += 1
    if calls["n"] % 2:
        raise RuntimeError("flaky")
    return "ok"

async def busy(city: str) -> str:
    '''Counts how many run at once.'''
    calls["active"] += 1
    calls["peak"] = max(calls["peak"], calls["active"])
    for _ in range(5):
        await asyncio.sleep(0)
    calls["active"] -= 1
    return "done"

async def fan_out(input, caps):
    async with asyncio.TaskGroup() as tg:
        for _ in range(3):
            tg.create_task(caps.tools.call("busy", city=input))
    return "ok"

async def twice(input, caps):
    await caps.tools.call("lookup", city=input)
    await caps.tools.call("lookup", city=input)
    return "ok"
"""


def tools_module(tmp_path: Path) -> Any:
    name = py_module(tmp_path, TOOLS)
    return __import__(name)


@effect("tools.functions")
async def _(tmp_path: Path) -> None:
    m = tools_module(tmp_path)
    result = await build(f"[tools]\nfunctions = ['{m.__name__}:lookup']").run("Lima")
    assert [c.name for c in result.tool_calls] == ["lookup"] and "sunny in Lima" in result.content
    assert (await build("").run("Lima")).tool_calls == []


@effect("tools.timeout")
async def _(tmp_path: Path) -> None:
    m = tools_module(tmp_path)
    short = await build(f"[tools]\nfunctions = ['{m.__name__}:slow']\ntimeout = '20ms'").run("Lima")
    assert short.tool_calls[0].error is not None and "timed out" in short.tool_calls[0].error
    long = await build(f"[tools]\nfunctions = ['{m.__name__}:slow']\ntimeout = '10s'").run("Lima")
    assert long.tool_calls[0].error is None


@effect("tools.max_retries")
async def _(tmp_path: Path) -> None:
    m = tools_module(tmp_path)
    m.calls["n"] = 0
    without = await build(f"[tools]\nfunctions = ['{m.__name__}:flaky']").run("Lima")
    assert without.tool_calls[0].error is not None
    m.calls["n"] = 0
    with_retry = await build(f"[tools]\nfunctions = ['{m.__name__}:flaky']\nmax_retries = 1").run("Lima")
    assert with_retry.tool_calls[0].error is None and with_retry.tool_calls[0].attempts == 2


@effect("tools.max_concurrent")
async def _(tmp_path: Path) -> None:
    m = tools_module(tmp_path)
    base = f"handler = '{m.__name__}:fan_out'\n[tools]\nfunctions = ['{m.__name__}:busy']\n"
    m.calls["peak"] = 0
    await build(base).run("x")
    assert m.calls["peak"] == 3
    m.calls["peak"] = 0
    await build(base + "max_concurrent = 1").run("x")
    assert m.calls["peak"] == 1
    # One limit for the agent, shared by all of its runs (not a limit per run).
    m.calls["peak"] = 0
    shared = build(base + "max_concurrent = 2")
    await asyncio.gather(*(shared.run(f"x{i}") for i in range(3)))
    assert m.calls["peak"] == 2


@effect("tools.rate_limit")
async def _(tmp_path: Path) -> None:
    m = tools_module(tmp_path)
    base = f"handler = '{m.__name__}:twice'\n[tools]\nfunctions = ['{m.__name__}:lookup']\n"
    async with asyncio.timeout(5):
        assert (await build(base).run("x")).content == "ok"
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):  # the second call waits a minute for its slot
            await build(base + "rate_limit = '1/m'").run("x")


async def _lookups(tmp_path: Path, text: str, *, agents: int = 1, pause: float = 0.0) -> int:
    m = tools_module(tmp_path)
    m.calls["n"] = 0
    city = f"City{time.time_ns()}"  # fresh arguments: nothing cached by an earlier test (Redis outlives it)
    built = [
        build(f"handler = '{m.__name__}:twice'\n[tools]\nfunctions = ['{m.__name__}:lookup']\n{text}")
        for _ in range(agents)
    ]
    for agent in built:
        async with agent:
            await agent.run(city)
            if pause:
                await asyncio.sleep(pause)  # let a short TTL expire (time is what is tested here)
                await agent.run(city)
    return m.calls["n"]


@effect("tools.cache.enabled")
async def _(tmp_path: Path) -> None:
    assert await _lookups(tmp_path, "[tools.cache]\nenabled = true") == 1
    assert await _lookups(tmp_path, "[tools.cache]\nenabled = false") == 2


@effect("tools.cache.ttl")
async def _(tmp_path: Path) -> None:
    assert await _lookups(tmp_path, "[tools.cache]\nenabled = true\nttl = '50ms'", pause=0.1) == 2
    assert await _lookups(tmp_path, "[tools.cache]\nenabled = true\nttl = '5m'", pause=0.1) == 1


@effect("tools.cache.backend")
async def _(tmp_path: Path) -> None:
    require_service("redis")
    url = "redis://127.0.0.1:6379/15"
    key = "[tools.cache]\nenabled = true\nttl = '5s'\n"
    # two agents: an in-process cache is per agent, Redis is shared between them
    assert await _lookups(tmp_path, key + "backend = 'memory'", agents=2) == 2
    assert await _lookups(tmp_path, key + f"backend = 'redis'\nurl = '{url}'", agents=2) == 1


@effect("tools.cache.url")
async def _(tmp_path: Path) -> None:
    require_service("redis")
    key = "[tools.cache]\nenabled = true\nttl = '5s'\nbackend = 'redis'\n"
    good = await _lookups(tmp_path, key + "url = 'redis://127.0.0.1:6379/15'", agents=2)
    bad = await _lookups(tmp_path, key + "url = 'redis://127.0.0.1:1/0'", agents=2)  # unreachable: runs uncached
    assert (good, bad) == (1, 4)


# -- [[mcp.servers]] -----------------------------------------------------------------------------

SAY = str(SERVERS / "say.py")
MCP_HANDLER = """
async def say(input, caps):
    return (await caps.tools.call("say")).text

async def slow(input, caps):
    return (await caps.tools.call("slow", seconds=float(input))).text

async def listed(input, caps):
    before = caps.tools.available()  # MCP tools are not known before the first resolution
    names = await caps.tools.resolve()
    assert sorted(caps.tools.available()) == sorted(names) and before == []
    return ",".join(sorted(names))

async def named(input, caps):
    tool, _, arg = input.partition(" ")
    return (await caps.tools.call(tool, **({"name": arg} if arg else {}))).text

async def grow(input, caps):
    if input.startswith("add "):
        return (await caps.tools.call("grow", name=input[4:])).text
    return ",".join(sorted(await caps.tools.resolve()))

async def flaky(input, caps):
    return (await caps.tools.call("flaky", key="k", failures=1)).text

async def twice(input, caps):
    first = (await caps.tools.call("count", key="k")).data["result"]
    second = (await caps.tools.call("count", key="k")).data["result"]
    return f"{first},{second}"

async def overlap(input, caps):
    import asyncio
    peaks = await asyncio.gather(*(caps.tools.call("overlap", seconds=0.2 + i / 100) for i in range(3)))
    return str(max(p.data["result"] for p in peaks))

async def stamps(input, caps):
    import asyncio
    got = sorted([s.data["result"] for s in await asyncio.gather(*(caps.tools.call("stamp") for _ in range(3)))])
    return f"{min(b - a for a, b in zip(got, got[1:])):.3f}"
"""


SAY_TOOLS = "cwd,env,grow,header,say,slow"
POLICIES = str(Path(__file__).parents[1] / "mcp" / "servers" / "policies.py")


def mcp_agent(tmp_path: Path, handler: str, servers: str) -> ak.Agent:
    mod = py_module(tmp_path, MCP_HANDLER)
    return build(f"handler = '{mod}:{handler}'\n{servers}")


def stdio(name: str = "s", args: str = "'hello'", extra: str = "") -> str:
    py = sys.executable.replace("\\", "/")
    return f"[[mcp.servers]]\nname = '{name}'\ncommand = '{py}'\nargs = ['{SAY}', {args}]\n{extra}"


@effect("mcp.servers[].command")
async def _(tmp_path: Path) -> None:
    async with mcp_agent(tmp_path, "listed", stdio()) as agent:
        assert (await agent.run("x")).content == SAY_TOOLS
    async with mcp_agent(
        tmp_path, "listed", stdio().replace(sys.executable.replace("\\", "/"), "ak-no-such-cmd")
    ) as agent:
        with pytest.raises(ak.errors.MCPError):
            await agent.run("x")


@effect("mcp.servers[].args")
async def _(tmp_path: Path) -> None:
    for word in ("alpha", "beta"):
        async with mcp_agent(tmp_path, "say", stdio(args=f"'{word}'")) as agent:
            assert (await agent.run("x")).content == word


@effect("mcp.servers[].name")
async def _(tmp_path: Path) -> None:
    bad = stdio(name="the-named-one").replace(sys.executable.replace("\\", "/"), "ak-no-such-cmd")
    async with mcp_agent(tmp_path, "listed", bad) as agent:
        with pytest.raises(ak.errors.MCPError, match="the-named-one"):
            await agent.run("x")


@effect("mcp.servers[].timeout")
async def _(tmp_path: Path) -> None:
    async with mcp_agent(tmp_path, "slow", stdio(extra="timeout = '100ms'")) as agent:
        with pytest.raises(ToolError, match="within 0.1 s \\(its timeout\\)"):
            await agent.run("1.0")
    async with mcp_agent(tmp_path, "slow", stdio(extra="timeout = '20s'")) as agent:
        assert (await agent.run("0.2")).content == "slow done"


@effect("mcp.servers[].connect_timeout")
async def _(tmp_path: Path) -> None:
    silent = stdio().replace(f"'{SAY}', 'hello'", f"'{SERVERS.parent.parent / 'mcp' / 'servers' / 'silent.py'}'")
    for limit in ("300ms", "0.5s"):
        async with mcp_agent(tmp_path, "listed", silent + f"connect_timeout = '{limit}'") as agent:
            seconds = f"{float(limit.rstrip('ms')) / (1000 if limit.endswith('ms') else 1):g}"
            with pytest.raises(ak.errors.MCPError, match=f"handshake within {seconds} s \\(connect_timeout\\)"):
                await agent.run("x")
    async with mcp_agent(tmp_path, "say", stdio(extra="connect_timeout = '20s'")) as agent:
        assert (await agent.run("x")).content == "hello"


@effect("mcp.servers[].env")
async def _(tmp_path: Path) -> None:
    async with mcp_agent(tmp_path, "named", stdio(extra="env = { AK_KEYS_WORD = 'from-env' }")) as agent:
        assert (await agent.run("env AK_KEYS_WORD")).content == "from-env"
    async with mcp_agent(tmp_path, "named", stdio()) as agent:
        assert (await agent.run("env AK_KEYS_WORD")).content == "<unset>"


@effect("mcp.servers[].cwd")
async def _(tmp_path: Path) -> None:
    where = str(tmp_path)  # pytest's tmp_path is already resolved, as os.getcwd() reports it
    async with mcp_agent(tmp_path, "named", stdio(extra=f"cwd = '{tmp_path.as_posix()}'")) as agent:
        assert (await agent.run("cwd")).content == where
    async with mcp_agent(tmp_path, "named", stdio()) as agent:
        assert (await agent.run("cwd")).content != where


@effect("mcp.servers[].prefix")
async def _(tmp_path: Path) -> None:
    async with mcp_agent(tmp_path, "listed", stdio(extra="prefix = 'sv'")) as agent:
        assert (await agent.run("x")).content == ",".join(f"sv_{t}" for t in SAY_TOOLS.split(","))


@effect("mcp.servers[].tool_filter")
async def _(tmp_path: Path) -> None:
    async with mcp_agent(tmp_path, "listed", stdio(extra="tool_filter = ['say', 'env']")) as agent:
        assert (await agent.run("x")).content == "env,say"


@effect("mcp.servers[].cache_tools_list")
async def _(tmp_path: Path) -> None:
    for cached, expected in (("true", SAY_TOOLS), ("false", "cwd,env,fresh,grow,header,say,slow")):
        async with mcp_agent(tmp_path, "grow", stdio(extra=f"cache_tools_list = {cached}")) as agent:
            assert (await agent.run("list")).content == SAY_TOOLS
            assert (await agent.run("add fresh")).content == "added fresh"
            assert (await agent.run("list")).content == expected


def policies_server(extra: str = "") -> str:
    py = sys.executable.replace("\\", "/")
    return f"[[mcp.servers]]\nname = 'p'\ncommand = '{py}'\nargs = ['{POLICIES}']\n{extra}"


@effect("mcp.servers[].retries")
async def _(tmp_path: Path) -> None:
    async with mcp_agent(tmp_path, "flaky", policies_server("retries = 1")) as agent:
        assert (await agent.run("x")).content == "ok after 2"
    async with mcp_agent(tmp_path, "flaky", policies_server("retries = 0")) as agent:
        with pytest.raises(ToolError, match="attempt 1 failed"):
            await agent.run("x")


@effect("mcp.servers[].retry_backoff")
async def _(tmp_path: Path) -> None:
    times: list[float] = []
    for backoff in ("0", "400ms"):
        async with mcp_agent(tmp_path, "flaky", policies_server(f"retries = 1\nretry_backoff = '{backoff}'")) as agent:
            await agent.resolve_tools()
            start = time.perf_counter()
            assert (await agent.run("x")).content == "ok after 2"
            times.append(time.perf_counter() - start)
    assert times[1] >= 0.4 and times[1] > times[0] + 0.2, times


@effect("mcp.servers[].cache_ttl")
async def _(tmp_path: Path) -> None:
    async with mcp_agent(tmp_path, "twice", policies_server("cache_ttl = '1m'")) as agent:
        assert (await agent.run("x")).content == "1,1"
    async with mcp_agent(tmp_path, "twice", policies_server()) as agent:
        assert (await agent.run("x")).content == "1,2"


@effect("mcp.servers[].rate_limit")
async def _(tmp_path: Path) -> None:
    async with mcp_agent(tmp_path, "stamps", policies_server("rate_limit = '4/s'")) as agent:
        assert float((await agent.run("x")).content) >= 0.2
    async with mcp_agent(tmp_path, "stamps", policies_server()) as agent:
        assert float((await agent.run("x")).content) < 0.2


@effect("mcp.servers[].max_concurrency")
async def _(tmp_path: Path) -> None:
    async with mcp_agent(tmp_path, "overlap", policies_server("max_concurrency = 1")) as agent:
        assert (await agent.run("x")).content == "1"
    async with mcp_agent(tmp_path, "overlap", policies_server()) as agent:
        assert (await agent.run("x")).content == "3"


@effect("mcp.servers[].tool_policies")
async def _(tmp_path: Path) -> None:
    per_tool = "[mcp.servers.tool_policies.count]\ncache_ttl = '1m'"
    async with mcp_agent(tmp_path, "twice", policies_server(per_tool)) as agent:
        assert (await agent.run("x")).content == "1,1"
    other = "[mcp.servers.tool_policies.stamp]\ncache_ttl = '1m'"
    async with mcp_agent(tmp_path, "twice", policies_server(other)) as agent:
        assert (await agent.run("x")).content == "1,2"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def http_say() -> AsyncIterator[str]:
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, SAY, "over-http", "http", str(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                await writer.wait_closed()
                break
            except OSError:
                if time.monotonic() > deadline or proc.returncode is not None:
                    raise RuntimeError("the MCP test server did not start") from None
                await asyncio.sleep(0.05)  # polling a port a subprocess opens: there is no event to wait on
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.kill()
        await proc.wait()


async def _http_check(tmp_path: Path, url: str) -> None:
    servers = f"[[mcp.servers]]\nname = 'h'\ntransport = 'http'\nurl = '{url}'"
    async with mcp_agent(tmp_path, "say", servers) as agent:
        assert (await agent.run("x")).content == "over-http"
    async with mcp_agent(tmp_path, "say", stdio(args="'over-stdio'")) as agent:
        assert (await agent.run("x")).content == "over-stdio"
    dead = f"[[mcp.servers]]\nname = 'h'\ntransport = 'http'\nurl = 'http://127.0.0.1:{_free_port()}/mcp'\ntimeout = 2"
    async with mcp_agent(tmp_path, "say", dead) as agent:
        with pytest.raises(ak.errors.MCPError):
            await agent.run("x")


async def _http_headers(tmp_path: Path, url: str) -> None:
    servers = f"[[mcp.servers]]\nname = 'h'\ntransport = 'http'\nurl = '{url}'\n"
    async with mcp_agent(tmp_path, "named", servers + "headers = { X-Ak-Token = 'tok-1' }") as agent:
        assert (await agent.run("header X-Ak-Token")).content == "tok-1"
    async with mcp_agent(tmp_path, "named", servers) as agent:
        assert (await agent.run("header X-Ak-Token")).content == "<none>"
    # a header value is a secret: an error about it names the key, never the value
    with pytest.raises(ak.errors.ConfigError) as info:
        cfg(servers + "headers = { Authorization = 123456789 }")
    assert "headers.Authorization" in str(info.value) and "123456789" not in str(info.value)


HTTP_EFFECTS: dict[str, Callable[[Path, str], Awaitable[None]]] = {
    "mcp.servers[].transport": _http_check,
    "mcp.servers[].url": _http_check,
    "mcp.servers[].headers": _http_headers,
}
"""Keys checked against a streamable-HTTP server (the `http_say` fixture)."""
HTTP_KEYS = tuple(HTTP_EFFECTS)


# -- agents and [workflow] -----------------------------------------------------------------------


@effect("agents")
async def _(tmp_path: Path) -> None:
    text = "[agents.w]\n[agents.w.llm.options]\nreply = 'named agent'\n[[workflow.steps]]\nname = 's'\nagent = "
    assert (await build(text + "'w'").run("q")).content == "named agent"


@effect("workflow.name")
async def _(tmp_path: Path) -> None:
    wf = build("[workflow]\nname = 'flow-x'\n[[workflow.steps]]\nname = 's'")
    assert wf.name == "flow-x" and (await wf.run("q")).agent_name == "flow-x"


@effect("workflow.mode")
async def _(tmp_path: Path) -> None:
    steps = "[[workflow.steps]]\nname = 'a'\n[[workflow.steps]]\nname = 'b'\n[llm]\nmodel = 'echo'\n"
    seq = await build("[workflow]\nmode = 'sequential'\n" + steps).run("q")
    par = await build("[workflow]\nmode = 'parallel'\n" + steps).run("q")
    assert seq.content == "q" and "[a]" in par.content and "[b]" in par.content


@effect("workflow.timeout")
async def _(tmp_path: Path) -> None:
    steps = "[[workflow.steps]]\nname = 'a'\n[llm.options]\nttft = 0.5\n"
    result = await build("[workflow]\ntimeout = '50ms'\n" + steps).run("q", raise_on_error=False)
    assert result.stop_reason == "timeout"
    assert (await build(steps).run("q")).stop_reason == "completed"


@effect("workflow.description")
async def _(tmp_path: Path) -> None:
    steps = "[[workflow.steps]]\nname = 'a'\n"
    assert build("[workflow]\ndescription = 'Plans trips.'\n" + steps).as_agent().description == "Plans trips."
    assert build(steps).as_agent().description == ""


_STEP = "[[workflow.steps]]\nname = 'a'\n"


@effect("workflow.steps[].description")
async def _(tmp_path: Path) -> None:
    assert build(_STEP + "description = 'First.'").steps[0].description == "First."
    assert build(_STEP).steps[0].description == ""


@effect("workflow.steps[].timeout")
async def _(tmp_path: Path) -> None:
    slow = "[llm.options]\nttft = 0.5\n"
    result = await build(slow + _STEP + "timeout = '50ms'").run("q", raise_on_error=False)
    assert result.steps["a"].status.value == "timed_out"
    assert (await build(slow + _STEP + "timeout = '20s'").run("q")).steps["a"].status.value == "ok"


@effect("workflow.steps[].retries")
async def _(tmp_path: Path) -> None:
    failing = "[llm]\nmax_retries = 0\n[llm.options]\nfailures = ['500']\nreply = 'ok'\n"
    retried = await build(failing + _STEP + "retries = 1").run("q")
    assert retried.content == "ok" and retried.steps["a"].attempts == 2
    once = await build(failing + _STEP).run("q", raise_on_error=False)
    assert once.steps["a"].status.value == "failed" and once.steps["a"].attempts == 1


@effect("workflow.steps[].retry_delay")
async def _(tmp_path: Path) -> None:
    failing = "[llm]\nmax_retries = 0\n[llm.options]\nfailures = ['500']\nreply = 'ok'\n"
    times: list[float] = []
    for delay in ("0", "400ms"):
        start = time.perf_counter()
        await build(failing + _STEP + f"retries = 1\nretry_delay = '{delay}'").run("q")
        times.append(time.perf_counter() - start)
    assert times[1] >= 0.4 and times[1] > times[0] + 0.2, times


@effect("workflow.max_concurrency")
async def _(tmp_path: Path) -> None:
    m = tools_module(tmp_path)
    steps = "".join(
        f"[[workflow.steps]]\nname = 's{i}'\n[workflow.steps.agent]\nhandler = '{m.__name__}:busy_step'\n"
        for i in range(3)
    )
    m.busy_step = _busy_step(m.calls)
    m.calls["peak"] = 0
    await build("[workflow]\nmode = 'parallel'\n" + steps).run("q")
    assert m.calls["peak"] == 3
    m.calls["peak"] = 0
    await build("[workflow]\nmode = 'parallel'\nmax_concurrency = 1\n" + steps).run("q")
    assert m.calls["peak"] == 1


def _busy_step(calls: dict[str, int]) -> Callable[[str, ak.Capabilities], Awaitable[str]]:
    async def busy_step(input: str, caps: ak.Capabilities) -> str:
        calls["active"] += 1
        calls["peak"] = max(calls["peak"], calls["active"])
        for _ in range(5):
            await asyncio.sleep(0)
        calls["active"] -= 1
        return "done"

    return busy_step


@effect("workflow.fail_fast")
async def _(tmp_path: Path) -> None:
    steps = (
        "[[workflow.steps]]\nname = 'boom'\n[workflow.steps.agent.llm]\nmax_retries = 0\n"
        "[workflow.steps.agent.llm.options]\nfailures = ['400']\n"
        "[[workflow.steps]]\nname = 'slow'\n[workflow.steps.agent.llm.options]\nttft = 0.3\n"
    )
    fast = await build("[workflow]\nmode = 'parallel'\nfail_fast = true\n" + steps).run("q", raise_on_error=False)
    patient = await build("[workflow]\nmode = 'parallel'\nfail_fast = false\n" + steps).run("q", raise_on_error=False)
    assert fast.steps["slow"].status in ("cancelled", "skipped")
    assert patient.steps["slow"].status == "ok"


@effect("workflow.max_iterations")
async def _(tmp_path: Path) -> None:
    steps = "[[workflow.steps]]\nname = 'r'\n"
    assert (await build("[workflow]\nmode = 'loop'\nmax_iterations = 2\n" + steps).run("q")).iterations == 2
    assert (await build("[workflow]\nmode = 'loop'\nmax_iterations = 3\n" + steps).run("q")).iterations == 3


@effect("workflow.until_contains")
async def _(tmp_path: Path) -> None:
    steps = "[llm.options]\nreply = 'APPROVED'\n[[workflow.steps]]\nname = 'r'\n"
    stopped = await build("[workflow]\nmode = 'loop'\nmax_iterations = 3\nuntil_contains = 'APPROVED'\n" + steps).run(
        "q"
    )
    unstopped = await build("[workflow]\nmode = 'loop'\nmax_iterations = 3\nuntil_contains = 'NEVER'\n" + steps).run(
        "q"
    )
    assert (stopped.iterations, stopped.stop_reason) == (1, "until")
    assert (unstopped.iterations, unstopped.stop_reason) == (3, "max_iterations")


def _workflow_limit_key(key: str, value: str, tools: bool = False) -> None:
    # Two steps; each alone stays within the limit, the two together do not: one budget for the run.
    async def check(tmp_path: Path) -> None:
        from agentickit.errors import UsageLimitExceeded, WorkflowError
        from agentickit.metrics import PRICES, set_price

        set_price("echo", input_per_mtok=1e6, output_per_mtok=1e6)  # $1 a token
        try:
            base = "[llm]\nmodel = 'echo'\n"
            if tools:
                base = "[tools]\nfunctions = ['tests.config.test_keys:lookup']\n"
            steps = "[[workflow.steps]]\nname = 'a'\n[[workflow.steps]]\nname = 'b'\n"
            limited = build(f"{base}[workflow]\n{steps}[workflow.limits]\n{key} = {value}")
            assert limited.usage_limits is not None
            with pytest.raises(WorkflowError) as info:
                await limited.run("one two three")
            error = info.value.result.steps["b"].error
            assert isinstance(error, UsageLimitExceeded) and error.limit == key
            assert info.value.result.steps["a"].status is ak.StepStatus.OK
            assert (await build(f"{base}[workflow]\n{steps}").run("one two three")).error is None
        finally:
            PRICES.pop("echo", None)

    effect(f"workflow.limits.{key}")(check)


for _key, _value, _tools in (
    ("request_limit", "1", False),
    ("input_tokens_limit", "10", False),
    ("output_tokens_limit", "4", False),
    ("total_tokens_limit", "15", False),
    ("tool_calls_limit", "1", True),
    ("cost_limit", "15", False),
):
    _workflow_limit_key(_key, _value, _tools)


@effect("workflow.steps[].name")
async def _(tmp_path: Path) -> None:
    assert set((await build("[[workflow.steps]]\nname = 'first'").run("q")).steps) == {"first"}
    assert set((await build("[[workflow.steps]]\nname = 'other'").run("q")).steps) == {"other"}


@effect("workflow.steps[].agent")
async def _(tmp_path: Path) -> None:
    inline = "[[workflow.steps]]\nname = 's'\n[workflow.steps.agent.llm.options]\nreply = 'inline agent'\n"
    assert (await build(inline).run("q")).content == "inline agent"
    top = "[llm.options]\nreply = 'top agent'\n[[workflow.steps]]\nname = 's'\n"
    assert (await build(top).run("q")).content == "top agent"


@effect("workflow.steps[].depends_on")
async def _(tmp_path: Path) -> None:
    base = (
        "[workflow]\nmode = 'dag'\n[llm]\nmodel = 'echo'\n"
        "[[workflow.steps]]\nname = 'a'\n[workflow.steps.agent.llm.options]\nreply = 'from a'\n"
        "[[workflow.steps]]\nname = 'b'\n"
    )
    assert (await build(base + "depends_on = ['a']").run("input")).steps["b"].output == "from a"
    assert (await build(base).run("input")).steps["b"].output == "input"


def _telemetry_settings(text: str) -> Any:
    try:
        build("[telemetry]\n" + text)
        return ak.telemetry.settings() if ak.telemetry.enabled() else None
    finally:
        ak.telemetry.disable()


@effect("telemetry.enabled")
async def _(tmp_path: Path) -> None:
    assert _telemetry_settings("enabled = true") is not None
    assert _telemetry_settings("enabled = false") is None


@effect("telemetry.capture_content")
async def _(tmp_path: Path) -> None:
    assert _telemetry_settings("capture_content = true").capture_content is True
    assert _telemetry_settings("capture_content = false").capture_content is False


@effect("telemetry.semconv")
async def _(tmp_path: Path) -> None:
    assert _telemetry_settings("semconv = 'latest'").semconv == "latest"
    assert _telemetry_settings("semconv = 'default'").semconv == "default"


@effect("telemetry.max_content_length")
async def _(tmp_path: Path) -> None:
    assert _telemetry_settings("max_content_length = 7").max_content_length == 7


# -- [memory] stores and retrieval -----------------------------------------------------------------


def _mem(text: str) -> Any:
    agent = build("[memory]\n" + text)
    assert agent.memory is not None
    return agent.memory


async def _turns(text: str, n: int = 3) -> int:
    agent = build("[memory]\nsession_id = 's'\n" + text)
    for i in range(n):
        await agent.run(f"turn {i}")
    stored = len(await agent.memory.load("s"))
    await agent.cleanup()
    return stored


@effect("memory.path")
async def _(tmp_path: Path) -> None:
    db = tmp_path / "kept.db"
    assert await _turns(f"provider = 'sqlite'\npath = '{db}'", 1) == 2
    assert db.exists()
    # a new agent on the same file reads the session back: it survives a restart
    assert await _turns(f"provider = 'sqlite'\npath = '{db}'", 1) == 4


@effect("memory.prefix")
async def _(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    assert await _turns(f"provider = 'sqlite'\npath = '{db}'\nprefix = 'one'", 1) == 2
    assert await _turns(f"provider = 'sqlite'\npath = '{db}'\nprefix = 'two'", 1) == 2


@effect("memory.max_messages")
async def _(tmp_path: Path) -> None:
    assert await _turns("max_messages = 3") == 3
    assert await _turns("") == 6


@effect("memory.max_bytes")
async def _(tmp_path: Path) -> None:
    async def kept(text: str) -> list[int]:
        agent = build("[memory]\n" + text)
        for i in range(8):
            await agent.run("x" * 400, session_id=f"s{i}")
        out = [i for i in range(8) if await agent.memory.load(f"s{i}")]
        await agent.cleanup()
        return out

    assert _mem("max_bytes = 5000").backend.max_bytes == 5000
    # Each session holds ~1 KB of history: a 3 KB bound keeps the newest few, the oldest went first.
    small = await kept("max_bytes = 3000")
    assert small == list(range(8 - len(small), 8)) and 1 <= len(small) < 8
    assert await kept("") == list(range(8))


@effect("memory.ttl")
async def _(tmp_path: Path) -> None:
    assert _mem("ttl = '5s'").ttl == 5.0
    agent = build("[memory]\nsession_id = 's'\nttl = 0.05")
    await agent.run("soon forgotten")
    await asyncio.sleep(0.2)
    assert await agent.memory.load("s") == []


@effect("memory.sweep_interval")
async def _(tmp_path: Path) -> None:
    assert _mem("ttl = 5\nsweep_interval = 2").sweep_interval == 2.0
    assert _mem("ttl = 5").sweep_interval is None


@effect("memory.url")
async def _(tmp_path: Path) -> None:
    url = "redis://127.0.0.1:6379/14"
    assert _mem(f"provider = 'redis'\nurl = '{url}'").backend.url == url


@effect("memory.dsn")
async def _(tmp_path: Path) -> None:
    dsn = "postgresql://postgres@127.0.0.1:5432/test"
    assert _mem(f"provider = 'postgres'\ndsn = '{dsn}'").backend.dsn == dsn


@effect("memory.pgbouncer")
async def _(tmp_path: Path) -> None:
    dsn = "provider = 'postgres'\ndsn = 'postgresql://postgres@127.0.0.1:5432/test'\n"
    assert _mem(dsn + "pgbouncer = true").backend.pgbouncer is True
    assert _mem(dsn + "pgbouncer = false").backend.pgbouncer is False


@effect("memory.embedder")
async def _(tmp_path: Path) -> None:
    assert type(_mem("embedder = 'hash'").embedder).__name__ == "HashEmbedder"
    remote = "embedder = 'openai'\nembedding_model = 'e'\nembedding_base_url = 'http://127.0.0.1:9/v1'"
    assert type(_mem(remote).embedder).__name__ == "OpenAIEmbedder"
    assert type(_mem("embedder = 'sentence-transformers'").embedder).__name__ == "SentenceTransformerEmbedder"


@effect("memory.vectors")
async def _(tmp_path: Path) -> None:
    require_service("postgres")
    base = f"provider = 'postgres'\ndsn = 'postgresql://postgres@127.0.0.1:5432/test'\nprefix = 'k{next(_ids)}x{time.time_ns()}'\n"
    assert _mem(base + "vectors = 'exact'").vectors is None
    memory = _mem(base + "vectors = 'pgvector'")
    try:
        await memory.add_documents(["refunds take five days", "shipping is free"])
        # The documents went to the pgvector table, not to the store's records.
        assert await memory.vectors.count("default") == 2
        assert (await memory.query("refunds", k=1))[0].id == "doc-0#0"
    finally:
        await memory.vectors.clear("default")
        await memory.backend.drop_tables()
        await memory.aclose()


@effect("memory.ef_search")
async def _(tmp_path: Path) -> None:
    base = "provider = 'postgres'\ndsn = 'postgresql://postgres@127.0.0.1:5432/test'\nvectors = 'pgvector'\n"
    assert _mem(base + "ef_search = 7").vectors.ef_search == 7
    assert _mem(base + "ef_search = 300").vectors.ef_search == 300
    # What the value does to recall is measured in tests/stores/test_pgvector.py::test_ef_search_trades_recall.


@effect("memory.embedding_model")
async def _(tmp_path: Path) -> None:
    remote = "embedder = 'openai'\nembedding_base_url = 'http://127.0.0.1:9/v1'\nembedding_model = 'mini'"
    assert _mem(remote).embedder.model == "mini"
    local = _mem("embedder = 'sentence-transformers'\nembedding_model = '/models/minilm'").embedder
    assert (local.model, local.name) == ("/models/minilm", "st:minilm")


@effect("memory.embedding_base_url")
async def _(tmp_path: Path) -> None:
    remote = "embedder = 'openai'\nembedding_model = 'm'\nembedding_base_url = 'http://127.0.0.1:9/v1'"
    assert _mem(remote).embedder.base_url == "http://127.0.0.1:9/v1"


@effect("memory.embedding_dim")
async def _(tmp_path: Path) -> None:
    assert _mem("embedding_dim = 16").embedder.dim == 16
    assert _mem("embedding_dim = 32").embedder.dim == 32


async def _sources(text: str) -> int:
    agent = build("[memory]\n" + text)
    await agent.memory.add_documents(
        [ak.Document(text=f"refund policy number {i}: refunds take {i} days", id=f"d{i}") for i in range(6)]
    )
    return len((await agent.run("how long do refunds take?")).sources)


@effect("memory.rag_k")
async def _(tmp_path: Path) -> None:
    assert await _sources("rag_k = 2") == 2
    assert await _sources("rag_k = 4") == 4


@effect("memory.rag_max_tokens")
async def _(tmp_path: Path) -> None:
    assert await _sources("rag_k = 4\nrag_max_tokens = 12") < 4


@effect("memory.history_weight")
async def _(tmp_path: Path) -> None:
    assert _mem("history_weight = 0.25").history_weight == 0.25


@effect("memory.knowledge_weight")
async def _(tmp_path: Path) -> None:
    assert _mem("knowledge_weight = 3").knowledge_weight == 3.0


@effect("executor.kind")
async def _(tmp_path: Path) -> None:
    from agentickit.config import executor_from_config
    from agentickit.executors import LocalExecutor, RayExecutor

    assert isinstance(executor_from_config(cfg("[executor]\nkind = 'local'")), LocalExecutor)
    assert isinstance(executor_from_config(cfg("[executor]\nkind = 'ray'")), RayExecutor)


def _ray_executor_key(key: str, toml: str, attr: str, value: Any) -> None:
    # The executor reaches the cluster in tests/executors/test_ray.py (test_executor_from_config);
    # here: the key lands on the RayExecutor that runs the batch.
    async def check(tmp_path: Path) -> None:
        from agentickit.config import executor_from_config

        assert getattr(executor_from_config(cfg("[executor]\nkind = 'ray'")), attr) != value
        assert getattr(executor_from_config(cfg(f"[executor]\nkind = 'ray'\n{toml}")), attr) == value

    effect(key)(check)


for _key, _toml, _attr, _value in (
    ("executor.address", "address = 'auto'", "address", "auto"),
    ("executor.num_actors", "num_actors = 3", "num_actors", 3),
    ("executor.concurrency_per_actor", "concurrency_per_actor = 5", "concurrency_per_actor", 5),
    ("executor.chunk_size", "chunk_size = 8", "chunk_size", 8),
    ("executor.num_cpus_per_actor", "num_cpus_per_actor = 0.25", "num_cpus_per_actor", 0.25),
):
    _ray_executor_key(_key, _toml, _attr, _value)


# -- keys not consumed yet -----------------------------------------------------------------------

# -- [durable] -----------------------------------------------------------------------------------


async def _journaled(text: str) -> list[ak.RunInfo]:
    agent = build(text)
    try:
        await agent.run("hello")
        return await agent.runs()
    finally:
        await agent.cleanup()
        if agent.store is not None:
            await agent.store.aclose()


@effect("durable.durability")
async def _(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    runs = await _journaled(f"name = 'dur1'\n[durable]\ndurability = 'step'\npath = '{db}'")
    assert [r.status for r in runs] == ["finished"]
    assert await _journaled(f"name = 'dur1'\n[durable]\ndurability = 'off'\npath = '{db}'") == runs  # no new run


@effect("durable.path")
async def _(tmp_path: Path) -> None:
    db = tmp_path / "kept.db"
    await _journaled(f"name = 'dur2'\n[durable]\npath = '{db}'")
    assert db.exists()
    # a new agent on the same file (another process, say) lists the run: the journal survives a restart
    assert len(await _journaled(f"name = 'dur2'\n[durable]\npath = '{db}'")) == 2


# -- [serve] (what `agentickit serve FILE` builds; flags win over the file) -------------------------


def _served(tmp_path: Path, text: str, *flags: str) -> tuple[Any, str, int, bool]:
    from agentickit.cli._main import build_parser
    from agentickit.cli._serve import build_app

    path = tmp_path / f"serve_{next(_ids)}.toml"
    path.write_text("name = 'assistant'\n[llm]\nmodel = 'echo'\n" + textwrap.dedent(text), encoding="utf-8")
    return build_app(build_parser().parse_args(["serve", str(path), *flags]))


def _state(tmp_path: Path, text: str, *flags: str) -> Any:
    return _served(tmp_path, "[serve]\n" + text, *flags)[0].state.agentickit


_KEY = "k-123"
_KEYS = f"[[serve.api_keys]]\nname = 'ci'\nsha256 = '{ak.serve.hash_key(_KEY)}'\n"


async def _statuses(app: Any, *requests: tuple[str, str, dict[str, Any]]) -> list[int]:
    import aiohttp

    from tests.serve.conftest import serving

    out: list[int] = []
    async with serving(app) as (url, _), aiohttp.ClientSession() as http:
        for method, path, kw in requests:
            async with http.request(method, url + path, **kw) as r:
                out.append(r.status)
    return out


_RUN = ("POST", "/v1/agents/assistant/runs", {"json": {"input": "hi"}})


def _with_key(key: str = _KEY, **kw: Any) -> tuple[str, str, dict[str, Any]]:
    return (
        "POST",
        "/v1/agents/assistant/runs",
        {"json": {"input": "hi"}, "headers": {"authorization": f"Bearer {key}"}, **kw},
    )


@effect("serve.host")
async def _(tmp_path: Path) -> None:
    app, host, _, _ = _served(tmp_path, "[serve]\nhost = '127.0.0.2'")
    assert host == "127.0.0.2" and app.state.agentickit.settings.host == "127.0.0.2"
    assert _served(tmp_path, "[serve]\nhost = '127.0.0.2'", "--host", "127.0.0.3")[1] == "127.0.0.3"
    # off loopback without keys the server refuses to start, naming the host
    app, host, _, _ = _served(tmp_path, "[serve]\nhost = '0.0.0.0'")
    with pytest.raises(ak.errors.UserError, match=r"refusing to serve on 0\.0\.0\.0 without API keys"):
        ak.serve.Server(app, host=host)


@effect("serve.port")
async def _(tmp_path: Path) -> None:
    assert _served(tmp_path, "[serve]\nport = 9123")[2] == 9123
    assert _served(tmp_path, "")[2] == 8080
    assert _served(tmp_path, "[serve]\nport = 9123", "--port", "9124")[2] == 9124
    with pytest.raises(ak.errors.ConfigError, match=r"serve\.port"):
        _served(tmp_path, "[serve]\nport = 70000")


async def _keys_check(tmp_path: Path) -> None:
    app = _served(tmp_path, _KEYS + "scopes = ['other']\n")[0]
    assert await _statuses(app, _RUN, _with_key("wrong"), _with_key()) == [401, 401, 403]
    app = _served(tmp_path, _KEYS)[0]
    assert await _statuses(app, _RUN, _with_key()) == [401, 200]
    with pytest.raises(ak.errors.ConfigError, match=r"serve\.api_keys\[0\]\.sha256"):
        _served(tmp_path, "[[serve.api_keys]]\nname = 'ci'\nsha256 = 'the-key-itself'\n")


for _key in ("serve.api_keys[].name", "serve.api_keys[].sha256", "serve.api_keys[].scopes"):
    effect(_key)(_keys_check)


@effect("serve.api_keys[].rate_limit")
async def _(tmp_path: Path) -> None:
    app = _served(tmp_path, "[serve]\nrate_limit = '100/s'\n" + _KEYS + "rate_limit = '2/h'\n")[0]
    assert await _statuses(app, _with_key(), _with_key(), _with_key()) == [200, 200, 429]
    with pytest.raises(ak.errors.ConfigError, match=r"serve\.api_keys\[0\]\.rate_limit"):
        _served(tmp_path, _KEYS + "rate_limit = 'often'\n")


@effect("serve.rate_limit")
async def _(tmp_path: Path) -> None:
    assert await _statuses(_served(tmp_path, "[serve]\nrate_limit = '2/h'")[0], _RUN, _RUN, _RUN) == [200, 200, 429]
    assert await _statuses(_served(tmp_path, "")[0], _RUN, _RUN, _RUN) == [200, 200, 200]
    assert _state(tmp_path, "rate_limit = '2/h'", "--rate-limit", "5/s").settings.rate_limit == "5/s"


@effect("serve.max_body_bytes")
async def _(tmp_path: Path) -> None:
    big = ("POST", "/v1/agents/assistant/runs", {"json": {"input": "x" * 200}})
    assert await _statuses(_served(tmp_path, "[serve]\nmax_body_bytes = 100")[0], _RUN, big) == [200, 413]
    assert await _statuses(_served(tmp_path, "")[0], big) == [200]


@effect("serve.max_messages")
async def _(tmp_path: Path) -> None:
    assert _state(tmp_path, "max_messages = 3").settings.max_messages == 3
    assert _state(tmp_path, "max_messages = 3", "--max-messages", "4").settings.max_messages == 4
    with pytest.raises(ak.errors.ConfigError, match=r"serve\.max_messages"):
        _state(tmp_path, "max_messages = 0")


@effect("serve.request_timeout")
async def _(tmp_path: Path) -> None:
    state = _state(tmp_path, "request_timeout = '2m'")
    assert state.settings.request_timeout == 120 and state.registry.request_timeout == 120


@effect("serve.replay_buffer")
async def _(tmp_path: Path) -> None:
    assert _state(tmp_path, "replay_buffer = 7").registry.replay_buffer == 7
    assert _state(tmp_path, "").registry.replay_buffer == 10_000


@effect("serve.max_runs")
async def _(tmp_path: Path) -> None:
    assert _state(tmp_path, "max_runs = 5").registry.max_runs == 5
    assert _state(tmp_path, "").registry.max_runs == 1_000


@effect("serve.cors_origins")
async def _(tmp_path: Path) -> None:
    import aiohttp

    from tests.serve.conftest import serving

    for text, allowed in (("cors_origins = ['https://app.example']", "https://app.example"), ("", None)):
        async with serving(_served(tmp_path, "[serve]\n" + text)[0]) as (url, _), aiohttp.ClientSession() as http:
            async with http.get(f"{url}/v1/models", headers={"origin": "https://app.example"}) as r:
                assert r.headers.get("access-control-allow-origin") == allowed


@effect("serve.shutdown_deadline")
async def _(tmp_path: Path) -> None:
    assert _state(tmp_path, "shutdown_deadline = '250ms'").settings.shutdown_deadline == 0.25
    assert _state(tmp_path, "").settings.shutdown_deadline == 10.0


@effect("serve.playground")
async def _(tmp_path: Path) -> None:
    page = ("GET", "/", {})
    assert await _statuses(_served(tmp_path, "[serve]\nplayground = false")[0], page) == [404]
    assert await _statuses(_served(tmp_path, "")[0], page) == [200]


@effect("serve.access_log")
async def _(tmp_path: Path) -> None:
    assert _served(tmp_path, "[serve]\naccess_log = true")[3] is True
    assert _served(tmp_path, "")[3] is False


@effect("serve.sessions")
async def _(tmp_path: Path) -> None:
    from agentickit.stores import InMemory, SQLite

    backend = _state(tmp_path, "sessions = 'conv.db'").sessions.backend
    assert isinstance(backend, SQLite) and str(tmp_path / "conv.db") in repr(backend)  # relative to the file
    assert isinstance(_state(tmp_path, "").sessions.backend, InMemory)


@effect("serve.runs")
async def _(tmp_path: Path) -> None:
    from agentickit.serve import InMemoryRunStore, StoreRunStore

    store = _state(tmp_path, "runs = 'runs.db'").registry.store
    assert isinstance(store, StoreRunStore) and str(tmp_path / "runs.db") in repr(store.backend)
    assert isinstance(_state(tmp_path, "").registry.store, InMemoryRunStore)


def test_serve_sections_of_two_files_must_agree(tmp_path: Path) -> None:
    from agentickit.cli._main import build_parser
    from agentickit.cli._serve import build_app

    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text("name = 'a'\n[serve]\nport = 9000\nmax_runs = 3\n", encoding="utf-8")
    b.write_text("name = 'b'\n[serve]\nport = 9001\n", encoding="utf-8")
    with pytest.raises(ak.errors.ConfigError, match=r"serve\.port differs"):
        build_app(build_parser().parse_args(["serve", str(a), str(b)]))
    b.write_text("name = 'b'\n[serve]\nport = 9000\n", encoding="utf-8")
    app, _, port, _ = build_app(build_parser().parse_args(["serve", str(a), str(b)]))
    assert port == 9000 and app.state.agentickit.registry.max_runs == 3


PENDING: dict[str, str] = {}
"""Key -> why no runtime part consumes it yet. Empty when every key is wired."""


# -- the tests -----------------------------------------------------------------------------------


def test_every_key_is_covered() -> None:
    keys = set(leaf_keys())
    covered = set(EFFECTS) | set(HTTP_KEYS) | set(PENDING)
    assert keys - covered == set(), f"keys without a behaviour check: {sorted(keys - covered)}"
    assert covered - keys == set(), f"checks for keys that do not exist: {sorted(covered - keys)}"
    assert not (set(EFFECTS) & set(PENDING))


def test_pending_keys_are_listed_explicitly() -> None:
    # Keys the loader validates but no runtime part consumes yet; see PENDING for the reasons.
    assert PENDING == {}


@pytest.mark.parametrize("key", sorted(EFFECTS))
async def test_key_changes_behaviour(key: str, tmp_path: Path) -> None:
    async with asyncio.timeout(30):
        await EFFECTS[key](tmp_path)


@pytest.mark.parametrize("key", HTTP_KEYS)
async def test_mcp_http_keys_change_behaviour(key: str, tmp_path: Path, http_say: str) -> None:
    async with asyncio.timeout(30):
        await HTTP_EFFECTS[key](tmp_path, http_say)
