"""One run's structured answer: what is added to the request, how each answer is checked, the corrections.

The run loop calls three things (see `agent/_run.py`): `start_output` once (or not at all: a run
without an `output_type` pays nothing), `OutputRun.prepare` before the first request, and
`OutputRun.check` after every model answer. `check` either accepts the answer (`None`), returns the
tool calls the loop should run as usual, or appends a correction and returns `()` so the loop asks
again; past `output_retries` corrections it raises `OutputValidationError`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from pydantic import ValidationError

from .._threads import run_in_worker
from ..errors import ModelRetry, OutputValidationError, UserError
from ..messages import Message, ModelResponse, ToolCall, ToolDefinition
from ..options import ToolChoice
from ..providers._sample import CORRECTION_PREFIX, add_system
from ._modes import DEFAULT_OUTPUT_RETRIES, OutputMode
from ._schema import OutputPlan, error_lines, output_plan

if TYPE_CHECKING:
    from ..providers._base import Model
    from ..streaming._sink import ChunkSink
    from ._stream import OutputSink

__all__ = (
    "DEFAULT_OUTPUT_RETRIES",
    "OutputRun",
    "OutputValidator",
    "check_validator",
    "output_for_run",
    "start_output",
)

OutputValidator = Callable[[Any], Any]
"""`def check(output) -> output | None` (or `async def`): may raise `ModelRetry("why")`; may return a
replacement object (`None` keeps the output)."""

_FINAL_DONE = "Final result processed."
_NOT_RUN = "Tool not executed: the final result was already given."


def check_validator(fn: object) -> OutputValidator:
    """`fn` if it is a callable of one argument (the output).

    Raises:
        UserError: it is not callable, or takes another number of arguments.

    """
    if not callable(fn):
        raise UserError(f"output_validator must be a function of the output, got {type(fn).__name__}")
    try:
        params = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
        ]
    except (TypeError, ValueError):
        return cast(OutputValidator, fn)
    if len(params) != 1:
        raise UserError(
            f"output_validator {getattr(fn, '__name__', fn)!r} must take one argument (the output), "
            f"takes {len(params)}; raise ak.ModelRetry('why') in it to send the model a correction"
        )
    return cast(OutputValidator, fn)


def default_mode(model: Model) -> OutputMode:
    """The mode a model uses when the spec names none: its `default_output_mode`, else a final-answer tool."""
    return model.default_output_mode


def output_for_run(agent: Any, spec: Any, opts: Any, model: Model) -> OutputRun:
    """`start_output` with the agent's retries and validators (validators only for the agent's own type)."""
    retries = opts.output_retries if opts.output_retries is not None else agent.output_retries
    validators = agent.output_validators if spec is agent.output_type else ()
    return start_output(spec, model, retries=retries, validators=validators, agent_name=agent.name)


def start_output(
    spec: Any,
    model: Model,
    *,
    retries: int,
    validators: Sequence[OutputValidator],
    agent_name: str,
) -> OutputRun:
    """The structured-output state of one run (`spec` is never plain text here).

    Raises:
        UserError: `NativeOutput` on a provider without native structured output (naming the alternatives).

    """
    plan = output_plan(spec)
    mode: OutputMode = plan.mode or default_mode(model)
    if mode == "native" and not model.supports_native_output:
        hint = (
            " (if this model has JSON outputs, say so: LLMConfig(options={'native_output': True}))"
            if model.provider == "anthropic"
            else ""
        )
        raise UserError(
            f"{model.provider} model {model.model_name!r} has no native structured output here{hint}; use "
            "ak.ToolCallOutput(T) (a final-answer tool, works with every tool-calling model) or "
            "ak.PromptedOutput(T) (the schema in the prompt)"
        )
    return OutputRun(plan, mode, retries, validators, agent_name)


class OutputRun:
    """The checks and corrections of one run's structured answer."""

    __slots__ = ("agent_name", "attempts", "errors", "mode", "output", "plan", "raw", "retries", "sink", "validators")

    def __init__(
        self,
        plan: OutputPlan,
        mode: OutputMode,
        retries: int,
        validators: Sequence[OutputValidator],
        agent_name: str,
    ) -> None:
        self.plan = plan
        self.mode: OutputMode = mode
        self.retries = retries
        self.validators = validators
        self.agent_name = agent_name
        self.attempts = 0
        self.errors: list[str] = []
        self.output: Any = None
        self.raw = ""
        self.sink: OutputSink | None = None

    @property
    def tool_name(self) -> str | None:
        """The final-answer tool's name in `tool` mode."""
        return self.plan.tool.name if self.mode == "tool" else None

    def prepare(
        self, messages: list[Message], definitions: Sequence[ToolDefinition], tool_choice: ToolChoice | None
    ) -> tuple[Sequence[ToolDefinition], ToolChoice | None, dict[str, Any] | None]:
        """What the mode adds to the request: the tools, tool choice and `response_format` to send.

        `native` adds the `response_format`, `tool` the final-answer tool (forced when it is the only
        tool), `prompted` the schema to the system prompt (in `messages`, in place).
        """
        plan = self.plan
        if self.mode == "native":
            return definitions, tool_choice, plan.response_format
        if self.mode == "tool":
            if not definitions and tool_choice is None:
                # The final-answer tool is the only tool: the answer must come through it.
                tool_choice = "required"
            return (*definitions, plan.tool), tool_choice, None
        add_system(messages, plan.instructions)
        return definitions, tool_choice, None

    def wrap_sink(self, sink: ChunkSink) -> ChunkSink:
        """The sink that also emits `OUTPUT` chunks with partial objects as the answer streams in."""
        from ._stream import OutputSink

        self.sink = wrapped = OutputSink(sink, self.plan.schema, self.tool_name)
        return wrapped

    async def check(self, response: ModelResponse, messages: list[Message]) -> tuple[ToolCall, ...] | None:
        """Accept the answer (`None`), or return the tool calls to run (`()`: a correction was appended; ask again).

        Raises:
            OutputValidationError: the answer is still invalid after `retries` corrections.

        """
        sink = self.sink
        if sink is None and self.mode != "tool" and not response.tool_calls and not self.validators:
            # The usual native/prompted answer, checked inline (the coroutine chain below costs ~1 us);
            # an invalid one goes the long way, which validates it again and writes the correction.
            raw = response.content
            try:
                value = self.plan.schema.validate(raw)
            except ValidationError:
                pass
            else:
                self.attempts += 1
                self.raw = raw
                self.output = value
                return None
        if sink is not None:
            sink.new_turn()
        done = await self._check(response, messages)
        if done is None and sink is not None:
            w = sink.send_final(self.output)
            if w is not None:
                await w
        return done

    async def _check(self, response: ModelResponse, messages: list[Message]) -> tuple[ToolCall, ...] | None:
        calls = response.tool_calls
        name = self.tool_name
        if name is not None:
            final = next((c for c in calls if c.name == name), None)
            if final is not None:
                others = tuple(c for c in calls if c is not final)
                if await self._accept(final.arguments):
                    messages.append(Message.tool(final.id, final.name, _FINAL_DONE))
                    messages.extend(Message.tool(c.id, c.name, _NOT_RUN) for c in others)
                    return None
                messages.append(Message.tool(final.id, final.name, self._correction(f"call {name} again")))
                return others
            if calls:
                return calls
            # Some models answer in text even with the tool offered; valid JSON there is accepted too.
            if await self._accept(response.content, f"answer by calling the {name} tool"):
                return None
            messages.append(Message("user", self._correction(f"answer by calling the {name} tool")))
            return ()
        if calls:
            return calls
        if await self._accept(response.content):
            return None
        messages.append(Message("user", self._correction("answer again with only the JSON")))
        return ()

    async def _accept(self, raw: str, hint: str | None = None) -> bool:
        self.attempts += 1
        self.raw = raw
        schema = self.plan.schema
        try:
            value = schema.validate(raw)
        except ValidationError as exc:
            lines = error_lines(exc, schema.wrapped)
            if hint is not None and not raw.strip():
                lines = [f"no answer: {hint}"]
            return self._reject("; ".join(lines))
        for fn in self.validators:
            try:
                # A sync validator runs in the worker threads sync tools use (agentickit/_threads.py):
                # one stuck past the run's deadline does not hold asyncio.run (run_sync) at exit.
                out = (
                    fn(value)
                    if inspect.iscoroutinefunction(fn)
                    else await run_in_worker(functools.partial(fn, value), {})
                )
                if inspect.isawaitable(out):
                    out = await out
            except ModelRetry as exc:
                return self._reject(str(exc) or "the output validator asked for another answer")
            if out is not None:
                value = out
        self.output = value
        return True

    def _reject(self, why: str) -> bool:
        self.errors.append(why)
        if self.attempts > self.retries:
            t = self.plan.output_type
            raise OutputValidationError(
                f"agent {self.agent_name!r}: the model's answer is not a valid "
                f"{getattr(t, '__name__', repr(t))} after {self.attempts} attempt(s) (output_retries={self.retries}); "
                f"last error: {why}; last answer: {self.raw[:200]!r}",
                raw=self.raw,
                errors=list(self.errors),
                attempts=self.attempts,
                output_type=t,
            )
        return False

    def _correction(self, what: str) -> str:
        return f"{CORRECTION_PREFIX} {self.errors[-1]}\nFix the errors and {what}."
