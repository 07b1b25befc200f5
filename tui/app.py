"""The app: a thin shell over the search screen and the search controller, with the keys.

The :class:`~tui.search_controller.SearchController` runs indexing, the folder watch, model loading
and the searches in thread workers of the :class:`~tui.search_screen.SearchScreen`, which renders
their messages. A new query, a new instruction or Esc cancels the search in flight; the session
lets its batch finish before the next search uses the model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.widgets import Select

from local_rerank.loading import GET_A_MODEL, open_reranker
from local_rerank.reranker import Reranker
from local_rerank.search import SearchHit
from local_rerank.search.corpus import Corpus
from local_rerank.search.packing import Unit
from local_rerank.settings import Settings
from tui.export_screen import ExportScreen
from tui.help_screen import HelpScreen
from tui.histogram_screen import HistogramScreen
from tui.passages_screen import PassagesScreen
from tui.query_bar import QueryInput
from tui.search_controller import RerankerLoader, SearchController
from tui.search_screen import SearchScreen
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
        self.controller = SearchController(index, load_reranker, candidates, clock)
        self.main = SearchScreen(self.controller, banner, instruction)
        self.sub_title = folder_label or home_relative(index.folder)

    def get_default_screen(self) -> SearchScreen:
        return self.main

    def on_unmount(self) -> None:
        self.controller.close()

    @property
    def reranker(self) -> Reranker | None:
        """The model, once loaded."""
        return self.controller.reranker

    @property
    def hits(self) -> list[SearchHit]:
        """The results on screen, best first."""
        return self.main.pane.hits

    @property
    def query_text(self) -> str:
        """The last query searched."""
        return self.controller.query_text

    @property
    def unit(self) -> Unit:
        """What each score is for: a file's best passage, or its best passages packed together."""
        return self.controller.unit

    @property
    def status(self) -> StatusBar:
        return self.main.status

    def action_cancel(self) -> None:
        """Stop the search in flight; what was reranked so far stays."""
        if self.controller.session.cancel():
            self.status.change(work="cancelling…")

    async def action_quit(self) -> None:
        """Quit; a batch in flight is let finish first (the model cannot be freed under it)."""
        if self.controller.session.cancel():
            self.status.change(work="quitting after the batch in flight…")
        await super().action_quit()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_toggle_side_by_side(self) -> None:
        """Switch between the results table and the two orders side by side."""
        self.main.pane.toggle_side_by_side()

    def action_histogram(self) -> None:
        """Open the score distribution large."""
        self.push_screen(HistogramScreen(self.hits))

    def action_export(self) -> None:
        """Save the results on screen to a file the user names."""
        if self.hits:
            self.push_screen(ExportScreen(self.controller.results(self.hits, self.main.instruction)))
        else:
            self.notify("Nothing to save yet: ask a question first.")

    def action_toggle_rewrite(self) -> None:
        """Search the query's variants too (abbreviations expanded, a follow-up completed), or stop."""
        self.notify(self.controller.toggle_rewrite())
        if not self.main.ask_again():
            self.main.hide_variants()

    def action_toggle_unit(self) -> None:
        """Rerank each file's best passages packed together (document mode), or its best passage."""
        self.notify(self.controller.toggle_unit())
        self.main.ask_again()

    def action_passages(self) -> None:
        """Rank a list of passages (a file, or pasted) instead of the folder."""
        self.push_screen(PassagesScreen(), self.search_in)

    def search_in(self, corpus: Corpus | None) -> None:
        """Search ``corpus`` from now on (None: keep the one searched), with the model already loaded;
        the last query is asked again."""
        if corpus is not None:
            self.sub_title = home_relative(corpus.folder)
            self.main.search_in(corpus)

    def action_pick_instruction(self) -> None:
        self.main.query_one("#preset", Select).focus()

    def action_focus_query(self) -> None:
        self.main.query_one("#query", QueryInput).focus()


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
