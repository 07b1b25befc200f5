"""One model, many callers: a bounded queue whose one worker thread packs requests together.

    with ScoringQueue(reranker) as queue:
        job = queue.prepare("how do I copy a folder", documents)   # tokenized in the caller's thread
        future = queue.submit(job)                                 # QueueFull when the queue is full
        scored = future.result()                                   # Scored(scores, truncated, tokens)

Only the worker thread calls the backend, so no two threads are ever inside one model. The
worker takes the oldest job, then every later job (whole, in arrival order) while the pack
still fits one backend batch (the backend's token and sequence limits), and scores the pack
with one :meth:`Backend.score` call: jobs that queued while the model was busy share its
batches, and each caller gets its own scores back. :meth:`ScoringQueue.withdraw` (the caller
went away) drops a waiting job before its pack is scored; once every job of the pack being
scored is withdrawn, the pack stops before its next backend batch (a batch in native code
cannot be interrupted), so a long request whose client hung up costs at most one more batch.

:meth:`ScoringQueue.close` refuses new jobs, fails the ones not started with
:class:`ShuttingDown` and waits for the pack in flight; it does not close the reranker,
which belongs to whoever opened it.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from local_rerank.errors import InputError, LocalRerankError
from local_rerank.recipe import EncodedPrompt
from local_rerank.reranker import Reranker

_MAX_RETRY_AFTER_S = 300


@dataclass(frozen=True)
class QueueLimits:
    """How much the queue accepts: jobs waiting or being scored, documents and prompt tokens per job."""

    max_pending: int = 64
    max_documents: int = 1000
    max_tokens: int = 1 << 20


@dataclass(frozen=True)
class ScoringJob:
    """One request's prompts, ready to score; ``truncated`` says which documents were cut."""

    prompts: list[EncodedPrompt]

    @property
    def tokens(self) -> int:
        """Prompt tokens in all, template included."""
        return sum(len(prompt.ids) for prompt in self.prompts)

    @property
    def truncated(self) -> list[bool]:
        """Per document, whether it was cut to fit the token budget."""
        return [prompt.truncated for prompt in self.prompts]


@dataclass(frozen=True)
class Scored:
    """p("yes") per document in input order, which documents were cut, and the prompt tokens."""

    scores: list[float]
    truncated: list[bool]
    tokens: int


class QueueFull(LocalRerankError):
    """Too many jobs are waiting; ``retry_after`` estimates in seconds when there will be room."""

    def __init__(self, pending: int, retry_after: int) -> None:
        super().__init__(f"the scoring queue is full ({pending} requests waiting); retry in {retry_after} s")
        self.retry_after = retry_after


