"""Bringing a folder's index up to date: walk the folder, read the files whose size or
modification time changed, store their passages, forget the files that are gone, and report.

Skipped files are recorded with the reason. The full-text index holds paths, headings and text as
:func:`~local_rerank.search.cjk.analyze` gives them (NFKC; Chinese, Japanese, Korean and Thai as
character grams). Work is committed every half second, so an update killed mid-way leaves an
index that answers from what it holds and is completed by the next update.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from local_rerank.search.abbreviations import definitions_in
from local_rerank.search.blocks import NotIndexable
from local_rerank.search.chunking import Passage, passages
from local_rerank.search.cjk import analyze
from local_rerank.search.extract import extract
from local_rerank.search.hits import IndexProgress, IndexReport, passage_hash
from local_rerank.search.index_db import Connect
from local_rerank.search.walk import FoundFile, Skipped, read_file, walk

MAX_FILE_BYTES = 10 * 2**20
MAX_PASSAGES_PER_FILE = 20_000  # ~7M tokens; a pathological file (10 MiB of one-word headings) stops here
_COMMIT_EVERY_S = 0.5


@dataclass(frozen=True)
class Changes:
    """What an update did: files read, unchanged and removed, the walk's skips, and whether it
    read every changed file (False: cancelled)."""

    read: int
    unchanged: int
    removed: int
    skipped: Counter[str]
    complete: bool


def write_changes(folder: Path, connect: Connect, exclude: frozenset[Path],
                  progress: Callable[[IndexProgress], None] | None, cancel: threading.Event | None,
                  max_file_bytes: int) -> Changes:
    """Re-read the files of ``folder`` (outside ``exclude``) that changed since the index that
    ``connect`` opens saw them, and forget those that are gone. ``progress`` is called as files are
    looked at; ``cancel`` stops between files (what was done is kept)."""
    found = list(walk(folder, exclude=exclude))
    files = [entry for entry in found if isinstance(entry, FoundFile)]
    skipped = Counter(entry.reason for entry in found if isinstance(entry, Skipped))
    with connect() as connection:
        known = {row[0]: row[1:] for row in connection.execute("SELECT path, size, mtime_ns FROM files")}
    stale = [entry for entry in files if known.get(entry.relpath) != (entry.size, entry.mtime_ns)]
    removed = set(known) - {entry.relpath for entry in files}
    read = _write(connect, stale, removed, progress, cancel, max_file_bytes, len(files))
    return Changes(read, len(files) - len(stale), len(removed), skipped, read == len(stale))


def report(connect: Connect, changes: Changes, seconds: float) -> IndexReport:
    """What an update did (``changes``, in ``seconds``) and what the index now holds."""
    with connect() as connection:
        files = connection.execute("SELECT count(*), coalesce(sum(replaced), 0) FROM files WHERE skipped IS NULL"
                                   ).fetchone()
        count = connection.execute("SELECT count(*) FROM passages").fetchone()[0]
        skipped = changes.skipped + Counter(dict(connection.execute(
            "SELECT skipped, count(*) FROM files WHERE skipped IS NOT NULL GROUP BY skipped").fetchall()))
    return IndexReport(files[0], count, changes.read, changes.unchanged, changes.removed, dict(skipped), files[1],
                       seconds, changes.complete)


def _write(connect: Connect, stale: list[FoundFile], removed: set[str],
           progress: Callable[[IndexProgress], None] | None, cancel: threading.Event | None, max_file_bytes: int,
           total: int) -> int:
    """Re-read the stale files and forget the removed ones; the number of files read."""
    done = total - len(stale)
    with connect() as connection:
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
    for stored, passage in enumerate(found, start=1):  # noqa: B007 (the count, read after the loop)
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


def _forget(connection: sqlite3.Connection, path: str) -> None:
    connection.execute("INSERT INTO passages_fts(passages_fts, rowid, path, heading, text) SELECT 'delete', id, "
                       "analyzed(path), analyzed(heading), analyzed(text) FROM passages WHERE path = ?", (path,))
    connection.execute("DELETE FROM definitions WHERE path = ?", (path,))
    connection.execute("DELETE FROM passages WHERE path = ?", (path,))
    connection.execute("DELETE FROM files WHERE path = ?", (path,))
