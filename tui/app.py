"""The app: a thin shell that wires widgets to the library's indexer and search pipeline.

Indexing, model loading and each search run in thread workers; they post small messages
back (:mod:`tui.messages`). A new query or Esc sets the running search's cancel event, and
the pipeline stops at the next batch.
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

from textual import on, work
from textual.app import App, ComposeResult, SuspendNotSupported
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Input, ProgressBar, Select, Static

from local_rerank.errors import LocalRerankError
from local_rerank.loading import GET_A_MODEL, open_reranker
from local_rerank.reranker import Reranker
from local_rerank.search import (FolderIndex, IndexProgress, LexicalResults, RerankProgress, SearchCancelled,
                                 SearchFinished, SearchHit, SearchRequest, default_candidates)
from local_rerank.search.extract import NotIndexable
from local_rerank.search.pipeline import lexical_stage, rerank_stage
from local_rerank.settings import Settings
from tui.help_screen import HelpScreen
from tui.messages import IndexAdvanced, IndexReady, ModelLoaded, SearchAdvanced, SearchFailed
from tui.preview import Preview
from tui.query_bar import InstructionBar, QueryInput
from tui.results_table import ResultsTable
from tui.score_summary import ScoreSummary
from tui.status_bar import StatusBar, format_timings

RerankerLoader = Callable[[], Reranker]


class RerankApp(App[None]):
    """Search one folder: type a query, read the ranked files and their passages."""

    CSS_PATH = "app.tcss"
    TITLE = "local-rerank"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("f1", "help", "Help"),
        Binding("f2", "pick_instruction", "Instruction"),
        Binding("slash", "focus_query", "Query", show=False),
    ]

    def __init__(self, index: FolderIndex, load_reranker: RerankerLoader | None, *, banner: str | None = None,
                 instruction: str | None = None, candidates: int | None = None, folder_label: str | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        super().__init__()
        self.index = index
        self.load_reranker = load_reranker
        self.banner = banner
        self.initial_instruction = instruction
        self.candidates = candidates
        self.clock = clock
        self.sub_title = folder_label or _home_relative(index.folder)
        self.reranker: Reranker | None = None
        self.model_settled = threading.Event()  # set once the model loaded, failed, or there is none
        self.search_id = 0
        self.cancel_search = threading.Event()
        self.cancel_index = threading.Event()
        self.query_text = ""
        self.lexical_seconds = 0.0

    def compose(self) -> ComposeResult:
        yield Header()
        if self.banner:
            yield Static(self.banner, id="banner")
        yield QueryInput(id="query")
        yield InstructionBar(self.initial_instruction, id="instruction-bar")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield ResultsTable(id="results")
                yield ScoreSummary(id="summary")
            yield Preview(id="preview")
        yield ProgressBar(id="progress", show_eta=False)
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#query", QueryInput).focus()
        self.run_index()
        if self.load_reranker is None:
            self.model_settled.set()
        else:
            self.status.change(model="loading model…")
            self.run_load_model()

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
        except (sqlite3.Error, OSError) as e:  # a locked or unwritable cache: say so, keep searching what is there
            self.call_from_thread(self.notify, f"Indexing stopped: {e}", severity="error", timeout=10)
            return
        if report.complete:
            self.post_message(IndexReady(report))

    @work(thread=True, group="model", exclusive=True)
    def run_load_model(self) -> None:
        """Open the reranker (seconds for a large model)."""
        assert self.load_reranker is not None
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                reranker = self.load_reranker()
        except LocalRerankError as e:
            self.post_message(ModelLoaded(None, str(e)))
            return
        for warning in caught:
            self.notify(str(warning.message), severity="warning", timeout=10)
        self.post_message(ModelLoaded(reranker))

    def on_unmount(self) -> None:
        self.cancel_index.set()  # what was indexed is kept; the next start completes it
        self.cancel_search.set()
        if self.reranker is not None:
            self.reranker.close()

    def on_index_advanced(self, message: IndexAdvanced) -> None:
        self.query_one("#progress", ProgressBar).update(total=message.progress.total, progress=message.progress.done)
        self.status.change(index=f"indexing {message.progress.done}/{message.progress.total}")

    def on_index_ready(self, message: IndexReady) -> None:
        report = message.report
        skipped = sum(report.skipped.values())
        self.status.change(index=f"{report.files} files" + (f", {skipped} skipped" if skipped else ""))
        self.query_one("#progress", ProgressBar).update(total=1, progress=1)
        if self.query_text and (report.read or report.removed):  # the index changed under the last query
            self.start_search(self.query_text)

    def on_model_loaded(self, message: ModelLoaded) -> None:
        self.reranker = message.reranker
        self.model_settled.set()
        if message.reranker is not None:
            backend = message.reranker.backend
            self.status.change(model=f"{backend.model_name} ({backend.name}, {backend.device})")
        else:
            self.status.change(model="no model (BM25 order)")
            self.notify(f"The model could not start: {message.error}", severity="error", timeout=10)

    @on(Input.Submitted, "#query")
    def submitted_query(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.query_one("#query", QueryInput).remember(event.value.strip())
            self.start_search(event.value.strip())

    @on(Select.Changed, "#preset")
    @on(Input.Submitted, "#instruction")
    def instruction_changed(self) -> None:
        if self.query_text:
            self.start_search(self.query_text)

    def start_search(self, query: str) -> None:
        """Cancel the search in flight and start one for ``query``."""
        self.cancel_search.set()
        self.cancel_search = threading.Event()
        self.search_id += 1
        self.query_text = query
        instruction = self.query_one("#instruction-bar", InstructionBar).instruction
        self.status.change(work="searching…", timings="")
        self.run_search(self.search_id, query, instruction, self.cancel_search)

    @work(thread=True, group="search")
    def run_search(self, search_id: int, query: str, instruction: str | None, cancel: threading.Event) -> None:
        """BM25 at once; then, once the model is settled, reranking batch by batch."""
        try:
            device = self.reranker.backend.device if self.reranker is not None else None
            request = SearchRequest(query, instruction, self.candidates or default_candidates(device))
            lexical = lexical_stage(self.index, request, self.clock)
            self.post_message(SearchAdvanced(search_id, lexical))
            while not self.model_settled.wait(0.05):
                if cancel.is_set():
                    return
            if self.reranker is None or not lexical.hits:
                self.post_message(SearchAdvanced(search_id, SearchFinished(lexical.hits, False,
                                                                           {"lexical": lexical.seconds})))
                return
            for event in rerank_stage(self.index, lexical.hits, request, self.reranker, cancel, clock=self.clock):
                self.post_message(SearchAdvanced(search_id, event))
        except LocalRerankError as e:
            self.post_message(SearchFailed(search_id, str(e)))

    def on_search_advanced(self, message: SearchAdvanced) -> None:
        if message.search_id != self.search_id:
            return  # a cancelled search's late news
        event = message.event
        if isinstance(event, LexicalResults):
            self.lexical_seconds = event.seconds
            self.show_hits(event.hits)
            self.status.change(timings=format_timings({"lexical": event.seconds}),
                               work="reranking…" if self.reranker or not self.model_settled.is_set() else "")
        elif isinstance(event, RerankProgress):
            self.show_hits(event.hits)
            self.query_one("#progress", ProgressBar).update(total=event.total, progress=event.done)
            self.status.change(work=f"reranked {event.done}/{event.total}")
        elif isinstance(event, SearchFinished):
            self.show_hits(event.hits)
            timings = {"lexical": self.lexical_seconds, **event.timings}
            self.status.change(work="reranked" if event.reranked else "BM25 order",
                               timings=format_timings(timings, event.cached))
        elif isinstance(event, SearchCancelled):
            self.show_hits(event.hits)
            self.status.change(work="cancelled")

    def on_search_failed(self, message: SearchFailed) -> None:
        if message.search_id == self.search_id:
            self.status.change(work=message.error)
            self.notify(message.error, severity="warning")

    def show_hits(self, hits: list[SearchHit]) -> None:
        """Show a new order of results, and the preview of the highlighted one."""
        table = self.query_one("#results", ResultsTable)
        table.show(hits)
        self.query_one("#summary", ScoreSummary).show(hits)
        if not hits:
            self.query_one("#preview", Preview).clear()
        elif table.highlighted is not None:
            self.preview(table.highlighted)

    @on(DataTable.RowHighlighted, "#results")
    def row_highlighted(self) -> None:
        hit = self.query_one("#results", ResultsTable).highlighted
        if hit is not None:
            self.preview(hit)

    def preview(self, hit: SearchHit) -> None:
        lines = None
        if hit.passage.page is None:
            try:
                lines = self.index.read_lines(hit.path)
            except (OSError, NotIndexable):  # gone, or no longer text: show the indexed passage alone
                lines = None
        self.query_one("#preview", Preview).show(lines, hit, self.query_text)

    @on(DataTable.RowSelected, "#results")
    def open_in_editor(self) -> None:
        hit = self.query_one("#results", ResultsTable).highlighted
        if hit is None:
            return
        if hit.passage.page is not None:
            self.notify(f"{hit.path}: page {hit.passage.page} (open PDFs in your PDF viewer)")
            return
        command = editor_command(os.environ, self.index.folder / hit.path, hit.passage.start_line)
        try:
            with self.suspend():
                subprocess.run(command, check=False)
        except SuspendNotSupported:
            self.notify(f"This terminal cannot hand over to an editor; run: {shlex.join(command)}", timeout=10)
        except OSError as e:
            self.notify(f"Could not start {command[0]}: {e.strerror}", severity="error")

    def action_cancel(self) -> None:
        """Stop the search in flight; what was reranked so far stays."""
        if not self.cancel_search.is_set():
            self.cancel_search.set()
            self.status.change(work="cancelling…")

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_pick_instruction(self) -> None:
        self.query_one("#preset", Select).focus()

    def action_focus_query(self) -> None:
        self.query_one("#query", QueryInput).focus()


NO_MODEL_BANNER = f"No reranking model installed: results are in BM25 (keyword) order. To rerank, {GET_A_MODEL}."
RERANK_OFF_BANNER = "Reranking is off (--no-rerank): results are in BM25 (keyword) order."


def make_app(index: FolderIndex, load_reranker: RerankerLoader | None, banner: str | None = None,
             **options: object) -> RerankApp:
    """The app over ``index``; ``load_reranker`` opens the model in a worker (None: BM25 order only)."""
    return RerankApp(index, load_reranker, banner=banner, **options)  # type: ignore[arg-type]


def run_app(index: FolderIndex, settings: Settings, model: Path | None, *, rerank: bool = True,
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


def _home_relative(folder: Path) -> str:
    home = Path.home()
    return f"~/{folder.relative_to(home)}" if folder.is_relative_to(home) and folder != home else str(folder)
