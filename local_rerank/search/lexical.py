"""The first stage of folder search: BM25 over the index's passages (SQLite FTS5), the best passage
of each file; and a file's best passages for a query, packed into one document for the reranker.

Queries are analysed as the passages were (:func:`~local_rerank.search.cjk.query_terms`), so
every script matches.
"""

from __future__ import annotations

import math
import sqlite3

from local_rerank.errors import InputError
from local_rerank.search.chunking import Passage
from local_rerank.search.cjk import is_gram, query_terms
from local_rerank.search.hits import SearchHit
from local_rerank.search.packing import choose_passages, pack_document

NO_MATCH = "no file matches the query's words"  # what the CLI and the TUI say when BM25 finds nothing
STOPWORDS = frozenset(
    "a an and are as at be but by can could did do does for from had has have how i if in into is it its me my no "
    "not of on or our so than that the their them then there these they this to was we were what when where which "
    "who whom why will with would you your".split())


def fts_query(query: str) -> str:
    """An FTS5 query matching any term of ``query`` (:func:`~local_rerank.search.cjk.query_terms`:
    words, and the character grams of Chinese, Japanese, Korean or Thai), common English words
    dropped when others remain.

    Raises:
        InputError: the query has no words.
    """
    terms = query_terms(query)
    if not terms:
        raise InputError("the query has no words to search for")
    content = [term for term in terms if is_gram(term) or term not in STOPWORDS] or terms
    return " OR ".join(f'"{term}"' for term in content)


def best_files(connection: sqlite3.Connection, query: str, limit: int) -> list[SearchHit]:
    """The best passage of each of the ``limit`` files that BM25 ranks highest for ``query``.

    Raises:
        InputError: the query has no words to search for.
    """
    match = fts_query(query)
    fetch = limit * 8
    while True:
        rows = connection.execute(
            "SELECT rowid, -rank FROM passages_fts WHERE passages_fts MATCH ? ORDER BY rank LIMIT ?",
            (match, fetch)).fetchall()
        best: dict[int, float] = {}
        paths: set[str] = set()
        details = _passage_rows(connection, [row[0] for row in rows])
        for passage_id, score in rows:
            path = details[passage_id][0]
            if path not in paths and len(paths) < limit:
                paths.add(path)
                best[passage_id] = score
        if len(paths) >= limit or len(rows) < fetch:
            break
        fetch *= 4
    return [SearchHit(details[pid][0], details[pid][1], details[pid][2], rank, score)
            for rank, (pid, score) in enumerate(best.items(), start=1)]


def packed_document(connection: sqlite3.Connection, hit: SearchHit, query: str, budget: int) -> str | None:
    """``hit``'s file's best passages for ``query`` packed up to ``budget`` estimated tokens
    (:mod:`local_rerank.search.packing`), the hit's own passage first; None when the index no
    longer holds the file."""
    rows = connection.execute("SELECT id, text, start_line, end_line, heading, page FROM passages "
                              "WHERE path = ? ORDER BY id", (hit.path,)).fetchall()
    matched = connection.execute(
        "SELECT rowid, -rank FROM passages_fts WHERE passages_fts MATCH ? "
        "AND rowid IN (SELECT id FROM passages WHERE path = ?)", (fts_query(query), hit.path)).fetchall()
    if not rows:
        return None
    position = {row[0]: i for i, row in enumerate(rows)}
    passages = [Passage(text, first, last, heading, page) for _, text, first, last, heading, page in rows]
    relevance = {position[pid]: score for pid, score in matched if pid in position}
    for i, passage in enumerate(passages):  # the hit's own passage first, also when a rewrite found it
        if passage == hit.passage:
            relevance[i] = math.inf
    return pack_document(hit.path, passages, choose_passages(passages, relevance, budget))


def _passage_rows(connection: sqlite3.Connection, ids: list[int]) -> dict[int, tuple[str, Passage, str]]:
    rows: dict[int, tuple[str, Passage, str]] = {}
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        for pid, path, heading, text, first, last, page, digest in connection.execute(
                "SELECT id, path, heading, text, start_line, end_line, page, hash FROM passages "
                f"WHERE id IN ({','.join('?' * len(part))})", part):
            rows[pid] = (path, Passage(text, first, last, heading, page), digest)
    return rows
