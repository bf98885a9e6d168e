"""Helpers shared by subcommands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._utils import run_coroutine as run_async

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ("path_arg", "run_async")


def path_arg(value: str) -> Path:
    """An argparse `type=` for paths: pathlib (and urllib.parse) load when a path is given, not for `--help`."""
    from pathlib import Path

    return Path(value)