class RequestTooLarge(InputError):
    """A request over one of the :class:`QueueLimits`; ``field`` names what is too large."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class ShuttingDown(LocalRerankError):
    """The queue was closed before this job was scored."""

    def __init__(self) -> None:
        super().__init__("the server is shutting down")


@dataclass(frozen=True)
class _Entry:
    job: ScoringJob
    future: Future[Scored]
    withdrawn: threading.Event


class ScoringQueue:
    """Scores jobs from any number of threads with ``reranker``, one pack at a time (see the module docstring).

    ``pack_tokens`` and ``pack_sequences`` bound a pack (default: the backend's batch limits);
    a job larger than that is scored alone, never split.
    """

    def __init__(self, reranker: Reranker, limits: QueueLimits = QueueLimits(), *, pack_tokens: int | None = None,
                 pack_sequences: int | None = None) -> None:
        self.reranker = reranker
        self.limits = limits
        self.pack_tokens = pack_tokens or reranker.max_batch_tokens
        self.pack_sequences = pack_sequences or reranker.max_batch_sequences
        self.packs: deque[int] = deque(maxlen=1024)  # jobs in each of the last packs scored
        self._waiting: deque[_Entry] = deque()
        self._in_flight: list[_Entry] = []
        self._changed = threading.Condition()
        self._closed = False
        self._tokens_per_s = 0.0
        self._worker = threading.Thread(target=self._run, name="scoring-queue", daemon=True)
        self._worker.start()

    @property
    def pending(self) -> int:
        """Jobs waiting (not withdrawn) or being scored."""
        with self._changed:
            return self._pending()

    @property
    def in_flight(self) -> int:
        """Jobs being scored now."""
        with self._changed:
            return len(self._in_flight)

    def _pending(self) -> int:
        return (sum(not entry.future.cancelled() for entry in self._waiting)
                + sum(not entry.withdrawn.is_set() for entry in self._in_flight))

    def prepare(self, query: str, documents: Sequence[str], instruction: str | None = None,
                max_document_tokens: int | None = None) -> ScoringJob:
        """Tokenize a request in the caller's thread; documents longer than the reranker's budget,
        or than ``max_document_tokens``, are cut at their end.

        Raises:
            RequestTooLarge: more documents or prompt tokens than the limits allow.
            InputError: an empty query or instruction, no documents, text that is not text.
        """
        if not isinstance(documents, str) and len(documents) > self.limits.max_documents:
            raise RequestTooLarge(f"{len(documents)} documents; at most {self.limits.max_documents} per request",
                                  "documents")
        job = ScoringJob(self.reranker.prepare(query, documents, instruction, max_document_tokens=max_document_tokens))
        if job.tokens > self.limits.max_tokens:
            raise RequestTooLarge(f"{job.tokens} prompt tokens; at most {self.limits.max_tokens} per request",
                                  "documents")
        return job

    def submit(self, job: ScoringJob) -> Future[Scored]:
        """Queue ``job``; :meth:`withdraw` its future when the scores are no longer wanted. Never blocks.

        Raises:
            QueueFull: ``max_pending`` jobs are already waiting or being scored.
            ShuttingDown: the queue is closed.
        """
        with self._changed:
            if self._closed:
                raise ShuttingDown()
            pending = self._pending()
            if pending >= self.limits.max_pending:
                raise QueueFull(pending, self._retry_after())
            entry = _Entry(job, Future(), threading.Event())
            self._waiting.append(entry)
            self._changed.notify()
        return entry.future

    def withdraw(self, future: Future[Scored]) -> None:
        """Nobody wants ``future``'s scores any more: a waiting job is dropped; a pack being scored stops
        before its next batch once all its jobs are withdrawn (the future then fails with
        :class:`~local_rerank.backends.base.ScoringStopped`)."""
        future.cancel()  # a job still waiting: never scored
        with self._changed:
            for entry in (*self._waiting, *self._in_flight):
                if entry.future is future:
                    entry.withdrawn.set()

    def close(self) -> None:
        """Refuse new jobs, fail those not started with :class:`ShuttingDown`, wait for the pack in flight."""
        with self._changed:
            self._closed = True
            abandoned = list(self._waiting)
            self._waiting.clear()
            self._changed.notify_all()
        for entry in abandoned:
            if entry.future.set_running_or_notify_cancel():
                entry.future.set_exception(ShuttingDown())
        if self._worker is not threading.current_thread():
            self._worker.join()

    def __enter__(self) -> ScoringQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        while (pack := self._take()) is not None:
            self._score(pack)
            with self._changed:
                self._in_flight = []

    def _take(self) -> list[_Entry] | None:
        """The next pack (waiting for one), or None once the queue is closed."""
        with self._changed:
            while not self._closed and not self._waiting:
                self._changed.wait()
            pack: list[_Entry] = []
            tokens = sequences = 0
            while self._waiting:
                entry = self._waiting[0]
                if entry.future.cancelled():
                    self._waiting.popleft()
                    continue
                size, count = entry.job.tokens, len(entry.job.prompts)
                if pack and (tokens + size > self.pack_tokens or sequences + count > self.pack_sequences):
                    break
                pack.append(self._waiting.popleft())
                tokens, sequences = tokens + size, sequences + count
            self._in_flight = pack
            return pack if pack or not self._closed else None

    def _score(self, pack: list[_Entry]) -> None:
        """Score the live jobs of ``pack`` in one backend call and hand each its scores."""
        live = [entry for entry in pack if entry.future.set_running_or_notify_cancel()]
        if not live:
            return
        self.packs.append(len(live))
        started = time.perf_counter()
        try:
            scores = self.reranker.score_prompts([p for entry in live for p in entry.job.prompts],
                                                 stop=lambda: all(entry.withdrawn.is_set() for entry in live))
        except Exception as e:  # the callers raise it (ScoringStopped: nobody is left to); the worker goes on
            for entry in live:
                entry.future.set_exception(e)
            return
        self._measure(sum(entry.job.tokens for entry in live), time.perf_counter() - started)
        start = 0
        for entry in live:
            count = len(entry.job.prompts)
            entry.future.set_result(Scored([float(s) for s in scores[start:start + count]], entry.job.truncated,
                                           entry.job.tokens))
            start += count

    def _measure(self, tokens: int, seconds: float) -> None:
        speed = tokens / max(seconds, 1e-6)
        with self._changed:
            self._tokens_per_s = speed if not self._tokens_per_s else 0.8 * self._tokens_per_s + 0.2 * speed

    def _retry_after(self) -> int:
        """Seconds until the work now queued is likely done (1 before anything was measured)."""
        if not self._tokens_per_s:
            return 1
        tokens = sum(entry.job.tokens for entry in (*self._waiting, *self._in_flight))
        return min(_MAX_RETRY_AFTER_S, max(1, math.ceil(tokens / self._tokens_per_s)))
