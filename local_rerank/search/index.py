"""A folder's passages and their BM25 index, in SQLite (FTS5), kept in the user's cache directory.

One database per folder, never inside the folder. Updating re-reads only files whose size or
modification time changed, drops files that are gone, and records skipped files with the
reason. The full-text index holds paths, headings and text as :func:`~local_rerank.search.cjk.analyze`
gives them (NFKC; Chinese, Japanese, Korean and Thai as character grams) and queries are analysed
the same way, so every script matches. Each batch of files is one transaction (write-ahead log), so an update killed
mid-way leaves an index that opens, answers from what it holds, and is completed by the next
update. The same database caches reranker scores (see :mod:`local_rerank.search.pipeline`).

The database is only a cache: when SQLite finds it damaged (at opening, ``PRAGMA quick_check``:
about 50 ms for 10,000 files; or during any operation) it is deleted and built again. A cache
directory that cannot be written (not a folder, read-only, full, failing) raises :class:`CacheError`.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import re
import sqlite3
import threading
import time
from collections import Counter
from contextlib import closing, contextmanager
from itertools import islice
from pathlib import Path
from typing import Callable, Concatenate, Iterable, Iterator, Mapping, ParamSpec, TypeVar

from local_rerank.cache import cache_root
from local_rerank.errors import CacheError, InputError
from local_rerank.search.abbreviations import definitions_in
from local_rerank.search.chunking import PASSAGE_TOKENS, Passage, passages
from local_rerank.search.cjk import ANALYSIS, analyze, is_gram, query_terms
from local_rerank.search.hits import IndexProgress, IndexReport, SearchHit, document_text, passage_hash
from local_rerank.search.blocks import NotIndexable
from local_rerank.search.extract import counts_extracted_lines, extract, file_kind
from local_rerank.search.text_blocks import decode_text
from local_rerank.search.packing import choose_passages, pack_document
from local_rerank.search.walk import FoundFile, Skipped, read_file, walk
from local_rerank.search.watch import folder_changes

SCHEMA = f"local-rerank index 4; passages {PASSAGE_TOKENS}; {ANALYSIS}"
MAX_FILE_BYTES = 10 * 2**20
NO_MATCH = "no file matches the query's words"  # what the CLI and the TUI say when BM25 finds nothing
MAX_PASSAGES_PER_FILE = 20_000  # ~7M tokens; a pathological file (10 MiB of one-word headings) stops here
_COMMIT_EVERY_S = 0.5
STOPWORDS = frozenset(
    "a an and are as at be but by can could did do does for from had has have how i if in into is it its me my no "
    "not of on or our so than that the their them then there these they this to was we were what when where which "
    "who whom why will with would you your".split())
_TABLES = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE files(path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, kind TEXT, skipped TEXT,
                   replaced INTEGER DEFAULT 0);
CREATE TABLE passages(id INTEGER PRIMARY KEY, path TEXT, heading TEXT, text TEXT, start_line INTEGER,
                      end_line INTEGER, page INTEGER, hash TEXT);
CREATE INDEX passages_by_path ON passages(path);
CREATE VIRTUAL TABLE passages_fts USING fts5(path, heading, text, content='passages', content_rowid='id',
                                             tokenize='porter unicode61 remove_diacritics 2');
INSERT INTO passages_fts(passages_fts, rank) VALUES('rank', 'bm25(4.0, 2.0, 1.0)');
CREATE TABLE scores(key TEXT PRIMARY KEY, score REAL);
CREATE TABLE definitions(path TEXT, short TEXT, long TEXT);
CREATE INDEX definitions_by_path ON definitions(path);
"""
# SQLite's primary result codes (the low byte of sqlite_errorcode).
_DAMAGED = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB
_WRITABLE = "set LOCAL_RERANK_CACHE to a writable folder"
_CACHE_ADVICE = {5: "another local-rerank is writing this index; try again when it is done",  # SQLITE_BUSY
                 8: _WRITABLE,  # SQLITE_READONLY
                 10: "check that disk or set LOCAL_RERANK_CACHE to a folder on another one",  # SQLITE_IOERR
                 13: "free some space there or set LOCAL_RERANK_CACHE to a folder on another disk",  # SQLITE_FULL
                 14: _WRITABLE}  # SQLITE_CANTOPEN
_P = ParamSpec("_P")
_R = TypeVar("_R")


class _Damaged(Exception):
    """PRAGMA quick_check found the index file damaged."""


