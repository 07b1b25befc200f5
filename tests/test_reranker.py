"""Reranker and the Backend base class, with a fake backend that subclasses the real one."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from local_rerank import InputError, Reranker
from local_rerank.backends.base import Backend
from local_rerank.tokenizer import Tokenizer


class LengthBackend(Backend):
    """Scores a prompt by its length (longer is better) and records every batch it sees."""

    name = "fake"

    def __init__(self, tokenizer: Tokenizer, max_batch_tokens: int = 400, max_batch_sequences: int = 3) -> None:
        super().__init__()
        self.tokenizer = tokenizer
        self.device = "cpu"
        self.model_name = "length"
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_sequences = max_batch_sequences
        self.batches: list[list[int]] = []

    def _score_batch(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        self.batches.append([len(s) for s in sequences])
        return np.array([1 - 1 / len(s) for s in sequences])


@pytest.fixture
def reranker(tokenizer: Tokenizer) -> Reranker:
    return Reranker(LengthBackend(tokenizer), max_length=256)


DOCUMENTS = ["short", "a somewhat longer document", "the longest document of them all, by a margin", "mid size"]


def test_rank_sorts_best_first_and_keeps_input_indices(reranker: Reranker) -> None:
    ranked = reranker.rank("query", DOCUMENTS)
    assert [r.index for r in ranked] == [2, 1, 3, 0]
    assert [r.text for r in ranked] == [DOCUMENTS[i] for i in (2, 1, 3, 0)]
    assert reranker.rank("query", DOCUMENTS, top_k=2) == ranked[:2]


def test_scores_come_back_in_input_order_although_batches_are_sorted(reranker: Reranker) -> None:
    scores = reranker.score("query", DOCUMENTS)
    assert np.argmax(scores) == 2 and np.argmin(scores) == 0
    lengths = [length for batch in reranker.backend.batches for length in batch]
    assert lengths == sorted(lengths)


def test_ties_keep_input_order(tokenizer: Tokenizer) -> None:
    reranker = Reranker(LengthBackend(tokenizer), max_length=256)
    assert [r.index for r in reranker.rank("q", ["same", "same", "same"])] == [0, 1, 2]


def test_batches_respect_token_and_sequence_limits_and_long_prompts_go_alone(tokenizer: Tokenizer) -> None:
    backend = LengthBackend(tokenizer, max_batch_tokens=200, max_batch_sequences=3)
    reranker = Reranker(backend, max_length=1024)
    reranker.score("q", ["x"] * 7 + ["long " * 2000])
    assert all(len(batch) <= 3 for batch in backend.batches)
    assert all(sum(batch) <= 200 or len(batch) == 1 for batch in backend.batches)
    assert backend.batches[-1] == [1024]


@pytest.mark.parametrize(
    ("query", "documents", "message"),
    [
        ("", ["doc"], "query is empty"),
        ("   \n", ["doc"], "query is empty"),
        ("q", [], "no documents"),
        ("q", "a single string", "list of strings"),
        ("q", ["ok", 3], "document 1 is int"),
    ],
)
def test_bad_input_is_an_input_error(reranker: Reranker, query, documents, message: str) -> None:
    with pytest.raises(InputError, match=message):
        reranker.rank(query, documents)


def test_top_k_must_be_positive(reranker: Reranker) -> None:
    with pytest.raises(InputError, match="top-k"):
        reranker.rank("q", ["d"], top_k=0)


def test_empty_instruction_is_refused(reranker: Reranker) -> None:
    with pytest.raises(InputError, match="instruction is empty"):
        reranker.score("q", ["d"], instruction=" ")
