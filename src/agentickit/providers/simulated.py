"""The `simulated` provider: an offline, deterministic model for demos, tests and benchmarks.

It streams tokens with a configurable time to first token and tokens per second, can script tool
calls and failures, and keeps no per-run state, so concurrent runs never see each other. The same
behaviour is served over real HTTP by `agentickit simulate-llm` (see `agentickit.simulator`).

What it answers (first match wins):

1. a failure directive in the last user message: `[[sim:429]]`, `[[sim:500]]`, `[[sim:timeout]]`,
   `[[sim:malformed]]`, `[[sim:401]]`, `[[sim:400]]`;
2. the next entry of `failures` (consumed one per request, for "fail twice, then succeed");
3. `script[round]`, where `round` counts the assistant turns since the last user message, so a
   script entry is chosen by the conversation, not by a shared counter;
4. `reply`: a fixed string, `"echo"` (the last user message), or a function of the request;
5. `"auto"` tools: with tools offered and no tool result yet, call the first tool, filling each
   required argument from the user's words; after tool results, answer with them.

Structured output: with a final-answer tool offered (a name starting `final_`), the other tools are
called first as above, then the final tool, with arguments generated from its schema. With a
`response_format` JSON schema (or `PromptedOutput`'s schema in the system prompt) and the default
`"echo"` reply, the answer is a deterministic instance of the schema (see `_sample.py`); a script
entry or another reply wins, so tests can send invalid JSON to exercise the corrections.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast

import orjson

from .._utils import is_seconds
from ..errors import (
    AuthenticationError,
    BadRequestError,
    BadResponseError,
    ProviderTimeoutError,
    RateLimitError,
    ServerError,
)
from ..messages import Message, ModelResponse, ToolCall, ToolDefinition, Usage
from ..options import ModelSettings
from ._base import (
    TEXT_BLOCK,
    BatchItem,
    Model,
    ModelStream,
    StreamEvent,
    ThoughtDelta,
    ToolCallDelta,
    UsageEvent,
    flatten_batches,
)
from ._sample import CORRECTION_PREFIX, prompted_schema, sample, schema_of_response_format

__all__ = ("Failure", "SimFailure", "SimRequest", "SimTurn", "SimulatedModel", "call", "plan_turn", "tokenize")

Failure = Literal["429", "500", "401", "400", "timeout", "malformed"]
_FAILURES: frozenset[str] = frozenset(("429", "500", "401", "400", "timeout", "malformed"))
_DIRECTIVE = re.compile(r"\[\[sim:(\w+)\]\]")
_TOKEN = re.compile(r"\s*\S+")
# Up to TEXT_BLOCK tokens at once: the same tokens as `_TOKEN` finds (a block ends where a token
# does), so a long answer is tokenized a block at a time instead of into one list up front.
_BLOCK = re.compile(rf"(?:\s*\S+){{1,{TEXT_BLOCK}}}")


@dataclass(slots=True, frozen=True)
class SimRequest:
    """What a reply function sees."""

    messages: Sequence[Message]
    tools: Sequence[ToolDefinition]
    settings: ModelSettings

    @property
    def last_user(self) -> str:
        """The text of the last user message."""
        for m in reversed(self.messages):
            if m.role == "user":
                return m.content or ""
        return ""

    @property
    def attachments(self) -> tuple[Any, ...]:
        """The images, audio and documents of the last user message (`agentickit.content` parts)."""
        for m in reversed(self.messages):
            if m.role == "user":
                return m.parts
        return ()

    @property
    def tool_results(self) -> list[Message]:
        """Tool results sent after the last user message."""
        out: list[Message] = []
        for m in reversed(self.messages):
            if m.role == "user":
                break
            if m.role == "tool":
                out.append(m)
        out.reverse()
        return out


@dataclass(slots=True, frozen=True)
class SimFailure:
    """A scripted failure with details, e.g. a 429 whose `Retry-After` says 0.5 s.

    `SimFailure("429", retry_after=0.5)` makes retry behaviour testable in process, without HTTP.

    Args:
        kind: which failure (`"429"`, `"500"`, `"401"`, `"400"`, `"timeout"`, `"malformed"`).
        retry_after: seconds the "server" asks to wait (429 and 500 only); `None` sends no hint.

    """

    kind: Failure
    retry_after: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in _FAILURES:
            raise ValueError(f"unknown simulated failure {self.kind!r}; use one of {sorted(_FAILURES)}")
        if self.retry_after is not None and (self.kind not in ("429", "500") or not self.retry_after >= 0):
            raise ValueError(f"retry_after must be seconds >= 0, and only for a 429 or 500, got {self!r}")


@dataclass(slots=True, frozen=True)
class SimTurn:
    """One scripted model turn: text, tool calls, or both."""

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    thoughts: str = ""


def call(name: str, /, **arguments: Any) -> SimTurn:
    """A scripted turn in which the model calls one tool, e.g. `call("weather", city="Paris")`."""
    return SimTurn(tool_calls=(ToolCall(f"call_{name}_{_ids.__next__()}", name, orjson.dumps(arguments).decode()),))


_ids = itertools.count(1)
Reply = str | Callable[[SimRequest], "str | SimTurn"]
ScriptEntry = str | SimTurn


def tokenize(text: str) -> list[str]:
    """Split text the way the simulator streams it: a token is a word with its leading whitespace."""
    tokens = _TOKEN.findall(text)
    if tokens:
        tail = len("".join(tokens))
        if tail < len(text):
            tokens[-1] += text[tail:]
    elif text:
        tokens = [text]
    return tokens


def _token_blocks(text: str) -> Iterator[tuple[list[str], int]]:
    """`tokenize(text)` lazily, in lists of up to `TEXT_BLOCK` tokens, each with the text offset it ends at.

    A 1 MB answer is ~250,000 tokens; as one list of strings it cost ~13 MiB on top of the text.
    """
    findall = _TOKEN.findall
    pending: list[str] | None = None
    end = 0
    for m in _BLOCK.finditer(text):
        if pending is not None:
            yield pending, end
        end = m.end()
        pending = findall(text, m.start(), end)
    if pending is None:
        if text:
            yield [text], len(text)
        return
    if end < len(text):
        # Trailing whitespace goes with the last token, as in `tokenize`.
        pending[-1] += text[end:]
    yield pending, len(text)


def _cut(text: str, limit: int | None) -> tuple[str, int, bool]:
    """The text as streamed with at most `limit` tokens: (text, tokens, whether it was cut)."""
    n = 0
    start = 0
    for block, end in _token_blocks(text):
        if limit is not None and n + len(block) > limit:
            keep = limit - n
            return text[: start + sum(len(t) for t in block[:keep])], limit, True
        n += len(block)
        start = end
    return text, n, False


PART_TOKENS = 85
"""Input tokens the simulator counts per image, audio clip or document (OpenAI's low-detail image price)."""


def _estimate_tokens(messages: Iterable[Message]) -> int:
    # ~4 characters per token, the usual rule of thumb; the simulator only needs to be stable.
    return sum(len(m.content or "") // 4 + 4 + PART_TOKENS * len(m.parts) for m in messages)


def _auto_arguments(tool: ToolDefinition, text: str) -> dict[str, Any]:
    props: dict[str, Any] = tool.parameters.get("properties", {})
    required: list[str] = tool.parameters.get("required", list(props))
    numbers = [int(n) for n in re.findall(r"-?\d+", text)]
    words = re.findall(r"[A-Za-z][\w-]*", text)
    args: dict[str, Any] = {}
    for name in required:
        kind = props.get(name, {}).get("type", "string")
        if kind in ("integer", "number"):
            args[name] = numbers.pop(0) if numbers else 1
        elif kind == "boolean":
            args[name] = True
        elif kind == "array":
            args[name] = words[:3]
        elif kind == "object":
            args[name] = {}
        else:
            capitalised = [w for w in words if w[0].isupper()]
            args[name] = capitalised[-1] if capitalised else (words[-1] if words else text)
    return args


def default_reply(request: SimRequest) -> str:
    """The `simulated` provider's answer when none is configured (a schema asked for wins over it)."""
    question = request.last_user.strip() or "nothing"
    return f"This is the simulated model answering: {question}"


def plan_turn(
    request: SimRequest,
    *,
    reply: Reply = "echo",
    script: Sequence[ScriptEntry] = (),
    tools_mode: Literal["auto", "never"] = "auto",
) -> SimTurn:
    """Decide deterministically what the simulated model answers to `request` (failures aside)."""
    if script:
        round_no = 0
        for m in reversed(request.messages):
            if m.role == "user" and not (m.content or "").startswith(CORRECTION_PREFIX):
                break
            if m.role == "assistant":
                round_no += 1
        if round_no < len(script):
            entry = script[round_no]
            return SimTurn(text=entry) if isinstance(entry, str) else entry
    results = request.tool_results
    schema = _answer_schema(request) if reply == "echo" or reply is default_reply else None
    if tools_mode == "auto" and request.tools and request.settings.tool_choice != "none":
        forced = request.settings.tool_choice
        final = next((t for t in request.tools if t.name.startswith("final_")), None)
        plain = [t for t in request.tools if t is not final]
        if not results and plain and (final is None or forced != final.name):
            tool = next((t for t in plain if t.name == forced), plain[0])
            args = _auto_arguments(tool, request.last_user)
            return SimTurn(tool_calls=(ToolCall(f"call_{tool.name}_1", tool.name, orjson.dumps(args).decode()),))
        if final is not None:
            args_json = orjson.dumps(sample(final.parameters)).decode()
            return SimTurn(tool_calls=(ToolCall(f"call_{final.name}_1", final.name, args_json),))
        if schema is None:
            summary = "; ".join(f"{m.name} returned {m.content}" for m in results)
            return SimTurn(text=f"Based on the tools: {summary}.")
    if schema is not None:
        return SimTurn(text=json.dumps(sample(schema)))  # spaced, so it streams as many tokens
    if callable(reply):
        out = reply(request)
        return SimTurn(text=out) if isinstance(out, str) else out
    if reply == "echo":
        return SimTurn(text=request.last_user)
    return SimTurn(text=reply)


def _answer_schema(request: SimRequest) -> dict[str, Any] | None:
    """The JSON schema the request asks the answer to fit: `response_format`, or prompted instructions."""
    schema = schema_of_response_format(request.settings.response_format)
    if schema is not None:
        return schema
    for m in request.messages:
        if m.role == "system" and m.content and "{" in m.content:
            return prompted_schema(m.content)
    return None


def failure_for(request_text: str) -> str | None:
    """The failure a `[[sim:...]]` directive in the text asks for, if any."""
    match = _DIRECTIVE.search(request_text)
    if match and match.group(1) in _FAILURES:
        return match.group(1)
    return None


@dataclass(slots=True)
class SimulatedModel(Model):
    """An in-process simulated model. Deterministic, offline, and as fast as the settings allow.

    Args:
        reply: a fixed answer, `"echo"`, or a function of a `SimRequest` returning text or a `SimTurn`.
        script: turns chosen by the conversation's round (see the module docstring); `call(...)` builds
            tool-call turns.
        ttft: seconds before the first token.
        tokens_per_s: streaming speed; `None` streams as fast as possible.
        tools_mode: `"auto"` calls offered tools on its own; `"never"` ignores them.
        failures: failures to return, one per request, before answering normally: a kind such as
            `"429"`, or a `SimFailure` (e.g. with `retry_after`).
        thoughts: reasoning text streamed as THOUGHT before the answer.
        record: keep the last 1,000 requests in `requests`, so tests can see what reached the model.
        model_name: the name reported in responses.
        timeout: seconds a request may take before `ProviderTimeoutError` (as an HTTP provider's
            `LLMConfig.timeout`); for streams it bounds the time to the first token.
        temperature: default temperature of requests whose run sets none (`LLMConfig.temperature`).
        max_tokens: default output limit of requests whose run sets none (`LLMConfig.max_tokens`):
            the answer is cut after that many tokens, with `finish_reason="length"`.

    """

    supports_native_output = True

    reply: Reply = "echo"
    script: Sequence[ScriptEntry] = ()
    ttft: float = 0.0
    tokens_per_s: float | None = None
    tools_mode: Literal["auto", "never"] = "auto"
    failures: Sequence[Failure | SimFailure] = ()
    thoughts: str = ""
    record: bool = False
    model_name: str = "simulated"
    provider: str = "simulated"
    max_retries: int = 3
    timeout: float | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    requests: deque[SimRequest] = field(default_factory=lambda: deque[SimRequest](maxlen=1000), repr=False)
    _pending_failures: deque[str | SimFailure] = field(default_factory=deque[str | SimFailure], repr=False)

    def __post_init__(self) -> None:
        if self.ttft < 0:
            raise ValueError("ttft must be >= 0 seconds")
        if self.tokens_per_s is not None and self.tokens_per_s <= 0:
            raise ValueError("tokens_per_s must be > 0, or None for no delay")
        if self.timeout is not None and not is_seconds(self.timeout):
            raise ValueError("timeout must be > 0 seconds, or None for no limit")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError("max_tokens must be >= 1, or None for no limit")
        if self.tools_mode not in ("auto", "never"):
            raise ValueError(f"tools_mode must be 'auto' or 'never', not {self.tools_mode!r}")
        bad = [f for f in self.failures if not isinstance(f, SimFailure) and f not in _FAILURES]
        if bad:
            raise ValueError(f"unknown simulated failure {bad[0]!r}; use one of {sorted(_FAILURES)}")
        self._pending_failures.extend(self.failures)

    # -- shared logic -----------------------------------------------------------------------------

    def _settings(self, settings: ModelSettings) -> ModelSettings:
        """The run's settings with this model's defaults filled in where the run set none."""
        temperature, max_tokens = self.temperature, self.max_tokens
        if (temperature is None or settings.temperature is not None) and (
            max_tokens is None or settings.max_tokens is not None
        ):
            return settings
        return replace(
            settings,
            temperature=settings.temperature if settings.temperature is not None else temperature,
            max_tokens=settings.max_tokens if settings.max_tokens is not None else max_tokens,
        )

    def _plan(self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings) -> SimTurn:
        request = SimRequest(messages, tools, settings)
        if self.record:
            # A snapshot: the caller goes on appending to its list.
            self.requests.append(SimRequest(tuple(messages), tools, settings))
        failure: str | SimFailure | None = failure_for(request.last_user)
        if failure is None and self._pending_failures:
            failure = self._pending_failures.popleft()
        if failure is not None:
            self._raise_failure(failure)
        turn = plan_turn(request, reply=self.reply, script=self.script, tools_mode=self.tools_mode)
        if self.thoughts and not turn.thoughts:
            turn = SimTurn(turn.text, turn.tool_calls, self.thoughts)
        return turn

    def _raise_failure(self, failure: str | SimFailure) -> None:
        p, m = self.provider, self.model_name
        retry_after: float | None = None
        if isinstance(failure, SimFailure):
            failure, retry_after = failure.kind, failure.retry_after
        if failure == "429":
            raise RateLimitError(
                "simulated 429 Too Many Requests",
                status=429,
                retry_after=0.0 if retry_after is None else retry_after,
                provider=p,
                model=m,
            )
        if failure == "500":
            raise ServerError(
                "simulated 500 Internal Server Error", status=500, retry_after=retry_after, provider=p, model=m
            )
        if failure == "401":
            raise AuthenticationError("simulated 401: invalid API key", status=401, provider=p, model=m)
        if failure == "400":
            raise BadRequestError("simulated 400: bad request", status=400, provider=p, model=m)
        if failure == "timeout":
            raise ProviderTimeoutError("simulated timeout: the model did not answer", provider=p, model=m)
        raise BadResponseError("simulated malformed response: not valid JSON", provider=p, model=m)

    def _raise_timeout(self) -> None:
        raise ProviderTimeoutError(
            f"simulated model did not answer within its timeout of {self.timeout:g} s; raise LLMConfig.timeout "
            "or lower ttft",
            provider=self.provider,
            model=self.model_name,
        )

    def _usage(self, messages: Sequence[Message], out_tokens: int) -> Usage:
        return Usage(_estimate_tokens(messages), out_tokens, 1)

    # -- Model interface --------------------------------------------------------------------------

    async def request(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings
    ) -> ModelResponse:
        """Answer in one piece, after the time streaming the same answer would take."""
        settings = self._settings(settings)
        turn = self._plan(messages, tools, settings)
        text, n_tokens, cut = _cut(turn.text, settings.max_tokens)
        finish = "length" if cut else ("tool_calls" if turn.tool_calls else "stop")
        delay = self.ttft + (n_tokens / self.tokens_per_s if self.tokens_per_s else 0.0)
        if self.timeout is not None and delay > self.timeout:
            await asyncio.sleep(self.timeout)
            self._raise_timeout()
        if delay > 0:
            await asyncio.sleep(delay)
        return ModelResponse(
            content=text,
            tool_calls=turn.tool_calls,
            usage=self._usage(messages, n_tokens + 8 * len(turn.tool_calls)),
            finish_reason=finish,
            thoughts=turn.thoughts,
            model=self.model_name,
        )

    def request_stream(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings
    ) -> ModelStream:
        """Stream the answer token by token, pacing them at `tokens_per_s` after `ttft`."""
        return _SimulatedStream(self, messages, tools, self._settings(settings))

    def describe(self) -> dict[str, Any]:
        """A description from which the same model can be rebuilt (functions must be importable)."""
        return {
            "provider": "simulated",
            "model": self.model_name,
            "options": {
                "reply": self.reply,
                "script": list(self.script),
                "ttft": self.ttft,
                "tokens_per_s": self.tokens_per_s,
                "tools_mode": self.tools_mode,
                "thoughts": self.thoughts,
            },
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }


class _SimulatedStream(ModelStream):
    # The answer's text is known up front, so what has been streamed is an offset into it (`_at`),
    # not a copy: a streamed 1 MB answer costs no more memory than the answer itself.
    __slots__ = ("_args", "_at", "_full", "_sim")

    def __init__(
        self, sim: SimulatedModel, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings
    ) -> None:
        super().__init__()
        self._sim = sim
        self._args = (messages, tools, settings)
        self._model_name = sim.model_name
        self._full = ""
        self._at = 0

    def _joined_text(self) -> str:
        # All of it is the answer itself, not a copy (a full slice of a str is the str).
        return self._full[: self._at]

    def _events(self) -> AsyncIterator[StreamEvent]:
        # Event by event, for callers that iterate the stream; the run loop reads `batches()`.
        return flatten_batches(self._produce())

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        # `_produce` records what it yields itself, so the base class's bookkeeping layer is skipped.
        return self._events()

    def batches(self) -> AsyncGenerator[list[BatchItem], None]:
        """Up to `TEXT_BLOCK` tokens per batch, or those due by now when paced (see `ModelStream.batches`)."""
        return self._produce()

    async def _produce(self) -> AsyncGenerator[list[BatchItem], None]:
        sim = self._sim
        messages, tools, settings = self._args
        turn = sim._plan(messages, tools, settings)  # pyright: ignore[reportPrivateUsage]
        start = time.perf_counter()
        ttft = sim.ttft
        if sim.timeout is not None and ttft > sim.timeout:
            await asyncio.sleep(sim.timeout)
            sim._raise_timeout()  # pyright: ignore[reportPrivateUsage]
        if ttft > 0:
            await asyncio.sleep(ttft)
        tps = sim.tokens_per_s
        if turn.thoughts:
            for block, _ in _token_blocks(turn.thoughts):
                self._thoughts.extend(block)
                yield [ThoughtDelta(tok) for tok in block]
        text = self._full = turn.text
        limit = settings.max_tokens
        emitted = 0
        for block, end in _token_blocks(text):
            if limit is not None and emitted + len(block) > limit:
                block = block[: limit - emitted]
                end = self._at + sum(len(t) for t in block)
                self._finish_reason = "length"
            if tps is None:
                emitted += len(block)
                self._at = end
                yield cast("list[BatchItem]", block)
            else:
                i = 0
                while i < len(block):
                    # Tokens are due at start + ttft + k / tps; sleep only when more than 1 ms ahead
                    # (a sleep per token would cost more than the token at high rates), then send
                    # every token due by now as one batch.
                    now = time.perf_counter()
                    ahead = start + ttft + emitted / tps - now
                    if ahead > 0.001:
                        await asyncio.sleep(ahead)
                        now = time.perf_counter()
                    due = max(1, int((now + 0.001 - start - ttft) * tps) + 1 - emitted)
                    part = block[i : i + due]
                    self._at += sum(len(t) for t in part)
                    i += due
                    emitted += len(part)
                    yield cast("list[BatchItem]", part)
            if self._finish_reason == "length":
                break
        tail: list[BatchItem] = []
        for index, tc in enumerate(turn.tool_calls):
            delta = ToolCallDelta(index, tc.id, tc.name, tc.arguments)
            self._add_call_delta(delta)
            tail.append(delta)
        usage = sim._usage(messages, emitted + 8 * len(turn.tool_calls))  # pyright: ignore[reportPrivateUsage]
        self._usage = usage
        tail.append(UsageEvent(usage))
        yield tail
