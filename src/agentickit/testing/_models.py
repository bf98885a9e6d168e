"""Fake models for users' own tests: `FunctionModel` (a function plays the model) and `ScriptedModel`."""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from ..messages import Message, ModelResponse, ToolDefinition, Usage
from ..options import ModelSettings
from ..providers._base import (
    BatchItem,
    Model,
    ModelStream,
    StreamEvent,
    ThoughtDelta,
    ToolCallDelta,
    UsageEvent,
    flatten_batches,
)
from ..providers.simulated import SimRequest, SimTurn, SimulatedModel, _token_blocks  # pyright: ignore[reportPrivateUsage]

__all__ = ("FunctionModel", "ModelFunction", "ScriptedModel")

ModelFunction = Callable[[SimRequest], "str | SimTurn | ModelResponse | Awaitable[str | SimTurn | ModelResponse]"]


def _as_response(out: str | SimTurn | ModelResponse, name: str) -> ModelResponse:
    if isinstance(out, ModelResponse):
        return out
    turn = SimTurn(text=out) if isinstance(out, str) else out
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

    The function receives a `SimRequest` (messages, tools, settings) and returns text, a `SimTurn`
    (for tool calls, see `agentickit.providers.call`) or a `ModelResponse`; it may be async.
    Streaming splits the text into word tokens.

    Example:
        ```python
        model = FunctionModel(lambda req: "42" if "answer" in req.last_user else "?")
        agent = ak.Agent("t", model)
        ```
    """

    function: ModelFunction
    model_name: str = "function"
    provider: str = "function"
    max_retries: int = 0

    async def request(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings
    ) -> ModelResponse:
        """Call the function and return its answer."""
        out: Any = self.function(SimRequest(messages, tools, settings))
        if inspect.isawaitable(out):
            out = await out
        return _as_response(out, self.model_name)

    def request_stream(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings
    ) -> ModelStream:
        """Call the function and stream its answer word by word."""
        return _FunctionStream(self, messages, tools, settings)


class _FunctionStream(ModelStream):
    # As the simulated model's stream: the streamed text is an offset into the known answer.
    __slots__ = ("_args", "_at", "_full", "_model")

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
        self._full = ""
        self._at = 0

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
        response = await self._model.request(*self._args)
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
    """

    def __init__(self, script: Sequence[str | SimTurn], **kwargs: Any) -> None:
        kwargs.setdefault("tools_mode", "never")
        kwargs.setdefault("model_name", "scripted")
        super().__init__(script=tuple(script), **kwargs)
