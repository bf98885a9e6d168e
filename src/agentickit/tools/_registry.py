"""`ToolRegistry`: tools by name, with lazy loaders that run once on first use, even under concurrency.

This is the seed guide's lazy-loading pattern done right: the guide's Go version takes the write
lock and calls the loader again on every miss; here a loader runs in one task owned by the
registry, every concurrent caller awaits that same task, and a failed load can be retried.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from .._threads import run_in_worker
from ..errors import ToolError, UserError
from ._source import ToolSource
from ._tool import Tool

__all__ = ("ToolFactory", "ToolRegistry")

ToolFactory = Callable[[], "Tool | Callable[..., Any] | Awaitable[Tool | Callable[..., Any]]"]
"""Makes a tool: a sync or async function returning a `Tool` (or a plain function to wrap)."""


class ToolRegistry(ToolSource):
    """Tools by name; lazily loaded ones are built on first use, once.

    Pass a registry in an agent's `tools=[...]`: the agent loads every tool on its first run (so
    the model can see their schemas). Use `await registry.get(name)` to load just one.

    Example:
        ```python
        registry = ak.ToolRegistry()
        registry.register(weather)
        registry.register_lazy("search", lambda: build_search_tool(index_path))
        agent = ak.Agent("a", tools=[registry])
        ```

    """

    __slots__ = ("_deferred", "_factories", "_loading", "_tools")

    def __init__(self, tools: Sequence[Tool | Callable[..., Any]] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        self._factories: dict[str, ToolFactory] = {}
        self._loading: dict[str, asyncio.Task[Tool]] = {}
        self._deferred: dict[str, Tool] = {}
        """Lazy tools registered with their schema: what the model sees until (and after) they are built."""
        for t in tools:
            self.register(t)

    def register(self, tool: Tool | Callable[..., Any]) -> Tool:
        """Add a ready tool (or a plain function, wrapped with default settings).

        Raises:
            UserError: a tool with that name is already registered.

        """
        t = tool if isinstance(tool, Tool) else Tool(tool)
        self._check_free(t.name)
        self._tools[t.name] = t
        return t

    def register_lazy(
        self,
        name: str,
        factory: ToolFactory,
        *,
        parameters: dict[str, Any] | None = None,
        description: str = "",
        **policies: Any,
    ) -> None:
        """Add a tool that `factory` builds on first use (sync factories run in a worker thread).

        Without `parameters` the factory runs when an agent first lists the registry's tools (the
        model needs the schema). With `parameters` (the tool's JSON schema) and a `description`,
        the model sees the tool at once and the factory runs only when the model first calls it:
        a factory that raises gives that call an error result naming the tool and the cause, the
        next call tries again, and the other tools and runs are unaffected. `policies` (`timeout`,
        `retries`, `cache_ttl`, `rate_limit`, `max_concurrency`, ... as for `Tool`) then apply to
        the calls.

        Raises:
            UserError: the name is taken, `factory` is not callable, or `policies` without `parameters`.

        """
        if not callable(factory):
            raise UserError(f"register_lazy({name!r}, ...) needs a callable factory, got {factory!r}")
        self._check_free(name)
        if parameters is None:
            if policies or description:
                raise UserError(
                    f"register_lazy({name!r}, ...): description and policies need parameters= (the tool's schema); "
                    "without it the built tool's own settings apply"
                )
            self._factories[name] = factory
            return
        self._factories[name] = factory

        async def build_then_call(**arguments: Any) -> Any:
            # The real tool validates the arguments against its own schema and runs.
            return await (await self.get(name)).call(arguments)

        self._deferred[name] = Tool(
            build_then_call, name=name, description=description, parameters=parameters, **policies
        )

    def _check_free(self, name: str) -> None:
        if name in self._tools or name in self._factories:
            raise UserError(f"the registry already has a tool named {name!r}")

    @property
    def names(self) -> list[str]:
        """Every registered name, loaded or not."""
        return [*self._tools, *(n for n in self._factories if n not in self._tools)]

    def is_loaded(self, name: str) -> bool:
        """Whether `name` is built already (lazy tools are not until first use)."""
        return name in self._tools

    async def get(self, name: str) -> Tool:
        """The tool called `name`, building it now if it is lazy and not built yet.

        Raises:
            ToolError: no such tool, or its factory failed (the next call tries again).

        """
        tool = self._tools.get(name)
        if tool is not None:
            return tool
        task = self._loading.get(name)
        if task is None:
            factory = self._factories.get(name)
            if factory is None:
                known = ", ".join(sorted(self.names)) or "none"
                raise ToolError(f"no tool named {name!r} in the registry; registered: {known}", tool_name=name)
            # The registry owns the load, so a caller being cancelled does not cancel it for the
            # others waiting on the same task.
            task = self._loading[name] = asyncio.get_running_loop().create_task(self._load(name, factory))
        return await asyncio.shield(task)

    async def _load(self, name: str, factory: ToolFactory) -> Tool:
        try:
            if inspect.iscoroutinefunction(factory):
                made: Any = await factory()
            else:
                made = await run_in_worker(factory, {})
                if inspect.isawaitable(made):
                    made = await made
            tool = made if isinstance(made, Tool) else Tool(made, name=name)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise ToolError(
                f"the factory of lazy tool {name!r} failed: {type(exc).__name__}: {exc}", tool_name=name
            ) from exc
        finally:
            self._loading.pop(name, None)
        if tool.name != name:
            raise ToolError(
                f"the factory of lazy tool {name!r} returned a tool named {tool.name!r}; the names must match",
                tool_name=name,
            )
        self._tools[name] = tool
        return tool

    async def list_tools(self) -> Sequence[Tool]:
        """Every tool, loading the lazy ones without a schema (concurrently) on first call.

        Lazy tools registered with `parameters` are offered without being built.
        """
        pending = [n for n in self._factories if n not in self._tools and n not in self._deferred]
        if pending:
            try:
                async with asyncio.TaskGroup() as tg:
                    for name in pending:
                        tg.create_task(self.get(name))
            except ExceptionGroup as group:
                raise group.exceptions[0] from group  # the ToolError naming the failed factory
        return [self._deferred.get(n) or self._tools[n] for n in self.names]

    async def aclose(self) -> None:
        """Cancel loads still running (built tools stay)."""
        tasks = list(self._loading.values())
        for t in tasks:
            t.cancel()
        if tasks:
            # return_exceptions: we cancelled them, so their outcome no longer matters.
            await asyncio.gather(*tasks, return_exceptions=True)

    def __repr__(self) -> str:
        return f"ToolRegistry({len(self._tools)} loaded, {len(self._factories)} lazy)"
