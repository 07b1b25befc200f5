"""A folder's passages and their BM25 index, in SQLite (FTS5), kept in the user's cache directory.

One database per folder, never inside the folder. :class:`FolderIndex` puts together its parts:
the file and its recovery from damage (:mod:`~local_rerank.search.index_db`), updates
(:mod:`~local_rerank.search.ingest`: only files whose size or modification time changed are
read again, files that are gone are dropped, skipped files recorded with the reason), BM25 and
document packing (:mod:`~local_rerank.search.lexical`), the reranker's scores
(:mod:`~local_rerank.search.score_cache`, in the same database) and previews
(:mod:`~local_rerank.search.previews`).
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from local_rerank.cache import cache_root
from local_rerank.errors import InputError
from local_rerank.search import index_db, ingest, lexical, previews
from local_rerank.search.abbreviations import stored_definitions
from local_rerank.search.chunking import Passage
from local_rerank.search.hits import IndexProgress, IndexReport, SearchHit, document_text
from local_rerank.search.index_db import recovering
from local_rerank.search.ingest import MAX_FILE_BYTES
from local_rerank.search.score_cache import SqliteScores
from local_rerank.search.watch import folder_changes


class FolderIndex:
    """The index of one folder (a :class:`~local_rerank.search.corpus.Corpus`). Safe to use from
    several threads: each call opens its own connection."""

    has_files = True
    first_stage = "BM25 order"

    def __init__(self, folder: Path, database: Path) -> None:
        """Open (create, or rebuild when damaged) the index of ``folder`` kept in ``database``.

        Raises:
            CacheError: the database's directory cannot be created or written.
        """
        self.folder = folder
        self.database = database
        self._write_lock = threading.Lock()
        self._scores = SqliteScores(self.connect)
        index_db.make_folder(database)
        self._create_or_check()

    @classmethod
    def open(cls, folder: str | Path, cache: Path | None = None) -> FolderIndex:
        """The index of ``folder``, created empty on first use.

        Raises:
            InputError: the folder does not exist or is not a folder.
            CacheError: the cache directory cannot be created or written.
        """
        root = Path(folder).expanduser()
        if not root.is_dir():
            raise InputError(f"{folder} is not a folder" if root.exists() else f"{folder} does not exist")
        root = root.resolve()
        digest = hashlib.sha256(os.fsencode(root)).hexdigest()[:16]
        slug = re.sub(r"[^\w.-]+", "_", root.name or "root")[:40]
        return cls(root, (cache or cache_root()) / "indexes" / f"{slug}-{digest}.sqlite3")

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection for one unit of work; committed on success, rolled back on error."""
        with index_db.connect(self.database) as connection:
            yield connection

    @recovering
    def _create_or_check(self) -> None:
        """Create the tables, or check those there: their schema version and the file's soundness."""
        index_db.create_or_check(self.database)

    def _start_over(self) -> None:
        """Delete the index file (it is only a cache) and create an empty index in its place."""
        with self._write_lock:
            index_db.start_over(self.database)

    @recovering
    def update(self, progress: Callable[[IndexProgress], None] | None = None,
               cancel: threading.Event | None = None, max_file_bytes: int = MAX_FILE_BYTES) -> IndexReport:
        """Bring the index up to date with the folder (:mod:`~local_rerank.search.ingest`).

        ``progress`` is called as files are looked at; ``cancel`` stops between files (what was
        done is kept). Updates through one index object run one at a time; updates from two
        processes are safe too (SQLite serialises the writes) but repeat each other's work.

        Raises:
            CacheError: the cache directory is read-only, full or failing.
        """
        started = time.perf_counter()
        with self._write_lock:
            changes = ingest.write_changes(self.folder, self.connect, frozenset({self.database.parent.resolve()}),
                                           progress, cancel, max_file_bytes)
        return ingest.report(self.connect, changes, time.perf_counter() - started)

    @recovering
    def lexical(self, query: str, limit: int) -> list[SearchHit]:
        """The best passage of each of the ``limit`` files that BM25 ranks highest for ``query``.

        Raises:
            InputError: the query has no words to search for.
        """
        with self.connect() as connection:
            return lexical.best_files(connection, query, limit)

    def candidates(self, requested: int | None) -> int | None:
        """``requested`` (None: the device's default)."""
        return requested

    def changes(self, stop: threading.Event) -> Iterator[int]:
        """The folder's changes, as :func:`~local_rerank.search.watch.folder_changes` reports them."""
        return folder_changes(self.folder, stop, ignore=self.database.parent)

    def describe(self, report: IndexReport) -> str:
        """"120 files", and how many were skipped."""
        skipped = sum(report.skipped.values())
        return f"{report.files} files" + (f", {skipped} skipped" if skipped else "")

    @recovering
    def reranker_text(self, hit: SearchHit) -> str:
        """What the reranker reads for ``hit``: :func:`~local_rerank.search.hits.document_text`."""
        return document_text(hit.path, hit.passage)

    @recovering
    def document_text(self, hit: SearchHit, query: str, budget: int) -> str:
        """What the reranker reads for ``hit``'s file in document mode: the file's best passages for
        ``query`` packed up to ``budget`` estimated tokens (:func:`~local_rerank.search.lexical.packed_document`)."""
        with self.connect() as connection:
            packed = lexical.packed_document(connection, hit, query, budget)
        return self.reranker_text(hit) if packed is None else packed  # None: the file went away since

    @recovering
    def definitions(self) -> dict[str, str]:
        """The abbreviations that the folder's text defines: {abbreviation: its most frequent long form}."""
        with self.connect() as connection:
            return stored_definitions(connection)

    def cached_scores(self, keys: list[str]) -> dict[str, float]:
        """The stored scores among ``keys``."""
        return self._scores.cached_scores(keys)

    @recovering
    def save_scores(self, scores: Mapping[str, float]) -> None:
        """Remember scores by key.

        Raises:
            CacheError: the cache directory is read-only, full or failing.
        """
        self._scores.save_scores(scores)

    def read_lines(self, relpath: str) -> list[str]:
        """The lines of an indexed text file as it is now, for previews
        (:func:`~local_rerank.search.previews.read_lines`, which says what it raises)."""
        return previews.read_lines(self.folder, relpath)

    @recovering
    def file_kind(self, relpath: str) -> str | None:
        """The kind ("markdown", "pdf", ...) of an indexed file; None when ``relpath`` is not one."""
        with self.connect() as connection:
            return previews.indexed_kind(connection, relpath)

    @recovering
    def passages_within(self, relpath: str, start_line: int, end_line: int) -> list[Passage]:
        """The indexed passages of ``relpath`` that overlap lines ``start_line`` to ``end_line``, in order."""
        with self.connect() as connection:
            return previews.passages_within(connection, relpath, start_line, end_line)