def _recovering(method: Callable[Concatenate[FolderIndex, _P], _R]) -> Callable[Concatenate[FolderIndex, _P], _R]:
    """``method``, run once more on a new, empty index when SQLite finds the index file damaged;
    SQLite's complaints about the cache directory (read-only, full, failing) become :class:`CacheError`."""

    @functools.wraps(method)
    def run(index: FolderIndex, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with _cache_errors(index.database.parent):
            try:
                return method(index, *args, **kwargs)
            except (_Damaged, sqlite3.DatabaseError) as e:
                if not isinstance(e, _Damaged) and _result_code(e) not in _DAMAGED:
                    raise
            index._start_over()
            return method(index, *args, **kwargs)

    return run


@contextmanager
def _cache_errors(directory: Path) -> Iterator[None]:
    """SQLite's errors that mean ``directory`` cannot be written, as :class:`CacheError`."""
    try:
        yield
    except sqlite3.DatabaseError as e:
        if _result_code(e) not in _CACHE_ADVICE:
            raise
        raise _cache_error(directory, str(e), _CACHE_ADVICE[_result_code(e)]) from e


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
        try:
            database.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise _cache_error(database.parent, e.strerror or str(e)) from e
        self._create_or_check()

    @classmethod
    def open(cls, folder: str | Path, cache: Path | None = None) -> "FolderIndex":
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
        with closing(sqlite3.connect(self.database, timeout=30)) as connection:
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.create_function("analyzed", 1, analyze, deterministic=True)
            with connection:
                yield connection

    @_recovering
    def _create_or_check(self) -> None:
        """Create the tables, or check those there: their schema version and the file's soundness."""
        with self.connect() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            version = (connection.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                       if "meta" in tables else None)
            if version != (SCHEMA,):
                _create_tables(connection)
            elif connection.execute("PRAGMA quick_check(1)").fetchone() != ("ok",):
                raise _Damaged(self.database)

    def _start_over(self) -> None:
        """Delete the index file (it is only a cache) and create an empty index in its place."""
        with self._write_lock:
            try:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.database}{suffix}").unlink(missing_ok=True)
            except OSError as e:
                raise _cache_error(self.database.parent, e.strerror or str(e)) from e
            with self.connect() as connection:
                connection.execute("PRAGMA journal_mode=WAL")
                _create_tables(connection)

    @_recovering
    def update(self, progress: Callable[[IndexProgress], None] | None = None,
               cancel: threading.Event | None = None, max_file_bytes: int = MAX_FILE_BYTES) -> IndexReport:
        """Bring the index up to date with the folder; see the module docstring.

        ``progress`` is called as files are looked at; ``cancel`` stops between files (what was
        done is kept). Updates through one index object run one at a time; updates from two
        processes are safe too (SQLite serialises the writes) but repeat each other's work.

        Raises:
            CacheError: the cache directory is read-only, full or failing.
        """
        started = time.perf_counter()
        with self._write_lock:
            found = list(walk(self.folder, exclude=frozenset({self.database.parent.resolve()})))
            files = [entry for entry in found if isinstance(entry, FoundFile)]
            skipped = Counter(entry.reason for entry in found if isinstance(entry, Skipped))
            with self.connect() as connection:
                known = {row[0]: row[1:] for row in connection.execute("SELECT path, size, mtime_ns FROM files")}
            stale = [entry for entry in files if known.get(entry.relpath) != (entry.size, entry.mtime_ns)]
            removed = set(known) - {entry.relpath for entry in files}
            read = self._write(stale, removed, progress, cancel, max_file_bytes, len(files))
        return self._report(read, len(files) - len(stale), len(removed), skipped, time.perf_counter() - started,
                            complete=read == len(stale))

    def _write(self, stale: list[FoundFile], removed: set[str], progress: Callable[[IndexProgress], None] | None,
               cancel: threading.Event | None, max_file_bytes: int, total: int) -> int:
        """Re-read the stale files and forget the removed ones; the number of files read."""
        done = total - len(stale)
        with self.connect() as connection:
            for path in removed:
                _forget(connection, path)
            last_commit = time.perf_counter()
            for read, entry in enumerate(stale):
                if cancel is not None and cancel.is_set():
                    return read
                _store(connection, entry, *_read(entry, max_file_bytes))
                if progress is not None:
                    progress(IndexProgress(done + read + 1, total, entry.relpath))
                if time.perf_counter() - last_commit > _COMMIT_EVERY_S:
                    connection.commit()
                    last_commit = time.perf_counter()
        return len(stale)

    def _report(self, read: int, unchanged: int, removed: int, links: Counter[str], seconds: float,
                complete: bool) -> IndexReport:
        with self.connect() as connection:
            files = connection.execute("SELECT count(*), coalesce(sum(replaced), 0) FROM files WHERE skipped IS NULL"
                                       ).fetchone()
            count = connection.execute("SELECT count(*) FROM passages").fetchone()[0]
            skipped = links + Counter(dict(connection.execute(
                "SELECT skipped, count(*) FROM files WHERE skipped IS NOT NULL GROUP BY skipped").fetchall()))
        return IndexReport(files[0], count, read, unchanged, removed, dict(skipped), files[1], seconds, complete)

    @_recovering
    def lexical(self, query: str, limit: int) -> list[SearchHit]:
        """The best passage of each of the ``limit`` files that BM25 ranks highest for ``query``.

        Raises:
            InputError: the query has no words to search for.
        """
        match = fts_query(query)
        fetch = limit * 8
        with self.connect() as connection:
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

    @_recovering
    def reranker_text(self, hit: SearchHit) -> str:
        """What the reranker reads for ``hit``: :func:`document_text`."""
        return document_text(hit.path, hit.passage)

    @_recovering
    def document_text(self, hit: SearchHit, query: str, budget: int) -> str:
        """What the reranker reads for ``hit``'s file in document mode: the file's best passages for
        ``query`` packed up to ``budget`` estimated tokens (:mod:`local_rerank.search.packing`)."""
        with self.connect() as connection:
            rows = connection.execute("SELECT id, text, start_line, end_line, heading, page FROM passages "
                                      "WHERE path = ? ORDER BY id", (hit.path,)).fetchall()
            matched = connection.execute(
                "SELECT rowid, -rank FROM passages_fts WHERE passages_fts MATCH ? "
                "AND rowid IN (SELECT id FROM passages WHERE path = ?)", (fts_query(query), hit.path)).fetchall()
        if not rows:  # the file went away since the first stage
            return self.reranker_text(hit)
        position = {row[0]: i for i, row in enumerate(rows)}
        passages = [Passage(text, first, last, heading, page) for _, text, first, last, heading, page in rows]
        relevance = {position[pid]: score for pid, score in matched if pid in position}
        for i, passage in enumerate(passages):  # the hit's own passage first, also when a rewrite found it
            if passage == hit.passage:
                relevance[i] = math.inf
        return pack_document(hit.path, passages, choose_passages(passages, relevance, budget))

    @_recovering
    def definitions(self) -> dict[str, str]:
        """The abbreviations that the folder's text defines: {abbreviation: its most frequent long form}."""
        with self.connect() as connection:
            rows = connection.execute("SELECT short, long, count(*) AS uses FROM definitions GROUP BY short, long "
                                      "ORDER BY uses, long DESC").fetchall()
        return {short: long for short, long, _ in rows}  # the most frequent comes last and wins

    def cached_scores(self, keys: list[str]) -> dict[str, float]:
        """The stored scores among ``keys``."""
        with self.connect() as connection:
            found: dict[str, float] = {}
            for start in range(0, len(keys), 500):
                part = keys[start:start + 500]
                found.update(connection.execute(
                    f"SELECT key, score FROM scores WHERE key IN ({','.join('?' * len(part))})", part).fetchall())
        return found

    @_recovering
    def save_scores(self, scores: Mapping[str, float]) -> None:
        """Remember scores by key.

        Raises:
            CacheError: the cache directory is read-only, full or failing.
        """
        with self.connect() as connection:
            connection.executemany("INSERT OR REPLACE INTO scores VALUES(?, ?)", scores.items())

    def read_lines(self, relpath: str) -> list[str]:
        """The lines of an indexed text file as it is now (for previews), decoded as the indexer
        decodes them, so that passage line numbers match.

        Raises:
            OSError: the file cannot be read (a name that is not UTF-8 among them: ``relpath``
                holds it escaped, see :func:`~local_rerank.search.walk.printable`).
            NotIndexable: it has turned binary, too large or not a regular file since it was indexed;
                or it is a PDF or a document, whose passages count lines in the extracted text, not in
                the file (:func:`~local_rerank.search.extract.counts_extracted_lines`).
        """
        if counts_extracted_lines(file_kind(relpath)):
            raise NotIndexable("its passages are shown on their own")
        return decode_text(read_file(self.folder / relpath, MAX_FILE_BYTES))[0].splitlines()

    @_recovering
    def file_kind(self, relpath: str) -> str | None:
        """The kind ("markdown", "pdf", ...) of an indexed file; None when ``relpath`` is not one."""
        with self.connect() as connection:
            row = connection.execute("SELECT kind FROM files WHERE path = ? AND skipped IS NULL", (relpath,)).fetchone()
        return None if row is None else str(row[0])

    @_recovering
    def passages_within(self, relpath: str, start_line: int, end_line: int) -> list[Passage]:
        """The indexed passages of ``relpath`` that overlap lines ``start_line`` to ``end_line``, in order."""
        with self.connect() as connection:
            rows = connection.execute(
                "SELECT text, start_line, end_line, heading, page FROM passages WHERE path = ? AND end_line >= ? "
                "AND start_line <= ? ORDER BY start_line", (relpath, start_line, end_line)).fetchall()
        return [Passage(text, first, last, heading, page) for text, first, last, heading, page in rows]


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


