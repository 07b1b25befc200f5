"""Per-query candidate pools (``{query, positives, candidates}``): BM25 over the pool, scores cached on disk."""

from __future__ import annotations

import math
import sqlite3
import threading
from collections import Counter
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Mapping

from local_rerank.search.cjk import query_terms
from local_rerank.search.hits import SearchHit
from local_rerank.search.passage_list import PassageList

_K1, _B = 1.2, 0.75


class ScoreCache:
    """Reranker scores by :func:`~local_rerank.search.pipeline.score_key`, in an SQLite file, so an
    interrupted evaluation resumes where it stopped."""

    def __init__(self, database: Path) -> None:
        database.parent.mkdir(parents=True, exist_ok=True)
        self.database = database
        self._lock = threading.Lock()
        with self._connect() as connection:
            connection.execute("CREATE TABLE IF NOT EXISTS scores(key TEXT PRIMARY KEY, score REAL)")

    def cached_scores(self, keys: list[str]) -> dict[str, float]:
        """The stored scores among ``keys``."""
        found: dict[str, float] = {}
        with self._connect() as connection:
            for start in range(0, len(keys), 500):
                part = keys[start:start + 500]
                found.update(connection.execute(
                    f"SELECT key, score FROM scores WHERE key IN ({','.join('?' * len(part))})", part).fetchall())
        return found

    def save_scores(self, scores: Mapping[str, float]) -> None:
        """Remember scores by key."""
        with self._lock, self._connect() as connection:
            connection.executemany("INSERT OR REPLACE INTO scores VALUES(?, ?)", scores.items())

    def _connect(self) -> closing[sqlite3.Connection]:
        connection = sqlite3.connect(self.database, timeout=30)
        connection.isolation_level = None  # autocommit: each save is durable at once
        return closing(connection)


class PoolCorpus(PassageList):
    """One query's pool: passages named ``#1``, ``#2``... in the given order, ranked by BM25
    (Okapi, k1 1.2, b 0.75, over :func:`~local_rerank.search.cjk.query_terms`) for the first stage."""

    def __init__(self, texts: list[str], source: str, cache: ScoreCache) -> None:
        super().__init__(texts, source)
        self.cache = cache
        self._terms = [Counter(query_terms(hit.passage.text)) for hit in self.hits]

    def lexical(self, query: str, limit: int) -> list[SearchHit]:
        """The ``limit`` best passages of the pool by BM25, ties in the pool's order."""
        scores = self._bm25(query_terms(query))
        order = sorted(range(len(self.hits)), key=lambda i: (-scores[i], i))[:limit]
        return [replace(self.hits[i], bm25_rank=rank, bm25_score=scores[i]) for rank, i in enumerate(order, start=1)]

    def cached_scores(self, keys: list[str]) -> dict[str, float]:
        """The scores already on disk among ``keys``."""
        return self.cache.cached_scores(keys)

    def save_scores(self, scores: Mapping[str, float]) -> None:
        """Remember scores on disk."""
        self.cache.save_scores(scores)

    def _bm25(self, terms: list[str]) -> list[float]:
        lengths = [sum(counts.values()) for counts in self._terms]
        average = sum(lengths) / len(lengths) or 1.0
        scores = [0.0] * len(self.hits)
        for term in terms:
            having = sum(term in counts for counts in self._terms)
            idf = math.log(1 + (len(self.hits) - having + 0.5) / (having + 0.5))
            for i, counts in enumerate(self._terms):
                tf = counts.get(term, 0)
                scores[i] += idf * tf * (_K1 + 1) / (tf + _K1 * (1 - _B + _B * lengths[i] / average)) if tf else 0.0
        return scores
