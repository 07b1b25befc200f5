"""A search session: one folder, one reranker, one search at a time.

The session owns the reranker (opened once, possibly in the background), the search in
flight and its cancellation, so that every front end (the TUI, the CLI, a server) gets the
same guarantees: starting a search cancels the previous one at once; only one search at a
time uses the reranker, and a new one waits for the batch in flight (cancelling cannot
interrupt native code, so it is abandoned at the next batch boundary); closing waits for
that batch before the model's memory is freed.

    session = SearchSession(index, lambda: open_reranker(model, settings))
    session.load_model()                      # or in a worker thread, while BM25 answers
    for event in session.search("when does the lease end"):
        ...
    session.close()

:meth:`SearchSession.search` registers the search in the caller's thread and returns a
:class:`Search`; its events are produced when it is iterated, on any thread.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

from local_rerank.errors import LocalRerankError
from local_rerank.reranker import Reranker
from local_rerank.search.corpus import Corpus
from local_rerank.search.packing import Unit
from local_rerank.search.pipeline import (
    Clock,
    LexicalResults,
    SearchCancelled,
    SearchEvent,
    SearchFinished,
    SearchRequest,
    default_candidates,
    lexical_stage,
    rerank_stage,
)
from local_rerank.search.rewritten import rerank_variants_stage, rewritten_candidates

RerankerLoader = Callable[[], Reranker]
_POLL_S = 0.05  # how often a waiting search looks at its cancel flag


class Search:
    """One started search: its ``number`` (increasing per session), the corpus it searches and,
    when iterated once, its events. The last event is :class:`SearchFinished` or
    :class:`SearchCancelled`."""

    def __init__(self, number: int, request: SearchRequest, corpus: Corpus,
                 events: Callable[[Search], Iterator[SearchEvent]]):
        self.number = number
        self.request = request
        self.corpus = corpus
        self.cancelled = threading.Event()
        self.finished = threading.Event()
        self._events = events(self)

    def __iter__(self) -> Iterator[SearchEvent]:
        return self._events

    def cancel(self) -> bool:
        """Ask the search to stop at the next batch; False if it had already ended or been cancelled."""
        if self.finished.is_set() or self.cancelled.is_set():
            return False
        self.cancelled.set()
        return True


class SearchSession:
    """Searches over ``index`` (a folder's index, or a :class:`~local_rerank.search.passage_list.PassageList`),
    reranked by the model that ``load_reranker`` opens (None: BM25 order).

    ``candidates`` fixes how many first-stage candidates are reranked; None chooses by the
    device the model settled on (:func:`default_candidates`). Thread-safe.
    """

    def __init__(self, index: Corpus, load_reranker: RerankerLoader | None = None, *,
                 candidates: int | None = None, clock: Clock = time.perf_counter) -> None:
        self.index = index
        self.candidates = candidates
        self.clock = clock
        self.reranker: Reranker | None = None
        self.settled = threading.Event()  # set once the model is loaded, failed, or there is none
        self._load_reranker = load_reranker
        self._state = threading.Lock()  # guards _current, _closed and reranker
        self._scoring = threading.Lock()  # held by the one search that is using the reranker
        self._numbers = itertools.count(1)
        self._current: Search | None = None
        self._previous: str | None = None  # the last query searched, for rewriting follow-ups
        self._closed = False
        if load_reranker is None:
            self.settled.set()

    def load_model(self) -> Reranker | None:
        """Open the model (seconds for a large one: call it from a worker thread when something
        should happen meanwhile). Searches started before wait for it.

        Raises:
            LocalRerankError: the model cannot start; searches then give the BM25 order.
        """
        if self._load_reranker is None:
            return None
        try:
            reranker = self._load_reranker()
        except BaseException:
            self.settled.set()
            raise
        with self._state:
            closed = self._closed
            if not closed:
                self.reranker = reranker
        if closed:  # the session ended while the model was loading
            reranker.close()
        self.settled.set()
        return None if closed else reranker

    def search(self, query: str, instruction: str | None = None, *, top_k: int | None = None,
               rerank: bool = True, rewrite: bool = False, unit: Unit = "passage",
               document_tokens: int | None = None) -> Search:
        """Start a search now, cancelling the one in flight; iterate the result for its events.
        With ``rewrite``, the query's variants are searched too (a follow-up completed from the
        session's previous query; :mod:`local_rerank.search.rewritten`). ``unit`` "document"
        reranks each file's best passages packed together (:mod:`local_rerank.search.packing`).

        Raises:
            InputError: the query is empty, or ``top_k`` is out of range.
            LocalRerankError: the session is closed.
        """
        with self._state:
            request = SearchRequest(query, instruction, self.candidates, top_k, rerank, rewrite, self._previous,
                                    unit, document_tokens)
            self._previous = query
            if self._closed:
                raise LocalRerankError("the search session is closed")
            if self._current is not None:
                self._current.cancel()
            self._current = Search(next(self._numbers), request, self.index, self._events)
            return self._current

    def use(self, index: Corpus, candidates: int | None = None) -> None:
        """Search ``index`` from now on (with ``candidates``, None: the device's default); the
        search in flight is cancelled. The model stays loaded."""
        with self._state:
            if self._current is not None:
                self._current.cancel()
            self.index, self.candidates = index, candidates

    def cancel(self) -> bool:
        """Cancel the search in flight; False when there is none."""
        with self._state:
            return self._current is not None and self._current.cancel()

    def close(self) -> None:
        """Cancel the search in flight and close the reranker, which first waits for the batch in
        flight (see :class:`local_rerank.backends.base.Backend`). Later searches are refused."""
        with self._state:
            self._closed = True
            if self._current is not None:
                self._current.cancel()
            reranker, self.reranker = self.reranker, None
        if reranker is not None:
            reranker.close()

    def __enter__(self) -> SearchSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _events(self, search: Search) -> Iterator[SearchEvent]:
        try:
            yield from self._run(search)
        finally:
            search.finished.set()

    def _run(self, search: Search) -> Iterator[SearchEvent]:
        request, cancelled, corpus = search.request, search.cancelled, search.corpus
        count = self._candidate_count(request)
        lexical = self._first_stage(corpus, replace(request, candidates=count))
        yield lexical
        if request.rerank and not self._wait(self.settled.is_set, cancelled):
            yield SearchCancelled(lexical.hits)
            return
        if request.rerank and self._candidate_count(request) != count:  # the model settled on another device
            lexical = self._first_stage(corpus, replace(request, candidates=self._candidate_count(request)))
            yield lexical
        if not request.rerank or self.reranker is None or not lexical.hits:
            yield SearchFinished(lexical.hits[:request.top_k], False, {"lexical": lexical.seconds})
            return
        if not self._wait(lambda: self._scoring.acquire(timeout=_POLL_S), cancelled, poll=False):
            yield SearchCancelled(lexical.hits)
            return
        try:
            yield from self._rerank(corpus, lexical, request, cancelled)
        finally:
            self._scoring.release()

    def _rerank(self, corpus: Corpus, lexical: LexicalResults, request: SearchRequest,
                cancelled: threading.Event) -> Iterator[SearchEvent]:
        reranker = self.reranker
        if reranker is None:  # closed while this search waited
            yield SearchCancelled(lexical.hits)
            return
        events = (rerank_variants_stage(corpus, lexical.hits, request, lexical.variants, reranker, cancelled,
                                        clock=self.clock) if lexical.variants
                  else rerank_stage(corpus, lexical.hits, request, reranker, cancelled, clock=self.clock))
        try:
            for event in events:
                if isinstance(event, SearchFinished):
                    event = replace(event, timings={"lexical": lexical.seconds, **event.timings})
                yield event
        except LocalRerankError:
            if not cancelled.is_set():
                raise
            yield SearchCancelled(lexical.hits)  # the session closed the model under a cancelled search

    def _first_stage(self, corpus: Corpus, request: SearchRequest) -> LexicalResults:
        """BM25 candidates; for a rewriting request, fused over the query's variants."""
        if not request.rewrite:
            return lexical_stage(corpus, request, self.clock)
        return rewritten_candidates(corpus, request, request.previous, clock=self.clock)[1]

    def _candidate_count(self, request: SearchRequest) -> int:
        if request.candidates is not None:
            return request.candidates
        reranker = self.reranker if self.settled.is_set() else None
        return default_candidates(reranker.info.device if reranker is not None else None)

    @staticmethod
    def _wait(ready: Callable[[], bool], cancelled: threading.Event, poll: bool = True) -> bool:
        """Wait until ``ready()`` (True) or the search is cancelled (False)."""
        while not cancelled.is_set():
            if ready():
                return True
            if poll:
                cancelled.wait(_POLL_S)
        return False
