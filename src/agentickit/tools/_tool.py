"""`Tool` and the `@tool` decorator: a Python function the model can call.

The JSON schema comes from the type hints and the Google-style docstring; arguments the model
sends are validated with pydantic before the function runs. Sync functions run in a worker thread,
so a slow sync tool never blocks the event loop. The schema and validator are built on first use,
not at decoration time, so defining tools costs nothing at import.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, overload

import orjson

from .._threads import WorkerGate, run_in_worker
from .._utils import is_seconds
from ..errors import ToolArgumentsError, UserError
from ..messages import ToolDefinition
from ._context import EMPTY_CONTEXT, RunContext, takes_context
from ._output import ToolOutput
from ._policies import RateLimit, parse_rate_limit

if TYPE_CHECKING:
    import asyncio

    from pydantic import BaseModel, ValidationError

__all__ = ("POLICY_KEYS", "Tool", "ToolFunc", "check_policies", "tool")

ToolFunc = Callable[..., Any]

_S = TypeVar("_S")

# Patterns, compiled on first use (re's cache) rather than at import: `import agentickit` stays lean.
_ARGS_HEADER = r"^\s*(Args|Arguments|Parameters)\s*:\s*$"
_ARG_LINE = r"^\s+(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$"
_SECTION = r"^\s*[A-Z][A-Za-z ]*:\s*$"


def _parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into the description and per-argument descriptions."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    args_header, section, arg_line = re.compile(_ARGS_HEADER), re.compile(_SECTION), re.compile(_ARG_LINE)
    description: list[str] = []
    args: dict[str, str] = {}
    i = 0
    while i < len(lines) and not args_header.match(lines[i]):
        if section.match(lines[i]):
            break
        description.append(lines[i])
        i += 1
    if i < len(lines) and args_header.match(lines[i]):
        i += 1
        current: str | None = None
        while i < len(lines):
            line = lines[i]
            if line.strip() and not line.startswith((" ", "\t")):
                break
            m = arg_line.match(line)
            if m and (line.startswith("    ") and not line.startswith("        ")):
                key = m.group(1).lstrip("*")
                args[key] = m.group(2).strip()
                current = key
            elif current and line.strip():
                args[current] += " " + line.strip()
            i += 1
    return " ".join(" ".join(description).split()), args


class Tool:
    """A function the model can call.

    Build one with `@ak.tool` or `Tool(func, ...)`. Policies (`timeout`, `retries`, `cache_ttl`,
    `rate_limit`, `max_concurrency`) are applied by the agent's tool executor.

    Args:
        function: a sync or async function; its parameters become the tool's arguments.
        name: defaults to the function's name.
        description: defaults to the docstring's summary.
        timeout: seconds a call may take; `None` uses the agent's `tool_timeout`. A call past it is
            cancelled (a sync function's thread runs on, but nothing waits for it) and the model gets
            an error naming the tool and the limit.
        retries: extra attempts after an exception the tool marks retryable.
        retry_backoff: seconds before the first retry; doubles each time.
        retry_on: the exception types worth retrying (default: any `Exception`); add `TimeoutError`
            to retry attempts that ran past `timeout`.
        cache_ttl: seconds to reuse a result for the same arguments; `None` disables caching.
            Identical calls in flight at the same time share one execution.
        cache_scope: `scope(ctx) -> str`, given the run's `ak.RunContext`, becomes part of the cache
            key (e.g. `lambda ctx: ctx.deps.tenant`), so runs with different deps do not share
            results. Without it the run's deps are not part of the key.
        rate_limit: a token bucket, e.g. `"10/s"`, `"100/m"`, `"5/10s"`, or a `RateLimit`; calls
            wait (without polling) for their slot.
        max_concurrency: at most this many calls of this tool run at once (shared by every agent
            using it).
        parameters: a hand-written JSON schema; skips the one derived from type hints (arguments are
            then only checked to be an object with the required keys).
        side_effect: the call changes the world (sends, pays, writes). In a durable run a call that
            started but was never recorded finished before a crash is not run again blindly: the
            resumed run pauses with an `uncertain` request, unless the tool has an `idempotency_key`.
        idempotency_key: `key(args) -> str`; implies `side_effect`. A resumed call runs again with the
            same key in `ak.current_tool_call().idempotency_key`, so the tool can skip a repeated effect.
        requires_approval: `True`, or `predicate(args) -> bool`: the run pauses before the call until a
            person answers (`resume(run_id, approvals={id: True | False | ak.Edit(args=...)})`).

    Raises:
        UserError: a setting is out of range, or `rate_limit` cannot be parsed.

    """

    __slots__ = (
        "__weakref__",
        "_adapter",
        "_ctx",
        "_definition",
        "_gate",
        "_param_docs",
        "_rate_limit",
        "_raw_schema",
        "_state",
        "cache_scope",
        "cache_ttl",
        "description",
        "function",
        "idempotency_key",
        "is_async",
        "max_concurrency",
        "name",
        "rate_limit",
        "requires_approval",
        "retries",
        "retry_backoff",
        "retry_on",
        "side_effect",
        "timeout",
    )

    def __init__(
        self,
        function: ToolFunc,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        retries: int = 0,
        retry_backoff: float = 0.1,
        retry_on: tuple[type[BaseException], ...] = (Exception,),
        cache_ttl: float | None = None,
        rate_limit: str | RateLimit | None = None,
        max_concurrency: int | None = None,
        parameters: dict[str, Any] | None = None,
        cache_scope: Callable[[RunContext[Any]], str] | None = None,
        side_effect: bool = False,
        idempotency_key: Callable[[dict[str, Any]], str] | None = None,
        requires_approval: bool | Callable[[dict[str, Any]], bool] = False,
    ) -> None:
        if not callable(function):
            raise UserError(f"a tool needs a function, got {function!r}")
        if timeout is not None and not is_seconds(timeout):
            raise UserError(f"tool timeout must be > 0 seconds (a number, not NaN), got {timeout!r}")
        if retries < 0:
            raise UserError(f"tool retries must be >= 0, got {retries}")
        if not is_seconds(retry_backoff, zero=True):
            raise UserError(f"tool retry_backoff must be >= 0 seconds, got {retry_backoff}")
        if cache_ttl is not None and not is_seconds(cache_ttl):
            raise UserError(f"tool cache_ttl must be > 0 seconds (or None for no caching), got {cache_ttl}")
        if max_concurrency is not None and max_concurrency < 1:
            raise UserError(f"tool max_concurrency must be >= 1 (or None for no cap), got {max_concurrency}")
        if cache_scope is not None and (not callable(cache_scope) or cache_ttl is None):
            raise UserError("tool cache_scope must be a function `scope(ctx) -> str`, and needs cache_ttl set")
        if idempotency_key is not None and not callable(idempotency_key):
            raise UserError(f"tool idempotency_key must be a function of the arguments, got {idempotency_key!r}")
        if not isinstance(requires_approval, bool) and not callable(requires_approval):
            raise UserError(f"tool requires_approval must be True/False or predicate(args), got {requires_approval!r}")
        self.side_effect = bool(side_effect) or idempotency_key is not None
        self.idempotency_key = idempotency_key
        self.requires_approval = requires_approval
        # Parsed here so a bad "10/x" fails when the tool is defined, not on its first call.
        self._rate_limit = parse_rate_limit(rate_limit) if rate_limit is not None else None
        # Per-loop runtime state of the policies (token bucket, semaphore), created on first call.
        self._state: Any = None
        self._gate: WorkerGate | None = None
        self._raw_schema = parameters is not None
        self.function = function
        self.name = name or getattr(function, "__name__", "tool")
        doc_description, self._param_docs = _parse_docstring(getattr(function, "__doc__", None))
        self.description = description if description is not None else doc_description
        self.is_async = inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
            getattr(function, "__call__", None)  # noqa: B004 - callable objects with async __call__
        )
        self.timeout = timeout
        self.retries = retries
        self.retry_backoff = retry_backoff
        self.retry_on = retry_on
        self.cache_ttl = cache_ttl
        self.cache_scope = cache_scope
        self.rate_limit = rate_limit
        self.max_concurrency = max_concurrency
        self._adapter: type[BaseModel] | None = None
        self._ctx: bool | None = None  # whether the first parameter is a RunContext; read on first use
        self._definition: ToolDefinition | None = (
            ToolDefinition(self.name, self.description, parameters) if parameters is not None else None
        )

    # -- what the policy chain reads (tools/_chain.py) ----------------------------------------------

    @property
    def parsed_rate_limit(self) -> RateLimit | None:
        """`rate_limit` parsed (when the tool was defined), or `None` without a limit."""
        return self._rate_limit

    def shared_state(self, factory: Callable[[Tool], _S]) -> _S:
        """The tool's policy state (token bucket, semaphore), shared by every agent that uses it.

        Made by `factory(self)` on first use; not pickled (a copy starts with fresh state).
        """
        state = self._state
        if state is None:
            state = self._state = factory(self)
        return state

    @property
    def takes_ctx(self) -> bool:
        """Whether the function's first parameter is an `ak.RunContext` (it then gets the run's context)."""
        ctx = self._ctx
        if ctx is None:
            ctx = self._ctx = takes_context(self.function)
        return ctx

    # -- schema and validation (built lazily) ----------------------------------------------------

    def _model(self) -> type[BaseModel]:
        if self._adapter is None:
            self._adapter = _arguments_model(self.function, self.name, self._param_docs, self.takes_ctx)
        return self._adapter

    @property
    def definition(self) -> ToolDefinition:
        """Name, description and JSON schema, as sent to the model."""
        if self._definition is None:
            schema = self._model().model_json_schema()
            schema.pop("title", None)
            for prop in schema.get("properties", {}).values():
                prop.pop("title", None)
            schema.setdefault("properties", {})
            self._definition = ToolDefinition(self.name, self.description, schema)
        return self._definition

    def validate(self, arguments: str | dict[str, Any]) -> dict[str, Any]:
        """Parse and validate the model's arguments.

        Raises:
            ToolArgumentsError: the arguments are not valid JSON or fail validation; the message
                lists each problem so the model can correct itself.

        """
        if self._raw_schema:
            return _validate_raw(self.name, self._definition.parameters if self._definition else {}, arguments)
        model = self._adapter
        if model is None:
            model = self._model()  # also imports pydantic and sets _ValidationError
        try:
            if isinstance(arguments, str):
                # The validator itself, not `model_validate_json` (a Python wrapper passing five keywords).
                parsed = model.__pydantic_validator__.validate_json(arguments or "{}")
            else:
                parsed = model.model_validate(arguments)
        except _ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()
            )
            raise ToolArgumentsError(
                f"invalid arguments for tool {self.name!r}: {problems}", tool_name=self.name
            ) from exc
        # The model forbids extra keys, so its __dict__ holds exactly the declared fields.
        return dict(parsed.__dict__)

    def with_defaults(
        self, *, retries: int | None = None, rate_limit: str | RateLimit | None = None, cache_ttl: float | None = None
    ) -> Tool:
        """A copy of this tool with these policies applied where the tool declares none of its own.

        What the tool sets itself wins (`retries` other than 0, a `rate_limit`, a `cache_ttl`);
        everything else (timeout, retry_on, retry_backoff, max_concurrency, a hand-written schema)
        is kept as it is. This is how a config file's `[tools]` defaults reach `@ak.tool` objects.

        Raises:
            UserError: a default is out of range.

        """
        changes: dict[str, Any] = {}
        if retries is not None and self.retries == 0:
            if retries < 0:
                raise UserError(f"tool retries must be >= 0, got {retries}")
            changes["retries"] = retries
        if rate_limit is not None and self.rate_limit is None:
            changes["rate_limit"] = rate_limit
            changes["_rate_limit"] = parse_rate_limit(rate_limit)
        if cache_ttl is not None and self.cache_ttl is None:
            if cache_ttl <= 0:
                raise UserError(f"tool cache_ttl must be > 0 seconds, got {cache_ttl}")
            changes["cache_ttl"] = cache_ttl
        if not changes:
            return self
        copy = Tool.__new__(Tool)
        for slot in self.__slots__:
            if slot != "__weakref__":
                setattr(copy, slot, getattr(self, slot))
        copy._state = None  # its own token bucket and semaphore state
        for key, value in changes.items():
            setattr(copy, key, value)
        return copy

    # -- calling ------------------------------------------------------------------------------------

    async def call(self, arguments: str | dict[str, Any]) -> Any:
        """Validate `arguments` and run the function (sync functions in a worker thread)."""
        kwargs = self.validate(arguments)
        return await self.invoke(kwargs)

    def invoke(self, kwargs: dict[str, Any]) -> Awaitable[Any]:
        """Run the function with already validated arguments (outside a run: an empty `RunContext`)."""
        # A slot read, not the property: this is every tool call's path (the chain calls it).
        takes = self._ctx
        if takes is None:
            takes = self.takes_ctx
        if takes:
            return self.invoke_ctx(EMPTY_CONTEXT, kwargs)
        if self.is_async:
            return self.function(**kwargs)
        # Not asyncio.to_thread: a sync tool stuck past its timeout would keep asyncio.run() (and
        # so run_sync) waiting for the default executor; see _threads.py.
        gate = self._gate
        if gate is None:
            gate = self._gate = WorkerGate(self.name)
        return run_in_worker(self.function, kwargs, gate)

    def _in_worker(
        self,
        kwargs: dict[str, Any],
        ctx: RunContext[Any] | None,
        timeout: float | None,
        expired: Callable[[], BaseException] | None,
    ) -> asyncio.Future[Any]:
        """A sync function's call in a worker thread, its timeout kept by the worker future (the chain's path)."""
        gate = self._gate
        if gate is None:
            gate = self._gate = WorkerGate(self.name)
        fn = self.function if ctx is None else functools.partial(self.function, ctx)
        return run_in_worker(fn, kwargs, gate, timeout, expired)

    @property
    def hung_calls(self) -> int:
        """Calls of this (sync) tool still running in a worker thread after their caller gave up (timed out)."""
        gate = self._gate
        return gate.hung if gate is not None else 0

    def invoke_ctx(self, ctx: RunContext[Any], kwargs: dict[str, Any]) -> Awaitable[Any]:
        """Run a function that takes a `RunContext` first with that context and validated arguments."""
        if self.is_async:
            return self.function(ctx, **kwargs)
        return run_in_worker(functools.partial(self.function, ctx), kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the wrapped function directly, as if it were not a tool."""
        return self.function(*args, **kwargs)

    def __reduce__(self) -> tuple[Any, ...]:
        # `@tool` replaces the module attribute with this Tool, so pickle cannot find the bare
        # function by name; a decorated tool is pickled as a reference to itself instead.
        module = getattr(self.function, "__module__", None)
        qualname = getattr(self.function, "__qualname__", None)
        if module and qualname and "<" not in qualname and _lookup(module, qualname) is self:
            return (_lookup, (module, qualname))
        state = {s: getattr(self, s) for s in self.__slots__ if s not in ("__weakref__", "_adapter", "_gate", "_state")}
        return (_rebuild, (state,))

    def __repr__(self) -> str:
        return f"Tool({self.name!r})"


