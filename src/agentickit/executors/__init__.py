"""Executors for `run_batch`: the local asyncio pool (default) and `RayExecutor` (extra `agentickit[ray]`).

`RayExecutor` imports Ray only when it first runs something, so importing this package stays cheap.
"""

from ._base import BatchItem, BatchResult, BatchRunnable, Executor, ProgressCallback
from ._local import LocalExecutor
from ._ray import RayExecutor

__all__ = ("BatchItem", "BatchResult", "BatchRunnable", "Executor", "LocalExecutor", "ProgressCallback", "RayExecutor")
