"""What a reader makes of a file: blocks of text with their lines, or the reason it has none."""

from __future__ import annotations

from dataclasses import dataclass

SOFT_BREAK = 7  # the "heading level" of a top-level definition in source code: a preferred place to cut


class NotIndexable(Exception):
    """The file has no text to index; the message is the reason."""


@dataclass(frozen=True, slots=True)
class Block:
    """A run of text that belongs together, with its 1-based line span.

    Lines count in the file itself, except for PDFs and documents
    (:func:`~local_rerank.search.extract.counts_extracted_lines`), where they count in the extracted
    text; ``page`` says on which PDF page (or slide) the block starts.
    """

    text: str
    start_line: int
    end_line: int
    heading: int = 0  # 1-6: a heading of that level; SOFT_BREAK: a top-level definition; 0: body
    page: int | None = None
