"""The first-stage (BM25) order beside the reranked order, the same file highlighted in both.

Each side marks where its files went: the BM25 side says each file's reranked position
("→3"), the reranked side how far reranking moved it ("↑2"), so who moved where reads
across the two columns.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.style import StyleType
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import DataTable

from local_rerank.search import SearchHit
from tui.results_table import MARKS, MIN_FILE_WIDTH, PLAIN_MARKS, file_label, mark_styles, move_label

MARK_WIDTH = 4


class OrderTable(DataTable):
    """One order of the hits: position, file, and a mark for where the file is in the other order."""

    COMPONENT_CLASSES = {f"results--{name}" for name in MARKS}

    def __init__(self, title: str, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.title = title
        self.hits: list[SearchHit] = []

    def fill(self, hits: list[SearchHit], marks: list[Text]) -> None:
        """Show ``hits`` in this order, each with its mark."""
        self.hits = hits
        self.clear(columns=True)
        file_width = max(self.size.width - 3 - MARK_WIDTH - 2 * self.cell_padding * 3 - 2, MIN_FILE_WIDTH)
        self.add_column("#", key="rank", width=3)
        self.add_column(self.title, key="file", width=file_width)
        self.add_column("", key="mark", width=MARK_WIDTH)
        for position, (hit, mark) in enumerate(zip(hits, marks), start=1):
            self.add_row(str(position), Text(file_label(hit.path, file_width)), mark, key=hit.path)

    def point_at(self, path: str) -> None:
        """Put the cursor on ``path``'s row."""
        rows = [hit.path for hit in self.hits]
        if path in rows and self.cursor_row != rows.index(path):
            self.move_cursor(row=rows.index(path), animate=False)

    @property
    def highlighted(self) -> SearchHit | None:
        """The hit under the cursor, if any."""
        return self.hits[self.cursor_row] if 0 <= self.cursor_row < len(self.hits) else None


class SideBySide(Horizontal):
    """The BM25 order on the left, the reranked order on the right."""

    def compose(self) -> ComposeResult:
        yield OrderTable("BM25 order", id="first-stage")
        yield OrderTable("reranked", id="reranked")

    def on_mount(self) -> None:
        self.watch(self.app, "theme", self._recolour, init=False)

    def _recolour(self) -> None:
        """Redraw both orders in the new theme's colours once its styles are in place."""
        self.app.call_next(lambda: self.show(self.query_one("#reranked", OrderTable).hits))

    def show(self, hits: list[SearchHit]) -> None:
        """Show ``hits`` (the reranked order, best first) in both orders; while the user is moving through
        them, the file under the cursor stays under it, else the best file is highlighted."""
        moving = any(table.has_focus for table in self.query(OrderTable))
        current = self.highlighted if moving else None
        first_stage = sorted(hits, key=lambda hit: hit.bm25_rank)
        position = {hit.path: number for number, hit in enumerate(hits, start=1)}
        marks = mark_styles(self.query_one("#reranked", OrderTable))
        self.query_one("#first-stage", OrderTable).fill(first_stage, [_destination(hit, position, marks) for hit in
                                                                       first_stage])
        self.query_one("#reranked", OrderTable).fill(hits, [move_label(number, hit, marks) for number, hit in
                                                            enumerate(hits, start=1)])
        if current is not None or hits:
            self._point_both_at(current.path if current is not None else hits[0].path)

    def name_first_stage(self, title: str) -> None:
        """Head the left side with ``title`` ("BM25 order", or "input order" for a list of passages)."""
        self.query_one("#first-stage", OrderTable).title = title

    @property
    def highlighted(self) -> SearchHit | None:
        """The hit under the cursor of the side that has focus (the reranked side otherwise)."""
        first_stage = self.query_one("#first-stage", OrderTable)
        side = first_stage if first_stage.has_focus else self.query_one("#reranked", OrderTable)
        return side.highlighted

    @on(DataTable.RowHighlighted)
    def _follow(self, event: DataTable.RowHighlighted) -> None:
        hit = event.data_table.highlighted if isinstance(event.data_table, OrderTable) else None
        if hit is not None and event.data_table.has_focus:
            self._point_both_at(hit.path)

    def _point_both_at(self, path: str) -> None:
        for table in self.query(OrderTable):
            table.point_at(path)


def _destination(hit: SearchHit, position: dict[str, int], marks: Mapping[str, StyleType] = PLAIN_MARKS) -> Text:
    """Where reranking put a file, from the BM25 side: "→3", coloured by direction; "·" before reranking."""
    if hit.score is None:
        return Text("·", style=marks["muted"])
    now = position[hit.path]
    mark = "up" if now < hit.bm25_rank else "down" if now > hit.bm25_rank else "muted"
    return Text(f"→{now}", style=marks[mark])
