"""Memory: per-session conversation history with limits over a store, and long-term knowledge (RAG)."""

from typing import TYPE_CHECKING

from .._lazy import lazy_exports
from ._memory import InMemoryStore, Memory, MemoryStore, trim_history
from ._rag import Document, Embedder, HashEmbedder, KnowledgeBase, OpenAIEmbedder, VectorIndex, chunk_text
from ._sessions import SessionStore

if TYPE_CHECKING:
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


# The sentence-transformers embedder (and pathlib) load on first use, not with `import agentickit`.
__getattr__, __dir__ = lazy_exports(__name__, {"SentenceTransformerEmbedder": "._st"})
