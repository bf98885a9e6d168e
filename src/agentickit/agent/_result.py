"""`Result` lives in `agentickit._result` so that workflows and executors need not import the agent package."""

from .._result import Result, Source

__all__ = ("Result", "Source")
