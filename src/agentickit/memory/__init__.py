"""Memory: per-session conversation history with limits over a store, and long-term knowledge (RAG)."""

from ._memory import InMemoryStore, Memory, MemoryStore, trim_history
from ._rag import Document, Embedder, HashEmbedder, KnowledgeBase, OpenAIEmbedder, chunk_text
from ._sessions import SessionStore

__all__ = (
    "Document",
    "Embedder",
    "HashEmbedder",
    "InMemoryStore",
    "KnowledgeBase",
    "Memory",
    "MemoryStore",
    "OpenAIEmbedder",
    "SessionStore",
    "chunk_text",
    "trim_history",
)
