"""The search screen: the query and instruction lines, the results and the preview, the progress
bar and the status line. It runs the search controller's work in thread workers and shows what
they report (:mod:`tui.messages`): indexing and the model in the status line and the bar, each
search's events in the results, the line of query variants and the timings."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, ProgressBar, Select, Static

from local_rerank.errors import LocalRerankError
from local_rerank.search import LexicalResults, RerankProgress, Search, SearchCancelled, SearchFinished, SearchHit
from local_rerank.search.corpus import Corpus
from local_rerank.search.lexical import NO_MATCH
from local_rerank.text import printable
from tui.messages import (
    FolderChanged,
    IndexAdvanced,
    IndexFailed,
    IndexReady,
    ModelLoaded,
    SearchAdvanced,
    SearchFailed,
)
from tui.query_bar import InstructionBar, QueryInput
from tui.results_pane import ResultsPane
from tui.search_controller import SearchController
from tui.status_bar import StatusBar, format_timings


class SearchScreen(Screen[None]):
    """Searches with ``controller`` in workers of its own and renders what they report."""

    def __init__(self, controller: SearchController, banner: str | None, instruction: str | None) -> None:
        super().__init__()
        self.controller = controller
        self.banner = banner
        self.initial_instruction = instruction
        self.lexical_seconds = 0.0

    def compose(self) -> ComposeResult:
        yield Header()
        if self.banner:
            yield Static(self.banner, id="banner")
        yield QueryInput(id="query")
        yield Static(id="variants")
        yield InstructionBar(self.initial_instruction, id="instruction-bar")
        yield ResultsPane(self.controller.index, id="main")
        yield ProgressBar(id="progress", show_eta=False)
        yield StatusBar(id="status")
        yield Footer(compact=True, show_command_palette=False)  # every key fits in 80 columns

    def on_mount(self) -> None:
        self.query_one("#query", QueryInput).focus()
        self.pane.name_first_stage(self.controller.index.first_stage)
        self.run_index()
        self.run_watch()
        if self.controller.model_pending:
            self.status.change(model="loading model…")
            self.run_load_model()

    @work(thread=True, group="index", exclusive=True)
    def run_index(self) -> None:
        self.controller.update_index(self.post_message)

    @work(thread=True, group="watch", exclusive=True)
    def run_watch(self) -> None:
        self.controller.watch(self.post_message)

    @work(thread=True, group="model", exclusive=True)
    def run_load_model(self) -> None:
        self.controller.load_model(self.post_message)

    @work(thread=True, group="search")
    def run_search(self, search: Search) -> None:
        self.controller.relay(search, self.post_message)

    @property
    def status(self) -> StatusBar:
        return self.query_one("#status", StatusBar)

    @property
    def progress(self) -> ProgressBar:
        return self.query_one("#progress", ProgressBar)

    @property
    def pane(self) -> ResultsPane:
        return self.query_one("#main", ResultsPane)

    @property
    def instruction(self) -> str | None:
        """The instruction on screen; None means the default."""
        return self.query_one("#instruction-bar", InstructionBar).instruction

    def ask(self, query: str) -> None:
        """Search ``query`` with the instruction on screen (the search in flight is cancelled)."""
        try:
            search = self.controller.search(query, self.instruction)
        except LocalRerankError as e:
            self.status.change(work=str(e))
            return
        self.status.change(work="searching…", timings="")
        self.run_search(search)

    def ask_again(self) -> bool:
        """Search the last query again, with what changed since; False when nothing was asked yet."""
        if self.controller.query_text:
            self.ask(self.controller.query_text)
        return bool(self.controller.query_text)

    def search_in(self, corpus: Corpus) -> None:
        """Search ``corpus`` from now on; the last query is asked again."""
        self.pane.name_first_stage(corpus.first_stage)
        self.controller.use(corpus)
        self.run_index()
        self.ask_again()

    def hide_variants(self) -> None:
        self.query_one("#variants", Static).display = False

    @on(Input.Submitted, "#query")
    def submitted_query(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.query_one("#query", QueryInput).remember(event.value.strip())
            self.ask(event.value.strip())

    @on(Select.Changed, "#preset")
    @on(Input.Submitted, "#instruction")
    def instruction_changed(self, event: Select.Changed | Input.Submitted) -> None:
        if isinstance(event, Select.Changed) and self.query_one("#preset", Select).has_focus:
            self.query_one("#query", QueryInput).focus()  # a preset picked: back to asking
        self.ask_again()

    def on_folder_changed(self, message: FolderChanged) -> None:
        if message.paths:  # 0: a periodic check, shown only if it finds something
            self.status.change(index=f"{message.paths} changed, indexing…")
        self.run_index()

    def on_index_advanced(self, message: IndexAdvanced) -> None:
        self.progress.update(total=message.progress.total, progress=message.progress.done)
        self.status.change(index=f"indexing {message.progress.done}/{message.progress.total}")

    def on_index_failed(self, message: IndexFailed) -> None:
        self.status.change(index="indexing stopped")
        self.notify(f"Indexing stopped: {message.error}", severity="error", timeout=10, markup=False)

    def on_index_ready(self, message: IndexReady) -> None:
        report = message.report
        self.status.change(index=self.controller.index.describe(report))
        self.progress.update(total=1, progress=1)
        if report.read or report.removed:  # the index changed under the last query
            self.ask_again()

    def on_model_loaded(self, message: ModelLoaded) -> None:
        for warning in message.warnings:
            self.notify(warning, severity="warning", timeout=10, markup=False)
        if message.reranker is not None:
            info = message.reranker.info
            self.status.change(model=f"{info.model} ({info.backend}, {info.device})")
        else:
            # the notice with the reason fades; the status line keeps saying why there is no model
            self.status.change(model="model failed to start (BM25 order)" if message.error else "no model (BM25 order)")
            if message.error:
                self.notify(f"The model could not start: {message.error}", severity="error", timeout=10,
                            markup=False)

    def on_search_advanced(self, message: SearchAdvanced) -> None:
        if message.search_id != self.controller.search_id:
            return  # a cancelled search's late news
        event = message.event
        if isinstance(event, LexicalResults):
            self._lexical(event)
        elif isinstance(event, RerankProgress):
            self.show_hits(event.hits)
            self.progress.update(total=event.total, progress=event.done)
            self.status.change(work=f"reranked {event.done}/{event.total}{self.controller.unit_note}")
        elif isinstance(event, SearchFinished):
            self.show_hits(event.hits)
            self._stop_pulsing(done=True)  # every score came from the cache: no progress was reported
            timings = {"lexical": self.lexical_seconds, **event.timings}
            order = f"reranked{self.controller.unit_note}" if event.reranked else "BM25 order"
            self.status.change(work=order if event.hits else NO_MATCH, timings=format_timings(timings, event.cached))
        elif isinstance(event, SearchCancelled):
            self.show_hits(event.hits)
            self._stop_pulsing(done=False)
            self.status.change(work="cancelled")

    def on_search_failed(self, message: SearchFailed) -> None:
        if message.search_id == self.controller.search_id:
            self._stop_pulsing(done=False)
            self.status.change(work=message.error)
            self.notify(message.error, severity="warning", markup=False)

    def show_hits(self, hits: list[SearchHit]) -> None:
        """Show a new order of results, and the preview of the highlighted one."""
        self.pane.show(hits, self.controller.index, self.controller.query_text)

    def _lexical(self, event: LexicalResults) -> None:
        """The BM25 results: the variants searched, the time taken, and a pulsing bar while reranking waits."""
        self._show_variants(event)
        self.lexical_seconds = event.seconds
        self.show_hits(event.hits)
        waiting = self.controller.reranker is not None or self.controller.model_pending
        self.status.change(timings=format_timings({"lexical": event.seconds}), work="reranking…" if waiting else "")
        if waiting and event.hits:  # no count yet: a pulsing bar, not the last search's 100%
            self.progress.update(total=None, progress=0)

    def _show_variants(self, lexical: LexicalResults) -> None:
        """Under the query, what else was searched (only while rewriting is on)."""
        shown = [variant.text for variant in lexical.variants if variant.text != self.controller.query_text]
        line = self.query_one("#variants", Static)
        line.display = self.controller.rewrite
        line.update(Text("also searched: " + " · ".join(printable(text) for text in shown) if shown else
                         "rewriting on: no other form of this query", style="dim"))

    def _stop_pulsing(self, done: bool) -> None:
        """Give the bar a count again if it is still waiting for the first batch."""
        if self.progress.total is None:
            self.progress.update(total=1, progress=1 if done else 0)
