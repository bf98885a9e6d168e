"""The Store contract, on every backend: the real SQLite file, PostgreSQL and Redis on 127.0.0.1."""

from __future__ import annotations

import asyncio

import pytest

from agentickit.errors import UserError
from agentickit.stores import CorruptRecordError, Store, _base


async def test_append_assigns_seqs_and_read_ranges(store: Store) -> None:
    assert await store.append("session", "a", [{"i": 0}, {"i": 1}]) == 0
    assert await store.append("session", "a", [{"i": 2}]) == 2
    recs = await store.read("session", "a")
    assert [(r.seq, r.data) for r in recs] == [(0, {"i": 0}), (1, {"i": 1}), (2, {"i": 2})]
    assert [r.seq for r in await store.read("session", "a", start=1)] == [1, 2]
    assert [r.seq for r in await store.read("session", "a", start=0, end=2)] == [0, 1]
    assert [r.seq for r in await store.read("session", "a", last=2)] == [1, 2]
    assert await store.read("session", "missing") == []
    info = await store.info("session", "a")
    assert info is not None and (info.first_seq, info.next_seq, info.count) == (0, 3, 3)
    assert await store.info("session", "missing") is None
    # Namespaces are separate: a run journal with the same id is another stream.
    await store.append("journal", "a", [{"kind": "step"}])
    assert len(await store.read("session", "a")) == 3


async def test_unicode_and_nested_values_round_trip(store: Store) -> None:
    data = {"text": 'héllo 👋 \u0000 "quoted" ', "n": [1, 2.5, None, True], "deep": {"k": {"x": "y"}}}
    await store.append("s", "u", [data])
    assert (await store.read("s", "u"))[0].data == data


async def test_max_records_trims_oldest_keeps_positions(store: Store) -> None:
    for i in range(5):
        await store.append("s", "t", [{"i": i}], max_records=3)
    recs = await store.read("s", "t")
    assert [(r.seq, r.data["i"]) for r in recs] == [(2, 2), (3, 3), (4, 4)]
    info = await store.info("s", "t")
    assert info is not None and (info.first_seq, info.next_seq) == (2, 5)
    assert [r.seq for r in await store.read("s", "t", start=0, end=4)] == [2, 3]


async def test_max_records_below_the_batch_keeps_its_newest(store: Store) -> None:
    await store.append("s", "b", [{"i": 0}])
    assert await store.append("s", "b", [{"i": i} for i in range(1, 6)], max_records=3) == 1
    assert [(r.seq, r.data["i"]) for r in await store.read("s", "b")] == [(3, 3), (4, 4), (5, 5)]
    assert await store.append("s", "new", [{"i": i} for i in range(4)], max_records=2) == 0
    assert [r.seq for r in await store.read("s", "new")] == [2, 3]
    info = await store.info("s", "new")
    assert info is not None and (info.first_seq, info.next_seq) == (2, 4)
    assert [r.seq for r in await store.read("s", "new", last=1)] == [3]
    assert [r.seq for r in await store.read("s", "new", last=0)] == []
    assert [r.seq for r in await store.read("s", "new", start=3, end=9)] == [3]


