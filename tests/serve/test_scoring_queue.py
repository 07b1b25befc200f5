"""The scoring queue with fake backends (real Backend subclasses): packing across requests, withdrawal,
limits, shutdown, and that no two threads are ever inside the backend."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, Future

import numpy as np
import pytest

from local_rerank.backends.base import ScoringStopped
from local_rerank.errors import InputError, LocalRerankError
from local_rerank.recipe import cap_documents
from local_rerank.reranker import Reranker
from local_rerank.scoring_queue import QueueFull, QueueLimits, RequestTooLarge, Scored, ScoringQueue, ShuttingDown
from local_rerank.tokenizer import Tokenizer
from tests.search.fakes import SlowBackend, WordCountBackend, slow_reranker

DOCS = ["an apple a day", "apple apple pie", "a pear", "apple"]


@pytest.fixture
def gate() -> threading.Event:
    return threading.Event()


@pytest.fixture
def gated(tokenizer: Tokenizer, gate: threading.Event) -> Reranker:
    """A reranker whose backend waits for ``gate`` before each batch."""
    return Reranker(WordCountBackend(tokenizer, "apple", gate), max_length=1024)


def _wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _score(queue: ScoringQueue, query: str, documents: list[str], instruction: str | None = None) -> Future[Scored]:
    return queue.submit(queue.prepare(query, documents, instruction))


def test_scores_equal_the_reranker_alone(tokenizer: Tokenizer) -> None:
    reranker = Reranker(WordCountBackend(tokenizer, "apple"), max_length=1024)
    with ScoringQueue(reranker) as queue:
        scored = _score(queue, "fruit", DOCS, "find apple").result(5)
    assert scored.scores == reranker.score("fruit", DOCS, "find apple")
    assert scored.truncated == [False] * 4
    assert scored.tokens == sum(len(p.ids) for p in reranker.encoder.encode("fruit", DOCS, "find apple"))


def test_jobs_queued_while_the_model_is_busy_share_one_backend_call(gated: Reranker, gate: threading.Event) -> None:
    with ScoringQueue(gated) as queue:
        first = _score(queue, "fruit", DOCS[:1])
        _wait_until(lambda: queue.in_flight == 1)  # the first job is inside the backend
        later = [_score(queue, f"fruit {i}", DOCS[i:]) for i in range(3)]
        gate.set()
        results = [future.result(5) for future in [first, *later]]
    assert list(queue.packs) == [1, 3]
    assert gated.backend.batches == [1, 4 + 3 + 2]  # type: ignore[attr-defined]
    for i, scored in enumerate(results[1:]):
        assert scored.scores == gated.score(f"fruit {i}", DOCS[i:])


def test_a_pack_stays_within_the_pack_limits(gated: Reranker, gate: threading.Event) -> None:
    with ScoringQueue(gated, pack_sequences=5) as queue:
        first = _score(queue, "fruit", DOCS[:1])
        _wait_until(lambda: queue.in_flight == 1)
        later = [_score(queue, "fruit", DOCS) for _ in range(3)]  # 4 prompts each: one job per pack
        gate.set()
        for future in [first, *later]:
            future.result(5)
    assert list(queue.packs) == [1, 1, 1, 1]


def test_a_withdrawn_job_is_never_scored(gated: Reranker, gate: threading.Event) -> None:
    with ScoringQueue(gated) as queue:
        first = _score(queue, "fruit", DOCS[:1])
        _wait_until(lambda: queue.in_flight == 1)
        withdrawn = _score(queue, "fruit", DOCS)
        kept = _score(queue, "fruit", DOCS[:2])
        assert withdrawn.cancel()
        assert queue.pending == 2
        gate.set()
        first.result(5), kept.result(5)
    with pytest.raises(CancelledError):
        withdrawn.result()
    assert gated.backend.batches == [1, 2]  # type: ignore[attr-defined]


def test_a_job_withdrawn_while_scored_stops_before_its_next_batch(gated: Reranker, gate: threading.Event) -> None:
    gated.backend.max_batch_sequences = 1  # one document per batch: four batches for DOCS
    with ScoringQueue(gated, pack_sequences=64) as queue:
        withdrawn = _score(queue, "fruit", DOCS)
        _wait_until(lambda: queue.in_flight == 1)
        queue.withdraw(withdrawn)
        assert queue.pending == 0
        gate.set()
        with pytest.raises((ScoringStopped, CancelledError)):  # CancelledError: withdrawn before its pack began
            withdrawn.result(5)
        assert len(gated.backend.batches) <= 1, "at most the batch that was in flight"  # type: ignore[attr-defined]
        kept = _score(queue, "fruit", DOCS[:2])
        assert kept.result(5).scores == gated.score("fruit", DOCS[:2])


def test_a_full_queue_refuses_with_a_retry_time(gated: Reranker, gate: threading.Event) -> None:
    with ScoringQueue(gated, QueueLimits(max_pending=2)) as queue:
        futures = [_score(queue, "fruit", DOCS), _score(queue, "fruit", DOCS)]
        with pytest.raises(QueueFull) as refused:
            _score(queue, "fruit", DOCS)
        assert refused.value.retry_after >= 1
        gate.set()
        for future in futures:
            future.result(5)
        _wait_until(lambda: queue.pending == 0)
        _score(queue, "fruit", DOCS).result(5)  # room again


@pytest.mark.parametrize("limits, documents, field", [
    (QueueLimits(max_documents=3), DOCS, "documents"),
    (QueueLimits(max_tokens=100), DOCS, "documents"),
])
def test_requests_over_the_limits_are_refused(tokenizer: Tokenizer, limits: QueueLimits, documents: list[str],
                                              field: str) -> None:
    with ScoringQueue(Reranker(WordCountBackend(tokenizer, "apple"), max_length=1024), limits) as queue:
        with pytest.raises(RequestTooLarge) as refused:
            queue.prepare("fruit", documents)
    assert refused.value.field == field


@pytest.mark.parametrize("query, documents, instruction", [
    ("", DOCS, None), ("  ", DOCS, None), ("fruit", [], None), ("fruit", DOCS, " "), ("fruit", ["\ud800"], None),
])
def test_unusable_input_is_refused(tokenizer: Tokenizer, query: str, documents: list[str],
                                   instruction: str | None) -> None:
    with ScoringQueue(Reranker(WordCountBackend(tokenizer, "apple"), max_length=1024)) as queue:
        with pytest.raises(InputError):
            queue.prepare(query, documents, instruction)


def test_close_fails_waiting_jobs_and_finishes_the_one_in_flight(gated: Reranker, gate: threading.Event) -> None:
    queue = ScoringQueue(gated)
    in_flight = _score(queue, "fruit", DOCS[:1])
    _wait_until(lambda: queue.in_flight == 1)
    waiting = _score(queue, "fruit", DOCS)
    closer = threading.Thread(target=queue.close)
    closer.start()
    with pytest.raises(ShuttingDown):
        waiting.result(5)
    gate.set()
    closer.join(5)
    assert in_flight.result(0).scores == gated.score("fruit", DOCS[:1])
    with pytest.raises(ShuttingDown):
        _score(queue, "fruit", DOCS)


class FlakyBackend(WordCountBackend):
    """Fails its first batch, as a model that runs out of memory would."""

    def _score_batch(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        if not self.batches:
            self.batches.append(0)
            raise LocalRerankError("out of memory")
        return super()._score_batch(sequences)


def test_a_backend_failure_reaches_the_callers_and_the_worker_goes_on(tokenizer: Tokenizer) -> None:
    reranker = Reranker(FlakyBackend(tokenizer, "apple"), max_length=1024)
    with ScoringQueue(reranker) as queue:
        job = queue.prepare("fruit", DOCS)
        with pytest.raises(LocalRerankError, match="out of memory"):
            queue.submit(job).result(5)
        assert queue.submit(job).result(5).scores == reranker.score("fruit", DOCS)


def test_many_threads_never_meet_inside_the_backend(tokenizer: Tokenizer) -> None:
    reranker = slow_reranker(tokenizer, "apple", seconds=0.02)
    backend: SlowBackend = reranker.backend  # type: ignore[assignment]
    alone = {i: reranker.score(f"fruit {i}", DOCS[i % 4:]) for i in range(4)}
    results: dict[int, list[list[float]]] = {i: [] for i in range(16)}

    def client(number: int) -> None:
        for _ in range(3):
            results[number].append(_score(queue, f"fruit {number % 4}", DOCS[number % 4:]).result(10).scores)

    with ScoringQueue(reranker) as queue:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
    assert backend.overlaps == 0
    assert max(queue.packs) > 1  # requests were packed together
    for number, scores in results.items():
        assert scores == [alone[number % 4]] * 3


def test_documents_are_cut_to_max_document_tokens(tokenizer: Tokenizer) -> None:
    reranker = Reranker(WordCountBackend(tokenizer, "apple"), max_length=1024)
    long, short = " ".join(["apple"] * 50), "apple pie"
    with ScoringQueue(reranker) as queue:
        scored = queue.submit(queue.prepare("fruit", [long, short], max_document_tokens=5)).result(5)
    assert scored.truncated == [True, False]
    assert scored.scores == [1 - 1 / (2 + 5), reranker.score("fruit", [short])[0]]
    prompts = reranker.encoder.encode("fruit", [short])
    assert cap_documents(reranker.encoder, prompts, "fruit", None, 1000) == prompts
