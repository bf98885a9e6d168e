"""Per-run options. Frozen: a run merges them into a fresh object and never mutates the agent."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Literal, TypedDict

from ._usage_limits import UsageLimits
from ._utils import is_seconds
from .errors import UserError
from .messages import Message

__all__ = (
    "ModelSettings",
    "RunOptions",
    "RunOptionsDict",
    "StreamRunOptionsDict",
    "ToolChoice",
    "check_run_options",
    "resolve_run_options",
)

ToolChoice = Literal["auto", "none", "required"] | str
"""`auto`, `none`, `required`, or the name of a tool the model must call."""


@dataclass(slots=True, frozen=True, kw_only=True)
class RunOptions:
    """Options of one run. `None` means "not set": the agent's or provider's default applies.

    `temperature=0.0` is a real value and is sent as such.
    """

    max_tokens: int | None = None
    """Upper bound on tokens the model may generate per request."""
    temperature: float | None = None
    top_p: float | None = None
    stop: Sequence[str] | None = None
    history_limit: int | None = None
    """At most this many history messages are sent to the model (the system prompt and new input do not count)."""
    session_id: str | None = None
    """Conversation to read history from and append to. Without one the run is stateless."""
    timeout: float | None = None
    """Seconds the whole run may take, tool calls included."""
    max_tool_rounds: int | None = None
    """How many model->tools->model rounds are allowed before `UsageLimitExceeded`."""
    tool_choice: ToolChoice | None = None
    metadata: Mapping[str, Any] | None = None
    """Free-form data copied into `Result.metadata`."""
    message_history: Sequence[Any] | None = None
    """Explicit history (`ak.Message`s) to send instead of the session's stored history (limits still apply)."""
    deps: Any = None
    """The run's dependencies (a database pool, a client, settings): tools get them as `ctx.deps`."""
    usage_limits: UsageLimits | None = None
    """A budget of requests, tokens, tool calls and cost for this run (wins over the agent's)."""
    output_type: Any = None
    """The answer's type for this run (a pydantic model, dataclass, `list[...]`, `ak.NativeOutput(T)`, ...),
    instead of the agent's; `str` asks for plain text."""
    output_retries: int | None = None
    """Corrections sent to the model for an invalid structured answer before `OutputValidationError` (default 1)."""
    durability: Literal["off", "exit", "step"] | None = None
    """Journal this run (`exit`: when it ends; `step`: as it happens) so `agent.resume(run_id)` can continue it."""

    def __post_init__(self) -> None:
        # Cheap checks (a handful of comparisons per run) so a wrong value fails here, naming the
        # option, instead of as an HTTP 400 or a TypeError deep inside a provider.
        problems: list[str] = []
        if self.max_tokens is not None and (not _is_int(self.max_tokens) or self.max_tokens < 1):
            problems.append(f"max_tokens must be an int >= 1, got {self.max_tokens!r}")
        if self.temperature is not None and (not _is_number(self.temperature) or self.temperature < 0):
            problems.append(f"temperature must be a number >= 0 (0.0 is deterministic), got {self.temperature!r}")
        if self.top_p is not None and (not _is_number(self.top_p) or not 0 <= self.top_p <= 1):
            problems.append(f"top_p must be a number between 0 and 1, got {self.top_p!r}")
        if self.stop is not None and (_is_str(self.stop) or not all(_is_str(x) for x in self.stop)):
            problems.append(f"stop must be a list of strings, e.g. stop=['END'], got {self.stop!r}")
        if self.history_limit is not None and (not _is_int(self.history_limit) or self.history_limit < 0):
            problems.append(f"history_limit must be an int >= 0, got {self.history_limit!r}")
        if self.timeout is not None and not is_seconds(self.timeout):
            problems.append(f"timeout must be a number of seconds > 0, got {self.timeout!r}")
        if self.max_tool_rounds is not None and (not _is_int(self.max_tool_rounds) or self.max_tool_rounds < 0):
            problems.append(f"max_tool_rounds must be an int >= 0, got {self.max_tool_rounds!r}")
        if self.tool_choice is not None and not _is_str(self.tool_choice):
            problems.append(f"tool_choice must be 'auto', 'none', 'required' or a tool name, got {self.tool_choice!r}")
        if self.session_id is not None and not _is_str(self.session_id):
            problems.append(f"session_id must be a string, got {self.session_id!r}")
        if self.message_history is not None and (
            _is_str(self.message_history) or not all(isinstance(m, Message) for m in self.message_history)
        ):
            problems.append("message_history must be a list of ak.Message, e.g. [ak.Message.user('hi')]")
        if self.metadata is not None and not isinstance(self.metadata, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance]
            problems.append(f"metadata must be a mapping, e.g. metadata={{'user': 'u1'}}, got {self.metadata!r}")
        if self.usage_limits is not None and not isinstance(self.usage_limits, UsageLimits):  # pyright: ignore[reportUnnecessaryIsInstance]
            problems.append(f"usage_limits must be an ak.UsageLimits(...), got {type(self.usage_limits).__name__}")
        if self.output_retries is not None and (not _is_int(self.output_retries) or self.output_retries < 0):
            problems.append(f"output_retries must be an int >= 0, got {self.output_retries!r}")
        if self.durability is not None and self.durability not in ("off", "exit", "step"):
            problems.append(f"durability must be 'off', 'exit' or 'step', got {self.durability!r}")
        if problems:
            raise UserError("invalid run options: " + "; ".join(problems))

    def merged(self, overrides: Mapping[str, Any]) -> RunOptions:
        """A copy with the given fields replaced; unknown names raise `UserError`."""
        if not overrides:
            return self
        unknown = overrides.keys() - _RUN_OPTION_NAMES
        if unknown:
            raise UserError(_unknown_options_message(unknown))
        return replace(self, **overrides)

    def over(self, base: RunOptions) -> RunOptions:
        """These options layered over `base`: every field set here wins."""
        if base is _EMPTY:
            return self
        if self is _EMPTY:
            return base
        changes = {f: v for f in _RUN_OPTION_NAMES if (v := getattr(self, f)) is not None}
        return replace(base, **changes) if changes else base