async def test_ttl_is_renewed_by_appends_and_kept_without_one(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [_base.now()]
    monkeypatch.setattr(_base, "_time", lambda: clock[0])
    await store.append("session", "t", [{"i": 0}], ttl=60)
    first = await store.info("session", "t")
    assert first is not None and first.expires_at == pytest.approx(clock[0] + 60)
    clock[0] += 50
    await store.append("session", "t", [{"i": 1}], ttl=60)
    await store.append("session", "t", [{"i": 2}])  # no ttl: the expiry stays as it was
    await store.put_meta("session", "t", {"title": "kept"})
    info = await store.info("session", "t")
    assert info is not None and info.expires_at == pytest.approx(clock[0] + 60)
    assert (info.count, info.meta, info.updated_at) == (3, {"title": "kept"}, pytest.approx(clock[0]))
    clock[0] += 61
    # Metadata for an expired stream starts a new, empty one (its old records are gone).
    await store.put_meta("session", "t", {"title": "new"})
    info = await store.info("session", "t")
    assert info is not None and (info.count, info.first_seq, info.meta, info.expires_at) == (
        0,
        0,
        {"title": "new"},
        None,
    )
    assert await store.read("session", "t") == []
    assert await store.append("session", "t", [{"again": 1}]) == 0


async def test_list_newest_first_paged(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(_base, "_time", lambda: clock[0])
    for i in range(7):
        clock[0] += 1
        await store.append("session", f"s{i}", [{"i": i}])
    clock[0] += 1
    await store.append("session", "s2", [{"again": True}])  # s2 becomes the newest
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await store.list("session", limit=3, cursor=cursor)
        pages += 1
        seen += [i.id for i in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ["s2", "s6", "s5", "s4", "s3", "s1", "s0"]
    assert pages == 3
    assert (await store.list("other")).items == []


async def test_meta_delete(store: Store) -> None:
    await store.put_meta("run", "r1", {"status": "paused", "step": 3})
    info = await store.info("run", "r1")
    assert info is not None and info.meta == {"status": "paused", "step": 3} and info.count == 0
    await store.append("run", "r1", [{"x": 1}])
    info = await store.info("run", "r1")
    assert info is not None and info.meta["status"] == "paused"
    assert await store.delete("run", "r1") is True
    assert await store.delete("run", "r1") is False
    assert await store.info("run", "r1") is None and await store.read("run", "r1") == []


async def test_ttl_expires_and_sweep_frees(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [_base.now()]
    monkeypatch.setattr(_base, "_time", lambda: clock[0])
    await store.append("session", "old", [{"i": 0}], ttl=60)
    await store.append("session", "keep", [{"i": 0}])
    clock[0] += 30
    await store.append("session", "fresh", [{"i": 0}], ttl=60)
    assert len(await store.read("session", "old")) == 1
    clock[0] += 31  # "old" is past its ttl; "fresh" is not
    assert await store.read("session", "old") == []
    assert await store.info("session", "old") is None
    assert {i.id for i in (await store.list("session")).items} == {"keep", "fresh"}
    assert await store.sweep("session") == 1
    assert await store.sweep() == 0
    # A new append to an expired name starts a new, empty stream.
    clock[0] += 100
    assert await store.append("session", "fresh", [{"new": 1}]) == 0
    assert [r.data for r in await store.read("session", "fresh")] == [{"new": 1}]


async def test_sweep_spares_a_stream_made_again_after_it_expired(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [_base.now()]
    monkeypatch.setattr(_base, "_time", lambda: clock[0])
    await store.append("session", "a", [{"i": 0}], ttl=10)
    await store.append("run", "m", [{"i": 0}], ttl=10)
    clock[0] += 11
    await store.append("session", "a", [{"again": 1}])  # a new stream, without a ttl
    await store.put_meta("run", "m", {"status": "new"})
    assert await store.sweep() == 0
    assert [r.data for r in await store.read("session", "a")] == [{"again": 1}]
    info = await store.info("run", "m")
    assert info is not None and (info.meta, info.count) == ({"status": "new"}, 0)


async def test_concurrent_appends_in_one_process_get_one_order(store: Store) -> None:
    await asyncio.gather(*(store.append("s", "c", [{"i": i}, {"i": i}]) for i in range(50)))
    recs = await store.read("s", "c")
    assert [r.seq for r in recs] == list(range(100))
    # Each append's two records are adjacent: appends are atomic.
    assert all(recs[k].data == recs[k + 1].data for k in range(0, 100, 2))


async def test_bad_arguments_are_rejected(store: Store) -> None:
    with pytest.raises(UserError, match="ttl"):
        await store.append("s", "x", [{"a": 1}], ttl=0)
    with pytest.raises(UserError, match="max_records"):
        await store.append("s", "x", [{"a": 1}], max_records=0)
    with pytest.raises(UserError, match="sequence of records"):
        await store.append("s", "x", {"a": 1})  # type: ignore[arg-type]
    with pytest.raises(UserError, match="JSON"):
        await store.append("s", "x", [{"a": object()}])
    with pytest.raises(UserError, match="stream id"):
        await store.append("s", "", [{"a": 1}])
    assert await store.info("s", "x") is None


def test_corrupt_record_error_names_place() -> None:
    with pytest.raises(CorruptRecordError, match=r"session/'u1' at position 7") as info:
        _base.decode_record(b"{not json", "session", "u1", 7)
    assert (info.value.namespace, info.value.stream_id, info.value.seq) == ("session", "u1", 7)


class _Plain:
    """A store with only the `Store` methods (no `read_and_info`): what a third-party store may be."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.read = inner.read
        self.info = inner.info


async def test_read_and_info_is_a_read_and_an_info_at_once(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    await store.append("session", "s", [{"i": i} for i in range(5)])
    await store.append("kb", "docs", [{"c": 0}, {"c": 1}])
    await store.put_meta("kb", "docs", {"title": "faq"})
    for target in (store, _Plain(store)):
        records, info = await _base.read_and_info(target, "session", "s", ("kb", "docs"), last=3)  # type: ignore[arg-type]
        assert [(r.seq, r.data) for r in records] == [(2, {"i": 2}), (3, {"i": 3}), (4, {"i": 4})]
        assert info == await store.info("kb", "docs")
        assert info is not None and (info.namespace, info.id, info.next_seq, info.meta) == (
            "kb",
            "docs",
            2,
            {"title": "faq"},
        )
        records, info = await _base.read_and_info(target, "session", "s", ("kb", "missing"), start=1, end=3)  # type: ignore[arg-type]
        assert [r.seq for r in records] == [1, 2] and info is None
        assert await _base.read_and_info(target, "session", "missing", ("kb", "missing")) == ([], None)  # type: ignore[arg-type]
    # An expired stream is absent to both halves, as to `read` and `info`.
    clock = [_base.now()]
    await store.append("kb", "brief", [{"c": 0}], ttl=10)
    await store.append("session", "brief", [{"i": 0}], ttl=10)
    monkeypatch.setattr(_base, "_time", lambda: clock[0])
    clock[0] += 11
    assert await _base.read_and_info(store, "session", "brief", ("kb", "brief")) == ([], None)
