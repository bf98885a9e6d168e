"""Long-term memory: documents chunked, embedded, kept in a store, found again by exact vector search.

Chunks live in the same `Store` as sessions (namespace `"kb"`, one stream per collection, one record
per chunk with its vector), so a persistent store keeps the knowledge too. Search is exact: every
vector in a float32 numpy matrix, one matrix-vector product per query, so recall is 1.0 (an
approximate index is an option on top, always reported with its recall against this).
"""

from __future__ import annotations

import asyncio
import base64
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .._result import Source
from ..errors import BadResponseError, ProviderConnectionError, ProviderHTTPError, UserError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ..stores._base import Store, StreamInfo

    Matrix = npt.NDArray[np.float32]

__all__ = (
    "KB_NS",
    "Document",
    "Embedder",
    "HashEmbedder",
    "KnowledgeBase",
    "OpenAIEmbedder",
    "VectorIndex",
    "chunk_text",
    "hash_features",
)

KB_NS = "kb"
_WORDS = re.compile(r"\w+")


def _np() -> Any:
    try:
        import numpy
    except ImportError as exc:  # pragma: no cover - installed with the rag extra
        raise ImportError('documents and retrieval need numpy: pip install "agentickit[rag]"') from exc
    return numpy


@dataclass(slots=True, kw_only=True)
class Document:
    """A document to add to memory: its text, an id (default: `doc-<n>`), and metadata to filter on."""

    text: str
    id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict[str, Any])