def _read(entry: FoundFile, max_file_bytes: int) -> tuple[str, Iterable[Passage], str | None, int]:
    """(kind, passages (produced as they are stored), reason skipped or None, invalid UTF-8 sequences
    replaced) of one file."""
    try:
        extracted = extract(entry.relpath, read_file(entry.path, max_file_bytes))
    except NotIndexable as e:
        return "", [], str(e), 0
    except OSError as e:
        return "", [], f"cannot be read ({e.strerror})", 0
    return extracted.kind, islice(passages(extracted.blocks), MAX_PASSAGES_PER_FILE), None, extracted.replaced


def _store(connection: sqlite3.Connection, entry: FoundFile, kind: str, found: Iterable[Passage],
           reason: str | None, replaced: int) -> None:
    _forget(connection, entry.relpath)
    stored = 0
    for stored, passage in enumerate(found, start=1):
        cursor = connection.execute(
            "INSERT INTO passages(path, heading, text, start_line, end_line, page, hash) VALUES(?, ?, ?, ?, ?, ?, ?)",
            (entry.relpath, passage.heading, passage.text, passage.start_line, passage.end_line, passage.page,
             passage_hash(entry.relpath, passage)))
        connection.execute("INSERT INTO passages_fts(rowid, path, heading, text) VALUES(?, ?, ?, ?)",
                           (cursor.lastrowid, analyze(entry.relpath), analyze(passage.heading), analyze(passage.text)))
        connection.executemany("INSERT INTO definitions VALUES(?, ?, ?)",
                               [(entry.relpath, *pair) for pair in definitions_in(passage.text)])
    if reason is None and not stored:
        reason = "no text"
    connection.execute("INSERT INTO files VALUES(?, ?, ?, ?, ?, ?)",
                       (entry.relpath, entry.size, entry.mtime_ns, kind, reason, replaced))


