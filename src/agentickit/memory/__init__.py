"""Memory: per-session conversation history with limits, over pluggable stores."""

from ._memory import InMemoryStore, Memory, MemoryStore, trim_history

__all__ = ("InMemoryStore", "Memory", "MemoryStore", "trim_history")
