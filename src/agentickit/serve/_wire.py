"""JSON shapes the server speaks: results, chunks as events, and typed errors without traces or secrets."""

from __future__ import annotations

import logging
import re
from typing import Any

import orjson

from .._result import Result
from ..errors import AgentickitError, RunCancelledError, RunTimeoutError, UserError
from ..streaming import Chunk, ChunkType

__all__ = ("chunk_data", "error_body", "error_type", "public_message", "result_data", "timeout_error")

_log = logging.getLogger("agentickit.serve")

# Provider errors may quote a response body or a URL; anything that looks like a credential is cut out
# before it reaches a client (keys of OpenAI, Anthropic and most gateways start like these).
_SECRET = re.compile(r"(sk-[A-Za-z0-9_\-]{6,}|Bearer\s+\S+|api[_-]?key=\S+)", re.IGNORECASE)


def error_type(exc: BaseException) -> str:
    """The `type` a client sees: a stable snake-case family, not a Python class path."""
    if isinstance(exc, RunTimeoutError | TimeoutError):
        return "timeout"
    if isinstance(exc, RunCancelledError):
        return "cancelled"
    if isinstance(exc, UserError):
        return "invalid_request"
    if isinstance(exc, AgentickitError):
        return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower().removesuffix("_error") + "_error"
    return "internal_error"


def public_message(exc: BaseException) -> str:
    """What a client may read about `exc`: our own errors' messages (they say what to fix), nothing else."""
    if isinstance(exc, AgentickitError | TimeoutError):
        return _SECRET.sub("[redacted]", str(exc)) or type(exc).__name__
    _log.error("internal error while serving a request", exc_info=exc)
    return "internal server error (the server log has the details)"


def timeout_error(seconds: float) -> RunTimeoutError:
    """The error of a run that outlived the server's `request_timeout`."""
    return RunTimeoutError(f"the run did not finish within the server's request_timeout of {seconds:g} s")


def error_body(kind: str, message: str) -> dict[str, Any]:
    """`{"error": {"type", "message"}}`."""
    return {"error": {"type": kind, "message": message}}


def _usage(usage: Any) -> dict[str, int]:
    return {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens, "requests": usage.requests}


def _jsonable(value: Any) -> Any:
    # Tool results and metadata are user data: anything orjson cannot encode is sent as text.
    try:
        orjson.dumps(value)
    except TypeError:
        return str(value)
    return value


def _output_data(value: Any) -> Any:
    # A structured output (a pydantic model, a dataclass, lists of them) as plain JSON data.
    from pydantic_core import to_jsonable_python

    return to_jsonable_python(value, fallback=str)


def result_data(result: Result[Any]) -> dict[str, Any]:
    """A `Result` (or `WorkflowResult`) as JSON-ready data; messages are left out (they can be large)."""
    out: dict[str, Any] = {
        "content": result.content,
        "usage": _usage(result.usage),
        "duration": result.duration,
        "tool_calls": [
            {
                "id": c.id,
                "name": c.name,
                "args": c.args,
                "result": _jsonable(getattr(c.result, "text", c.result)),
                "error": c.error,
                "duration": c.duration,
            }
            for c in result.tool_calls
        ],
        "run_id": result.run_id,
        "agent_name": result.agent_name,
        "metadata": _jsonable(result.metadata),
    }
    if getattr(result, "status", None) == "paused":
        out["status"] = "paused"
        out["pending"] = [p.to_dict() for p in result.pending]
    output: Any = result.output
    if output is not result.content:
        out["output"] = _output_data(output)
    steps = getattr(result, "steps", None)
    if steps is not None:
        out["steps"] = {
            name: {
                "status": str(s.status),
                "output": s.output if s.output is None or type(s.output) is str else _output_data(s.output),
                "duration": s.duration,
                "usage": _usage(s.usage),
            }
            for name, s in steps.items()
        }
        out["stop_reason"] = getattr(result, "stop_reason", None)
        err = getattr(result, "error", None)
        out["error"] = None if err is None else error_body(error_type(err), public_message(err))["error"]
    return out


_DELTA = ChunkType.DELTA


def chunk_data(chunk: Chunk) -> dict[str, Any]:
    """One chunk as the `data` of an SSE event: its type and the fields that belong to it."""
    t = chunk.type
    if t is _DELTA:
        if chunk.step_name is None:
            return {"type": "delta", "delta": chunk.delta}
        return {"type": "delta", "delta": chunk.delta, "step": chunk.step_name}
    out: dict[str, Any] = {"type": t.value, "ts": chunk.timestamp}
    if chunk.step_name is not None:
        out["step"] = chunk.step_name
    if chunk.delta is not None:
        out["delta"] = chunk.delta
    if chunk.content is not None:
        out["content"] = chunk.content
    if chunk.tool_name is not None:
        out["tool_name"] = chunk.tool_name
        out["tool_call_id"] = chunk.tool_call_id
    if chunk.tool_args is not None:
        out["tool_args"] = _jsonable(chunk.tool_args)
    if t is ChunkType.TOOL_RESULT:
        out["tool_result"] = _jsonable(getattr(chunk.tool_result, "text", chunk.tool_result))
    if chunk.error is not None:
        out["error"] = error_body(error_type(chunk.error), public_message(chunk.error))["error"]
    if chunk.metadata is not None:
        out["metadata"] = _jsonable(chunk.metadata)
    if chunk.output is not None:
        out["output"] = _output_data(chunk.output)
    return out
