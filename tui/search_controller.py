"""The library side of the app: what is searched and how, and the blocking work of its workers.

The :class:`~local_rerank.search.SearchSession` owns the reranker, the search in flight and its
cancellation. Indexing, the folder watch, model loading and the iteration of each search block:
the search screen runs them in thread workers, and they report through ``post`` as small messages
(:mod:`tui.messages`). No widget is touched here.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import warnings
from collections.abc import Callable

from textual.message import Message

from local_rerank.errors import LocalRerankError
from local_rerank.reranker import Reranker
from local_rerank.search import IndexProgress, Search, SearchHit, SearchSession
from local_rerank.search.corpus import Corpus
from local_rerank.search.export import ResultSet
from local_rerank.search.packing import Unit
from tui.messages import (
    FolderChanged,
    IndexAdvanced,
    IndexFailed,
    IndexReady,
    ModelLoaded,
    SearchAdvanced,
    SearchFailed,
)

RerankerLoader = Callable[[], Reranker]
Post = Callable[[Message], object]


class SearchController:
    """The corpus searched, the model, the last query and its options (rewriting, unit)."""

    def __init__(self, index: Corpus, load_reranker: RerankerLoader | None, candidates: int | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.index = index
        self.candidates = candidates
        self.session = SearchSession(index, load_reranker, candidates=index.candidates(candidates), clock=clock)
        self.cancel_index = threading.Event()
        self.stop_watching = threading.Event()
        self.search_id = 0
        self.query_text = ""
        self.rewrite = False
        self.unit: Unit = "passage"

    @property
    def reranker(self) -> Reranker | None:
        """The model, once loaded."""
        return self.session.reranker

    @property
    def model_pending(self) -> bool:
        """Whether the model is still loading (or not asked for yet)."""
        return not self.session.settled.is_set()

    @property
    def unit_note(self) -> str:
        """Beside "reranked" in the status line: which unit the scores are for, when not the default
        (a list of passages has no files to read whole)."""
        return " whole files" if self.unit == "document" and self.session.index.has_files else ""

    def search(self, query: str, instruction: str | None) -> Search:
        """A search for ``query`` with the options set, to :meth:`relay` (the session cancels the search in flight).

        Raises:
            LocalRerankError: ``query`` cannot be searched (it has no words, say).
        """
        search = self.session.search(query, instruction, rewrite=self.rewrite, unit=self.unit)
        self.search_id = search.number
        self.query_text = query
        return search

    def use(self, corpus: Corpus) -> None:
        """Search ``corpus`` from now on, with the model already loaded; the last corpus stops indexing
        and watching (``corpus`` is indexed by the next :meth:`update_index`)."""
        self.index = corpus
        self.session.use(corpus, corpus.candidates(self.candidates))
        self.cancel_index.set()  # a folder still indexing keeps what it has
        self.cancel_index = threading.Event()
        self.stop_watching.set()

    def toggle_rewrite(self) -> str:
        """Search the query's variants too, or stop; says which, in words."""
        self.rewrite = not self.rewrite
        return f"Query rewriting {'on' if self.rewrite else 'off'}"

    def toggle_unit(self) -> str:
        """Rerank each file's best passages packed together (document mode), or its best passage; says which."""
        self.unit = "document" if self.unit == "passage" else "passage"
        return ("Whole files: each file's best passages reranked together (slower)" if self.unit == "document"
                else "Passages: each file's best passage reranked")

    def results(self, hits: list[SearchHit], instruction: str | None) -> ResultSet:
        """``hits`` of the last query as a result set to save, naming the model when it scored them (a
        passage of a list is its own document: its unit is the passage, whatever the toggle says)."""
        reranked = self.reranker is not None and any(hit.score is not None for hit in hits)
        return ResultSet(self.query_text, hits, instruction,
                         self.reranker.info.model if reranked and self.reranker else None,
                         unit=self.unit if self.index.has_files else "passage")

    def close(self) -> None:
        """Stop indexing (what was indexed is kept; the next start completes it) and watching, and
        free the model once a batch in flight is done (seconds at most)."""
        self.cancel_index.set()
        self.stop_watching.set()
        self.session.close()

    def update_index(self, post: Post) -> None:
        """Bring the index up to date, reporting progress now and then (blocks)."""
        last = [0.0]

        def progress(update: IndexProgress) -> None:
            if update.done == update.total or time.monotonic() - last[0] > 0.1:
                last[0] = time.monotonic()
                post(IndexAdvanced(update))

        try:
            report = self.index.update(progress=progress, cancel=self.cancel_index)
        except (LocalRerankError, sqlite3.Error, OSError) as e:  # a locked or unwritable cache: keep what is there
            post(IndexFailed(str(e)))
            return
        if report.complete:
            post(IndexReady(report))

    def watch(self, post: Post) -> None:
        """Follow the folder until closed, reporting each batch of changes (blocks)."""
        for changed in self.index.changes(self.stop_watching):
            post(FolderChanged(changed))

    def load_model(self, post: Post) -> None:
        """Open the reranker (seconds for a large model; blocks); searches started meanwhile wait for it."""
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                reranker = self.session.load_model()
        except LocalRerankError as e:
            post(ModelLoaded(None, str(e)))
            return
        post(ModelLoaded(reranker, warnings=[str(warning.message) for warning in caught]))

    def relay(self, search: Search, post: Post) -> None:
        """Report a search's events: BM25 at once, then reranking batch by batch (blocks)."""
        try:
            for event in search:
                post(SearchAdvanced(search.number, event))
        except LocalRerankError as e:
            post(SearchFailed(search.number, str(e)))
