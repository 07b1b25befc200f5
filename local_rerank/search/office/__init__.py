"""Text blocks of office documents, e-books and e-mail: DOCX, PPTX, XLSX, ODT, EPUB, RTF and .eml.

Structure becomes headings: Word and ODT heading styles keep their level, a slide's title (or
"Slide N") heads its text and its blocks carry the slide number as ``page``, a sheet's name heads
its rows (one block per row, cells joined by " | "), an EPUB chapter's title from the table of
contents heads the chapter (its own headings one level down), and an e-mail's subject, sender and
date head its body. Lines count in the extracted text as if written out with a blank line
between blocks.

DOCX, PPTX, ODT and EPUB are read with zipfile and ElementTree alone: each paragraph is freed
once read, so memory stays near one paragraph (a slide, a chapter) whatever the document's size;
what a file may unpack to is capped (:mod:`~local_rerank.search.office.base`). XLSX needs
openpyxl and RTF striprtf (the ``office`` extra).

A damaged file is refused before any of its blocks is handed out: a file is read to its end
(keeping up to ``BUFFER_BYTES`` of blocks) and, when it was longer than that, read again as a stream.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterable, Iterator

from local_rerank.search.blocks import Block, NotIndexable
from local_rerank.search.office.base import MAX_UNPACKED_BYTES, Piece
from local_rerank.search.office.odt_epub import epub_pieces, odt_pieces
from local_rerank.search.office.ooxml import docx_pieces, pptx_pieces, xlsx_pieces
from local_rerank.search.office.rtf_eml import eml_pieces, rtf_pieces
from local_rerank.search.text_blocks import split_lines

__all__ = ["BUFFER_BYTES", "EXTRA", "MAX_UNPACKED_BYTES", "office_blocks"]

BUFFER_BYTES = 4 * 2**20  # blocks kept while checking a file (their text and ~150 bytes each); more: read twice
_BLOCK_BYTES = 150
EXTRA = "needs local-rerank[office]"
_NEEDS = {"xlsx": "openpyxl", "rtf": "striprtf"}
_READERS: dict[str, Callable[[bytes], Iterator[Piece]]] = {
    "docx": docx_pieces, "pptx": pptx_pieces, "xlsx": xlsx_pieces, "odt": odt_pieces, "epub": epub_pieces,
    "rtf": rtf_pieces, "eml": eml_pieces,
}


def office_blocks(kind: str, data: bytes) -> Iterable[Block]:
    """The blocks of a document of ``kind`` ("docx", "pptx", "xlsx", "odt", "epub", "rtf" or "eml").

    Raises:
        NotIndexable: the file is damaged, encrypted, unpacks to more than ``MAX_UNPACKED_BYTES``,
            or needs a library of the ``office`` extra that is not installed.
    """
    module = _NEEDS.get(kind)
    if module and importlib.util.find_spec(module) is None:
        raise NotIndexable(EXTRA)
    reader = _READERS[kind]
    return _checked(lambda: _numbered(reader(data)), kind.upper() if kind != "eml" else "e-mail")


def _checked(read: Callable[[], Iterator[Block]], what: str) -> Iterable[Block]:
    """The blocks that ``read`` produces, once it has run to its end without an error."""
    kept: list[Block] = []
    size = 0
    try:
        blocks = read()
        for block in blocks:
            if size <= BUFFER_BYTES:
                kept.append(block)
                size += len(block.text) + _BLOCK_BYTES
    except NotIndexable:
        raise
    except Exception as e:  # zipfile, expat, openpyxl and striprtf raise many kinds of errors on damaged files
        raise NotIndexable(f"damaged {what}") from e
    return kept if size <= BUFFER_BYTES else read()


def _numbered(pieces: Iterable[Piece]) -> Iterator[Block]:
    """Blocks of the non-blank pieces, their lines counted as if written out with blank lines between."""
    line = 1
    for text, heading, page in pieces:
        lines = [row.rstrip() for row in split_lines(text.strip())]
        if not lines:
            continue
        yield Block("\n".join(lines), line, line + len(lines) - 1, heading, page)
        line += len(lines) + 1
