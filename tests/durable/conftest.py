"""Durable-run fixtures: the stores' fixtures (every backend, unique prefixes), reused."""

from __future__ import annotations

from ..stores.conftest import drop, make_store, store, store_factory, unique_prefix

__all__ = ("drop", "make_store", "store", "store_factory", "unique_prefix")
