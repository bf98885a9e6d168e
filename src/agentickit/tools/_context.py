"""`RunContext`: what a tool (or a handler) knows about the run that calls it, the run's `deps` first.

```python
@ak.tool
async def lookup(ctx: ak.RunContext[Pool], user_id: int) -> str:
    async with ctx.deps.acquire() as conn:
        ...

await agent.run("who is 42?", deps=pool)
```

A tool asks for it by annotating its first parameter `RunContext[...]`; that parameter never
appears in the tool's schema. The run makes one context (`RunContext.for_run`); each call that
asks for it gets a copy naming the call (`for_call`), so the cost stays one small object per call
that wants it and nothing for the others (bench/run_context.py).
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from typing import Any, Generic

from typing_extensions import TypeVar

from ..messages import Usage

__all__ = ("EMPTY_CONTEXT", "DepsT", "RunContext", "takes_context")

DepsT = TypeVar("DepsT", default=Any)
"""The type of a run's `deps` (`Any` when a tool writes a bare `RunContext`)."""


class RunContext(Generic[DepsT]):
    """The run a tool call belongs to: its dependencies, ids, usage so far, the retry count.

    Attributes:
        deps: what the caller passed as `agent.run(..., deps=...)` (`None` when nothing was).
        run_id: the run's id (the same as `Result.run_id`).
        session_id: the run's session, or `None` for a stateless run.
        usage: tokens and requests of the run so far (live: it grows as the run goes on).
        agent_name: the name of the agent that runs.
        retry: how many times this call was retried so far by the tool's `retries` policy (0 first).
        tool_name: the tool being called (`""` outside a tool call, e.g. in a handler's `caps.ctx`).
        tool_call_id: the id of the call (`""` outside a tool call).

    """

    # A plain slotted class, not a dataclass: one is made per call of a tool that asks for it, and
    # positional construction keeps that under half a microsecond.
    __slots__ = ("agent_name", "deps", "retry", "run_id", "session_id", "tool_call_id", "tool_name", "usage")

    def __init__(
        self,
        deps: DepsT,
        run_id: str = "",
        session_id: str | None = None,
        usage: Usage | None = None,
        agent_name: str = "",
        retry: int = 0,
        tool_name: str = "",
        tool_call_id: str = "",
    ) -> None:
        self.deps = deps
        self.run_id = run_id
        self.session_id = session_id
        self.usage = usage if usage is not None else Usage()
        self.agent_name = agent_name
        self.retry = retry
        self.tool_name = tool_name
        self.tool_call_id = tool_call_id

    def for_call(self, tool_name: str, tool_call_id: str, retry: int) -> RunContext[DepsT]:
        """A copy of this run's context for one tool call."""
        return RunContext(
            self.deps, self.run_id, self.session_id, self.usage, self.agent_name, retry, tool_name, tool_call_id
        )

    def __repr__(self) -> str:
        # deps may hold secrets (a client with a key): its type only.
        return (
            f"RunContext(run_id={self.run_id!r}, agent_name={self.agent_name!r}, tool_name={self.tool_name!r}, "
            f"retry={self.retry}, deps={type(self.deps).__name__})"
        )


EMPTY_CONTEXT: RunContext[Any] = RunContext(None)
"""The context a tool gets when it is called outside a run (`tool.call(...)`, a bare `execute_tool_calls`)."""

# Patterns, compiled on first use (re's cache) rather than at import: `import agentickit` stays lean.
_ANNOTATION = r"^\s*(?:[A-Za-z_]\w*\.)*RunContext\b"


def takes_context(function: Callable[..., Any]) -> bool:
    """Whether `function`'s first parameter is annotated `RunContext` (bare or `RunContext[...]`)."""
    try:
        sig = inspect.signature(function)
    except (TypeError, ValueError):
        return False
    first = next(iter(sig.parameters.values()), None)
    if first is None or first.kind not in (first.POSITIONAL_ONLY, first.POSITIONAL_OR_KEYWORD):
        return False
    annotation = first.annotation
    if annotation is first.empty:
        return False
    if isinstance(annotation, str):
        # `from __future__ import annotations`: resolve it, or read the text when it names a type
        # defined inside a function (which get_type_hints cannot see).
        target = function if inspect.isfunction(function) or inspect.ismethod(function) else function.__call__
        try:
            annotation = typing.get_type_hints(target).get(first.name, annotation)
        except Exception:
            return bool(re.match(_ANNOTATION, annotation))
        if isinstance(annotation, str):
            return bool(re.match(_ANNOTATION, annotation))
    return annotation is RunContext or typing.get_origin(annotation) is RunContext
