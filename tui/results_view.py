"""What the screen shows of the workers' news: indexing and the model in the status line and the
progress bar; each search's events in the results, the line of query variants and the timings."""

from __future__ import annotations

from rich.text import Text
from textual.app import App
from textual.widgets import ProgressBar, Static

from local_rerank.search import LexicalResults, RerankProgress, SearchCancelled, SearchFinished, SearchHit
from local_rerank.search.index import NO_MATCH
from local_rerank.text import printable
from tui.messages import (FolderChanged, IndexAdvanced, IndexFailed, IndexReady, ModelLoaded, SearchAdvanced,
                          SearchFailed)
from tui.results_pane import ResultsPane
from tui.search_controller import SearchController
from tui.status_bar import StatusBar, format_timings


class ResultsView:
    """Renders the messages of :mod:`tui.messages` into the app's widgets; the last search's only."""

    def __init__(self, app: App[None], search: SearchController) -> None:
        self.app = app
        self.search = search
        self.lexical_seconds = 0.0

    @property
    def status(self) -> StatusBar:
        return self.app.query_one("#status", StatusBar)

    @property
    def progress(self) -> ProgressBar:
        return self.app.query_one("#progress", ProgressBar)

    @property
    def pane(self) -> ResultsPane:
        return self.app.query_one("#main", ResultsPane)

    def folder_changed(self, message: FolderChanged) -> None:
        if message.paths:  # 0: a periodic check, shown only if it finds something
            self.status.change(index=f"{message.paths} changed, indexing…")

    def index_advanced(self, message: IndexAdvanced) -> None:
        self.progress.update(total=message.progress.total, progress=message.progress.done)
        self.status.change(index=f"indexing {message.progress.done}/{message.progress.total}")

    def index_failed(self, message: IndexFailed) -> None:
        self.status.change(index="indexing stopped")
        self.app.notify(f"Indexing stopped: {message.error}", severity="error", timeout=10, markup=False)

    def index_ready(self, message: IndexReady) -> None:
        self.status.change(index=self.search.index.describe(message.report))
        self.progress.update(total=1, progress=1)

    def model_loaded(self, message: ModelLoaded) -> None:
        for warning in message.warnings:
            self.app.notify(warning, severity="warning", timeout=10, markup=False)
        if message.reranker is not None:
            info = message.reranker.info
            self.status.change(model=f"{info.model} ({info.backend}, {info.device})")
        else:
            # the notice with the reason fades; the status line keeps saying why there is no model
            self.status.change(model="model failed to start (BM25 order)" if message.error else "no model (BM25 order)")
            if message.error:
                self.app.notify(f"The model could not start: {message.error}", severity="error", timeout=10,
                                markup=False)

    def search_advanced(self, message: SearchAdvanced) -> None:
        if message.search_id != self.search.search_id:
            return  # a cancelled search's late news
        event = message.event
        if isinstance(event, LexicalResults):
            self._lexical(event)
        elif isinstance(event, RerankProgress):
            self.show_hits(event.hits)
            self.progress.update(total=event.total, progress=event.done)
            self.status.change(work=f"reranked {event.done}/{event.total}{self.search.unit_note}")
        elif isinstance(event, SearchFinished):
            self.show_hits(event.hits)
            self._stop_pulsing(done=True)  # every score came from the cache: no progress was reported
            timings = {"lexical": self.lexical_seconds, **event.timings}
            work = (f"reranked{self.search.unit_note}" if event.reranked else "BM25 order") if event.hits else NO_MATCH
            self.status.change(work=work, timings=format_timings(timings, event.cached))
        elif isinstance(event, SearchCancelled):
            self.show_hits(event.hits)
            self._stop_pulsing(done=False)
            self.status.change(work="cancelled")

    def search_failed(self, message: SearchFailed) -> None:
        if message.search_id == self.search.search_id:
            self._stop_pulsing(done=False)
            self.status.change(work=message.error)
            self.app.notify(message.error, severity="warning", markup=False)

    def show_hits(self, hits: list[SearchHit]) -> None:
        """Show a new order of results, and the preview of the highlighted one."""
        self.pane.show(hits, self.search.index, self.search.query_text)

    def hide_variants(self) -> None:
        self.app.query_one("#variants", Static).display = False

    def _lexical(self, event: LexicalResults) -> None:
        """The BM25 results: the variants searched, the time taken, and a pulsing bar while reranking waits."""
        self._show_variants(event)
        self.lexical_seconds = event.seconds
        self.show_hits(event.hits)
        waiting = self.search.reranker is not None or self.search.model_pending
        self.status.change(timings=format_timings({"lexical": event.seconds}), work="reranking…" if waiting else "")
        if waiting and event.hits:  # no count yet: a pulsing bar, not the last search's 100%
            self.progress.update(total=None, progress=0)

    def _show_variants(self, lexical: LexicalResults) -> None:
        """Under the query, what else was searched (only while rewriting is on)."""
        shown = [variant.text for variant in lexical.variants if variant.text != self.search.query_text]
        line = self.app.query_one("#variants", Static)
        line.display = self.search.rewrite
        line.update(Text("also searched: " + " · ".join(printable(text) for text in shown) if shown else
                         "rewriting on: no other form of this query", style="dim"))

    def _stop_pulsing(self, done: bool) -> None:
        """Give the bar a count again if it is still waiting for the first batch."""
        bar = self.progress
        if bar.total is None:
            bar.update(total=1, progress=1 if done else 0)