def chunk_text(text: str, chunk_size: int, overlap: int) -> list[str]:
    """Split text into chunks of at most `chunk_size` characters, consecutive ones sharing `overlap`.

    Cuts fall on whitespace when there is some in the last fifth of a chunk, so words stay whole.
    """
    if chunk_size < 1:
        raise UserError(f"chunk_size must be >= 1 characters, got {chunk_size!r}")
    if not 0 <= overlap < chunk_size:
        raise UserError(f"overlap must be >= 0 and < chunk_size ({chunk_size}), got {overlap!r}")
    text = text.strip()
    chunks: list[str] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + chunk_size)
        if end < len(text):
            cut = text.rfind(" ", start + chunk_size * 4 // 5, end)
            if cut > start:
                end = cut
        piece = text[start:end].strip()
        if piece:
            chunks.append(piece)
        if end >= len(text):
            break
        start = max(end - overlap, start + 1)
    return chunks


def hash_features(text: str, dim: int) -> list[float]:
    """Hashed word and character-n-gram features, L2-normalised (pure Python, deterministic everywhere).

    Words weigh 1.0, their character 3- and 4-grams 0.5 (so "refund" and "refunds" are close);
    each feature goes to `crc32 % dim` with a sign from another bit, which keeps collisions unbiased.
    """
    vec = [0.0] * dim
    for word in _WORDS.findall(text.lower()):
        feats = [(word, 1.0)]
        padded = f"<{word}>"
        for n in (3, 4):
            feats.extend((padded[i : i + n], 0.5) for i in range(len(padded) - n + 1))
        for feat, weight in feats:
            h = zlib.crc32(feat.encode())
            vec[h % dim] += weight if (h >> 31) & 1 else -weight
    norm = sum(v * v for v in vec) ** 0.5
    return [v / norm for v in vec] if norm else vec


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors of `dim` floats. Implement it to add a model."""

    name: str
    dim: int

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order."""
        ...


class HashEmbedder:
    """The offline default: hashed n-gram features. No model, no download; good at shared words, blind to synonyms."""

    __slots__ = ("dim", "name")

    def __init__(self, dim: int = 384) -> None:
        if dim < 8:
            raise UserError(f"dim must be >= 8, got {dim!r}")
        self.dim = dim
        self.name = f"hash-{dim}"

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts (in a thread when there are many, so the loop is not held)."""
        if len(texts) > 16:
            return await asyncio.to_thread(lambda: [hash_features(t, self.dim) for t in texts])
        return [hash_features(t, self.dim) for t in texts]

    def __repr__(self) -> str:
        return f"HashEmbedder(dim={self.dim})"


class OpenAIEmbedder:
    """Any OpenAI-compatible `/v1/embeddings` endpoint (OpenAI, vLLM, Ollama, `agentickit simulate-llm`).

    Args:
        model: the embedding model name.
        base_url: the API root, e.g. `http://127.0.0.1:8000/v1`.
        api_key: sent as a bearer token; never shown in `repr` or errors.
        dim: the vector size (asked of the server as `dimensions` when it differs from the model's).
        batch_size: texts per request.

    """

    __slots__ = ("_api_key", "_session", "base_url", "batch_size", "dim", "model", "name", "timeout")

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        *,
        base_url: str = "https://api.openai.com/v1",
        api_key: str | None = None,
        dim: int = 384,
        batch_size: int = 128,
        timeout: float = 60.0,
    ) -> None:
        self.model = model
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.dim = dim
        self.batch_size = batch_size
        self.timeout = timeout
        self.name = f"openai:{model}"
        self._session: Any = None

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts, `batch_size` per request."""
        import aiohttp

        if self._session is None:
            headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
            self._session = aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=self.timeout))
        out: list[list[float]] = []
        url = f"{self.base_url}/embeddings"
        for i in range(0, len(texts), self.batch_size):
            batch = list(texts[i : i + self.batch_size])
            try:
                async with self._session.post(
                    url, json={"model": self.model, "input": batch, "dimensions": self.dim}
                ) as resp:
                    if resp.status >= 400:
                        body = await resp.text()
                        raise ProviderHTTPError(
                            f"embeddings request to {url} failed with HTTP {resp.status}: {body[:300]}",
                            status=resp.status,
                            body=body,
                            provider="openai",
                            model=self.model,
                        )
                    payload = await resp.json()
            except aiohttp.ClientError as exc:
                raise ProviderConnectionError(
                    f"cannot reach the embeddings endpoint {url}: {exc}", provider="openai", model=self.model
                ) from exc
            try:
                rows = sorted(payload["data"], key=lambda d: d["index"])
                vectors = [[float(x) for x in d["embedding"]] for d in rows]
            except (KeyError, TypeError, ValueError) as exc:
                raise BadResponseError(f"the embeddings endpoint {url} answered an unreadable body: {exc}") from exc
            if len(vectors) != len(batch) or any(len(v) != self.dim for v in vectors):
                raise BadResponseError(
                    f"the embeddings endpoint {url} returned {len(vectors)} vectors for {len(batch)} texts "
                    f"(expected {self.dim} floats each)"
                )
            out.extend(vectors)
        return out

    async def aclose(self) -> None:
        """Close the HTTP session. Idempotent."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def __repr__(self) -> str:
        return f"OpenAIEmbedder({self.model!r}, base_url={self.base_url!r})"


@runtime_checkable
class VectorIndex(Protocol):
    """An approximate index that holds chunks itself (e.g. `ak.stores.PgVector`), instead of exact search.

    It must be able to say what it gives up: `recall()` measures recall@k against exact search.
    """

    @property
    def name(self) -> str:
        """A label for reports (the index kind and its settings)."""
        ...

    async def add(
        self,
        collection: str,
        ids: Sequence[str],
        texts: Sequence[str],
        metas: Sequence[Mapping[str, Any]],
        vectors: Matrix,
        model: str,
    ) -> None:
        """Insert or replace chunks with their normalised vectors."""
        ...

    async def count(self, collection: str) -> int:
        """How many chunks the collection holds."""
        ...

    async def search(
        self, collection: str, vector: Any, *, k: int, filter: Mapping[str, Any] | None = None, exact: bool = False
    ) -> list[Source]:
        """The `k` nearest chunks, best first (`exact=True`: without the approximate index)."""
        ...

    async def recall(self, collection: str = "default", *, k: int = 10, queries: Matrix | None = None) -> float:
        """Recall@k of the index against exact search."""
        ...

    async def clear(self, collection: str) -> None:
        """Delete the collection."""
        ...

    async def aclose(self) -> None:
        """Release connections. Idempotent."""
        ...


def _matches(meta: Mapping[str, Any], flt: Mapping[str, Any] | None) -> bool:
    if not flt:
        return True
    for key, want in flt.items():
        have = meta.get(key)
        if isinstance(want, list | tuple | set | frozenset):
            if have not in want:
                return False
        elif have != want:
            return False
    return True


_INLINE_SCAN = 1 << 20
"""Matrices smaller than this many floats (~0.1-0.5 ms to scan) are searched on the loop; bigger ones in a thread."""


def _top_k(matrix: Any, q: Any, k: int, mask: Any) -> list[tuple[int, float]]:
    """The `k` best rows of `matrix @ q` (float32 matrix-vector product), best first, as (row, score).

    `mask`: rows that may be picked (others never are, even when fewer than `k` remain).
    """
    np = _np()
    scores = matrix @ q  # one sgemv: the matrix is C-contiguous float32, pre-normalised, as is `q`
    if mask is not None:
        scores[~mask] = -np.inf
    n = scores.shape[0]
    k = min(k, n)
    # argpartition on the scores themselves (no negated copy): the k largest sit at the end.
    top = np.argpartition(scores, n - k)[n - k :] if k < n else np.arange(n)
    top = top[np.argsort(-scores[top], kind="stable")]
    best = scores[top]
    return [(int(i), float(s)) for i, s in zip(top, best, strict=True) if s > -np.inf]


class KnowledgeBase:
    """Chunks and their vectors in a store, with an in-process float32 matrix for exact search.

    The matrix follows the store: before each search, `info()` says whether other processes have
    added chunks, and only the new records are read (appends only, so no full reload).
    With an `index` (e.g. `ak.stores.PgVector`), chunks live in the index instead and searches go to it.
    """

    __slots__ = (
        "_count",
        "_created_at",
        "_ids",
        "_lock",
        "_matrix",
        "_metas",
        "_next_seq",
        "_texts",
        "collection",
        "embedder",
        "index",
        "store",
    )

    def __init__(
        self, store: Store, embedder: Embedder, collection: str = "default", index: VectorIndex | None = None
    ) -> None:
        self.index = index
        self._count = 0
        self.store = store
        self.embedder = embedder
        self.collection = collection
        self._ids: list[str] = []
        self._texts: list[str] = []
        self._metas: list[dict[str, Any]] = []
        self._matrix: Any = None
        self._next_seq = 0
        self._created_at: float | None = None
        self._lock: asyncio.Lock | None = None

    def __len__(self) -> int:
        return self._count if self.index is not None else len(self._ids)

    async def add(
        self,
        docs: Sequence[str | Document],
        *,
        chunk_size: int = 800,
        overlap: int = 100,
        metadata: Mapping[str, Any] | None = None,
    ) -> list[str]:
        """Chunk, embed and store documents; return the chunk ids (`<doc id>#<n>`)."""
        np = _np()
        records: list[dict[str, Any]] = []
        texts: list[str] = []
        base = len(self)
        for n, doc in enumerate(docs):
            d = Document(text=doc) if isinstance(doc, str) else doc
            doc_id = d.id or f"doc-{base + n}"
            meta = {**(metadata or {}), **d.metadata, "doc_id": doc_id}
            for i, piece in enumerate(chunk_text(d.text, chunk_size, overlap)):
                texts.append(piece)
                records.append({"id": f"{doc_id}#{i}", "text": piece, "meta": meta})
        if not records:
            return []
        vectors = np.asarray(await self.embedder.embed(texts), dtype=np.float32)
        if vectors.shape != (len(texts), self.embedder.dim):
            raise UserError(f"embedder {self.embedder.name!r} returned vectors of shape {vectors.shape}")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.where(norms == 0, 1, norms)
        if self.index is not None:
            await self.index.add(
                self.collection,
                [r["id"] for r in records],
                texts,
                [r["meta"] for r in records],
                vectors,
                self.embedder.name,
            )
            await self.refresh()
            return [r["id"] for r in records]
        for rec, vec in zip(records, vectors, strict=True):
            rec["vec"] = base64.b64encode(vec.tobytes()).decode()
            rec["model"] = self.embedder.name
        await self.store.append(KB_NS, self.collection, records)
        await self.refresh()
        return [r["id"] for r in records]

    async def refresh(self) -> None:
        """Read chunks other processes (or this one) appended since the last refresh."""
        if self.index is not None:
            self._count = await self.index.count(self.collection)
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            await self._catch_up(await self.store.info(KB_NS, self.collection))

    async def refresh_from(self, info: StreamInfo | None) -> None:
        """`refresh()` given the collection's stream info read along with something else (a run's history).

        The info may be older than what is loaded (a concurrent refresh got further): then nothing is
        read. Only an info that cannot be trusted that way (the collection gone, or deleted and made
        again) costs a fresh `refresh()`; an unchanged collection costs nothing.
        """
        if self.index is not None:
            await self.refresh()
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if info is None:
                if self._created_at is None and not self._next_seq:
                    return  # no documents, none loaded
            elif info.created_at == self._created_at or (self._created_at is None and not self._next_seq):
                if info.next_seq > self._next_seq:
                    await self._catch_up(info)
                return
            await self._catch_up(await self.store.info(KB_NS, self.collection))

    async def _catch_up(self, info: StreamInfo | None) -> None:
        """Load the records the current `info` has beyond what is loaded (under the lock)."""
        if info is None:
            if self._next_seq or self._created_at is not None:
                self._reset()  # the collection was deleted
            return
        if (self._created_at is not None and info.created_at != self._created_at) or info.next_seq < self._next_seq:
            self._reset()  # the collection was deleted and made again
        if info.next_seq > self._next_seq:
            np = _np()
            # `end`: what was appended after `info` was read is left for the next refresh (read once).
            new = await self.store.read(KB_NS, self.collection, start=self._next_seq, end=info.next_seq)
            for r in new:
                if r.data.get("model") != self.embedder.name:
                    raise UserError(
                        f"collection {self.collection!r} holds vectors of {r.data.get('model')!r}, but this memory "
                        f"embeds with {self.embedder.name!r}; use the same embedder or another collection"
                    )
            if new:
                block = np.vstack([np.frombuffer(base64.b64decode(r.data["vec"]), dtype=np.float32) for r in new])
                self._matrix = block if self._matrix is None else np.vstack([self._matrix, block])
                self._ids += [r.data["id"] for r in new]
                self._texts += [r.data["text"] for r in new]
                self._metas += [r.data.get("meta") or {} for r in new]
            self._next_seq = info.next_seq
        self._created_at = info.created_at

    def _reset(self) -> None:
        self._ids, self._texts, self._metas = [], [], []
        self._matrix = None
        self._next_seq = 0
        self._created_at = None

    async def query(self, text: str, *, k: int = 5, filter: Mapping[str, Any] | None = None) -> list[Source]:
        """The `k` chunks most similar to `text` (cosine), best first, among those whose metadata match `filter`."""
        if self.index is None:
            await self.refresh()
        return await self.search(text, k=k, filter=filter)

    async def search(self, text: str, *, k: int = 5, filter: Mapping[str, Any] | None = None) -> list[Source]:
        """`query()` over what is loaded, without asking the store for new chunks first (`refresh()` does)."""
        if self.index is not None:
            if k <= 0:
                return []
            return await self.index.search(self.collection, await self._embed_query(text), k=k, filter=filter)
        matrix = self._matrix
        if k <= 0 or matrix is None:
            return []
        q = await self._embed_query(text)
        # References taken now: a refresh meanwhile extends the lists (indices stay valid) or replaces them.
        ids, texts, metas = self._ids, self._texts, self._metas
        mask = None
        if filter:
            mask = _np().fromiter((_matches(m, filter) for m in metas), dtype=bool, count=matrix.shape[0])
        if matrix.size >= _INLINE_SCAN:
            # The scan reads the whole matrix (100,000 x 384 float32 is 154 MB, ~10 ms): off the loop.
            picked = await asyncio.to_thread(_top_k, matrix, q, k, mask)
        else:
            picked = _top_k(matrix, q, k, mask)
        return [Source(id=ids[i], text=texts[i], score=score, metadata=dict(metas[i])) for i, score in picked]

    async def _embed_query(self, text: str) -> Any:
        np = _np()
        q = np.asarray((await self.embedder.embed([text]))[0], dtype=np.float32)
        norm = float(np.linalg.norm(q))
        return q / norm if norm else q

    async def clear(self) -> None:
        """Delete every chunk of the collection."""
        if self.index is not None:
            await self.index.clear(self.collection)
            self._count = 0
            return
        await self.store.delete(KB_NS, self.collection)
        self._reset()
