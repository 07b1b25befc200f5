"""Known-item quality of the first stage: each query has one file that should come back."""

from __future__ import annotations

from local_rerank.search import FolderIndex


def known_item_quality(index: FolderIndex, queries: dict[str, str], cap: int) -> tuple[float, float]:
    """(MRR@10, recall at ``cap``) of BM25 over ``queries`` ({query: the one relevant path})."""
    reciprocal_ranks, found_at_cap = [], 0
    for query, known in queries.items():
        ranked = [hit.path for hit in index.lexical(query, cap)]
        rank = ranked.index(known) + 1 if known in ranked else None
        reciprocal_ranks.append(1 / rank if rank is not None and rank <= 10 else 0.0)
        found_at_cap += rank is not None
    return sum(reciprocal_ranks) / len(queries), found_at_cap / len(queries)
