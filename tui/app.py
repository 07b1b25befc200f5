"""The app: a thin shell that wires the widgets to the search controller and the results view.

The :class:`~tui.search_controller.SearchController` runs the library's indexing, folder watch,
model loading and searches in thread workers that post small messages (:mod:`tui.messages`); the
app hands each message to the :class:`~tui.results_view.ResultsView`, which renders it. A new
query, a new instruction or Esc cancels the search in flight; the session lets its batch finish
before the next search uses the model.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, Input, ProgressBar, Select, Static

from local_rerank.errors import LocalRerankError
from local_rerank.loading import GET_A_MODEL, open_reranker
from local_rerank.reranker import Reranker
from local_rerank.search import SearchHit
from local_rerank.search.corpus import Corpus
from local_rerank.search.packing import Unit
from local_rerank.settings import Settings
from tui.export_screen import ExportScreen
from tui.help_screen import HelpScreen
from tui.histogram_screen import HistogramScreen
from tui.messages import (FolderChanged, IndexAdvanced, IndexFailed, IndexReady, ModelLoaded, SearchAdvanced,
                          SearchFailed)
from tui.passages_screen import PassagesScreen
from tui.query_bar import InstructionBar, QueryInput
from tui.results_pane import ResultsPane
from tui.results_view import ResultsView
from tui.search_controller import RerankerLoader, SearchController
from tui.status_bar import StatusBar


class RerankApp(App[None]):
    """Search one folder: type a query, read the ranked files and their passages."""

    CSS_PATH = "app.tcss"
    TITLE = "local-rerank"
    BINDINGS = [
        Binding("escape", "cancel", "Stop"),
        Binding("f1", "help", "Help"),
        Binding("f2", "pick_instruction", "Task"),
        Binding("f3", "toggle_side_by_side", "Compare", priority=True),
        Binding("f4", "histogram", "Scores", priority=True),
        Binding("ctrl+s", "export", "Save", priority=True),
        Binding("f5", "passages", "List", priority=True),
        Binding("f6", "toggle_rewrite", "Rewrite", priority=True),
        Binding("f7", "toggle_unit", "Whole", priority=True),
        Binding("slash", "focus_query", "Query", show=False),
    ]

    def __init__(self, index: Corpus, load_reranker: RerankerLoader | None, *,
                 banner: str | None = None,
                 instruction: str | None = None, candidates: int | None = None, folder_label: str | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        super().__init__()
        self.search = SearchController(self, index, load_reranker, candidates, clock)
        self.view = ResultsView(self, self.search)
        self.banner = banner
        self.initial_instruction = instruction
        self.sub_title = folder_label or home_relative(index.folder)

    def compose(self) -> ComposeResult:
        yield Header()
        if self.banner:
            yield Static(self.banner, id="banner")
        yield QueryInput(id="query")
        yield Static(id="variants")
        yield InstructionBar(self.initial_instruction, id="instruction-bar")
        yield ResultsPane(self.search.index, id="main")
        yield ProgressBar(id="progress", show_eta=False)
        yield StatusBar(id="status")
        yield Footer(compact=True, show_command_palette=False)  # every key fits in 80 columns

    def on_mount(self) -> None:
        self.query_one("#query", QueryInput).focus()
        self.query_one("#main", ResultsPane).name_first_stage(self.search.index.first_stage)
        if self.search.model_pending:
            self.status.change(model="loading model…")
        self.search.start()

    def on_unmount(self) -> None:
        self.search.close()

    @property
    def reranker(self) -> Reranker | None:
        """The model, once loaded."""
        return self.search.reranker

    @property
    def hits(self) -> list[SearchHit]:
        """The results on screen, best first."""
        return self.query_one("#main", ResultsPane).hits

    @property
    def query_text(self) -> str:
        """The last query searched."""
        return self.search.query_text

    @property
    def unit(self) -> Unit:
        """What each score is for: a file's best passage, or its best passages packed together."""
        return self.search.unit

    @property
    def status(self) -> StatusBar:
        return self.query_one("#status", StatusBar)

    def on_folder_changed(self, message: FolderChanged) -> None:
        self.view.folder_changed(message)
        self.search.update_index()

    def on_index_advanced(self, message: IndexAdvanced) -> None:
        self.view.index_advanced(message)

    def on_index_failed(self, message: IndexFailed) -> None:
        self.view.index_failed(message)

    def on_index_ready(self, message: IndexReady) -> None:
        self.view.index_ready(message)
        if message.report.read or message.report.removed:  # the index changed under the last query
            self.ask_again()

    def on_model_loaded(self, message: ModelLoaded) -> None:
        self.view.model_loaded(message)

    def on_search_advanced(self, message: SearchAdvanced) -> None:
        self.view.search_advanced(message)

    def on_search_failed(self, message: SearchFailed) -> None:
        self.view.search_failed(message)

    @on(Input.Submitted, "#query")
    def submitted_query(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.query_one("#query", QueryInput).remember(event.value.strip())
            self.start_search(event.value.strip())

    @on(Select.Changed, "#preset")
    @on(Input.Submitted, "#instruction")
    def instruction_changed(self, event: Select.Changed | Input.Submitted) -> None:
        if isinstance(event, Select.Changed) and self.query_one("#preset", Select).has_focus:
            self.query_one("#query", QueryInput).focus()  # a preset picked: back to asking
        self.ask_again()

    def start_search(self, query: str) -> None:
        """Search ``query`` with the instruction on screen (the search in flight is cancelled)."""
        try:
            self.search.search(query, self.instruction)
        except LocalRerankError as e:
            self.status.change(work=str(e))
            return
        self.status.change(work="searching…", timings="")

    def ask_again(self) -> bool:
        """Search the last query again, with what changed since; False when nothing was asked yet."""
        if self.search.query_text:
            self.start_search(self.search.query_text)
        return bool(self.search.query_text)

    @property
    def instruction(self) -> str | None:
        """The instruction on screen; None means the default."""
        return self.query_one("#instruction-bar", InstructionBar).instruction

    def action_cancel(self) -> None:
        """Stop the search in flight; what was reranked so far stays."""
        if self.search.session.cancel():
            self.status.change(work="cancelling…")

    async def action_quit(self) -> None:
        """Quit; a batch in flight is let finish first (the model cannot be freed under it)."""
        if self.search.session.cancel():
            self.status.change(work="quitting after the batch in flight…")
        await super().action_quit()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_toggle_side_by_side(self) -> None:
        self.query_one("#main", ResultsPane).toggle_side_by_side()

    def action_histogram(self) -> None:
        """Open the score distribution large."""
        self.push_screen(HistogramScreen(self.hits))

    def action_export(self) -> None:
        """Save the results on screen to a file the user names."""
        if self.hits:
            self.push_screen(ExportScreen(self.search.results(self.hits, self.instruction)))
        else:
            self.notify("Nothing to save yet: ask a question first.")

    def action_toggle_rewrite(self) -> None:
        """Search the query's variants too (abbreviations expanded, a follow-up completed), or stop."""
        self.notify(self.search.toggle_rewrite())
        if not self.ask_again():
            self.view.hide_variants()

    def action_toggle_unit(self) -> None:
        """Rerank each file's best passages packed together (document mode), or its best passage."""
        self.notify(self.search.toggle_unit())
        self.ask_again()

    def action_passages(self) -> None:
        """Rank a list of passages (a file, or pasted) instead of the folder."""
        self.push_screen(PassagesScreen(), self.search_in)

    def search_in(self, corpus: Corpus | None) -> None:
        """Search ``corpus`` from now on (None: keep the one searched), with the model already loaded;
        the last query is asked again."""
        if corpus is not None:
            self.sub_title = home_relative(corpus.folder)
            self.query_one("#main", ResultsPane).name_first_stage(corpus.first_stage)
            self.search.use(corpus)
            self.ask_again()

    def action_pick_instruction(self) -> None:
        self.query_one("#preset", Select).focus()

    def action_focus_query(self) -> None:
        self.query_one("#query", QueryInput).focus()


NO_MODEL_BANNER = f"No reranking model installed: results are in BM25 (keyword) order. To rerank, {GET_A_MODEL}."
RERANK_OFF_BANNER = "Reranking is off (--no-rerank): results are in BM25 (keyword) order."


def make_app(index: Corpus, load_reranker: RerankerLoader | None, banner: str | None = None,
             **options: object) -> RerankApp:
    """The app over ``index``; ``load_reranker`` opens the model in a worker (None: BM25 order only)."""
    return RerankApp(index, load_reranker, banner=banner, **options)  # type: ignore[arg-type]


def run_app(index: Corpus, settings: Settings, model: Path | None, *, rerank: bool = True,
            instruction: str | None = None, candidates: int | None = None) -> None:
    """Run the app in this terminal with the settings' way of running ``model`` (None: no model)."""
    if model is None:
        make_app(index, None, NO_MODEL_BANNER if rerank else RERANK_OFF_BANNER, instruction=instruction,
                 candidates=candidates).run()
        return

    make_app(index, lambda: open_reranker(model, settings), instruction=instruction, candidates=candidates).run()


def home_relative(folder: Path) -> str:
    """``folder`` as "~/..." when it is under the home folder."""
    home = Path.home()
    return f"~/{folder.relative_to(home)}" if folder.is_relative_to(home) and folder != home else str(folder)
