"""Fake models for users' own tests: `FunctionModel` (a function plays the model) and `ScriptedModel`."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import orjson

from ..errors import UserError
from ..messages import Message, ModelResponse, ToolCall, ToolDefinition, Usage
from ..options import ModelSettings
from ..providers._base import (
    BatchItem,
    Model,
    ModelStream,
    StreamEvent,
    TextDelta,
    ThoughtDelta,
    ToolCallDelta,
    UsageEvent,
    flatten_batches,
)
from ..providers.simulated import SimRequest, SimTurn, SimulatedModel, _token_blocks  # pyright: ignore[reportPrivateUsage]

__all__ = ("FunctionModel", "ModelFunction", "ScriptedModel", "StreamFunction")

ModelFunction = Callable[[SimRequest], Any]
"""`fn(request)` (sync or async) returning text, a `SimTurn`, a `ModelResponse`, or an object (a pydantic
model, dataclass, dict, list...) that is sent as the structured answer."""

StreamFunction = Callable[[SimRequest], AsyncIterator["str | ToolCallDelta | ThoughtDelta"]]
"""An async generator of a `SimRequest` yielding answer text (`str`), `ToolCallDelta`s and `ThoughtDelta`s."""


def _object_turn(out: Any, request: SimRequest) -> SimTurn:
    """An object the function returned (a model, dataclass, dict, list, number) as the structured answer.

    It becomes the final-answer tool's arguments when that tool is offered, else the answer's JSON text.
    """
    dump = getattr(out, "model_dump", None)
    data: Any = dump(mode="json") if callable(dump) else out
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        fields: Any = dataclasses.asdict(data)
        data = fields
    final = next((t for t in request.tools if t.name.startswith("final_")), None)
    if final is not None:
        props = final.parameters.get("properties", {})
        if not isinstance(data, dict) or set(props) == {"response"}:
            data = {"response": cast(Any, data)}  # the schema of a non-object output is wrapped (see ak.output)
        return SimTurn(tool_calls=(ToolCall(f"call_{final.name}_1", final.name, orjson.dumps(data).decode()),))
    return SimTurn(text=orjson.dumps(data).decode())


def _as_response(out: Any, name: str, request: SimRequest | None = None) -> ModelResponse:
    if isinstance(out, ModelResponse):
        return out
    if not isinstance(out, str | SimTurn) and request is not None:
        out = _object_turn(out, request)
    turn = SimTurn(text=out) if isinstance(out, str) else cast(SimTurn, out)
    return ModelResponse(
        content=turn.text,
        tool_calls=turn.tool_calls,
        usage=Usage(0, sum(len(block) for block, _ in _token_blocks(turn.text)), 1),
        finish_reason="tool_calls" if turn.tool_calls else "stop",
        thoughts=turn.thoughts,
        model=name,
    )


@dataclass(slots=True)
class FunctionModel(Model):
    """A model whose answers come from your function.

    `function` receives a `SimRequest` (messages, tools, settings) and returns text, a `SimTurn`
    (for tool calls, see `agentickit.testing.call`) or a `ModelResponse`; it may be async.
    Streaming then splits the text into word tokens.

    `stream_function` is an async generator of a `SimRequest` that yields the stream itself: text
    deltas (`str`), `ToolCallDelta`s (a call's name and arguments may come in pieces, joined by
    `index`) and `ThoughtDelta`s, each at the moment you choose. Use it to test backpressure,
    cancellation and partial streams with your own fake. Give either or both: with only one, the
    other kind of request is served from it (`run()` collects a `stream_function`'s deltas).

    Example:
        ```python
        model = FunctionModel(lambda req: "42" if "answer" in req.last_user else "?")

        async def slow(req):
            for word in ["one ", "two"]:
                await asyncio.sleep(0.1)
                yield word

        agent = ak.Agent("t", FunctionModel(stream_function=slow))
        ```

    Raises:
        UserError: neither function is given, or one is of the wrong kind.

    """

    supports_native_output = True  # the function sees `settings.response_format`

    function: ModelFunction | None = None
    model_name: str = "function"
    provider: str = "function"
    max_retries: int = 0
    stream_function: StreamFunction | None = None

    def __post_init__(self) -> None:
        if self.function is None and self.stream_function is None:
            raise UserError("FunctionModel needs function= (returns the answer) or stream_function= (yields it)")
        if self.function is not None and not callable(self.function):
            raise UserError(f"FunctionModel(function=...) must be callable, got {type(self.function).__name__}")
        if self.stream_function is not None and not inspect.isasyncgenfunction(self.stream_function):
            raise UserError(
                "FunctionModel(stream_function=...) must be an async generator function (`async def f(req): yield ...`), "
                f"got {getattr(self.stream_function, '__name__', type(self.stream_function).__name__)!r}"
            )

    async def request(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings
    ) -> ModelResponse:
        """Call the function and return its answer (or collect what `stream_function` yields)."""
        if self.function is None:
            stream = _DeltaStream(self, messages, tools, settings)
            async with stream:
                async for _ in stream:
                    pass
            return stream.response()
        request = SimRequest(messages, tools, settings)
        out: Any = self.function(request)
        if inspect.isawaitable(out):
            out = await out
        return _as_response(out, self.model_name, request)

    def request_stream(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings
    ) -> ModelStream:
        """Stream what `stream_function` yields, or the function's answer word by word."""
        if self.stream_function is not None:
            return _DeltaStream(self, messages, tools, settings)
        return _FunctionStream(self, messages, tools, settings)


class _ModelFnStream(ModelStream):
    """A stream of one request to a `FunctionModel`: the model and the request's arguments."""

    __slots__ = ("_args", "_at", "_full", "_gen", "_model")

    def __init__(
        self,
        model: FunctionModel,
        messages: Sequence[Message],
        tools: Sequence[ToolDefinition],
        settings: ModelSettings,
    ) -> None:
        super().__init__()
        self._model = model
        self._args = (messages, tools, settings)
        self._model_name = model.model_name
        self._gen: AsyncIterator[Any] | None = None
        """The user's generator, while it runs (`_DeltaStream`)."""
        self._full = ""
        """The whole answer, once known (`_FunctionStream`)."""
        self._at = 0


class _DeltaStream(_ModelFnStream):
    """The events a user's `stream_function` yields, one by one, as it yields them."""

    __slots__ = ()

    async def _events(self) -> AsyncIterator[StreamEvent]:
        fn = self._model.stream_function
        assert fn is not None
        gen: AsyncIterator[Any] = fn(SimRequest(*self._args))
        self._gen = gen
        tokens = 0
        async for item in gen:
            if isinstance(item, str):
                tokens += 1
                yield TextDelta(item)
            elif isinstance(item, ToolCallDelta | ThoughtDelta):
                yield item
            else:
                raise UserError(
                    f"FunctionModel stream_function yielded a {type(item).__name__}; yield str (answer text), "
                    "ToolCallDelta(index, id, name, arguments) or ThoughtDelta(text)"
                )
        yield UsageEvent(Usage(0, tokens, 1))

    async def aclose(self) -> None:
        """Close the user's generator (its `finally` blocks run), as a provider closes its request."""
        gen, self._gen = self._gen, None
        aclose = getattr(gen, "aclose", None)
        if aclose is not None:
            await aclose()


class _FunctionStream(_ModelFnStream):
    # As the simulated model's stream: the streamed text is an offset into the known answer.
    __slots__ = ()

    def _joined_text(self) -> str:
        return self._full[: self._at]

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        # `_produce` records what it yields itself, so the base class's bookkeeping layer is skipped.
        return self._events()

    def _events(self) -> AsyncIterator[StreamEvent]:
        return flatten_batches(self._produce())

    def batches(self) -> AsyncGenerator[list[BatchItem], None]:
        """The answer in blocks of up to `TEXT_BLOCK` tokens, tokenized as they go out."""
        return self._produce()

    async def _produce(self) -> AsyncGenerator[list[BatchItem], None]:
        model = self._model
        fn = model.function
        assert fn is not None
        request = SimRequest(*self._args)
        out: Any = fn(request)
        if inspect.isawaitable(out):
            out = await out
        response = _as_response(out, model.model_name, request)
        for block, _ in _token_blocks(response.thoughts):
            self._thoughts.extend(block)
            yield [ThoughtDelta(tok) for tok in block]
        text = self._full = response.content
        for block, end in _token_blocks(text):
            self._at = end
            yield cast("list[BatchItem]", block)
        tail: list[BatchItem] = []
        for i, call in enumerate(response.tool_calls):
            delta = ToolCallDelta(i, call.id, call.name, call.arguments)
            self._add_call_delta(delta)
            tail.append(delta)
        event = UsageEvent(response.usage)
        self._record(event)
        tail.append(event)
        yield tail


class ScriptedModel(SimulatedModel):
    """A simulated model that plays a script: `ScriptedModel(["call 1", call("tool", x=1), "final"])`.

    Each entry answers one round of the conversation (rounds count assistant turns since the last
    user message), so concurrent runs each see the script from the start. After the script ends,
    it echoes the user's message.

    Raises:
        UserError: an entry is neither text nor a `SimTurn` (the message names the entry).

    """

    def __init__(self, script: Sequence[str | SimTurn], **kwargs: Any) -> None:
        if isinstance(script, str | SimTurn):
            raise UserError("ScriptedModel takes a list of entries, e.g. ScriptedModel(['hello']), not one entry")
        entries = tuple(script)
        for i, entry in enumerate(entries):
            if not isinstance(entry, str | SimTurn):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise UserError(
                    f"ScriptedModel script[{i}] is a {type(entry).__name__} ({entry!r:.60}); each entry is a str "
                    "(the reply) or a SimTurn: call('tool', **args) or SimTurn(text=..., tool_calls=...)"
                )
        kwargs.setdefault("tools_mode", "never")
        kwargs.setdefault("model_name", "scripted")
        super().__init__(script=entries, **kwargs)
