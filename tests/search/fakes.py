"""Fake backends that subclass the real one: scores by how often a chosen word occurs.

:class:`WordCountBackend` answers at once (or when a gate opens); :class:`SlowBackend` takes
as long per batch as a real model does, so threads meet the way they do with the 0.6B model,
and it records every entry and exit of ``_score_batch`` so tests can prove no two overlapped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np

from local_rerank.backends.base import Backend
from local_rerank.reranker import Reranker
from local_rerank.tokenizer import Tokenizer


class WordCountBackend(Backend):
    """p("yes") = 1 - 1 / (2 + occurrences of ``word``'s token): deterministic and content-driven.

    ``gate``, when given, is waited on before each batch, so tests can hold the pipeline mid-way.
    """

    name = "fake"

    def __init__(self, tokenizer: Tokenizer, word: str, gate: threading.Event | None = None) -> None:
        super().__init__()
        self.tokenizer = tokenizer
        self.device = "cpu"
        self.model_name = f"fake-{word}"
        self.max_batch_tokens = 8192
        self.max_batch_sequences = 64
        self.word_ids = {tokenizer.encode_plain([f" {word}"])[0][-1], tokenizer.encode_plain([word])[0][-1]}
        self.gate = gate
        self.batches: list[int] = []
        self.released = False

    def _score_batch(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        if self.gate is not None:
            self.gate.wait(10)
        self.batches.append(len(sequences))
        counts = np.array([sum(token in self.word_ids for token in sequence) for sequence in sequences])
        return 1.0 - 1.0 / (2.0 + counts)

    def _release(self) -> None:
        self.released = True


class SlowBackend(WordCountBackend):
    """A :class:`WordCountBackend` that spends ``seconds`` on each batch, as native code would
    (the 0.6B Q8_0 model takes about 4 s for 4 passages on two cores), and keeps a log.

    ``entries`` lists (thread name, entered, left) per batch; ``overlaps`` counts batches that
    began while another was inside; ``inside`` is how many are inside now; ``after_release`` counts
    batches run on a closed model.
    """

    def __init__(self, tokenizer: Tokenizer, word: str, seconds: float = 0.2) -> None:
        super().__init__(tokenizer, word)
        self.seconds = seconds
        self.entries: list[tuple[str, float, float]] = []
        self.overlaps = 0
        self.after_release = 0
        self.inside = 0
        self._log = threading.Lock()  # guards the log only; the base class must do the serialising

    def _score_batch(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        with self._log:
            self.inside += 1
            self.overlaps += self.inside > 1
            self.after_release += self.released
        entered = time.perf_counter()
        time.sleep(self.seconds)
        scores = super()._score_batch(sequences)
        with self._log:
            self.inside -= 1
            self.entries.append((threading.current_thread().name, entered, time.perf_counter()))
        return scores


def word_count_reranker(tokenizer: Tokenizer, word: str, gate: threading.Event | None = None) -> Reranker:
    """A real :class:`Reranker` over the fake backend."""
    return Reranker(WordCountBackend(tokenizer, word, gate), max_length=1024)


def slow_reranker(tokenizer: Tokenizer, word: str, seconds: float = 0.2) -> Reranker:
    """A real :class:`Reranker` over :class:`SlowBackend`."""
    return Reranker(SlowBackend(tokenizer, word, seconds), max_length=1024)
