"""Per-query candidate pools (``{query, positives, candidates}``): BM25 over the pool, scores cached on
disk (:meth:`~local_rerank.search.score_cache.SqliteScores.file`), so an interrupted evaluation
resumes where it stopped."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

from local_rerank.search.cjk import query_terms
from local_rerank.search.hits import SearchHit
from local_rerank.search.passage_list import PassageList
from local_rerank.search.score_cache import ScoreCache

_K1, _B = 1.2, 0.75


class PoolCorpus(PassageList):
    """One query's pool: passages named ``#1``, ``#2``... in the given order, ranked by BM25
    (Okapi, k1 1.2, b 0.75, over :func:`~local_rerank.search.cjk.query_terms`) for the first stage."""

    first_stage = "BM25 order"

    def __init__(self, texts: list[str], source: str, cache: ScoreCache) -> None:
        super().__init__(texts, source, cache)
        self._terms = [Counter(query_terms(hit.passage.text)) for hit in self.hits]

    def lexical(self, query: str, limit: int) -> list[SearchHit]:
        """The ``limit`` best passages of the pool by BM25, ties in the pool's order."""
        scores = self._bm25(query_terms(query))
        order = sorted(range(len(self.hits)), key=lambda i: (-scores[i], i))[:limit]
        return [replace(self.hits[i], bm25_rank=rank, bm25_score=scores[i]) for rank, i in enumerate(order, start=1)]

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
