"""Ranking metrics for one query: a ranked list of document ids against graded relevance.

``relevance`` maps a document id to its grade (0 or absent: not relevant); every metric is
0 when the query has no relevant document.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def mrr_at(ranked: Sequence[str], relevance: Mapping[str, int], k: int = 10) -> float:
    """1 / the rank of the first relevant document within the top ``k`` (0 when none)."""
    return next((1 / rank for rank, doc in enumerate(ranked[:k], start=1) if relevance.get(doc, 0) > 0), 0.0)


def ndcg_at(ranked: Sequence[str], relevance: Mapping[str, int], k: int = 10) -> float:
    """Normalised discounted cumulative gain at ``k``, with gain = grade (as BEIR's trec_eval)."""
    ideal = sorted((grade for grade in relevance.values() if grade > 0), reverse=True)[:k]
    best = _dcg(ideal)
    return _dcg([relevance.get(doc, 0) for doc in ranked[:k]]) / best if best else 0.0


def recall_at(ranked: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    """The share of the relevant documents found within the top ``k``."""
    relevant = {doc for doc, grade in relevance.items() if grade > 0}
    return len(relevant.intersection(ranked[:k])) / len(relevant) if relevant else 0.0


def hit_at_1(ranked: Sequence[str], relevance: Mapping[str, int]) -> float:
    """1 when the first document is relevant, else 0."""
    return float(bool(ranked) and relevance.get(ranked[0], 0) > 0)


def query_metrics(ranked: Sequence[str], relevance: Mapping[str, int], recall_k: int) -> dict[str, float]:
    """MRR@10, nDCG@10, Recall@``recall_k`` and hit@1 of one ranking."""
    return {"MRR@10": mrr_at(ranked, relevance), "nDCG@10": ndcg_at(ranked, relevance),
            f"Recall@{recall_k}": recall_at(ranked, relevance, recall_k), "hit@1": hit_at_1(ranked, relevance)}


def mean_metrics(per_query: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """The mean of each metric over the queries."""
    if not per_query:
        return {}
    return {name: sum(row[name] for row in per_query) / len(per_query) for name in per_query[0]}


def _dcg(grades: Sequence[int]) -> float:
    return sum(grade / math.log2(rank + 1) for rank, grade in enumerate(grades, start=1))
