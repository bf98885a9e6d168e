"""One run of an agent: `run_agent` dispatches it once, and the default loop it usually runs.

`run_agent` decides, once per run, what runs: the middleware (`_middleware.py`) around the body,
and as the body either the agent's custom handler (`_handler.py`) or the default loop below. Data
flows one way; neither the middleware nor the handler calls back into this module.

The default loop: ask the model, run the tools it asks for (`tools.call_tool`), repeat, remember,
return a Result. `run()` drives it with no sink and pays for no streaming; `run_stream()` drives
the same loop with a sink and gets the model's tokens as they come.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from .._journal_scope import take_scope
from .._result import Result, Source
from .._utils import new_id
from ..errors import ProviderError, RunTimeoutError, UsageLimitExceeded, UserError
from ..memory._memory import trim_history
from ..messages import Message, ModelResponse, ToolCallRecord, ToolDefinition, Usage
from ..metrics import record_failure, record_result
from ..options import ModelSettings, RunOptions
from ..providers._base import Model, ModelStream, TextDelta, ThoughtDelta, ToolCallDelta
from ..providers._retry import retry_unstarted
from ..streaming._chunk import Chunk, ChunkType, text_chunk, text_chunks
from ..streaming._sink import ChunkSink
from ..telemetry import _hooks as _tel
from ..tools._call import execute_tool_calls
from ..tools._context import RunContext
from ._handler import run_handler
from ._limits import check_budget, partial_result, run_budget
from ._middleware import run_middleware

if TYPE_CHECKING:
    from ..output._run import OutputRun
    from ._agent import Agent

__all__ = ("DEFAULT_MAX_TOOL_ROUNDS", "run_agent", "run_loop")

DEFAULT_MAX_TOOL_ROUNDS = 10

_now = time.time
_DELTA = ChunkType.DELTA
_THOUGHT = ChunkType.THOUGHT
_PART = 64
_ONE_BY_ONE = ModelStream.batches


_output_for_run_fn: Callable[[Agent[Any], object, RunOptions, Model], OutputRun] | None = None


def _output_for_run(agent: Agent[Any], spec: object, opts: RunOptions, model: Model) -> OutputRun:
    # Imported on the first structured run: pydantic stays out of `import agentickit`. Kept in a
    # global after that: a function-local `from ... import` costs ~1.5 us on every run.
    global _output_for_run_fn
    fn = _output_for_run_fn
    if fn is None:
        from ..output._run import output_for_run

        fn = _output_for_run_fn = output_for_run
    return fn(agent, spec, opts, model)


# What the default loop has done so far (its own lists, filled in place), so that a run that times
# out can still hand back a partial Result. Set once per run; run_agent reads it in the same task.
_PROGRESS: ContextVar[tuple[list[Message], list[ToolCallRecord], Usage, str] | None] = ContextVar(
    "agentickit_run_progress", default=None
)


_NO_SETTINGS = ModelSettings()


def _partial(agent: Agent[Any], start: float) -> Result[Any] | None:
    progress = _PROGRESS.get()
    if progress is None:
        return None
    messages, records, usage, run_id = progress
    # Copies: the loop that timed out may still hold (and, detached, even touch) its own lists.
    return partial_result(agent, run_id, start, list(messages), usage, list(records), None)


async def _ask(
    model: Model,
    messages: Sequence[Message],
    tools: Sequence[ToolDefinition],
    settings: ModelSettings,
    sink: ChunkSink | None,
    max_retries: int,
) -> ModelResponse:
    attempt = 0
    while True:
        emitted = False
        try:
            if sink is None:
                return await model.request(messages, tools, settings)
            # The per-token path: one await per batch (a network read), one cheap Chunk per token,
            # one hand-over per batch when the sink takes batches (the stream's channel does).
            # Before, two async-generator hops, a Chunk.__init__ and a send per token added ~1.5 us
            # a token to the transport's ~2.7 us (bench/stream_hot_path.py).
            # Looked up on the class, called with the sink: a bound method held across the wait for
            # the first token is 64 bytes per live stream (see `_channel.py` on memory).
            sink_type = type(sink)
            send_many = getattr(sink_type, "send_many", None)
            # Structured output streams its final-answer tool's arguments as partial objects.
            tool_delta = getattr(sink_type, "tool_delta", None)
            async with model.request_stream(messages, tools, settings) as stream:
                if type(stream).batches is _ONE_BY_ONE:
                    # A provider without batches of its own (events only): its events one by one,
                    # as before batches existed; a batch of one per event measured ~40% slower.
                    async for event in stream:
                        if type(event) is TextDelta:
                            if not emitted and _tel.active is not None:
                                _tel.active.first_chunk()
                            emitted = True
                            w = sink.send(text_chunk(_DELTA, event.text, _now()))
                            if w is not None:
                                await w
                        elif isinstance(event, ThoughtDelta):
                            emitted = True
                            w = sink.send(text_chunk(_THOUGHT, event.text, _now()))
                            if w is not None:
                                await w
                        elif tool_delta is not None and type(event) is ToolCallDelta:
                            w = tool_delta(sink, event)
                            if w is not None:
                                await w
                    return stream.response()
                # try/finally, not `aclosing()`: no wrapper object held per live stream.
                batches = stream.batches()
                try:
                    send_text = getattr(sink_type, "send_text", None)
                    async for batch in batches:
                        # One clock read per batch: its chunks arrived together.
                        now = _now()
                        if send_text is not None:
                            # `Stream.batches()`: the read's text pieces go through as they are, no Chunk each.
                            w = send_text(sink, batch, now)
                            if not emitted and sink.first_at:  # type: ignore[attr-defined]
                                emitted = True
                                if _tel.active is not None:
                                    _tel.active.first_chunk()
                            if w is not None:
                                await w
                            continue
                        # A read can hold thousands of events; their chunks are made and handed over
                        # _PART at a time, so the consumer takes them while they are still in the CPU
                        # cache (making a whole read's chunks first measured ~10% slower).
                        for i in range(0, len(batch), _PART):
                            part = batch[i : i + _PART] if len(batch) > _PART else batch
                            chunks: list[Chunk] | None = text_chunks(part, now)
                            kind: ChunkType | None = _DELTA
                            if chunks is None:
                                kind = None
                                # Not all text: a tool call, a thought, the usage.
                                chunks = []
                                add = chunks.append
                                for item in part:
                                    if type(item) is str:
                                        add(text_chunk(_DELTA, item, now))
                                    elif type(item) is TextDelta:
                                        add(text_chunk(_DELTA, item.text, now))
                                    elif isinstance(item, ThoughtDelta):
                                        add(text_chunk(_THOUGHT, item.text, now))
                                    elif tool_delta is not None and type(item) is ToolCallDelta:
                                        w = tool_delta(sink, item)
                                        if w is not None:
                                            await w
                                if not chunks:
                                    continue
                            if not emitted and _tel.active is not None:
                                _tel.active.first_chunk()
                            emitted = True
                            if send_many is not None:
                                w = send_many(sink, chunks, kind)
                                if w is not None:
                                    await w
                            else:
                                for chunk in chunks:
                                    w = sink.send(chunk)
                                    if w is not None:
                                        await w
                finally:
                    await batches.aclose()
                return stream.response()
        except ProviderError as exc:
            if not await retry_unstarted(
                exc, attempt, max_retries, emitted, None if _tel.active is None else _tel.active.retry
            ):
                raise
            attempt += 1


async def run_agent(
    agent: Agent[Any], query: str | Message, opts: RunOptions, sink: ChunkSink | None = None
) -> Result[Any]:
    """Run `agent` on `query` with fully merged options; see `Agent.run`."""
    start = time.perf_counter()
    span = None if _tel.active is None else _tel.active.run_start(agent, opts)
    try:
        if opts.timeout is None:
            result = await _dispatch(agent, query, opts, sink)
        else:
            _PROGRESS.set(None)
            try:
                async with asyncio.timeout(opts.timeout):
                    result = await _dispatch(agent, query, opts, sink)
            except TimeoutError as exc:
                raise RunTimeoutError(
                    f"agent {agent.name!r} did not finish within its timeout of {opts.timeout:g} s; "
                    "raise `timeout` or lower `max_tokens`/`max_tool_rounds`",
                    result=_partial(agent, start),
                ) from exc
    except BaseException as exc:
        # One call per run on each path keeps counting out of the overhead budget (see bench/).
        record_failure(agent, exc, time.perf_counter() - start)
        if span is not None:
            span.fail(exc)
        raise
    if sink is None:
        record_result(agent, result)
    else:
        # A streaming sink may note when the first token went out (`first_at`, perf_counter): that is the TTFT.
        record_result(agent, result, getattr(sink, "first_at", 0.0), start)
    if span is not None:
        span.run_end(result)
    return result


def _dispatch(
    agent: Agent[Any], query: str | Message, opts: RunOptions, sink: ChunkSink | None
) -> Awaitable[Result[Any]]:
    """The one decision of a run: middleware or not, then the handler or the default loop."""
    run_id = new_id("run")
    if _tel.active is not None:
        _tel.active.run_id(run_id)
    if isinstance(query, Message):
        if agent.handler is not None or agent.middleware:
            raise UserError(
                f"agent {agent.name!r} has a custom handler or middleware, which take text input; "
                "images, audio and documents need the default loop (no handler, no middleware)"
            )
        return run_loop(agent, query, opts, sink, run_id)
    if agent.handler is not None and opts.output_type is not None and opts.output_type is not str:
        raise UserError(
            f"agent {agent.name!r} has a custom handler, which answers in text; output_type needs the default loop"
        )
    body = run_loop if agent.handler is None else run_handler
    if agent.middleware:
        return run_middleware(agent, query, opts, sink, run_id, body)
    return body(agent, query, opts, sink, run_id)


async def run_loop(
    agent: Agent[Any], query: str | Message, opts: RunOptions, sink: ChunkSink | None, run_id: str
) -> Result[Any]:
    """The default loop: model, tools, model... until the model answers without asking for tools."""
    start = time.perf_counter()
    # A durable run (or a durable workflow's step) left its journal scope for this run to take.
    scope = take_scope()
    if scope is not None and not scope.name:
        run_id = scope.journal.run_id
    model = agent.model
    memory = agent.memory
    messages: list[Message] = []
    if agent.system_prompt:
        messages.append(Message("system", agent.system_prompt))
    session_id = opts.session_id
    sources: list[Source] | None = None  # RAG's; a list held by every live stream would be 56 bytes each
    if memory is not None:
        if session_id is None:
            session_id = memory.session_id
        limit = opts.history_limit if opts.history_limit is not None else memory.history_limit
        if opts.message_history is not None:
            messages.extend(trim_history(list(opts.message_history), limit=limit, max_tokens=memory.max_history_tokens))
        if memory.rag_k:
            text = query if isinstance(query, str) else (query.content or "")
            if session_id is not None and opts.message_history is None:
                # The history and the knowledge base's freshness check in one store call (one round trip).
                context, sources = await memory.recall(text, session_id, limit, messages)
            else:
                context, sources = await memory.rag_context(text, session_id, messages)
            if context is not None:
                messages.insert(1 if agent.system_prompt else 0, context)
        elif session_id is not None and opts.message_history is None:
            messages.extend(await memory.history(session_id, limit))
    elif opts.message_history is not None:
        messages.extend(trim_history(list(opts.message_history), limit=opts.history_limit))
    first_new = len(messages)
    messages.append(Message("user", query) if query.__class__ is str else query)  # type: ignore[arg-type]

    state = agent._tools_state  # pyright: ignore[reportPrivateUsage]
    toolset = None if state is None else state.toolset
    # The resolved tools, without a coroutine per run once they are (`resolve_tools` does the rest).
    tools = toolset if toolset is not None and not toolset.dynamic else await agent.resolve_tools()
    definitions = tools.definitions
    # Structured output (agentickit/output): a plain-text run pays these two comparisons, nothing more.
    spec = opts.output_type if opts.output_type is not None else agent.output_type
    out = None
    tool_choice = opts.tool_choice
    response_format = None
    if spec is not None and spec is not str:
        out = _output_for_run(agent, spec, opts, model)
        n = len(messages)
        # What the mode adds goes into the one ModelSettings below (a second one cost ~3 us a run).
        definitions, tool_choice, response_format = out.prepare(messages, definitions, tool_choice)
        first_new += len(messages) - n
        if sink is not None:
            sink = out.wrap_sink(sink)
    if (
        opts.max_tokens is None
        and opts.temperature is None
        and opts.top_p is None
        and opts.stop is None
        and tool_choice is None
        and response_format is None
    ):
        settings = _NO_SETTINGS  # frozen: one for every run that sets none of them
    else:
        settings = ModelSettings(
            max_tokens=opts.max_tokens,
            temperature=opts.temperature,
            top_p=opts.top_p,
            stop=opts.stop,
            tool_choice=tool_choice,
            response_format=response_format,
        )
    max_rounds = opts.max_tool_rounds if opts.max_tool_rounds is not None else DEFAULT_MAX_TOOL_ROUNDS
    max_retries = model.max_retries
    usage = Usage()
    records: list[ToolCallRecord] = []
    rounds = 0
    fallbacks = 0
    budget = run_budget(agent, opts)  # None without usage limits
    ctx: RunContext | None = None  # made at the first tool round: a run without tools pays nothing
    if opts.timeout is not None:  # only a run with a timeout reads it (run_agent)
        _PROGRESS.set((messages, records, usage, run_id))
    while True:
        if budget is not None:
            check_budget(budget, None, agent, run_id, start, messages, usage, records)
        chat = (
            None
            if _tel.active is None
            else _tel.active.chat_start(model, messages, definitions, settings, sink is not None)
        )
        try:
            if scope is None:
                response = await _ask(model, messages, definitions, settings, sink, max_retries)
            else:  # replayed from the journal, or asked and recorded
                response = await scope.ask(_ask, model, messages, definitions, settings, sink, max_retries)
        except BaseException as exc:
            if chat is not None:
                chat.fail(exc)
            raise
        if chat is not None:
            chat.chat_end(response)
        usage.add(response.usage)
        fallbacks += response.fallbacks
        messages.append(Message("assistant", response.content or None, response.tool_calls))
        if budget is not None:
            check_budget(budget, response, agent, run_id, start, messages, usage, records)
        if sink is not None and response.content:
            w = sink.send(Chunk(ChunkType.TEXT, content=response.content))
            if w is not None:
                await w
        calls = response.tool_calls
        if out is not None:
            checked = await out.check(response, messages)
            if checked is None:
                break
            if not checked:
                continue  # a correction was sent; the retries bound these rounds
            calls = checked
        elif not calls:
            break
        if rounds >= max_rounds:
            raise UsageLimitExceeded(
                f"agent {agent.name!r} reached max_tool_rounds={max_rounds} and the model still asks for tools "
                f"({', '.join(c.name for c in calls)}); raise max_tool_rounds or check the tools' results",
                result=partial_result(agent, run_id, start, messages, usage, records, response),
            )
        rounds += 1
        if ctx is None:
            ctx = RunContext(opts.deps, run_id, session_id, usage, agent.name)
        run_tools = execute_tool_calls if scope is None else scope.tool_calls
        for message, record in await run_tools(calls, tools, agent.tool_timeout, sink, ctx):
            messages.append(message)
            records.append(record)
        if settings.tool_choice not in (None, "auto", "none"):
            # A forced tool choice applies to the first turn only; forcing it again would loop forever.
            settings = ModelSettings(
                max_tokens=settings.max_tokens,
                temperature=settings.temperature,
                top_p=settings.top_p,
                stop=settings.stop,
                tool_choice="auto",
                response_format=settings.response_format,
            )

    if memory is not None and session_id is not None:
        await memory.store.append(session_id, messages[first_new:])
    metadata = dict(opts.metadata) if opts.metadata else {}
    metadata["model"] = response.model or model.model_name
    metadata["finish_reason"] = response.finish_reason
    metadata["tool_rounds"] = rounds
    if fallbacks:
        metadata["fallbacks"] = fallbacks
    if session_id is not None:
        metadata["session_id"] = session_id
    if out is not None:
        metadata["output_mode"] = out.mode
        metadata["output_attempts"] = out.attempts
    return Result(
        content=response.content if out is None else out.raw,
        output=response.content if out is None else out.output,
        usage=usage,
        duration=time.perf_counter() - start,
        tool_calls=records,
        messages=messages,
        metadata=metadata,
        run_id=run_id,
        agent_name=agent.name,
        thoughts=response.thoughts,
        sources=sources if sources is not None else [],
    )
