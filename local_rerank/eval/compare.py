"""How far two models' scores are apart on the same candidates (a quantized model against its source)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from local_rerank.eval.datasets import EvalSet
from local_rerank.reranker import Reranker
from local_rerank.search.pipeline import SearchRequest, lexical_stage
from local_rerank.search.rewritten import rerank_all


def spearman(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Spearman's rank correlation (ties take their mean rank); 1.0 for fewer than two items."""
    if len(a) < 2:
        return 1.0
    ra, rb = _ranks(np.asarray(a, float)), _ranks(np.asarray(b, float))
    if ra.std() == 0 or rb.std() == 0:
        return 1.0 if np.array_equal(ra, rb) else 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def kendall(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Kendall's tau-b; 1.0 for fewer than two items."""
    x, y = np.asarray(a, float), np.asarray(b, float)
    if len(x) < 2:
        return 1.0
    dx = np.sign(x[:, None] - x[None, :])[np.triu_indices(len(x), 1)]
    dy = np.sign(y[:, None] - y[None, :])[np.triu_indices(len(y), 1)]
    denominator = np.sqrt(np.count_nonzero(dx) * np.count_nonzero(dy))
    return float((dx * dy).sum() / denominator) if denominator else 1.0


def compare_scores(a: Sequence[float], b: Sequence[float]) -> dict[str, float]:
    """|Δp| (max, mean), Spearman, Kendall and top-1/top-3 agreement of one query's two score lists."""
    x, y = np.asarray(a, float), np.asarray(b, float)
    return {"max |Δp|": float(np.abs(x - y).max()), "mean |Δp|": float(np.abs(x - y).mean()),
            "Spearman": spearman(x, y), "Kendall": kendall(x, y),
            "top-1 agreement": float(_top(x, 1) == _top(y, 1)), "top-3 agreement": float(_top(x, 3) == _top(y, 3))}


def compare_models(eval_set: EvalSet, first: Reranker, second: Reranker, candidates: int,
                   instruction: str | None = None) -> dict[str, float]:
    """:func:`compare_scores` per query over the BM25 candidates; the max of max |Δp|, the mean of the rest."""
    rows = []
    for query in eval_set.queries:
        request = SearchRequest(query.text, instruction, candidates, None)
        hits = lexical_stage(query.corpus, request).hits
        if not hits:
            continue
        scored = [{hit.path: hit.score or 0.0 for hit in rerank_all(query.corpus, hits, request, model)}
                  for model in (first, second)]
        rows.append(compare_scores([scored[0][hit.path] for hit in hits], [scored[1][hit.path] for hit in hits]))
    if not rows:
        return {}
    summary = {name: sum(row[name] for row in rows) / len(rows) for name in rows[0]}
    return {**summary, "max |Δp|": max(row["max |Δp|"] for row in rows), "queries": float(len(rows))}


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    for value in np.unique(values):
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def _top(scores: np.ndarray, k: int) -> set[int]:
    return set(np.argsort(-scores, kind="stable")[:k].tolist())
