"""A list of passages the user brings (a file, stdin, or pasted), searched like a folder.

The first stage is the list's own order (the order of the retriever that produced it) and
every passage is reranked, so a :class:`~local_rerank.search.session.SearchSession` over a
:class:`PassageList` ranks the whole list, streamed and cancellable as folder results are.
Passages are named ``#1``, ``#2``, ... by their position; scores are cached in memory unless
another store is given.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from local_rerank.documents import parse_documents
from local_rerank.errors import InputError
from local_rerank.search.chunking import Passage
from local_rerank.search.hits import IndexProgress, IndexReport, SearchHit, text_digest
from local_rerank.search.score_cache import MemoryScores, ScoreCache

MAX_PASSAGES = 10_000


class PassageList:
    """Passages in the order given (a :class:`~local_rerank.search.corpus.Corpus`); ``folder``
    names where they came from (for titles). Scores go to ``scores`` (None: memory, for this run)."""

    has_files = False
    first_stage = "input order"

    def __init__(self, texts: list[str], source: str, scores: ScoreCache | None = None) -> None:
        if not texts:
            raise InputError(f"{source} holds no passages")
        if len(texts) > MAX_PASSAGES:
            raise InputError(f"{source} holds {len(texts)} passages; at most {MAX_PASSAGES} can be ranked at once")
        self.folder = Path(source)
        self.hits = [_hit(position, text) for position, text in enumerate(texts, start=1)]
        self.scores = MemoryScores() if scores is None else scores

    @classmethod
    def from_text(cls, text: str, source: str) -> PassageList:
        """Passages from JSONL objects with a "text" field, or plain text one per line.

        Raises:
            InputError: no passages, or a malformed JSONL line.
        """
        return cls(parse_documents(text, source), source)

    def __len__(self) -> int:
        return len(self.hits)

    def lexical(self, query: str, limit: int) -> list[SearchHit]:
        """Every passage, in the list's order (``limit`` is ignored: the user chose these)."""
        if not query.strip():
            raise InputError("the query is empty")
        return list(self.hits)

    def candidates(self, requested: int | None) -> int | None:
        """Every passage: the user chose these (``requested`` is ignored)."""
        return len(self.hits)

    def definitions(self) -> dict[str, str]:
        """None: a list of passages is too short to learn abbreviations from."""
        return {}

    def changes(self, stop: threading.Event) -> Iterator[int]:
        """None: a list does not change."""
        return iter(())

    def file_kind(self, relpath: str) -> str | None:
        """"passage" for a passage of the list ("#3"); None for any other name."""
        return "passage" if any(hit.path == relpath for hit in self.hits) else None

    def describe(self, report: IndexReport) -> str:
        """"12 passages"."""
        return f"{report.passages} passages"

    def cached_scores(self, keys: list[str]) -> dict[str, float]:
        """The scores already computed among ``keys``."""
        return self.scores.cached_scores(keys)

    def save_scores(self, scores: Mapping[str, float]) -> None:
        """Remember scores by key."""
        self.scores.save_scores(scores)

    def reranker_text(self, hit: SearchHit) -> str:
        """What the reranker reads for a passage: the passage alone, as ``local-rerank rank`` would."""
        return hit.passage.text

    def document_text(self, hit: SearchHit, query: str, budget: int) -> str:
        """A passage of a list is its own document: the passage alone, whatever the unit."""
        return self.reranker_text(hit)

    def read_lines(self, relpath: str) -> list[str]:
        """The lines of passage ``relpath`` ("#3")."""
        return next(hit.passage.text.splitlines() for hit in self.hits if hit.path == relpath)

    def update(self, progress: Callable[[IndexProgress], None] | None = None,
               cancel: threading.Event | None = None) -> IndexReport:
        """Nothing to bring up to date; the report says how many passages there are."""
        return IndexReport(len(self.hits), len(self.hits), 0, len(self.hits), 0)


def _hit(position: int, text: str) -> SearchHit:
    passage = Passage(text, 1, max(len(text.splitlines()), 1))
    return SearchHit(f"#{position}", passage, text_digest(text), position, 0.0)
