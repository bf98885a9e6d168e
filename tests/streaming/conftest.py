"""A probe around the simulated model: counts the tokens it produced and sees its streams close."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest

import agentickit as ak
from agentickit.messages import Message, ModelResponse, ToolDefinition
from agentickit.options import ModelSettings
from agentickit.providers._base import Model, ModelStream, StreamEvent, TextDelta


class ProbeModel(Model):
    """A `SimulatedModel` whose streams report what they produced and when they were closed."""

    def __init__(self, **sim: Any) -> None:
        self.sim = ak.SimulatedModel(**sim)
        self.model_name = "probe"
        self.provider = "simulated"
        self.max_retries = self.sim.max_retries
        self.produced = 0
        """Text tokens the model has produced so far (over all its streams)."""
        self.opened = 0
        self.closed = 0
        self._closed_event: asyncio.Event | None = None

    @property
    def closed_event(self) -> asyncio.Event:
        if self._closed_event is None:
            self._closed_event = asyncio.Event()
        return self._closed_event

    async def request(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings
    ) -> ModelResponse:
        return await self.sim.request(messages, tools, settings)

    def request_stream(
        self, messages: Sequence[Message], tools: Sequence[ToolDefinition], settings: ModelSettings
    ) -> ModelStream:
        self.opened += 1
        return _ProbeStream(self, self.sim.request_stream(messages, tools, settings))

    def _saw_close(self) -> None:
        self.closed += 1
        self.closed_event.set()


class _ProbeStream(ModelStream):
    __slots__ = ("_closed", "_inner", "_probe")

    def __init__(self, probe: ProbeModel, inner: ModelStream) -> None:
        super().__init__()
        self._probe = probe
        self._inner = inner
        self._closed = False

    async def _events(self) -> AsyncIterator[StreamEvent]:
        probe = self._probe
        async for event in self._inner:
            if isinstance(event, TextDelta):
                probe.produced += 1
            yield event

    async def aclose(self) -> None:
        await self._inner.aclose()
        if not self._closed:
            self._closed = True
            self._probe._saw_close()


@pytest.fixture
def probe() -> Callable[..., ProbeModel]:
    """`probe(**SimulatedModel kwargs)` -> a `ProbeModel`."""
    return ProbeModel


async def _only_task_left() -> None:
    me = asyncio.current_task()
    # Finishing tasks may start others (an async generator's finaliser), so look again until none are left.
    while others := {t for t in asyncio.all_tasks() if t is not me}:
        await asyncio.wait(others)


@pytest.fixture
def only_task_left() -> Callable[[], Awaitable[None]]:
    """`await only_task_left()`: returns once the current task is the only one on the loop (bound it)."""
    return _only_task_left