class RunOptionsDict(TypedDict, total=False):
    """Keyword-argument form of `RunOptions`, for typing `**options`."""

    max_tokens: int | None
    temperature: float | None
    top_p: float | None
    stop: Sequence[str] | None
    history_limit: int | None
    session_id: str | None
    timeout: float | None
    max_tool_rounds: int | None
    tool_choice: ToolChoice | None
    metadata: Mapping[str, Any] | None
    message_history: Sequence[Any] | None
    deps: Any
    usage_limits: UsageLimits | None
    output_retries: int | None
    durability: Literal["off", "exit", "step"] | None


class StreamRunOptionsDict(TypedDict, total=False):
    """`RunOptionsDict` without `timeout`, which `run_stream()` takes as the stream's own deadline.

    Keep in step with `RunOptions` (a test checks it).
    """

    max_tokens: int | None
    temperature: float | None
    top_p: float | None
    stop: Sequence[str] | None
    history_limit: int | None
    session_id: str | None
    max_tool_rounds: int | None
    tool_choice: ToolChoice | None
    metadata: Mapping[str, Any] | None
    message_history: Sequence[Any] | None
    deps: Any
    usage_limits: UsageLimits | None
    output_retries: int | None
    durability: Literal["off", "exit", "step"] | None


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_RUN_OPTION_NAMES = frozenset(f.name for f in fields(RunOptions))
_EMPTY = RunOptions()


def _unknown_options_message(unknown: set[str] | frozenset[str] | Any) -> str:
    import difflib

    parts: list[str] = []
    for name in sorted(unknown):
        close = difflib.get_close_matches(name, _RUN_OPTION_NAMES, n=1)
        parts.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return f"unknown run option {', '.join(parts)}; valid options are: {', '.join(sorted(_RUN_OPTION_NAMES))}"


def check_run_options(options: object) -> None:
    """Reject an `options=` value that is not a `RunOptions` (a `StreamOptions` there is a common slip).

    Raises:
        UserError: naming the type given and where it belongs.

    """
    if options is None or isinstance(options, RunOptions):
        return
    kind = type(options).__name__
    if kind == "StreamOptions":
        raise UserError(
            "options= takes an ak.RunOptions; an ak.StreamOptions goes in stream_options= "
            "(agent.run_stream(query, stream_options=ak.StreamOptions(...)))"
        )
    raise UserError(f"options= takes an ak.RunOptions (or pass the options as keywords), got {kind}")


def resolve_run_options(options: RunOptions | None, overrides: Mapping[str, Any]) -> RunOptions:
    """Combine an optional `RunOptions` object with keyword overrides (keywords win).

    Raises:
        UserError: `options` is not a `RunOptions`, or an override names no option.

    """
    if options is None:
        base = _EMPTY
    elif options.__class__ is RunOptions:
        base = options
    else:
        check_run_options(options)
        base = options
    if not overrides:
        return base
    return base.merged(overrides)


@dataclass(slots=True, frozen=True, kw_only=True)
class ModelSettings:
    """What a provider needs for one request: the model's sampling settings and the request deadline."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: Sequence[str] | None = None
    tool_choice: ToolChoice | None = None
    timeout: float | None = None
    response_format: dict[str, Any] | None = None
    """OpenAI's `response_format` (`{"type": "json_schema", "json_schema": {...}}`) for native structured output."""
