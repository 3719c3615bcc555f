"""Visitor state behind one protocol (base.py): `memory:`, SQLite (the
default: a bare path or sqlite:///PATH), PostgreSQL (postgresql://...) and
Redis (redis:// and rediss://, one server or a cluster)."""

from __future__ import annotations

from .base import DEDUP_WINDOW, Change, Conflict, CursorMoved, Store, StoreError, masked

__all__ = ["DEDUP_WINDOW", "Change", "Conflict", "CursorMoved", "Store", "StoreError", "masked", "open_store"]


def open_store(url: str, *, readonly: bool = False) -> Store:
    """The store a URL names. Raises StoreError with a one-line message."""
    if url == "memory:":
        from .memory import MemoryStore

        return MemoryStore(url)
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme in ("", "sqlite"):
        if not url.strip() or url == "sqlite://":
            raise StoreError("give a store: a file path, sqlite:///PATH or memory:")
        from .sqlite import SQLiteStore

        return SQLiteStore(url, readonly=readonly)
    if scheme in ("postgresql", "postgres"):
        from .postgres import PostgresStore

        return PostgresStore(url, readonly=readonly)
    if scheme in ("redis", "rediss"):
        from .redis import RedisStore

        return RedisStore(url, readonly=readonly)
    raise StoreError(f"unknown store URL {url!r}: give a file path, sqlite:///PATH or memory:")
