"""Helpers shared by subcommands."""

from __future__ import annotations

from .._utils import run_coroutine as run_async

__all__ = ("run_async",)
