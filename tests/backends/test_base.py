"""The Backend base class's thread safety, with a slow fake backend (a real subclass that takes
as long per batch as native code does)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from local_rerank.backends.base import ScoringStopped
from local_rerank.errors import LocalRerankError
from local_rerank.tokenizer import Tokenizer
from tests.search.fakes import SlowBackend


def _sequences(tokenizer: Tokenizer, count: int) -> list[list[int]]:
    return [tokenizer.encode_plain(["crane " * i + "harbour"])[0] for i in range(count)]


def test_two_threads_never_run_batches_at_once(tokenizer: Tokenizer) -> None:
    backend = SlowBackend(tokenizer, "crane", seconds=0.05)
    backend.max_batch_sequences = 2
    sequences = _sequences(tokenizer, 8)
    expected = SlowBackend(tokenizer, "crane", seconds=0).score(sequences)
    results: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: results.append(backend.score(sequences))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert backend.overlaps == 0 and len(backend.entries) == 3 * 4
    assert len(results) == 3 and all(np.array_equal(result, expected) for result in results)


def test_close_waits_for_the_batch_in_flight_and_later_batches_are_refused(tokenizer: Tokenizer) -> None:
    backend = SlowBackend(tokenizer, "crane", seconds=0.3)
    backend.max_batch_sequences = 1
    errors: list[Exception] = []

    def score() -> None:
        try:
            backend.score(_sequences(tokenizer, 3))
        except LocalRerankError as e:
            errors.append(e)

    worker = threading.Thread(target=score)
    worker.start()
    while backend.inside == 0:
        time.sleep(0.01)
    backend.close()
    assert len(backend.entries) == 1, "close returned only after the batch in flight had left"
    worker.join(10)
    assert backend.released and backend.after_release == 0
    assert len(errors) == 1 and "closed" in str(errors[0])
    with pytest.raises(LocalRerankError, match="closed"):
        backend.score(_sequences(tokenizer, 1))
    backend.close()  # closing twice is harmless


def test_stop_is_asked_before_each_batch(tokenizer: Tokenizer) -> None:
    backend = SlowBackend(tokenizer, "crane", seconds=0)
    backend.max_batch_sequences = 1
    asked: list[int] = []

    def stop_after_two() -> bool:
        asked.append(len(backend.entries))
        return len(backend.entries) == 2

    with pytest.raises(ScoringStopped):
        backend.score(_sequences(tokenizer, 4), stop=stop_after_two)
    assert asked == [0, 1, 2] and len(backend.entries) == 2
    assert np.array_equal(backend.score(_sequences(tokenizer, 4), stop=lambda: False),
                          backend.score(_sequences(tokenizer, 4)))
