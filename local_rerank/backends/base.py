"""The backend interface: token-id sequences in, p("yes") out.

A backend implements only :meth:`Backend._score_batch`. This base class owns batching:
sequences are sorted by length (so batches hold similar lengths and little padding) and
packed whole under a token and a sequence limit; a sequence longer than the token limit
is scored in a batch of its own. Scores come back in input order.

It also owns thread safety: a native model (a llama.cpp context, an onnxruntime session)
is never entered by two threads at once. Each batch holds the backend's lock, and
:meth:`Backend.close` takes it too, so closing waits for the batch in flight instead of
freeing memory under it; a closed backend refuses to score. A caller that may stop wanting
the scores (a server's client hangs up) passes ``stop``, asked between batches.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from local_rerank.errors import LocalRerankError
from local_rerank.tokenizer import Tokenizer

Device = Literal["auto", "cpu", "cuda"]


class ScoringStopped(LocalRerankError):
    """:meth:`Backend.score` was asked to stop before a batch (its caller no longer wants the scores)."""

    def __init__(self) -> None:
        super().__init__("scoring stopped: nobody waits for these scores")


@dataclass(frozen=True)
class BackendOptions:
    """What a caller may choose about running a model; None means the backend decides."""

    device: Device = "auto"
    threads: int | None = None
    max_batch_tokens: int | None = None


class Backend(ABC):
    """Scores full prompt token-id sequences with one loaded model.

    Subclasses set ``name`` and, in ``__init__`` (after calling ``super().__init__()``),
    ``tokenizer`` (the model's own vocabulary), ``device`` ("cpu" or "cuda": where the work
    really runs), ``model_name``, ``max_batch_tokens`` and ``max_batch_sequences``; they free
    their native resources in :meth:`_release`. Safe to share between threads: calls are
    serialised batch by batch.
    """

    name: ClassVar[str]
    pads_batches: ClassVar[bool] = False  # True: a batch costs its rows x its longest sequence
    tokenizer: Tokenizer
    device: str
    model_name: str
    max_batch_tokens: int
    max_batch_sequences: int

    def __init__(self) -> None:
        self._entry = threading.Lock()  # held while native code runs a batch, and while closing
        self._closed = False
        self._released = False

    def score(self, sequences: Sequence[Sequence[int]], stop: Callable[[], bool] | None = None) -> np.ndarray:
        """p("yes") for each sequence, in input order, as float64 in [0, 1]. ``stop``, when given, is
        asked before each batch (a batch in native code cannot be interrupted).

        Raises:
            LocalRerankError: the backend was closed (before or during the call).
            ScoringStopped: ``stop`` answered True.
        """
        scores = np.empty(len(sequences), dtype=np.float64)
        for batch in self._batches(sequences):
            if stop is not None and stop():
                raise ScoringStopped()
            with self._entry:
                if self._closed:
                    raise LocalRerankError("the model was closed")
                scores[batch] = self._score_batch([sequences[i] for i in batch])
        return scores

    def _batches(self, sequences: Sequence[Sequence[int]]) -> Iterator[list[int]]:
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
        batch: list[int] = []
        tokens = 0
        for i in order:
            length = len(sequences[i])
            cost = (len(batch) + 1) * length if self.pads_batches else tokens + length  # sorted: longest last
            if batch and (cost > self.max_batch_tokens or len(batch) == self.max_batch_sequences):
                yield batch
                batch, tokens = [], 0
            batch.append(i)
            tokens += length
        if batch:
            yield batch

    @abstractmethod
    def _score_batch(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        """p("yes") for each sequence of one batch: within both limits, or one long sequence."""

    def close(self) -> None:
        """Release the model's memory, once the batch in flight (if any) has finished."""
        self._closed = True  # first, so that no further batch starts while this waits for the lock
        with self._entry:
            if not self._released:
                self._released = True
                self._release()

    def _release(self) -> None:  # noqa: B027 (a hook: most backends free something, the fakes nothing)
        """Free native resources; called once, never during a batch. The default does nothing."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