POLICY_KEYS = ("timeout", "retries", "retry_backoff", "retry_on", "cache_ttl", "rate_limit", "max_concurrency")
"""The policies a `Tool` takes (what `check_policies` accepts)."""


def _no_op() -> None:
    """Stands in for a function while policies are checked."""


def check_policies(where: str, policies: Any, *, timeout: bool = False) -> dict[str, Any]:
    """Validate tool policies given for tools built elsewhere (an MCP server's), as `Tool` would.

    Returns the policies as a dict. `where` starts every error message.

    Raises:
        UserError: not a mapping, an unknown key (the message lists the valid ones), or a value
            `Tool` rejects.

    """
    if not isinstance(policies, dict | Mapping):
        raise UserError(f"{where}: policies must be a mapping such as {{'cache_ttl': 60}}, got {policies!r}")
    items: dict[str, Any] = dict(policies)  # pyright: ignore[reportUnknownArgumentType]
    valid = POLICY_KEYS if timeout else POLICY_KEYS[1:]
    unknown = sorted(k for k in items if k not in valid)
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], valid, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UserError(f"{where}: unknown tool policy {unknown[0]!r}{hint}; valid: {', '.join(valid)}")
    try:
        Tool(_no_op, **items)
    except (TypeError, UserError) as exc:
        raise UserError(f"{where}: {exc}") from None
    return items


