"""A fake backend that subclasses the real one: scores by how often a chosen word occurs."""

from __future__ import annotations

import threading
from typing import Sequence

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
        self.tokenizer = tokenizer
        self.device = "cpu"
        self.model_name = f"fake-{word}"
        self.max_batch_tokens = 8192
        self.max_batch_sequences = 64
        self.word_ids = {tokenizer.encode_plain([f" {word}"])[0][-1], tokenizer.encode_plain([word])[0][-1]}
        self.gate = gate
        self.batches: list[int] = []

    def _score_batch(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        if self.gate is not None:
            self.gate.wait(10)
        self.batches.append(len(sequences))
        counts = np.array([sum(token in self.word_ids for token in sequence) for sequence in sequences])
        return 1.0 - 1.0 / (2.0 + counts)


def word_count_reranker(tokenizer: Tokenizer, word: str, gate: threading.Event | None = None) -> Reranker:
    """A real :class:`Reranker` over the fake backend."""
    return Reranker(WordCountBackend(tokenizer, word, gate), max_length=1024)
