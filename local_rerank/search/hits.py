"""What a corpus hands out: hits with the digest of what the reranker reads for them, and an
update's progress and report."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from local_rerank.search.chunking import Passage


@dataclass(frozen=True)
class SearchHit:
    """A file's best passage for a query, the file's BM25 rank (1 = best) and score, and, once
    reranked, p("yes")."""

    path: str
    passage: Passage
    passage_hash: str
    bm25_rank: int
    bm25_score: float
    score: float | None = None


@dataclass(frozen=True)
class IndexProgress:
    """How far an update has got: ``done`` of ``total`` files looked at."""

    done: int
    total: int
    path: str


@dataclass(frozen=True)
class IndexReport:
    """What an update did and what the index holds."""

    files: int
    passages: int
    read: int
    unchanged: int
    removed: int
    skipped: dict[str, int] = field(default_factory=dict)
    replaced_utf8: int = 0
    seconds: float = 0.0
    complete: bool = True


def text_digest(text: str) -> str:
    """The digest of a text the reranker reads, as the score cache keys it (32 hex digits)."""
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]


def document_text(path: str, passage: Passage) -> str:
    """What the reranker reads for a passage of a file: its path, section and text."""
    where = f"{path} — {passage.heading}" if passage.heading else path
    return f"{where}\n{passage.text}"


def passage_hash(path: str, passage: Passage) -> str:
    """A digest of what the reranker reads for this passage (:func:`document_text`), so that the
    score cache follows any change to it."""
    return text_digest(document_text(path, passage))
