"""Executors for `run_batch`: the local asyncio pool (default); Ray plugs in through `Executor`."""

from ._base import BatchItem, BatchResult, BatchRunnable, Executor, ProgressCallback
from ._local import LocalExecutor

__all__ = ("BatchItem", "BatchResult", "BatchRunnable", "Executor", "LocalExecutor", "ProgressCallback")
