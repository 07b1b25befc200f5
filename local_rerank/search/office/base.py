"""What the document readers share: pieces of text, checked zip archives and streamed XML.

A zip member is read at most up to its declared size (zipfile stops there and then fails the
CRC), so those sizes cap what a file unpacks to and a zip bomb is refused up front. XML is read
with ElementTree, whose expat (2.4 and later) limits entity expansion (a billion laughs is an
error) and which fetches no external entity.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from collections.abc import Iterable, Iterator
from typing import IO
from urllib.parse import unquote
from xml.etree import ElementTree

from local_rerank.search.blocks import Block, NotIndexable

MAX_UNPACKED_BYTES = 128 * 2**20  # the XML and XHTML one file may unpack to
_TEXT_MEMBERS = (".xml", ".rels", ".xhtml", ".html", ".htm", ".opf", ".ncx")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an encrypted OOXML file is an OLE compound file

Piece = tuple[str, int, "int | None"]  # text, heading level (0: body), page (slide)


def under_heading(blocks: Iterable[Block]) -> Iterator[Piece]:
    """``blocks`` as pieces, their headings one level down."""
    return ((block.text, min(block.heading + 1, 6) if block.heading else 0, None) for block in blocks)


def open_archive(data: bytes, what: str) -> zipfile.ZipFile:
    """The zip archive in ``data``, checked.

    Raises:
        NotIndexable: it is encrypted, compressed unusually, or unpacks to more than ``MAX_UNPACKED_BYTES``.
    """
    if data.startswith(_OLE_MAGIC):
        raise NotIndexable(f"encrypted {what}")
    archive = zipfile.ZipFile(io.BytesIO(data))  # a damaged one raises: office_blocks says "damaged"
    members = [info for info in archive.infolist() if info.filename.lower().endswith(_TEXT_MEMBERS)]
    if any(info.flag_bits & 1 for info in members):
        raise NotIndexable(f"encrypted {what}")
    if any(info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) for info in members):
        raise NotIndexable(f"damaged {what} (unusual compression)")
    if sum(info.file_size for info in members) > MAX_UNPACKED_BYTES:
        raise NotIndexable(f"{what} unpacks to over {MAX_UNPACKED_BYTES >> 20} MiB (a zip bomb?)")
    return archive


def elements(stream: IO[bytes], tags: frozenset[str]) -> Iterator[ElementTree.Element]:
    """The outermost elements of the XML in ``stream`` whose tag is one of ``tags``, each complete,
    in document order; every element is dropped from the tree once read, so memory stays small."""
    path: list[ElementTree.Element] = []
    inside = 0  # how many of ``tags`` the parser is in
    for event, element in ElementTree.iterparse(stream, events=("start", "end")):
        if event == "start":
            path.append(element)
            inside += element.tag in tags
            continue
        path.pop()
        if element.tag in tags:
            inside -= 1
            if not inside:
                yield element
        if not inside and path:
            del path[-1][-1]  # the element that just ended is its parent's last child


def relationships(archive: zipfile.ZipFile, part: str) -> list[tuple[str, str, str]]:
    """(id, type, the member it points to) of each relationship of the OOXML ``part`` within the package."""
    folder, name = posixpath.split(part)
    rels = posixpath.join(folder, "_rels", f"{name}.rels")
    if rels not in archive.NameToInfo:
        return []
    root = ElementTree.fromstring(archive.read(rels))
    return [(rel.get("Id", ""), rel.get("Type", ""), posixpath.normpath(posixpath.join(folder, unquote(rel.get(
        "Target", ""))))) for rel in root if rel.get("TargetMode") != "External"]


def main_part(archive: zipfile.ZipFile, default: str) -> str:
    """The member that holds an OOXML package's main document."""
    root = ElementTree.fromstring(archive.read("_rels/.rels"))
    for rel in root:
        if rel.get("Type", "").endswith("/officeDocument"):
            return rel.get("Target", default).lstrip("/")
    return default
