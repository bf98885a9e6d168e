"""The executor interface `run_batch` goes through, and what a batch returns."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, overload, runtime_checkable

if TYPE_CHECKING:
    from .._result import Result
    from ..options import RunOptions

__all__ = ("BatchItem", "BatchResult", "BatchRunnable", "Executor", "ProgressCallback")


@runtime_checkable
class BatchRunnable(Protocol):
    """Anything `run_batch` can drive: an Agent, a workflow. Must pickle (or rebuild) for remote executors."""

    name: str

    async def run(self, query: str, *, options: RunOptions | None = None) -> Result[Any]:
        """Run one input."""
        ...


@dataclass(slots=True, kw_only=True)
class BatchItem:
    """One input of a batch and what became of it."""

    index: int
    input: str
    result: Result | None = None
    error: BaseException | None = None
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the item succeeded."""
        return self.error is None

    @property
    def content(self) -> str | None:
        """The answer, or `None` if the item failed."""
        return self.result.content if self.result is not None else None


ProgressCallback = Callable[[int, int, BatchItem], Awaitable[None] | None]
"""`on_progress(done, total, item)`, called as each item finishes. Keep a sync one fast."""


class BatchResult(Sequence[BatchItem]):
    """The items of a batch, in input order. Failed items carry their error; the rest still ran."""

    __slots__ = ("duration", "items")

    def __init__(self, items: list[BatchItem], duration: float) -> None:
        self.items = items
        self.duration = duration

    @overload
    def __getitem__(self, index: int) -> BatchItem: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[BatchItem]: ...
    def __getitem__(self, index: int | slice) -> BatchItem | Sequence[BatchItem]:
        return self.items[index]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[BatchItem]:
        return iter(self.items)

    @property
    def results(self) -> list[Result]:
        """The results of the items that succeeded, in input order."""
        return [i.result for i in self.items if i.result is not None]

    @property
    def errors(self) -> dict[int, BaseException]:
        """Errors of the items that failed, by input index."""
        return {i.index: i.error for i in self.items if i.error is not None}

    @property
    def ok(self) -> bool:
        """Whether every item succeeded."""
        return all(i.error is None for i in self.items)

    def raise_on_error(self) -> None:
        """Raise an `ExceptionGroup` of every failure, if any item failed."""
        errors = [i.error for i in self.items if isinstance(i.error, Exception)]
        if errors:
            raise ExceptionGroup(f"{len(errors)} of {len(self.items)} batch items failed", errors)

    def summary(self) -> dict[str, Any]:
        """Counts, throughput and latency percentiles (seconds) of the batch."""
        durations = sorted(i.duration for i in self.items)
        n = len(durations)

        def pct(p: float) -> float:
            return durations[min(n - 1, int(p * n))] if n else 0.0

        failed = sum(1 for i in self.items if i.error is not None)
        return {
            "items": n,
            "failed": failed,
            "duration": self.duration,
            "per_second": n / self.duration if self.duration > 0 else 0.0,
            "p50": pct(0.50),
            "p95": pct(0.95),
            "p99": pct(0.99),
        }

    def __repr__(self) -> str:
        failed = sum(1 for i in self.items if i.error is not None)
        return f"BatchResult({len(self.items)} items, {failed} failed, {self.duration:.3f}s)"


@runtime_checkable
class Executor(Protocol):
    """Runs a batch of inputs through a `BatchRunnable`. `LocalExecutor` is the default; Ray plugs in here."""

    async def run_batch(
        self,
        runnable: BatchRunnable,
        inputs: Sequence[str],
        *,
        concurrency: int,
        options: RunOptions | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> BatchResult:
        """Run every input, at most `concurrency` at a time, and return the items in input order."""
        ...
