"""A handler that Ray workers import by reference: its input says what to do (sleep, fail, log, report its PID)."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import agentickit as ak


async def probe(text: str, caps: Any) -> str:
    """`"<command>:<arg>|<tag>"`: `sleep:0.2`, `fail:msg`, `log:/path`, `hang:`, `node:` (answers the PID and
    the Ray node id), or `pid:` (answers the PID)."""
    command, _, rest = text.partition(":")
    arg, _, _tag = rest.partition("|")
    if command == "sleep":
        await asyncio.sleep(float(arg))
    elif command == "fail":
        raise ValueError(arg)
    elif command == "log":
        path, _, tag = rest.partition("|")
        with open(path, "a") as f:  # noqa: ASYNC230 - one short append; the test reads the file afterwards
            f.write(f"{tag}\n")
        await asyncio.sleep(0.3)
    elif command == "hang":
        await asyncio.sleep(3600)
    elif command == "node":
        import ray

        await asyncio.sleep(float(arg or 0))
        return f"{os.getpid()}:{ray.get_runtime_context().get_node_id()}:{text}"
    return f"{os.getpid()}:{text}"


def probe_agent() -> ak.Agent:
    """The agent every Ray test ships: one payload, so the actors stay warm across tests."""
    return ak.Agent("probe", llm="simulated", handler=probe)
