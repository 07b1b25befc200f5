"""What folder search asks of what it searches: a folder's index or a list of passages.

Both :class:`~local_rerank.search.index.FolderIndex` and
:class:`~local_rerank.search.passage_list.PassageList` implement :class:`Corpus`, so the
search session, the rewriting first stage, the TUI and eval never ask which one they hold.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Protocol

from local_rerank.search.hits import IndexProgress, IndexReport, SearchHit


class Corpus(Protocol):
    """Passages with a first stage (BM25, or the list's own order) and a score cache."""

    folder: Path  # where the passages come from (a folder, or the name of a list's source)
    has_files: bool  # True: hits are files under ``folder`` (editable, watched, readable whole)
    first_stage: str  # the first stage's order, as the TUI names it ("BM25 order", "input order")

    def lexical(self, query: str, limit: int) -> list[SearchHit]:
        """The first stage: at most ``limit`` hits, best first."""

    def candidates(self, requested: int | None) -> int | None:
        """How many hits to rerank when ``requested`` were asked for (None: the device's default)."""

    def reranker_text(self, hit: SearchHit) -> str:
        """What the reranker reads for ``hit`` in passage mode."""

    def document_text(self, hit: SearchHit, query: str, budget: int) -> str:
        """What the reranker reads for ``hit`` in document mode, within ``budget`` estimated tokens."""

    def definitions(self) -> dict[str, str]:
        """The abbreviations the corpus defines: {abbreviation: long form} (for query rewriting)."""

    def cached_scores(self, keys: list[str]) -> dict[str, float]:
        """The scores already computed among ``keys``."""

    def save_scores(self, scores: Mapping[str, float]) -> None:
        """Remember scores by key."""

    def read_lines(self, relpath: str) -> list[str]:
        """The lines of one hit's source, numbered as its passages are (for previews)."""

    def file_kind(self, relpath: str) -> str | None:
        """The kind of the source a hit names ("markdown", "pdf", "passage" ...); None when it names none."""

    def describe(self, report: IndexReport) -> str:
        """What an update's report says the corpus holds, in a few words ("120 files, 3 skipped")."""

    def changes(self, stop: threading.Event) -> Iterator[int]:
        """Until ``stop`` is set, how many of the source's paths changed, each time some did (0: check
        everything); nothing for a source that cannot change."""

    def update(self, progress: Callable[[IndexProgress], None] | None = None,
               cancel: threading.Event | None = None) -> IndexReport:
        """Bring the corpus up to date with its source."""
