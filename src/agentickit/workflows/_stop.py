"""`stop()`: end a workflow early with a final answer."""

from __future__ import annotations

from typing import Any

__all__ = ("StopWorkflow", "stop")


class StopWorkflow(Exception):
    """Ends the running workflow with `result` as its final answer; the remaining steps are skipped.

    Raise it, or return it, from a step function, a `transform` or an agent's handler; `stop(result)`
    builds one. It is control flow, not a failure, so it is not an `AgentickitError`.

    Attributes:
        result: the final answer: a string, or a `Result`-like object with `content`.

    """

    def __init__(self, result: Any = "") -> None:
        super().__init__(result)
        self.result = result

    @property
    def content(self) -> str:
        """The final answer as text."""
        r = self.result
        if isinstance(r, str):
            return r
        content = getattr(r, "content", None)
        return content if isinstance(content, str) else str(r)


def stop(result: Any = "") -> StopWorkflow:
    """End the workflow now with `result` as its final answer.

    ```python
    async def triage(text: str) -> str:
        if cached := cache.get(text):
            raise ak.stop(cached)      # or: return ak.stop(cached)
        return text
    ```
    """
    return StopWorkflow(result)
