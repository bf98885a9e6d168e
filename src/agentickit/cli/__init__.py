"""The `agentickit` command. Subcommands live in their own modules and import heavy things lazily."""

from ._main import main

__all__ = ("main",)
