"""The search session under real timing: a slow fake backend (a real Backend subclass that takes
as long per batch as a real model) driven from several threads, and one slow test with the tiny
GGUF model. Every test checks that no two batches were ever inside the backend at once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from local_rerank.errors import LocalRerankError, ModelError
from local_rerank.reranker import Reranker
from local_rerank.search import (
    FolderIndex,
    LexicalResults,
    RerankProgress,
    Search,
    SearchCancelled,
    SearchFinished,
    SearchSession,
)
from local_rerank.search.hits import document_text
from local_rerank.search.pipeline import CPU_CANDIDATES, GPU_CANDIDATES
from local_rerank.tokenizer import Tokenizer
from tests.search.fakes import SlowBackend, slow_reranker, word_count_reranker

BATCH_S = 0.15  # per batch of 4: the 0.6B model takes ~4 s on two cores; the order of events is what matters
BATCH_06B_S = 60  # the most one batch of the real 0.6B shape may take on a loaded 2-core machine


@pytest.fixture
def harbour(tmp_path: Path) -> FolderIndex:
    """24 files that all match "harbour"; file i says "crane" i % 5 times and "item i" once."""
    folder = tmp_path / "harbour"
    folder.mkdir()
    for i in range(24):
        (folder / f"n{i:02}.txt").write_text("harbour " * (24 - i) + "crane " * (i % 5) + f"item{i}\n")
    index = FolderIndex.open(folder)
    index.update()
    return index


def _session(index: FolderIndex, reranker: Reranker | None, candidates: int | None = 16) -> SearchSession:
    session = SearchSession(index, (lambda: reranker) if reranker is not None else None, candidates=candidates)
    session.load_model()
    return session


class Collector:
    """Iterates a search on a thread of its own, keeping its events."""

    def __init__(self, search: Search) -> None:
        self.search = search
        self.events: list[object] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=f"search-{search.number}")
        self.thread.start()

    def _run(self) -> None:
        try:
            self.events.extend(self.search)
        except BaseException as e:  # noqa: BLE001 - kept for the test to assert on
            self.error = e

    def join(self, timeout: float = 10) -> list[object]:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the search never ended"
        assert self.error is None, self.error
        return self.events


def _wait_for_batches(backend: SlowBackend, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(backend.entries) < count and backend.inside == 0:
        assert time.monotonic() < deadline, "no batch started"
        time.sleep(0.01)


def test_a_new_query_mid_batch_cancels_the_old_one_and_never_overlaps(harbour: FolderIndex,
                                                                        tokenizer: Tokenizer) -> None:
    reranker = slow_reranker(tokenizer, "crane", BATCH_S)
    session = _session(harbour, reranker)
    first = Collector(session.search("harbour"))
    _wait_for_batches(reranker.backend, 1)  # the first batch is inside the model
    second = Collector(session.search("item7"))
    old, new = first.join(), second.join()
    assert isinstance(old[-1], SearchCancelled)
    assert isinstance(new[-1], SearchFinished) and new[-1].reranked
    assert new[-1].hits[0].path == "n07.txt"
    backend = reranker.backend
    assert backend.overlaps == 0
    assert sum(isinstance(event, RerankProgress) for event in old) <= 2, "the old search stopped at a batch boundary"
    session.close()
    assert backend.released and backend.after_release == 0


def test_many_rapid_queries_end_with_the_last_ones_results(harbour: FolderIndex, tokenizer: Tokenizer) -> None:
    reranker = slow_reranker(tokenizer, "crane", BATCH_S)
    with _session(harbour, reranker) as session:
        collectors = []
        collectors.append(Collector(session.search("harbour")))  # 16 candidates: batches to interrupt
        for i in range(12):
            time.sleep(BATCH_S / 3)
            collectors.append(Collector(session.search(f"item{i}")))  # one file each
        finals = [collector.join()[-1] for collector in collectors]
    # A search cancelled during its last batch still finishes that batch, so it may end complete.
    assert all(isinstance(final, (SearchCancelled, SearchFinished)) for final in finals[:-1])
    assert isinstance(finals[0], SearchCancelled) and sum(isinstance(f, SearchCancelled) for f in finals) >= 8
    last = finals[-1]
    assert isinstance(last, SearchFinished) and last.reranked and [hit.path for hit in last.hits] == ["n11.txt"]
    backend = reranker.backend
    assert backend.overlaps == 0 and backend.after_release == 0
    assert len(backend.entries) <= 13, "a cancelled search runs at most the batch it is in"


def test_closing_mid_batch_waits_for_the_batch_then_frees_the_model(harbour: FolderIndex,
                                                                     tokenizer: Tokenizer) -> None:
    threads_before = threading.active_count()
    reranker = slow_reranker(tokenizer, "crane", BATCH_S)
    session = _session(harbour, reranker)
    running = Collector(session.search("harbour"))
    _wait_for_batches(reranker.backend, 1)
    session.close()
    backend = reranker.backend
    assert backend.released and backend.overlaps == 0 and backend.after_release == 0
    assert isinstance(running.join()[-1], SearchCancelled)
    assert threading.active_count() == threads_before
    with pytest.raises(LocalRerankError, match="closed"):
        session.search("harbour")


def test_cancel_says_whether_there_was_anything_to_cancel(harbour: FolderIndex, tokenizer: Tokenizer) -> None:
    reranker = slow_reranker(tokenizer, "crane", BATCH_S)
    with _session(harbour, reranker) as session:
        assert not session.cancel()
        running = Collector(session.search("harbour"))
        _wait_for_batches(reranker.backend, 1)
        assert session.cancel() and not session.cancel()
        events = running.join()
        assert isinstance(events[-1], SearchCancelled)
        kept = sum(hit.score is not None for hit in events[-1].hits)
        assert kept == sum(reranker.backend.batches) >= 1  # the batch in flight is kept
        list(session.search("harbour"))
        assert not session.cancel(), "nothing to cancel after a search finished"


def test_a_search_started_while_the_model_loads_waits_and_uses_the_gpu_count(harbour: FolderIndex,
                                                                              tokenizer: Tokenizer) -> None:
    loaded = threading.Event()
    reranker = word_count_reranker(tokenizer, "crane")
    reranker.backend.device = "cuda"

    def load() -> Reranker:
        loaded.wait(5)
        return reranker

    session = SearchSession(harbour, load)
    running = Collector(session.search("harbour"))
    loader = threading.Thread(target=session.load_model)
    loader.start()
    time.sleep(0.1)
    loaded.set()
    loader.join()
    events = running.join()
    lexical = [event for event in events if isinstance(event, LexicalResults)]
    assert [len(event.hits) for event in lexical] == [CPU_CANDIDATES, min(GPU_CANDIDATES, 24)]
    final = events[-1]
    assert isinstance(final, SearchFinished) and final.reranked and len(final.hits) == 24


def test_a_model_that_cannot_start_leaves_the_bm25_order(harbour: FolderIndex) -> None:
    def load() -> Reranker:
        raise ModelError("not a model")

    session = SearchSession(harbour, load)
    with pytest.raises(ModelError):
        session.load_model()
    events = list(session.search("harbour"))
    assert [type(event) for event in events] == [LexicalResults, SearchFinished]
    assert not events[-1].reranked and len(events[-1].hits) == CPU_CANDIDATES


def test_a_model_loaded_after_close_is_closed_at_once(harbour: FolderIndex, tokenizer: Tokenizer) -> None:
    reranker = word_count_reranker(tokenizer, "crane")
    session = SearchSession(harbour, lambda: reranker)
    session.close()
    assert session.load_model() is None and reranker.backend.released


def test_bad_requests_are_refused_when_started(harbour: FolderIndex) -> None:
    session = _session(harbour, None)
    with pytest.raises(LocalRerankError, match="empty"):
        session.search("  ")
    with pytest.raises(LocalRerankError, match="top-k"):
        session.search("harbour", top_k=0)


@pytest.mark.slow
def test_tiny_gguf_under_rapid_queries_and_close(harbour: FolderIndex, gguf_files: dict) -> None:
    """The real llama.cpp context under the same pressure: rapid queries from several threads,
    then a close while a batch runs. Without serialisation this aborts in native code."""
    pytest.importorskip("llama_cpp")
    reranker = Reranker.load(gguf_files[("tied", "f32")])
    with _session(harbour, reranker, candidates=24) as session:
        collectors = [Collector(session.search(f"harbour crane item{i}")) for i in range(8)]
        finals = [collector.join()[-1] for collector in collectors]
        assert all(isinstance(final, SearchCancelled) for final in finals[:-1])
        last = finals[-1]
        assert isinstance(last, SearchFinished) and len(last.hits) == 24
        texts = [document_text(hit.path, hit.passage) for hit in last.hits]
        direct = reranker.score("harbour crane item7", texts)
        assert [hit.score for hit in last.hits] == pytest.approx(direct, abs=1e-5)
        tail = Collector(session.search("harbour"))  # in flight when the session closes
    assert isinstance(tail.join()[-1], SearchCancelled)
    with pytest.raises(LocalRerankError, match="closed"):
        reranker.score("harbour", ["a passage"])


@pytest.mark.slow
def test_the_06b_twin_under_new_queries_instructions_and_close(harbour: FolderIndex, twin_06b_gguf: Path) -> None:
    """Real timing: each batch of 4 takes seconds inside llama.cpp, so every change lands mid-batch."""
    reranker = Reranker.load(twin_06b_gguf, max_length=1024)
    with _session(harbour, reranker) as session:
        first = Collector(session.search("harbour"))
        time.sleep(1.0)  # inside the first batch
        second = Collector(session.search("harbour crane"))
        time.sleep(0.5)
        third = Collector(session.search("harbour crane", "Find notes about cranes"))
        assert isinstance(first.join(BATCH_06B_S)[-1], SearchCancelled)
        assert isinstance(second.join(BATCH_06B_S)[-1], SearchCancelled)
        events = third.join(6 * BATCH_06B_S)
        final = events[-1]
        assert isinstance(final, SearchFinished) and final.reranked and len(final.hits) == 16
        tail = Collector(session.search("harbour"))  # 4 scored and cached by the first; 12 to go
        time.sleep(1.0)
    assert isinstance(tail.join(BATCH_06B_S)[-1], SearchCancelled), "closing mid-batch cancels, after the batch"
    with pytest.raises(LocalRerankError, match="closed"):
        reranker.score("harbour", ["a passage"])
