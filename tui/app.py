"""The app: a thin shell that wires widgets to the library's indexer and search session.

The :class:`~local_rerank.search.SearchSession` owns the reranker, the search in flight and
its cancellation; the app only starts searches and renders their events. Indexing, model
loading and the iteration of each search run in thread workers that post small messages
back (:mod:`tui.messages`). A new query, a new instruction or Esc cancels the search in
flight; the session lets its batch finish before the next search uses the model.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
import subprocess
import threading
import time
import warnings
from pathlib import Path
from typing import Callable, Mapping

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Input, ProgressBar, Select, Static

from local_rerank.errors import LocalRerankError
from local_rerank.loading import GET_A_MODEL, open_reranker
from local_rerank.reranker import Reranker
from local_rerank.search import (IndexProgress, LexicalResults, RerankProgress, Search,
                                 SearchCancelled, SearchFinished, SearchHit, SearchSession)
from local_rerank.search.blocks import NotIndexable
from local_rerank.search.corpus import Corpus
from local_rerank.search.export import ResultSet
from local_rerank.search.extract import counts_extracted_lines, file_kind
from local_rerank.search.lexical import NO_MATCH
from local_rerank.search.packing import Unit
from local_rerank.search.passage_list import PassageList
from local_rerank.settings import Settings
from local_rerank.text import printable
from tui.export_screen import ExportScreen
from tui.help_screen import HelpScreen
from tui.histogram_screen import HistogramScreen
from tui.messages import (FolderChanged, IndexAdvanced, IndexFailed, IndexReady, ModelLoaded, SearchAdvanced,
                          SearchFailed)
from tui.passages_screen import PassagesScreen
from tui.preview import Preview
from tui.query_bar import InstructionBar, QueryInput
from tui.results_table import ResultsTable
from tui.score_summary import ScoreSummary
from tui.side_by_side import SideBySide
from tui.status_bar import StatusBar, format_timings

RerankerLoader = Callable[[], Reranker]


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
        self.index = index
        self.candidates = candidates
        self.session = SearchSession(index, load_reranker, candidates=index.candidates(candidates), clock=clock)
        self.banner = banner
        self.initial_instruction = instruction
        self.sub_title = folder_label or _home_relative(index.folder)
        self.search_id = 0
        self.cancel_index = threading.Event()
        self.stop_watching = threading.Event()
        self.query_text = ""
        self.lexical_seconds = 0.0
        self.rewrite = False
        self.unit: Unit = "passage"

    def compose(self) -> ComposeResult:
        yield Header()
        if self.banner:
            yield Static(self.banner, id="banner")
        yield QueryInput(id="query")
        yield Static(id="variants")
        yield InstructionBar(self.initial_instruction, id="instruction-bar")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield ResultsTable(id="results")
                yield SideBySide(id="side-by-side")
                yield ScoreSummary(id="summary")
            yield Preview(id="preview")
        yield ProgressBar(id="progress", show_eta=False)
        yield StatusBar(id="status")
        yield Footer(compact=True, show_command_palette=False)  # every key fits in 80 columns

    def on_mount(self) -> None:
        self.query_one("#query", QueryInput).focus()
        self._name_first_stage()
        self.run_index()
        self.run_watch()
        if not self.session.settled.is_set():
            self.status.change(model="loading model…")
            self.run_load_model()

    @property
    def reranker(self) -> Reranker | None:
        """The model, once loaded."""
        return self.session.reranker

    @property
    def hits(self) -> list[SearchHit]:
        """The results on screen, best first."""
        return self.query_one("#results", ResultsTable).hits

    @property
    def status(self) -> StatusBar:
        return self.query_one("#status", StatusBar)

    @work(thread=True, group="index", exclusive=True)
    def run_index(self) -> None:
        """Bring the folder's index up to date, reporting progress now and then."""
        last = [0.0]

        def progress(update: IndexProgress) -> None:
            if update.done == update.total or time.monotonic() - last[0] > 0.1:
                last[0] = time.monotonic()
                self.post_message(IndexAdvanced(update))

        try:
            report = self.index.update(progress=progress, cancel=self.cancel_index)
        except (LocalRerankError, sqlite3.Error, OSError) as e:  # a locked or unwritable cache: keep what is there
            self.post_message(IndexFailed(str(e)))
            return
        if report.complete:
            self.post_message(IndexReady(report))

    @work(thread=True, group="watch", exclusive=True)
    def run_watch(self) -> None:
        """Follow the folder: each batch of changes brings the index up to date (a live index)."""
        for changed in self.index.changes(self.stop_watching):
            self.post_message(FolderChanged(changed))

    def on_folder_changed(self, message: FolderChanged) -> None:
        if message.paths:  # 0: a periodic check, shown only if it finds something
            self.status.change(index=f"{message.paths} changed, indexing…")
        self.run_index()

    @work(thread=True, group="model", exclusive=True)
    def run_load_model(self) -> None:
        """Open the reranker (seconds for a large model); searches started meanwhile wait for it."""
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                reranker = self.session.load_model()
        except LocalRerankError as e:
            self.post_message(ModelLoaded(None, str(e)))
            return
        self.post_message(ModelLoaded(reranker, warnings=[str(warning.message) for warning in caught]))

    def on_unmount(self) -> None:
        self.cancel_index.set()  # what was indexed is kept; the next start completes it
        self.stop_watching.set()
        self.session.close()  # waits for a batch in flight (seconds at most) before freeing the model

    def on_index_advanced(self, message: IndexAdvanced) -> None:
        self.query_one("#progress", ProgressBar).update(total=message.progress.total, progress=message.progress.done)
        self.status.change(index=f"indexing {message.progress.done}/{message.progress.total}")

    def on_index_failed(self, message: IndexFailed) -> None:
        self.status.change(index="indexing stopped")
        self.notify(f"Indexing stopped: {message.error}", severity="error", timeout=10, markup=False)

    def on_index_ready(self, message: IndexReady) -> None:
        report = message.report
        self.status.change(index=self.index.describe(report))
        self.query_one("#progress", ProgressBar).update(total=1, progress=1)
        if self.query_text and (report.read or report.removed):  # the index changed under the last query
            self.start_search(self.query_text)

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
        if self.query_text:
            self.start_search(self.query_text)

    def start_search(self, query: str) -> None:
        """Start a search for ``query`` (the session cancels the one in flight)."""
        instruction = self.query_one("#instruction-bar", InstructionBar).instruction
        try:
            search = self.session.search(query, instruction, rewrite=self.rewrite, unit=self.unit)
        except LocalRerankError as e:
            self.status.change(work=str(e))
            return
        self.search_id = search.number
        self.query_text = query
        self.status.change(work="searching…", timings="")
        self.run_search(search)

    @work(thread=True, group="search")
    def run_search(self, search: Search) -> None:
        """Relay a search's events: BM25 at once, then reranking batch by batch."""
        try:
            for event in search:
                self.post_message(SearchAdvanced(search.number, event))
        except LocalRerankError as e:
            self.post_message(SearchFailed(search.number, str(e)))

    def on_search_advanced(self, message: SearchAdvanced) -> None:
        if message.search_id != self.search_id:
            return  # a cancelled search's late news
        event = message.event
        if isinstance(event, LexicalResults):
            self.show_variants(event)
            self.lexical_seconds = event.seconds
            self.show_hits(event.hits)
            waiting = self.reranker is not None or not self.session.settled.is_set()
            self.status.change(timings=format_timings({"lexical": event.seconds}), work="reranking…" if waiting else "")
            if waiting and event.hits:  # no count yet: a pulsing bar, not the last search's 100%
                self.query_one("#progress", ProgressBar).update(total=None, progress=0)
        elif isinstance(event, RerankProgress):
            self.show_hits(event.hits)
            self.query_one("#progress", ProgressBar).update(total=event.total, progress=event.done)
            self.status.change(work=f"reranked {event.done}/{event.total}{self._unit_note}")
        elif isinstance(event, SearchFinished):
            self.show_hits(event.hits)
            self._stop_pulsing(done=True)  # every score came from the cache: no progress was reported
            timings = {"lexical": self.lexical_seconds, **event.timings}
            work = (f"reranked{self._unit_note}" if event.reranked else "BM25 order") if event.hits else NO_MATCH
            self.status.change(work=work, timings=format_timings(timings, event.cached))
        elif isinstance(event, SearchCancelled):
            self.show_hits(event.hits)
            self._stop_pulsing(done=False)
            self.status.change(work="cancelled")

    def on_search_failed(self, message: SearchFailed) -> None:
        if message.search_id == self.search_id:
            self._stop_pulsing(done=False)
            self.status.change(work=message.error)
            self.notify(message.error, severity="warning", markup=False)

    def _stop_pulsing(self, done: bool) -> None:
        """Give the bar a count again if it is still waiting for the first batch."""
        bar = self.query_one("#progress", ProgressBar)
        if bar.total is None:
            bar.update(total=1, progress=1 if done else 0)

    def show_hits(self, hits: list[SearchHit]) -> None:
        """Show a new order of results, and the preview of the highlighted one."""
        self.query_one("#results", ResultsTable).show(hits)
        self.query_one("#side-by-side", SideBySide).show(hits)
        self.query_one("#summary", ScoreSummary).show(hits)
        if not hits:
            self.query_one("#preview", Preview).clear()
        elif self.highlighted is not None:
            self.preview(self.highlighted)

    @property
    def highlighted(self) -> SearchHit | None:
        """The result under the cursor of the view on show (the table, or side by side)."""
        side_by_side = self.query_one("#side-by-side", SideBySide)
        return side_by_side.highlighted if side_by_side.display else self.query_one("#results", ResultsTable).highlighted

    @on(DataTable.RowHighlighted)
    def row_highlighted(self) -> None:
        if self.highlighted is not None:
            self.preview(self.highlighted)

    def preview(self, hit: SearchHit) -> None:
        lines = None
        if hit.passage.page is None:
            try:
                lines = self.index.read_lines(hit.path)
            except (OSError, NotIndexable):  # gone, or no longer text: show the indexed passage alone
                lines = None
        self.query_one("#preview", Preview).show(lines, hit, self.query_text)

    @on(DataTable.RowSelected)
    def open_in_editor(self) -> None:
        hit = self.highlighted
        if hit is None:
            return
        kind = file_kind(hit.path)
        if counts_extracted_lines(kind):  # no editor for these; say where the passage is
            unit = "slide" if kind == "pptx" else "page"
            where = f", {unit} {hit.passage.page}" if hit.passage.page else ""
            self.notify(f"{printable(hit.path)}{where}: open it in its own application", markup=False)
            return
        if not self.index.has_files:
            self.notify(f"Passage {hit.path} is not a file; Ctrl+S saves the results.")
            return
        target = self.index.folder / hit.path
        if not target.is_file():  # gone; or a name that is not UTF-8, which the index holds escaped
            self.notify(f"Cannot open {printable(hit.path)}: it is gone, or its name is not valid UTF-8",
                        severity="warning", markup=False)
            return
        command = editor_command(os.environ, target, hit.passage.start_line)
        try:
            with self.suspend():
                subprocess.run(command, check=False)
        except SuspendNotSupported:
            self.notify(f"This terminal cannot hand over to an editor; run: {printable(shlex.join(command))}",
                        timeout=10, markup=False)
        except OSError as e:
            self.notify(f"Could not start {printable(command[0])}: {e.strerror}", severity="error", markup=False)

    def action_cancel(self) -> None:
        """Stop the search in flight; what was reranked so far stays."""
        if self.session.cancel():
            self.status.change(work="cancelling…")

    async def action_quit(self) -> None:
        """Quit; a batch in flight is let finish first (the model cannot be freed under it)."""
        if self.session.cancel():
            self.status.change(work="quitting after the batch in flight…")
        await super().action_quit()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_toggle_side_by_side(self) -> None:
        """Switch between the results table and the two orders side by side."""
        table, side_by_side = self.query_one("#results", ResultsTable), self.query_one("#side-by-side", SideBySide)
        focused = table.has_focus or any(child.has_focus for child in side_by_side.children)
        side_by_side.display, table.display = not side_by_side.display, side_by_side.display
        if focused:
            (self.query_one("#reranked") if side_by_side.display else table).focus()

    def action_export(self) -> None:
        """Save the results on screen to a file the user names."""
        if not self.hits:
            self.notify("Nothing to save yet: ask a question first.")
            return
        reranked = self.reranker is not None and any(hit.score is not None for hit in self.hits)
        results = ResultSet(self.query_text, self.hits, self.query_one("#instruction-bar", InstructionBar).instruction,
                            self.reranker.info.model if reranked and self.reranker else None,
                            unit=self.unit)

        def saved(path: Path | None) -> None:
            if path is not None:
                self.notify(f"Saved {len(results.hits)} results to {printable(str(path))}", markup=False)

        self.push_screen(ExportScreen(results, _free_name(Path.cwd() / "local-rerank-results.md")), saved)

    def action_histogram(self) -> None:
        """Open the score distribution large."""
        self.push_screen(HistogramScreen(self.hits))

    def action_toggle_rewrite(self) -> None:
        """Search the query's variants too (abbreviations expanded, a follow-up completed), or stop."""
        self.rewrite = not self.rewrite
        self.notify(f"Query rewriting {'on' if self.rewrite else 'off'}")
        if self.query_text:
            self.start_search(self.query_text)
        else:
            self.query_one("#variants", Static).display = False

    @property
    def _unit_note(self) -> str:
        """Beside "reranked" in the status line: which unit the scores are for, when not the default
        (a list of passages has no files to read whole)."""
        return " whole files" if self.unit == "document" and self.session.index.has_files else ""

    def action_toggle_unit(self) -> None:
        """Rerank each file's best passages packed together (document mode), or its best passage."""
        self.unit = "document" if self.unit == "passage" else "passage"
        self.notify("Whole files: each file's best passages reranked together (slower)" if self.unit == "document"
                    else "Passages: each file's best passage reranked")
        if self.query_text:
            self.start_search(self.query_text)

    def show_variants(self, lexical: LexicalResults) -> None:
        """Under the query, what else was searched (only while rewriting is on)."""
        shown = [variant.text for variant in lexical.variants if variant.text != self.query_text]
        line = self.query_one("#variants", Static)
        line.display = self.rewrite
        line.update(Text("also searched: " + " · ".join(printable(text) for text in shown) if shown else
                         "rewriting on: no other form of this query", style="dim"))

    def action_passages(self) -> None:
        """Rank a list of passages (a file, or pasted) instead of the folder."""
        def chosen(passages: PassageList | None) -> None:
            if passages is not None:
                self.search_in(passages)

        self.push_screen(PassagesScreen(), chosen)

    def search_in(self, corpus: Corpus) -> None:
        """Search ``corpus`` from now on, with the model already loaded; the last query is asked again."""
        self.index = corpus
        self.session.use(corpus, corpus.candidates(self.candidates))
        self.cancel_index.set()  # a folder still indexing keeps what it has
        self.cancel_index = threading.Event()
        self.stop_watching.set()
        self.sub_title = _home_relative(corpus.folder)
        self._name_first_stage()
        self.run_index()
        if self.query_text:
            self.start_search(self.query_text)

    def _name_first_stage(self) -> None:
        self.query_one("#side-by-side", SideBySide).name_first_stage(self.index.first_stage)

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


def editor_command(environ: Mapping[str, str], path: Path, line: int) -> list[str]:
    """$VISUAL or $EDITOR (else vi) opening ``path`` at ``line``; "+LINE" is understood by vi, vim,
    nano, emacs, micro, helix and kakoune; VS Code and Sublime take "PATH:LINE" with their flag."""
    editor = shlex.split(environ.get("VISUAL") or environ.get("EDITOR") or "vi")
    name = Path(editor[0]).name
    if name in ("code", "codium", "subl", "zed"):
        return [*editor, *(["--goto"] if name in ("code", "codium") else []), f"{path}:{line}"]
    return [*editor, f"+{line}", str(path)]


def _free_name(path: Path) -> Path:
    """``path``, or ``path`` with "-2", "-3", ... before the suffix when it exists."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate


def _home_relative(folder: Path) -> str:
    home = Path.home()
    return f"~/{folder.relative_to(home)}" if folder.is_relative_to(home) and folder != home else str(folder)
