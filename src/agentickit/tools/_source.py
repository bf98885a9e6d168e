"""`ToolSource`: something that provides tools when an agent first needs them (MCP servers, registries)."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._tool import Tool

__all__ = ("ToolSource",)


class ToolSource(abc.ABC):
    """A provider of tools, resolved lazily and asynchronously by the agent on its first run.

    Pass sources in `tools=[...]` next to plain tools. The agent calls `list_tools()` on its first
    run (and on every run when `dynamic` is true, so a server's changed tool list is picked up) and
    `aclose()` from its `cleanup()`.
    """

    __slots__ = ()

    @property
    def dynamic(self) -> bool:
        """Whether the tool list may change between calls (the agent then asks on every run)."""
        return False

    @abc.abstractmethod
    async def list_tools(self) -> Sequence[Tool]:
        """The tools this source provides right now (connecting or loading them if needed)."""

    async def aclose(self) -> None:
        """Release connections and processes. Idempotent; the source reconnects on next use."""
        return None
