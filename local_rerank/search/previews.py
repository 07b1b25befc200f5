"""What the previews (the TUI's, MCP's ``get``) read of an indexed file: its lines as they are
now, numbered as its passages are; or, for a PDF or a document, whose passages count lines in
the extracted text (:func:`~local_rerank.search.extract.counts_extracted_lines`), its indexed
passages over a span of lines."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from local_rerank.search.blocks import NotIndexable
from local_rerank.search.chunking import Passage
from local_rerank.search.extract import counts_extracted_lines, file_kind
from local_rerank.search.ingest import MAX_FILE_BYTES
from local_rerank.search.text_blocks import decode_text
from local_rerank.search.walk import read_file


def read_lines(folder: Path, relpath: str) -> list[str]:
    """The lines of the text file ``relpath`` of ``folder`` as it is now, decoded as the indexer
    decodes them, so that passage line numbers match.

    Raises:
        OSError: the file cannot be read (a name that is not UTF-8 among them: ``relpath``
            holds it escaped, see :func:`~local_rerank.search.walk.printable`).
        NotIndexable: it has turned binary, too large or not a regular file since it was indexed;
            or it is a PDF or a document, whose passages count lines in the extracted text, not in
            the file.
    """
    if counts_extracted_lines(file_kind(relpath)):
        raise NotIndexable("its passages are shown on their own")
    return decode_text(read_file(folder / relpath, MAX_FILE_BYTES))[0].splitlines()


def indexed_kind(connection: sqlite3.Connection, relpath: str) -> str | None:
    """The kind ("markdown", "pdf", ...) of an indexed file; None when ``relpath`` is not one."""
    row = connection.execute("SELECT kind FROM files WHERE path = ? AND skipped IS NULL", (relpath,)).fetchone()
    return None if row is None else str(row[0])


def passages_within(connection: sqlite3.Connection, relpath: str, start_line: int, end_line: int) -> list[Passage]:
    """The indexed passages of ``relpath`` that overlap lines ``start_line`` to ``end_line``, in order."""
    rows = connection.execute(
        "SELECT text, start_line, end_line, heading, page FROM passages WHERE path = ? AND end_line >= ? "
        "AND start_line <= ? ORDER BY start_line", (relpath, start_line, end_line)).fetchall()
    return [Passage(text, first, last, heading, page) for text, first, last, heading, page in rows]
