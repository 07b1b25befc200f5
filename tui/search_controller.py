"""The library side of the app: what is searched and how, and the thread workers that do the work.

The :class:`~local_rerank.search.SearchSession` owns the reranker, the search in flight and its
cancellation. Indexing, the folder watch, model loading and the iteration of each search run in
thread workers of the node that started the controller (the search screen), and post it small
messages (:mod:`tui.messages`); no widget is touched here.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import warnings
from collections.abc import Callable
from functools import partial

from textual.dom import DOMNode

from local_rerank.errors import LocalRerankError
from local_rerank.reranker import Reranker
from local_rerank.search import IndexProgress, Search, SearchHit, SearchSession
from local_rerank.search.corpus import Corpus
from local_rerank.search.export import ResultSet
from local_rerank.search.packing import Unit
from tui.messages import (FolderChanged, IndexAdvanced, IndexFailed, IndexReady, ModelLoaded, SearchAdvanced,
                          SearchFailed)

RerankerLoader = Callable[[], Reranker]


class SearchController:
    """The corpus searched, the last query and its options (rewriting, unit); starts the workers."""

    node: DOMNode
    """Where the workers run and post their messages; set by :meth:`start`."""

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

    def start(self, node: DOMNode) -> None:
        """Index and watch the corpus, and load the model unless it is settled already, in workers of
        ``node``; they and the later ones post their messages to ``node``."""
        self.node = node
        self.update_index()
        self._run(self._watch, "watch")
        if self.model_pending:
            self._run(self._load_model, "model")

    def update_index(self) -> None:
        """Bring the index up to date in a worker (one at a time)."""
        self._run(self._update_index, "index")

    def search(self, query: str, instruction: str | None) -> None:
        """Search ``query`` in a worker (the session cancels the search in flight).

        Raises:
            LocalRerankError: ``query`` cannot be searched (it has no words, say).
        """
        search = self.session.search(query, instruction, rewrite=self.rewrite, unit=self.unit)
        self.search_id = search.number
        self.query_text = query
        self._run(partial(self._relay, search), "search", exclusive=False)

    def use(self, corpus: Corpus) -> None:
        """Search ``corpus`` from now on, with the model already loaded; the last corpus stops indexing."""
        self.index = corpus
        self.session.use(corpus, corpus.candidates(self.candidates))
        self.cancel_index.set()  # a folder still indexing keeps what it has
        self.cancel_index = threading.Event()
        self.stop_watching.set()
        self.update_index()

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
        """``hits`` of the last query as a result set to save, naming the model when it scored them."""
        reranked = self.reranker is not None and any(hit.score is not None for hit in hits)
        return ResultSet(self.query_text, hits, instruction,
                         self.reranker.info.model if reranked and self.reranker else None, unit=self.unit)

    def close(self) -> None:
        """Stop indexing (what was indexed is kept; the next start completes it) and watching, and
        free the model once a batch in flight is done (seconds at most)."""
        self.cancel_index.set()
        self.stop_watching.set()
        self.session.close()

    def _run(self, work: Callable[[], None], group: str, exclusive: bool = True) -> None:
        """Run ``work`` in a thread worker of the node (exclusive: the group's worker before it is cancelled)."""
        self.node.run_worker(work, group=group, thread=True, exclusive=exclusive)

    def _update_index(self) -> None:
        """Bring the index up to date, reporting progress now and then."""
        last = [0.0]

        def progress(update: IndexProgress) -> None:
            if update.done == update.total or time.monotonic() - last[0] > 0.1:
                last[0] = time.monotonic()
                self.node.post_message(IndexAdvanced(update))

        try:
            report = self.index.update(progress=progress, cancel=self.cancel_index)
        except (LocalRerankError, sqlite3.Error, OSError) as e:  # a locked or unwritable cache: keep what is there
            self.node.post_message(IndexFailed(str(e)))
            return
        if report.complete:
            self.node.post_message(IndexReady(report))

    def _watch(self) -> None:
        """Follow the folder: each batch of changes brings the index up to date (a live index)."""
        for changed in self.index.changes(self.stop_watching):
            self.node.post_message(FolderChanged(changed))

    def _load_model(self) -> None:
        """Open the reranker (seconds for a large model); searches started meanwhile wait for it."""
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                reranker = self.session.load_model()
        except LocalRerankError as e:
            self.node.post_message(ModelLoaded(None, str(e)))
            return
        self.node.post_message(ModelLoaded(reranker, warnings=[str(warning.message) for warning in caught]))

    def _relay(self, search: Search) -> None:
        """Relay a search's events: BM25 at once, then reranking batch by batch."""
        try:
            for event in search:
                self.node.post_message(SearchAdvanced(search.number, event))
        except LocalRerankError as e:
            self.node.post_message(SearchFailed(search.number, str(e)))