def _create_tables(connection: sqlite3.Connection) -> None:
    for table in ("passages_fts", "passages", "files", "scores", "definitions", "meta"):
        connection.execute(f"DROP TABLE IF EXISTS {table}")
    connection.executescript(_TABLES)
    connection.execute("INSERT INTO meta VALUES('schema', ?)", (SCHEMA,))


def _result_code(error: sqlite3.DatabaseError) -> int:
    """SQLite's primary result code for ``error`` (0 when it has none)."""
    return (getattr(error, "sqlite_errorcode", None) or 0) & 0xFF


def _cache_error(directory: Path, reason: str, advice: str = _WRITABLE) -> CacheError:
    return CacheError(f"cannot write the index cache in {directory}: {reason}; {advice}")


def _forget(connection: sqlite3.Connection, path: str) -> None:
    connection.execute("INSERT INTO passages_fts(passages_fts, rowid, path, heading, text) SELECT 'delete', id, "
                       "analyzed(path), analyzed(heading), analyzed(text) FROM passages WHERE path = ?", (path,))
    connection.execute("DELETE FROM definitions WHERE path = ?", (path,))
    connection.execute("DELETE FROM passages WHERE path = ?", (path,))
    connection.execute("DELETE FROM files WHERE path = ?", (path,))


def _passage_rows(connection: sqlite3.Connection, ids: list[int]) -> dict[int, tuple[str, Passage, str]]:
    rows: dict[int, tuple[str, Passage, str]] = {}
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        for pid, path, heading, text, first, last, page, digest in connection.execute(
                "SELECT id, path, heading, text, start_line, end_line, page, hash FROM passages "
                f"WHERE id IN ({','.join('?' * len(part))})", part):
            rows[pid] = (path, Passage(text, first, last, heading, page), digest)
    return rows