def _lookup(module: str, qualname: str) -> Any:
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _rebuild(state: dict[str, Any]) -> Tool:
    t = Tool.__new__(Tool)
    for k, v in state.items():
        setattr(t, k, v)
    t._adapter = None  # pyright: ignore[reportPrivateUsage]
    t._state = None  # pyright: ignore[reportPrivateUsage]
    t._gate = None  # pyright: ignore[reportPrivateUsage]
    return t


def _validate_raw(name: str, schema: dict[str, Any], arguments: str | dict[str, Any]) -> dict[str, Any]:
    """Checks for a hand-written schema: a JSON object with the required keys (the tool validates the rest)."""
    if isinstance(arguments, str):
        try:
            parsed: Any = orjson.loads(arguments or "{}")
        except orjson.JSONDecodeError as exc:
            raise ToolArgumentsError(
                f"invalid arguments for tool {name!r}: not valid JSON ({exc})", tool_name=name
            ) from exc
    else:
        parsed = arguments
    if not isinstance(parsed, dict):
        raise ToolArgumentsError(
            f"invalid arguments for tool {name!r}: expected a JSON object, got {type(parsed).__name__}", tool_name=name
        )
    args: dict[str, Any] = parsed  # pyright: ignore[reportUnknownVariableType]
    missing = [k for k in schema.get("required", ()) if k not in args]
    if missing:
        raise ToolArgumentsError(
            f"invalid arguments for tool {name!r}: missing required {', '.join(map(repr, missing))}", tool_name=name
        )
    return args


