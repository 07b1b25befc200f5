"""The results: rank, a score bar, how far reranking moved each file from its BM25 rank, the
file and its passage's first line."""

from __future__ import annotations

from collections.abc import Mapping

from rich.cells import cell_len
from rich.style import Style, StyleType
from rich.text import Text
from textual.widgets import DataTable

from local_rerank.search import SearchHit
from local_rerank.search.pipeline import movement
from local_rerank.text import printable

BAR_WIDTH = 10
FIXED_COLUMNS = {"rank": 3, "score": BAR_WIDTH + 7, "move": 4}
MARKS = ("up", "down", "muted")
"""How a move is marked; a table's ``results--up`` etc. component classes colour them (see app.tcss)."""
PLAIN_MARKS: Mapping[str, StyleType] = {"up": "green", "down": "red", "muted": "dim"}
"""The marks' styles outside a themed table."""
MIN_FILE_WIDTH = 12
PASSAGE_WIDTH = 200  # the most of a first line worth keeping


def score_bar(fraction: float) -> str:
    """A bar of ``BAR_WIDTH`` cells filled in eighths."""
    eighths = round(max(0.0, min(fraction, 1.0)) * BAR_WIDTH * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + ("▏▎▍▌▋▊▉"[part - 1] if part else "")).ljust(BAR_WIDTH, "·")


def move_label(position: int, hit: SearchHit, marks: Mapping[str, StyleType] = PLAIN_MARKS) -> Text:
    """:func:`movement` coloured ("↑" up, "↓" down, else muted), or "·" while the hit is not reranked yet."""
    if hit.score is None:
        return Text("·", style=marks["muted"])
    label = movement(position, hit)
    return Text(label, style=marks[{"↑": "up", "↓": "down"}.get(label[0], "muted")])


def mark_styles(table: DataTable) -> dict[str, Style]:
    """The colours of the marks from ``table``'s ``results--*`` component classes, for the current theme."""
    return {name: Style.from_color(table.get_component_rich_style(f"results--{name}").color) for name in MARKS}


def passage_line(hit: SearchHit) -> str:
    """The passage's first line; after a heading, the heading and the first line under it."""
    lines = [line.strip() for line in hit.passage.text.splitlines() if line.strip()][:2]
    if len(lines) == 2 and lines[0].startswith("#"):
        return f"{lines[0].lstrip('#').strip()} · {lines[1]}"
    return lines[0] if lines else ""


def file_label(path: str, width: int) -> str:
    """``path`` made printable and cut to ``width`` cells from the left ("…notes/lease.md"),
    so the file name stays."""
    shown = printable(path)
    if cell_len(shown) <= width:
        return shown
    while shown and cell_len(shown) > width - 1:
        shown = shown[1:]
    return "…" + shown


def column_widths(table_width: int, paths: list[str], padding: int = 1) -> tuple[int, int]:
    """(file, passage) column widths for a table ``table_width`` cells wide: the file column
    takes what its longest path needs, but at most half the room, so the passage stays readable."""
    room = table_width - sum(FIXED_COLUMNS.values()) - 2 * padding * 5 - 2  # 2: the scrollbar
    longest = max((cell_len(printable(path)) for path in paths), default=MIN_FILE_WIDTH)
    file_width = min(longest, max(room // 2, MIN_FILE_WIDTH))
    return file_width, max(room - file_width, MIN_FILE_WIDTH)


class ResultsTable(DataTable):
    """The ranked files; the highlighted row drives the preview."""

    COMPONENT_CLASSES = {f"results--{name}" for name in MARKS}

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.hits: list[SearchHit] = []

    def on_mount(self) -> None:
        self._add_columns()
        self.watch(self.app, "theme", self._recolour, init=False)

    def _recolour(self) -> None:
        """Redraw the rows in the new theme's colours once its styles are in place."""
        self.app.call_next(lambda: self.show(self.hits))

    def on_resize(self) -> None:
        self.show(self.hits)

    def _add_columns(self) -> int:
        """Columns fitted to the table's width and the paths shown; the file column's width."""
        file_width, passage_width = column_widths(self.size.width, [hit.path for hit in self.hits],
                                                  self.cell_padding)
        for key, width in FIXED_COLUMNS.items():
            self.add_column({"rank": "#"}.get(key, key), key=key, width=width)
        self.add_column("file", key="file", width=file_width)
        self.add_column("passage", key="passage", width=passage_width)
        return file_width

    def show(self, hits: list[SearchHit]) -> None:
        """Replace the rows; while the user is moving through them (the table has focus), the
        highlighted file stays highlighted wherever reranking moves it, else the best is."""
        current = self.highlighted
        self.hits = hits
        self.clear(columns=True)
        file_width = self._add_columns()
        best_bm25 = max((hit.bm25_score for hit in hits), default=1.0) or 1.0
        marks = mark_styles(self)
        for position, hit in enumerate(hits, start=1):
            score: str | Text
            if hit.score is not None:
                score = f"{score_bar(hit.score)} {hit.score:.3f}"
            else:
                score = Text(f"{score_bar(hit.bm25_score / best_bm25)} bm25", style=marks["muted"])
            self.add_row(str(position), score, move_label(position, hit, marks),
                         Text(file_label(hit.path, file_width)), Text(printable(passage_line(hit))[:PASSAGE_WIDTH]),
                         key=hit.path)
        if self.has_focus and current is not None and current.path in {hit.path for hit in hits}:
            self.move_cursor(row=[hit.path for hit in hits].index(current.path), animate=False)

    @property
    def highlighted(self) -> SearchHit | None:
        """The hit under the cursor, if any."""
        return self.hits[self.cursor_row] if 0 <= self.cursor_row < len(self.hits) else None
