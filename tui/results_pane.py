"""The results and the preview: the ranked files (a table, or both orders side by side), the score
summary, and the highlighted file around its passage; Enter opens it in the editor."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable

from local_rerank.search import SearchHit
from local_rerank.search.blocks import NotIndexable
from local_rerank.search.corpus import Corpus
from tui.editor import open_in_editor
from tui.preview import Preview
from tui.results_table import ResultsTable
from tui.score_summary import ScoreSummary
from tui.side_by_side import SideBySide


class ResultsPane(Horizontal):
    """One search's hits; the highlighted one is previewed from the corpus the hits came from."""

    def __init__(self, corpus: Corpus, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.corpus = corpus
        self.query_text = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="left"):
            yield ResultsTable(id="results")
            yield SideBySide(id="side-by-side")
            yield ScoreSummary(id="summary")
        yield Preview(id="preview")

    @property
    def hits(self) -> list[SearchHit]:
        """The results on show, best first."""
        return self.query_one("#results", ResultsTable).hits

    @property
    def highlighted(self) -> SearchHit | None:
        """The result under the cursor of the view on show (the table, or side by side)."""
        side_by_side = self.query_one("#side-by-side", SideBySide)
        table = self.query_one("#results", ResultsTable)
        return side_by_side.highlighted if side_by_side.display else table.highlighted

    def show(self, hits: list[SearchHit], corpus: Corpus, query_text: str) -> None:
        """Show a new order of results from ``corpus`` for ``query_text``, and the preview of the highlighted one."""
        self.corpus, self.query_text = corpus, query_text
        self.query_one("#results", ResultsTable).show(hits)
        self.query_one("#side-by-side", SideBySide).show(hits)
        self.query_one("#summary", ScoreSummary).show(hits)
        if not hits:
            self.query_one("#preview", Preview).clear()
        elif self.highlighted is not None:
            self._preview(self.highlighted)

    def name_first_stage(self, title: str) -> None:
        """Head the first-stage order side by side with ``title``."""
        self.query_one("#side-by-side", SideBySide).name_first_stage(title)

    def toggle_side_by_side(self) -> None:
        """Switch between the results table and the two orders side by side."""
        table, side_by_side = self.query_one("#results", ResultsTable), self.query_one("#side-by-side", SideBySide)
        focused = table.has_focus or any(child.has_focus for child in side_by_side.children)
        side_by_side.display, table.display = not side_by_side.display, side_by_side.display
        if focused:
            (self.query_one("#reranked") if side_by_side.display else table).focus()

    @on(DataTable.RowHighlighted)
    def _preview_highlighted(self) -> None:
        if self.highlighted is not None:
            self._preview(self.highlighted)

    @on(DataTable.RowSelected)
    def _open_highlighted(self) -> None:
        if self.highlighted is not None:
            open_in_editor(self.app, self.corpus, self.highlighted)

    def _preview(self, hit: SearchHit) -> None:
        lines = None
        if hit.passage.page is None:
            try:
                lines = self.corpus.read_lines(hit.path)
            except (OSError, NotIndexable):  # gone, or no longer text: show the indexed passage alone
                lines = None
        self.query_one("#preview", Preview).show(lines, hit, self.query_text)
