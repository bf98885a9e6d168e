"""The knowledge base follows its store: what other memories add or delete is seen, read once, never twice."""

from __future__ import annotations

from pathlib import Path

import pytest

import agentickit as ak
from agentickit.memory import HashEmbedder, KnowledgeBase
from agentickit.memory._rag import KB_NS
from agentickit.stores import Store

from ..stores.conftest import drop, make_store, unique_prefix

BACKENDS = ("memory", "sqlite", "postgres", "redis")


def _kb(store: Store) -> KnowledgeBase:
    return KnowledgeBase(store, HashEmbedder(64))


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_run_sees_documents_another_memory_added_or_deleted(backend: str, tmp_path: Path) -> None:
    prefix = unique_prefix()
    store = make_store(backend, tmp_path, prefix)
    # Another handle on the same database (for SQLite, the same file; for InMemory, the same object).
    other = store if backend == "memory" else make_store(backend, tmp_path, prefix)
    model = ak.SimulatedModel(record=True, reply="ok")
    agent = ak.Agent("m", model, memory=ak.Memory(store=store, rag_k=2))
    writer = ak.Memory(store=other)

    def injected() -> str:
        first = model.requests[-1].messages[0]
        return (first.content or "") if first.role == "system" else ""

    try:
        await agent.run("what about refunds?", session_id="s")
        assert injected() == ""
        await writer.add_documents([ak.Document(text="Refunds are paid within five days.", id="refunds")])
        await agent.run("what about refunds?", session_id="s")
        assert "[refunds#0]" in injected()
        await writer.add_documents([ak.Document(text="Refunds of parcels need the receipt.", id="receipts")])
        result = await agent.run("what about refunds?", session_id="s")
        assert {"refunds#0", "receipts#0"} == {s.id for s in result.sources}
        # Deleted and made again with other chunks: the old ones are gone from the next run.
        await other.delete(KB_NS, "default")
        await writer.add_documents([ak.Document(text="Refunds now take ten days.", id="slow")])
        result = await agent.run("what about refunds?", session_id="s")
        assert [s.id for s in result.sources] == ["slow#0"]
        await other.delete(KB_NS, "default")
        await agent.run("what about refunds?", session_id="s")
        assert injected() == ""
        # The history went along with each of those reads.
        assert [m.content for m in model.requests[-1].messages[:2]] == ["what about refunds?", "ok"]
    finally:
        await agent.cleanup()
        await drop(store)
        await store.aclose()
        await other.aclose()


@pytest.mark.parametrize("backend", ("memory", "sqlite"))
async def test_an_older_info_reads_nothing_and_a_newer_one_only_what_is_new(backend: str, tmp_path: Path) -> None:
    store = make_store(backend, tmp_path, unique_prefix())
    kb, writer = _kb(store), _kb(store)
    try:
        await writer.add(["one", "two"])
        old = await store.info(KB_NS, "default")
        await writer.add(["three"])
        new = await store.info(KB_NS, "default")
        await kb.refresh_from(new)
        assert len(kb) == 3
        # An info read before that (a concurrent run's, say) changes nothing: no reset, no duplicates.
        await kb.refresh_from(old)
        await kb.refresh_from(None if old is None else old)
        assert len(kb) == 3 and [s.id for s in await kb.query("three", k=1)] == ["doc-2#0"]
        # Chunks appended after an info was read are left for the next refresh, then read once.
        ahead = await store.info(KB_NS, "default")
        await writer.add(["four"])
        kb_fresh = _kb(store)
        await kb_fresh.refresh_from(ahead)
        assert len(kb_fresh) == 3
        await kb_fresh.refresh()
        await kb_fresh.refresh()
        assert len(kb_fresh) == 4 and len(kb_fresh._ids) == kb_fresh._matrix.shape[0]
        # `None` (the collection gone) is checked again before anything is dropped.
        await kb_fresh.refresh_from(None)
        assert len(kb_fresh) == 4
        await store.delete(KB_NS, "default")
        await kb_fresh.refresh_from(None)
        assert len(kb_fresh) == 0
    finally:
        await drop(store)
        await store.aclose()


async def test_exact_search_ranks_filters_and_scans_big_matrices_off_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from agentickit.memory import _rag

    kb = _kb(ak.stores.InMemory())
    docs = ["refund policy", "refund window for parcels", "shipping times", "warranty terms"]
    await kb.add([ak.Document(text=t, id=f"d{i}", metadata={"even": i % 2 == 0}) for i, t in enumerate(docs)])
    small = await kb.query("refund", k=10)
    assert [s.id for s in small][:2] in (["d0#0", "d1#0"], ["d1#0", "d0#0"]) and len(small) == 4
    assert [s.score for s in small] == sorted((s.score for s in small), reverse=True)
    assert {s.id for s in await kb.query("refund", k=10, filter={"even": False})} == {"d1#0", "d3#0"}
    threads: list[str] = []
    top_k = _rag._top_k

    def recording(*args: object) -> list[tuple[int, float]]:
        threads.append(threading.current_thread().name)
        return top_k(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(_rag, "_top_k", recording)
    assert await kb.query("refund", k=10) == small  # inline below the size limit
    monkeypatch.setattr(_rag, "_INLINE_SCAN", 1)
    assert await kb.query("refund", k=10) == small  # the same answer from a worker thread
    assert threads[0] == threading.current_thread().name and threads[1] != threads[0]