_ValidationError: type[ValidationError] = Exception  # pyright: ignore[reportAssignmentType]
"""pydantic's ValidationError once a schema was built (pydantic is imported lazily; no import per call)."""


def _arguments_model(function: ToolFunc, name: str, docs: dict[str, str], skip_first: bool) -> type[BaseModel]:
    global _ValidationError
    from pydantic import ConfigDict, Field, ValidationError, create_model

    _ValidationError = ValidationError

    try:
        sig = inspect.signature(function)
        hints = _type_hints(function, next(iter(sig.parameters), None) if skip_first else None)
    except (TypeError, ValueError, NameError) as exc:
        raise UserError(f"cannot read the signature of tool {name!r}: {exc}") from exc
    fields: dict[str, Any] = {}
    params = list(sig.parameters.items())
    # A RunContext first parameter is the framework's to fill, never the model's: not in the schema.
    for pname, param in params[1:] if skip_first else params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(pname, Any)
        default = ... if param.default is param.empty else param.default
        fields[pname] = (annotation, Field(default, description=docs.get(pname)))
    model_name = "".join(part.capitalize() for part in re.split(r"\W+", name) if part) + "Arguments"
    return create_model(model_name or "ToolArguments", __config__=ConfigDict(extra="forbid"), **fields)


def _type_hints(function: ToolFunc, skip: str | None) -> dict[str, Any]:
    import typing

    target = function if inspect.isfunction(function) or inspect.ismethod(function) else function.__call__
    if skip is None:
        return typing.get_type_hints(target, include_extras=True)
    # The context's own annotation (`RunContext[Deps]`) may name a type local to a function, which
    # cannot be resolved; only the other parameters' hints are needed.
    annotations = dict(getattr(target, "__annotations__", {}))
    annotations.pop(skip, None)
    shim = _Shim()
    shim.__annotations__ = annotations
    return typing.get_type_hints(shim, globalns=getattr(target, "__globals__", None), include_extras=True)


