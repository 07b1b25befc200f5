"""A sparkline of the scores, best first, and a hint on how decisive the top of the list is."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, Sparkline

from local_rerank.search import SearchHit

CLOSE = 0.05
CLEAR = 0.3


def score_hint(hits: list[SearchHit]) -> str:
    """What the top scores say: close (read several), one clear answer, or nothing scored yet."""
    scores = [hit.score for hit in hits if hit.score is not None]
    if not scores:
        return "keyword (BM25) order" if hits else ""
    top = sorted(scores, reverse=True)
    if len(top) == 1:
        return f"one result, {top[0]:.2f}"
    gap = top[0] - top[1]
    if gap < CLOSE:
        return f"top scores are close ({top[0]:.2f}, {top[1]:.2f}): compare the first few"
    if gap > CLEAR:
        return f"one clear answer ({top[0]:.2f}; next {top[1]:.2f})"
    return f"best {top[0]:.2f}, next {top[1]:.2f}"


class ScoreSummary(Horizontal):
    """The score distribution of the current results."""

    def compose(self) -> ComposeResult:
        yield Sparkline([], id="sparkline")
        yield Label("", id="hint")

    def show(self, hits: list[SearchHit]) -> None:
        """Draw the scores (BM25 scores, scaled to the best, when nothing is reranked yet)."""
        scores = [hit.score for hit in hits if hit.score is not None]
        if not scores and hits:
            best = max(hit.bm25_score for hit in hits) or 1.0
            scores = [hit.bm25_score / best for hit in hits]
        self.query_one(Sparkline).data = sorted(scores, reverse=True)
        self.query_one("#hint", Label).update(score_hint(hits))
