"""A folder index's SQLite file: its tables, connections, and what happens when it is damaged or
its directory cannot be written.

The database is only a cache: when SQLite finds it damaged (at opening, ``PRAGMA quick_check``:
about 50 ms for 10,000 files; or during any operation) it is deleted and built again
(:func:`recovering`). A cache directory that cannot be written (not a folder, read-only, full,
failing) raises :class:`~local_rerank.errors.CacheError`, with advice.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from pathlib import Path
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from local_rerank.errors import CacheError
from local_rerank.search.chunking import PASSAGE_TOKENS
from local_rerank.search.cjk import ANALYSIS, analyze
from local_rerank.search.score_cache import SCORES_TABLE

SCHEMA = f"local-rerank index 4; passages {PASSAGE_TOKENS}; {ANALYSIS}"
_TABLES = f"""
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE files(path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, kind TEXT, skipped TEXT,
                   replaced INTEGER DEFAULT 0);
CREATE TABLE passages(id INTEGER PRIMARY KEY, path TEXT, heading TEXT, text TEXT, start_line INTEGER,
                      end_line INTEGER, page INTEGER, hash TEXT);
CREATE INDEX passages_by_path ON passages(path);
CREATE VIRTUAL TABLE passages_fts USING fts5(path, heading, text, content='passages', content_rowid='id',
                                             tokenize='porter unicode61 remove_diacritics 2');
INSERT INTO passages_fts(passages_fts, rank) VALUES('rank', 'bm25(4.0, 2.0, 1.0)');
{SCORES_TABLE};
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
Connect = Callable[[], AbstractContextManager[sqlite3.Connection]]  # a unit of work's connection
_P = ParamSpec("_P")
_R = TypeVar("_R")


class Damaged(Exception):
    """PRAGMA quick_check found the index file damaged."""


class Rebuildable(Protocol):
    """What :func:`recovering` needs of an index: its file, and a way to start it over empty."""

    database: Path

    def _start_over(self) -> None: ...


_Index = TypeVar("_Index", bound=Rebuildable)


def recovering(method: Callable[Concatenate[_Index, _P], _R]) -> Callable[Concatenate[_Index, _P], _R]:
    """``method``, run once more on a new, empty index when SQLite finds the index file damaged;
    SQLite's complaints about the cache directory (read-only, full, failing) become :class:`CacheError`."""

    @functools.wraps(method)
    def run(index: _Index, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with cache_errors(index.database.parent):
            try:
                return method(index, *args, **kwargs)
            except (Damaged, sqlite3.DatabaseError) as e:
                if not isinstance(e, Damaged) and _result_code(e) not in _DAMAGED:
                    raise
            index._start_over()
            return method(index, *args, **kwargs)

    return run


@contextmanager
def cache_errors(directory: Path) -> Iterator[None]:
    """SQLite's errors that mean ``directory`` cannot be written, as :class:`CacheError`."""
    try:
        yield
    except sqlite3.DatabaseError as e:
        if _result_code(e) not in _CACHE_ADVICE:
            raise
        raise cache_error(directory, str(e), _CACHE_ADVICE[_result_code(e)]) from e


def cache_error(directory: Path, reason: str, advice: str = _WRITABLE) -> CacheError:
    """The error that says ``directory`` cannot be written, why, and what to do."""
    return CacheError(f"cannot write the index cache in {directory}: {reason}; {advice}")


@contextmanager
def connect(database: Path) -> Iterator[sqlite3.Connection]:
    """A connection for one unit of work; committed on success, rolled back on error."""
    with closing(sqlite3.connect(database, timeout=30)) as connection:
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.create_function("analyzed", 1, analyze, deterministic=True)
        with connection:
            yield connection


def make_folder(database: Path) -> None:
    """Create the folder that holds ``database``.

    Raises:
        CacheError: it cannot be created.
    """
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise cache_error(database.parent, e.strerror or str(e)) from e


def create_or_check(database: Path) -> None:
    """Create the tables, or check those there: their schema version and the file's soundness.

    Raises:
        Damaged: the file is damaged.
    """
    with connect(database) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        version = (connection.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                   if "meta" in tables else None)
        if version != (SCHEMA,):
            _create_tables(connection)
        elif connection.execute("PRAGMA quick_check(1)").fetchone() != ("ok",):
            raise Damaged(database)


def start_over(database: Path) -> None:
    """Delete the index file (it is only a cache) and create an empty index in its place.

    Raises:
        CacheError: the file cannot be deleted.
    """
    try:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
    except OSError as e:
        raise cache_error(database.parent, e.strerror or str(e)) from e
    with connect(database) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        _create_tables(connection)


def _create_tables(connection: sqlite3.Connection) -> None:
    for table in ("passages_fts", "passages", "files", "scores", "definitions", "meta"):
        connection.execute(f"DROP TABLE IF EXISTS {table}")
    connection.executescript(_TABLES)
    connection.execute("INSERT INTO meta VALUES('schema', ?)", (SCHEMA,))


def _result_code(error: sqlite3.DatabaseError) -> int:
    """SQLite's primary result code for ``error`` (0 when it has none)."""
    return (getattr(error, "sqlite_errorcode", None) or 0) & 0xFF
