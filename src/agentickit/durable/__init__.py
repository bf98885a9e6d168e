"""Durable runs: a journal in a store, `resume(run_id)` after a crash, and pauses for a person.

```python
agent = ak.Agent("ops", tools=[send_invoice], durability="step", store=ak.stores.SQLite("runs.db"))
result = await agent.run("bill ACME")                 # journaled as it happens
result = await agent.resume(result.run_id, approvals={"t0:call_1": True})   # any process
```

- `durability="off" | "exit" | "step"` (agents, workflows, per run). `step` appends each model
  response, side-effect tool start, tool result and workflow step output as it happens (one record
  each, written once); `exit` writes them when the run ends (finished, failed, cancelled or paused), so
  a hard crash loses that run's journal.
- `resume(run_id)` runs the code again and answers every recorded model request, tool call and step
  from the journal: nothing recorded is asked, called or run twice.
- What is exactly once, and what is not: a tool call recorded finished is never run again. A
  `side_effect=True` tool call that started but was not recorded finished (the crash hit it) is
  never re-run blindly: with an `idempotency_key` it runs again with the same key
  (`ak.current_tool_call().idempotency_key`), so a tool that stores the key with its effect makes
  the effect exactly once; without a key the resumed run pauses with an `uncertain` request for a
  person to answer (`True` retries: at least once; `False` does not: at most once). A plain tool
  interrupted mid-call simply runs again (at least once). A model request interrupted before its
  response was recorded is asked again.
- `requires_approval=True | predicate(args)` tools pause the run before the call:
  `result.status == "paused"`, `result.pending` lists `ApprovalRequest`s; answer them with
  `resume(run_id, approvals={id: True | False | ak.Edit(args=...)})`. A denial reaches the model.
  Workflow steps can `await ctx.request_input("question")` and pause the same way.
"""

from __future__ import annotations

from ._types import (
    ApprovalError,
    ApprovalRequest,
    Durability,
    DurableError,
    Edit,
    JournalMismatchError,
    RunFinishedError,
    RunInfo,
    RunNotFoundError,
    RunStatus,
)

__all__ = (
    "ApprovalError",
    "ApprovalRequest",
    "Durability",
    "DurableError",
    "Edit",
    "JournalMismatchError",
    "RunFinishedError",
    "RunInfo",
    "RunNotFoundError",
    "RunStatus",
)