class _Shim:
    """An object whose `__annotations__` are another function's minus the context parameter."""


@overload
def tool(function: Callable[..., Any], /) -> Tool: ...
@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    retries: int = 0,
    retry_backoff: float = 0.1,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    cache_ttl: float | None = None,
    rate_limit: str | RateLimit | None = None,
    max_concurrency: int | None = None,
    parameters: dict[str, Any] | None = None,
    cache_scope: Callable[[RunContext[Any]], str] | None = None,
    side_effect: bool = False,
    idempotency_key: Callable[[dict[str, Any]], str] | None = None,
    requires_approval: bool | Callable[[dict[str, Any]], bool] = False,
) -> Callable[[Callable[..., Any]], Tool]: ...
def tool(
    function: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    retries: int = 0,
    retry_backoff: float = 0.1,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    cache_ttl: float | None = None,
    rate_limit: str | RateLimit | None = None,
    max_concurrency: int | None = None,
    parameters: dict[str, Any] | None = None,
    cache_scope: Callable[[RunContext[Any]], str] | None = None,
    side_effect: bool = False,
    idempotency_key: Callable[[dict[str, Any]], str] | None = None,
    requires_approval: bool | Callable[[dict[str, Any]], bool] = False,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Turn a sync or async function into a `Tool`; use bare (`@tool`) or with options (`@tool(timeout=5)`).

    The options are those of `Tool` (`parameters` is a hand-written JSON schema).

    Example:
        ```python
        @ak.tool(timeout=5)
        async def weather(city: str) -> str:
            '''Current weather for a city.

    Args:
                city: the city's name, e.g. "Paris".
            '''
        ```

    """

    def wrap(fn: Callable[..., Any]) -> Tool:
        t = Tool(
            fn,
            name=name,
            description=description,
            timeout=timeout,
            retries=retries,
            retry_backoff=retry_backoff,
            retry_on=retry_on,
            cache_ttl=cache_ttl,
            rate_limit=rate_limit,
            max_concurrency=max_concurrency,
            parameters=parameters,
            cache_scope=cache_scope,
            side_effect=side_effect,
            idempotency_key=idempotency_key,
            requires_approval=requires_approval,
        )
        return t

    if function is not None:
        return wrap(function)
    return wrap


def result_text(value: Any) -> str:
    """How a tool's return value is sent to the model: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    if type(value) is ToolOutput:
        return value.text
    try:
        return orjson.dumps(value, default=_json_default).decode()
    except TypeError:
        return str(value)


def _json_default(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    return str(value)
