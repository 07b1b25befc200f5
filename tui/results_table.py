"""The results: rank, a score bar, how far reranking moved each file from its BM25 rank, the
file and its passage's first line."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from local_rerank.search import SearchHit
from local_rerank.search.pipeline import movement

BAR_WIDTH = 10


def score_bar(fraction: float) -> str:
    """A bar of ``BAR_WIDTH`` cells filled in eighths."""
    eighths = round(max(0.0, min(fraction, 1.0)) * BAR_WIDTH * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + ("▏▎▍▌▋▊▉"[part - 1] if part else "")).ljust(BAR_WIDTH, "·")


def move_label(position: int, hit: SearchHit) -> Text:
    """:func:`movement` coloured ("↑" green, "↓" red), or "·" while the hit is not reranked yet."""
    if hit.score is None:
        return Text("·", style="dim")
    label = movement(position, hit)
    return Text(label, style={"↑": "green", "↓": "red"}.get(label[0], "dim"))


def passage_line(hit: SearchHit) -> str:
    """The passage's first line; after a heading, the heading and the first line under it."""
    lines = [line.strip() for line in hit.passage.text.splitlines() if line.strip()][:2]
    if len(lines) == 2 and lines[0].startswith("#"):
        return f"{lines[0].lstrip('#').strip()} · {lines[1]}"
    return lines[0] if lines else ""


class ResultsTable(DataTable):
    """The ranked files; the highlighted row drives the preview."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.hits: list[SearchHit] = []

    def on_mount(self) -> None:
        self.add_column("#", key="rank", width=3)
        self.add_column("score", key="score", width=BAR_WIDTH + 7)
        self.add_column("move", key="move", width=4)
        self.add_column("file", key="file")
        self.add_column("passage", key="passage")

    def show(self, hits: list[SearchHit]) -> None:
        """Replace the rows; while the user is moving through them (the table has focus), the
        highlighted file stays highlighted wherever reranking moves it, else the best is."""
        current = self.highlighted
        self.hits = hits
        self.clear()
        best_bm25 = max((hit.bm25_score for hit in hits), default=1.0) or 1.0
        for position, hit in enumerate(hits, start=1):
            if hit.score is not None:
                score = f"{score_bar(hit.score)} {hit.score:.3f}"
            else:
                score = Text(f"{score_bar(hit.bm25_score / best_bm25)} bm25", style="dim")
            self.add_row(str(position), score, move_label(position, hit), hit.path, passage_line(hit), key=hit.path)
        if self.has_focus and current is not None and current.path in {hit.path for hit in hits}:
            self.move_cursor(row=[hit.path for hit in hits].index(current.path), animate=False)

    @property
    def highlighted(self) -> SearchHit | None:
        """The hit under the cursor, if any."""
        return self.hits[self.cursor_row] if 0 <= self.cursor_row < len(self.hits) else None
