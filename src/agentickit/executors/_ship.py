"""Shipping a runnable to another process: pickle it once, and say which part cannot travel."""

from __future__ import annotations

import importlib
from typing import Any, cast

from ..errors import UserError

__all__ = ("dumps", "ship")


def dumps(obj: Any) -> bytes:
    """Pickle with the cloudpickle that Ray ships (what Ray itself uses for arguments)."""
    # cloudpickle also carries lambdas and closures by value; stdlib pickle would refuse a tool
    # defined inside a function that an Agent otherwise pickles fine.
    cloudpickle: Any = importlib.import_module("ray.cloudpickle")
    return cloudpickle.dumps(obj)


def _parts(obj: Any, where: str) -> list[tuple[str, Any]]:
    """The pieces of an agent or workflow worth naming when the whole will not pickle."""
    parts: list[tuple[str, Any]] = []
    for tool in getattr(obj, "tools", None) or ():
        parts.append((f"{where}tool {getattr(tool, 'name', None) or getattr(tool, '__name__', repr(tool))!r}", tool))
    for attr in ("handler", "memory", "llm", "middleware"):
        value = getattr(obj, attr, None)
        if value is not None and not isinstance(value, str):
            parts.append((f"{where}{attr}", value))
    workflow = getattr(obj, "workflow", None)
    steps: Any = getattr(workflow if workflow is not None else obj, "steps", None)
    if isinstance(steps, dict):
        steps = list(cast("dict[str, Any]", steps).values())
    step: Any
    for step in steps or ():
        target = getattr(step, "agent", None)
        if target is not None:
            parts.append((f"{where}step {getattr(step, 'name', '?')!r}", target))
    return parts


def _culprit(obj: Any, where: str, depth: int = 0) -> tuple[str, BaseException] | None:
    for label, part in _parts(obj, where):
        try:
            dumps(part)
        except Exception as exc:
            if depth < 4:
                inner = _culprit(part, f"{label}: ", depth + 1)
                if inner is not None:
                    return inner
            return label, exc
    return None


def ship(runnable: Any) -> bytes:
    """Pickle `runnable` for the workers, or fail here, before anything is sent.

    Raises:
        UserError: something in the runnable cannot be pickled; the message names the tool (or step,
            handler, memory, model) and the reason.

    """
    try:
        return dumps(runnable)
    except Exception as exc:
        name = getattr(runnable, "name", type(runnable).__name__)
        found = _culprit(runnable, "")
        what, reason = found if found is not None else ("it", exc)
        raise UserError(
            f"cannot ship {name!r} to the cluster: {what} cannot be pickled ({type(reason).__name__}: {reason}). "
            "Define tools at module level and keep locks, sockets and open files out of them "
            "(create them inside the tool, or per process)"
        ) from exc
