"""Memory: per-session conversation history with limits over a store, and long-term knowledge (RAG)."""

from ._memory import InMemoryStore, Memory, MemoryStore, trim_history
from ._rag import Document, Embedder, HashEmbedder, KnowledgeBase, OpenAIEmbedder, VectorIndex, chunk_text
from ._sessions import SessionStore
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
