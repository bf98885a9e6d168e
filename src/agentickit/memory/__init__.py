"""Memory: per-session conversation history with limits over a store, and long-term knowledge (RAG)."""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports
from ._memory import InMemoryStore, Memory, MemoryStore, trim_history
from ._sessions import SessionStore

if TYPE_CHECKING:
    from ._rag import Document, Embedder, HashEmbedder, KnowledgeBase, OpenAIEmbedder, VectorIndex, chunk_text
    from ._st import SentenceTransformerEmbedder

__all__ = (
    "Document",
    "Embedder",
    "HashEmbedder",
    "InMemoryStore",
    "KnowledgeBase",
    "Memory",
    "MemoryStore",
    "OpenAIEmbedder",
    "SentenceTransformerEmbedder",
    "SessionStore",
    "VectorIndex",
    "chunk_text",
    "trim_history",
)


# Retrieval and the sentence-transformers embedder (with pathlib) load on first use (the first
# Memory loads retrieval itself), not with `import agentickit`.
_RAG = "._rag"
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Document": _RAG,
        "Embedder": _RAG,
        "HashEmbedder": _RAG,
        "KnowledgeBase": _RAG,
        "OpenAIEmbedder": _RAG,
        "VectorIndex": _RAG,
        "chunk_text": _RAG,
        "SentenceTransformerEmbedder": "._st",
    },
)
