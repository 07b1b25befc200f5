"""Reranker scores by key (:func:`~local_rerank.search.pipeline.score_key`), so that a repeated or
widened search, or an interrupted evaluation, costs only what it has not scored before.

One interface, :class:`ScoreCache`, two stores: :class:`SqliteScores`, the ``scores`` table of an
SQLite file (a folder's index, or eval's own file), and :class:`MemoryScores`, for a list of
passages, kept for the run.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, closing
from pathlib import Path
from typing import Protocol

SCORES_TABLE = "CREATE TABLE IF NOT EXISTS scores(key TEXT PRIMARY KEY, score REAL)"
_KEYS_PER_QUERY = 500  # SQLite allows 999 parameters a statement (before 3.32)


class ScoreCache(Protocol):
    """Scores by key."""

    def cached_scores(self, keys: list[str]) -> dict[str, float]:
        """The stored scores among ``keys``."""

    def save_scores(self, scores: Mapping[str, float]) -> None:
        """Remember scores by key."""


class SqliteScores:
    """Scores in the ``scores`` table (:data:`SCORES_TABLE`) of the database that ``connect`` opens;
    one save at a time from this object."""

    def __init__(self, connect: Callable[[], AbstractContextManager[sqlite3.Connection]]) -> None:
        self._connect = connect
        self._lock = threading.Lock()

    @classmethod
    def file(cls, database: Path) -> SqliteScores:
        """Scores in a file of their own, created with its folder on first use; each save is
        durable at once (autocommit), so an interrupted run keeps what it scored."""
        database.parent.mkdir(parents=True, exist_ok=True)

        def connect() -> closing[sqlite3.Connection]:
            connection = sqlite3.connect(database, timeout=30)
            connection.isolation_level = None  # autocommit: each save is durable at once
            return closing(connection)

        with connect() as connection:
            connection.execute(SCORES_TABLE)
        return cls(connect)

    def cached_scores(self, keys: list[str]) -> dict[str, float]:
        """The stored scores among ``keys``."""
        found: dict[str, float] = {}
        with self._connect() as connection:
            for start in range(0, len(keys), _KEYS_PER_QUERY):
                part = keys[start:start + _KEYS_PER_QUERY]
                found.update(connection.execute(
                    f"SELECT key, score FROM scores WHERE key IN ({','.join('?' * len(part))})", part).fetchall())
        return found

    def save_scores(self, scores: Mapping[str, float]) -> None:
        """Remember scores by key (a key saved again takes the new score)."""
        with self._lock, self._connect() as connection:
            connection.executemany("INSERT OR REPLACE INTO scores VALUES(?, ?)", scores.items())


class MemoryScores:
    """Scores in memory, for this run only; safe to use from several threads."""

    def __init__(self) -> None:
        self._scores: dict[str, float] = {}
        self._lock = threading.Lock()

    def cached_scores(self, keys: list[str]) -> dict[str, float]:
        """The stored scores among ``keys``."""
        with self._lock:
            return {key: self._scores[key] for key in keys if key in self._scores}

    def save_scores(self, scores: Mapping[str, float]) -> None:
        """Remember scores by key."""
        with self._lock:
            self._scores.update(scores)
