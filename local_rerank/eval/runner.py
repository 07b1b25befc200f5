"""Run a collection through the first stage, the reranker and query rewriting, query by query, and measure.

Stages: ``bm25``; ``bm25+rerank`` (with a model), and ``bm25+rerank[document]`` when document
mode is measured (each file's best passages packed and reranked as one text, see
:mod:`local_rerank.search.packing`); ``rewrite``, ``rewrite+feedback`` and
``rewrite+rerank`` (with rewriting: the fused candidates of the query's variants, with or
without pseudo-relevance feedback, then reranked against all of them, see
:mod:`local_rerank.search.rewritten`). Scores come from (and go to) the corpus's score cache,
so an interrupted run resumes at the first query it had not finished. Progress is reported
after each query with an ETA.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from local_rerank.eval.datasets import EvalQuery, EvalSet
from local_rerank.eval.metrics import mean_metrics, query_metrics
from local_rerank.reranker import Reranker
from local_rerank.search.hits import SearchHit
from local_rerank.search.packing import Unit
from local_rerank.search.pipeline import SearchRequest, lexical_stage
from local_rerank.search.rewritten import rerank_all, rerank_with_variants, rewritten_candidates

Clock = Callable[[], float]
Rankings = dict[str, tuple[list[SearchHit], float]]


@dataclass(frozen=True)
class EvalProgress:
    """``done`` of ``total`` queries, and the estimated seconds left."""

    done: int
    total: int
    eta: float


@dataclass
class StageResult:
    """One stage's mean metrics, its mean seconds per query, and (reranked stages) the scores of
    relevant and non-relevant candidates."""

    metrics: dict[str, float]
    seconds: float
    relevant: list[float] = field(default_factory=list)
    others: list[float] = field(default_factory=list)


def evaluate(eval_set: EvalSet, reranker: Reranker | None, candidates: int, instruction: str | None = None,
             progress: Callable[[EvalProgress], None] | None = None, rewrite: bool = False, fuse: str = "max",
             units: tuple[Unit, ...] = ("passage",), clock: Clock = time.perf_counter) -> dict[str, StageResult]:
    """The mean metrics and seconds of each stage over every query (see the module docstring)."""
    rows: dict[str, list[dict[str, float]]] = {}
    results: dict[str, StageResult] = {}
    started = clock()
    for done, query in enumerate(eval_set.queries, start=1):
        for stage, (hits, seconds) in _rankings(query, reranker, candidates, instruction, rewrite, fuse, units,
                                                clock).items():
            rows.setdefault(stage, []).append(query_metrics([hit.path for hit in hits], query.relevance, candidates))
            result = results.setdefault(stage, StageResult({}, 0.0))
            result.seconds += seconds / len(eval_set.queries)
            for hit in hits if hit_scores(stage) else []:
                (result.relevant if query.relevance.get(hit.path, 0) > 0 else result.others).append(hit.score or 0.0)
        if progress is not None:
            elapsed = clock() - started
            progress(EvalProgress(done, len(eval_set.queries), elapsed / done * (len(eval_set.queries) - done)))
    for stage, result in results.items():
        result.metrics = mean_metrics(rows[stage])
    return results


def hit_scores(stage: str) -> bool:
    """Whether a stage's hits carry reranker scores."""
    return "+rerank" in stage


def _rankings(query: EvalQuery, reranker: Reranker | None, candidates: int, instruction: str | None,
              rewrite: bool, fuse: str, units: tuple[Unit, ...], clock: Clock) -> Rankings:
    """{stage: (hits best first, seconds)} for one query."""
    request = SearchRequest(query.text, instruction, candidates, None)
    lexical = lexical_stage(query.corpus, request, clock)
    found: Rankings = {"bm25": (lexical.hits, lexical.seconds)}
    for unit in units if reranker is not None else ():
        assert reranker is not None  # narrowed by the loop's own condition
        begun = clock()
        reranked = rerank_all(query.corpus, lexical.hits, replace(request, unit=unit), reranker) if lexical.hits else []
        found["bm25+rerank" if unit == "passage"
              else f"bm25+rerank[{unit}]"] = (reranked, lexical.seconds + clock() - begun)
    if rewrite:
        variants, fused = rewritten_candidates(query.corpus, request, clock=clock)
        found["rewrite"] = (fused.hits, fused.seconds)
        with_feedback = rewritten_candidates(query.corpus, request, feedback=True, clock=clock)[1]
        found["rewrite+feedback"] = (with_feedback.hits, with_feedback.seconds)
        if reranker is not None:
            begun = clock()
            reranked = rerank_with_variants(query.corpus, fused.hits, request, variants, reranker, fuse)
            found["rewrite+rerank"] = (reranked, fused.seconds + clock() - begun)
    return found
