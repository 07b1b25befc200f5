"""The query pipeline's two stages: BM25 candidates, then reranking in batches, streamed as events.

:func:`lexical_stage` and :func:`rerank_stage` are pure steps over an index and a reranker;
:class:`local_rerank.search.session.SearchSession` runs them for every front end, one search
at a time. Scores are cached in the corpus's score cache (a folder's index, or memory for a list
of passages) by (query, instruction, model, passage), so a repeated or widened query costs only
what it has not scored before. A ``cancel`` event is honoured between batches, and within one
between the backend's own batches (the engine's stop check).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from local_rerank.backends.base import ScoringStopped
from local_rerank.errors import InputError
from local_rerank.recipe import DEFAULT_INSTRUCTION
from local_rerank.reranker import Reranker
from local_rerank.search.chunking import estimate_tokens
from local_rerank.search.corpus import Corpus
from local_rerank.search.hits import SearchHit, text_digest
from local_rerank.search.packing import UNITS, Unit, default_document_tokens
from local_rerank.search.rewrite import Variant

# On the stdlib known-item set, recall is 0.958 at 10 candidates and 0.979 at 16 and at 24 (1.0 at
# 100); 16 passages take about 12 s with the 0.6B Q8_0 model on two cores, 9 s in bf16 on a CPU that
# computes bf16 (tools/search_benchmark.py).
CPU_CANDIDATES = 16
GPU_CANDIDATES = 100
# Candidates per reranking batch. On a CPU the first batch is one passage (about a second with the
# 0.6B model on two cores: the first reranked score on screen soon after the lexical results),
# then twice as many each time up to four (news every few seconds); scores do not depend on the
# batch. On a GPU a batch of 64 takes a fraction of a second.
CPU_BATCH, GPU_BATCH = 4, 64
# The recipe's template and instruction around a document, in estimated tokens (generous: the
# default instruction and the template are about 100 real tokens).
PROMPT_ALLOWANCE = 256
Clock = Callable[[], float]


@dataclass(frozen=True)
class SearchRequest:
    """One query and how to answer it; ``candidates`` files go to the reranker (None: the
    device's default, :func:`default_candidates`), ``top_k`` come back. With ``rewrite``, the
    query's variants are searched too (:mod:`local_rerank.search.rewritten`), a follow-up
    completed from ``previous``, the query before it. ``unit`` is what the reranker reads of a
    file: its best passage, or its best passages packed up to ``document_tokens`` estimated
    tokens (None: the device's default, :func:`~local_rerank.search.packing.default_document_tokens`)."""

    query: str
    instruction: str | None = None
    candidates: int | None = None
    top_k: int | None = None
    rerank: bool = True
    rewrite: bool = False
    previous: str | None = None
    unit: Unit = "passage"
    document_tokens: int | None = None

    def __post_init__(self) -> None:
        if not self.query.strip():
            raise InputError("the query is empty")
        if self.candidates is not None and self.candidates < 1:
            raise InputError(f"candidates must be at least 1, got {self.candidates}")
        if self.top_k is not None and self.top_k < 1:
            raise InputError(f"top-k must be at least 1, got {self.top_k}")
        if self.unit not in UNITS:
            raise InputError(f"unit must be one of {', '.join(UNITS)}, got {self.unit!r}")
        if self.document_tokens is not None and self.document_tokens < 1:
            raise InputError(f"document tokens must be at least 1, got {self.document_tokens}")


@dataclass(frozen=True)
class LexicalResults:
    """The BM25 candidates, in BM25 order (fused over the query's variants when it was rewritten)."""

    hits: list[SearchHit]
    seconds: float
    variants: tuple[Variant, ...] = ()


@dataclass(frozen=True)
class RerankProgress:
    """Reranking so far: every candidate, scored ones first by score, the rest in BM25 order."""

    hits: list[SearchHit]
    done: int
    total: int
    seconds: float


@dataclass(frozen=True)
class SearchFinished:
    """The final order (at most ``top_k``), whether it was reranked, and where the time went."""

    hits: list[SearchHit]
    reranked: bool
    timings: dict[str, float]
    cached: int = 0


@dataclass(frozen=True)
class SearchCancelled:
    """The work stopped at a cancel request; ``hits`` is the order reached."""

    hits: list[SearchHit]


SearchEvent = LexicalResults | RerankProgress | SearchFinished | SearchCancelled


def default_candidates(device: str | None) -> int:
    """How many BM25 candidates to rerank by default on this device ("cpu", "cuda" or None)."""
    return GPU_CANDIDATES if device == "cuda" else CPU_CANDIDATES


def lexical_stage(index: Corpus, request: SearchRequest, clock: Clock = time.perf_counter) -> LexicalResults:
    """The best passage of each of the top ``request.candidates`` files by BM25 (None: the CPU default)."""
    started = clock()
    hits = index.lexical(request.query, request.candidates or CPU_CANDIDATES)
    return LexicalResults(hits, clock() - started)


def rerank_stage(index: Corpus, hits: Sequence[SearchHit], request: SearchRequest, reranker: Reranker,
                 cancel: threading.Event | None = None, batch_size: int | None = None,
                 clock: Clock = time.perf_counter) -> Iterator[SearchEvent]:
    """Score ``hits`` in batches (cached scores first), yielding progress, then the final order."""
    started = clock()
    identity = reranker.identity
    budget = _document_budget(request, reranker)
    texts = []
    for hit in hits:  # packing a long file in document mode takes a moment: honour a cancel here too
        if cancel is not None and cancel.is_set():
            yield SearchCancelled(list(hits))
            return
        texts.append(index.reranker_text(hit) if request.unit == "passage"
                     else index.document_text(hit, request.query, budget))
    digests = ([hit.passage_hash for hit in hits] if request.unit == "passage"
               else [text_digest(text) for text in texts])
    keys = [score_key(identity, request, digest) for digest in digests]
    cached = index.cached_scores(keys)
    scored = [replace(hit, score=cached.get(key)) for hit, key in zip(hits, keys)]
    pending = [i for i, hit in enumerate(scored) if hit.score is None]
    on_cpu = reranker.info.device == "cpu"
    most = batch_size or (CPU_BATCH if on_cpu else GPU_BATCH)
    for start, end in batch_spans(len(pending), most, first=1 if on_cpu and batch_size is None else most):
        if cancel is not None and cancel.is_set():
            yield SearchCancelled(_order(scored))
            return
        batch = pending[start:end]
        try:
            scores = reranker.score(request.query, [texts[i] for i in batch], instruction=request.instruction,
                                    stop=None if cancel is None else cancel.is_set)
        except ScoringStopped:  # cancelled between two of the backend's batches
            yield SearchCancelled(_order(scored))
            return
        index.save_scores({keys[i]: score for i, score in zip(batch, scores)})
        for i, score in zip(batch, scores):
            scored[i] = replace(scored[i], score=score)
        yield RerankProgress(_order(scored), len(cached) + start + len(batch), len(scored), clock() - started)
    yield SearchFinished(_order(scored)[:request.top_k], True, {"rerank": clock() - started}, len(cached))


def batch_spans(count: int, most: int, first: int) -> Iterator[tuple[int, int]]:
    """(start, end) of each batch over ``count`` items: ``first`` of them, then twice as many each
    time, never more than ``most``."""
    start, size = 0, max(1, min(first, most))
    while start < count:
        yield start, min(start + size, count)
        start, size = start + size, max(1, min(2 * size, most))


def score_key(model_identity: str, request: SearchRequest, digest: str) -> str:
    """The score cache key of one text the reranker reads (its digest: a passage's hash, or a packed
    document's) for this query, instruction and model (:attr:`Reranker.identity`)."""
    instruction = request.instruction or DEFAULT_INSTRUCTION
    material = "\0".join([model_identity, instruction, request.query, digest])
    return hashlib.sha256(material.encode()).hexdigest()


def _document_budget(request: SearchRequest, reranker: Reranker) -> int:
    """Estimated tokens of a packed file in document mode: the request's or the device's, capped so
    that the prompt is not cut (only the document would be, from its end)."""
    info = reranker.info
    budget = request.document_tokens or default_document_tokens(info.device)
    room = info.max_length - PROMPT_ALLOWANCE - estimate_tokens(request.query + (request.instruction or ""))
    return max(1, min(budget, room))  # the best passage is read whatever the budget


def movement(position: int, hit: SearchHit) -> str:
    """How far reranking moved ``hit`` from its BM25 rank to ``position`` (1-based): "↑3", "↓2" or "="."""
    change = hit.bm25_rank - position
    return "=" if change == 0 else f"↑{change}" if change > 0 else f"↓{-change}"


def _order(hits: list[SearchHit]) -> list[SearchHit]:
    return sorted(hits, key=lambda hit: (hit.score is None, -(hit.score or 0.0), hit.bm25_rank))
