"""The score distribution opened large: a histogram of every candidate's p(yes), with the hint."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from local_rerank.search import SearchHit
from tui.score_summary import score_hint

BINS = 10
BAR_CELLS = 40


def score_histogram(scores: list[float], bins: int = BINS) -> list[int]:
    """How many scores fall in each of ``bins`` equal steps of [0, 1] (1.0 counts in the last)."""
    counts = [0] * bins
    for score in scores:
        counts[min(int(max(score, 0.0) * bins), bins - 1)] += 1
    return counts


def render_histogram(hits: list[SearchHit]) -> Text:
    """One line per step, highest scores first, with a bar, the count and where the top result lies."""
    scores = [hit.score for hit in hits if hit.score is not None]
    if not scores:
        return Text("Nothing is reranked yet: the distribution appears as scores arrive.", style="dim")
    counts = score_histogram(scores)
    widest = max(counts)
    top_bin = min(int(max(scores) * BINS), BINS - 1)
    text = Text()
    for step in reversed(range(BINS)):
        bar = "█" * round(counts[step] / widest * BAR_CELLS) if counts[step] else ""
        text.append(f"{step / BINS:.1f}–{(step + 1) / BINS:.1f} ", style="bold" if step == top_bin else "dim")
        text.append(f"{bar:<{BAR_CELLS}} ", style="green" if step == top_bin else "blue")
        text.append(f"{counts[step]:>4}" + ("  ← best" if step == top_bin else "") + "\n")
    text.append(f"\n{len(scores)} of {len(hits)} candidates scored. {score_hint(hits)}")
    return text


class HistogramScreen(ModalScreen[None]):
    """The distribution of the scores on screen."""

    BINDINGS = [Binding("escape,f4,q", "dismiss", "Close")]

    def __init__(self, hits: list[SearchHit]) -> None:
        super().__init__()
        self.hits = hits

    def compose(self) -> ComposeResult:
        with Vertical(id="histogram"):
            yield Static(Text("p(yes) of every candidate", style="bold"))
            yield Static(render_histogram(self.hits), id="histogram-bars")
