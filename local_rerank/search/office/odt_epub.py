"""OpenDocument texts (ODT) and e-books (EPUB) as pieces of text.

ODT is read with zipfile and ElementTree a paragraph at a time; an EPUB's chapters, in reading
order, through the HTML reader, each headed by its title in the table of contents.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Iterable, Iterator
from itertools import chain
from urllib.parse import unquote
from xml.etree import ElementTree

from local_rerank.search.blocks import Block, NotIndexable
from local_rerank.search.office.base import Piece, elements, open_archive, under_heading
from local_rerank.search.text_blocks import decode_text, html_blocks

_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_ODF_BLOCKS = frozenset({f"{{{_TEXT}}}p", f"{{{_TEXT}}}h"})
_ODF_SPACE, _ODF_TAB, _ODF_BREAK = (f"{{{_TEXT}}}{name}" for name in ("s", "tab", "line-break"))


def odt_pieces(data: bytes) -> Iterator[Piece]:
    """Paragraphs and headings (with their outline level) of an OpenDocument text."""
    archive = open_archive(data, "ODT")
    if "META-INF/manifest.xml" in archive.NameToInfo and b"encryption-data" in archive.read("META-INF/manifest.xml"):
        raise NotIndexable("encrypted ODT")
    with archive.open("content.xml") as stream:
        for element in elements(stream, _ODF_BLOCKS):
            level = element.get(f"{{{_TEXT}}}outline-level", "1") if element.tag == f"{{{_TEXT}}}h" else "0"
            yield _odf_text(element), min(int(level), 6) if level.isdigit() else 1, None


def _odf_text(element: ElementTree.Element) -> str:
    parts = [element.text or ""]
    for child in element:
        if child.tag == _ODF_SPACE:
            count = child.get(f"{{{_TEXT}}}c", "1")
            parts.append(" " * min(int(count) if count.isdigit() else 1, 80))
        elif child.tag in (_ODF_TAB, _ODF_BREAK):
            parts.append("\t" if child.tag == _ODF_TAB else "\n")
        else:
            parts.append(_odf_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


_OPF = "{http://www.idpf.org/2007/opf}"
_CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"
_XHTML = "{http://www.w3.org/1999/xhtml}"
_NCX = "{http://www.daisy.org/z3986/2005/ncx/}"


def epub_pieces(data: bytes) -> Iterator[Piece]:
    """The chapters in reading order, each headed by its title in the table of contents (its own
    headings one level down), read as HTML."""
    archive = open_archive(data, "EPUB")
    root_file = ElementTree.fromstring(archive.read("META-INF/container.xml")).find(f".//{_CONTAINER}rootfile")
    package_path = "" if root_file is None else root_file.get("full-path", "")
    package = ElementTree.fromstring(archive.read(package_path))
    items = {item.get("id", ""): item for item in package.iter(f"{_OPF}item")}
    titles = _epub_titles(archive, package, items, package_path)
    encrypted = _epub_encrypted(archive)
    for reference in package.iter(f"{_OPF}itemref"):
        item = items.get(reference.get("idref", ""))
        if item is None:
            continue
        path = _joined(package_path, item.get("href", ""))
        if path in encrypted:
            raise NotIndexable("encrypted EPUB")
        yield from _under(html_blocks(decode_text(archive.read(path))[0]), titles.get(path))


def _joined(base_member: str, href: str) -> str:
    """The member that ``href`` (relative to ``base_member``; a fragment dropped) names."""
    return posixpath.normpath(posixpath.join(posixpath.dirname(base_member), unquote(href.split("#")[0])))


def _under(blocks: Iterable[Block], title: str | None) -> Iterator[Piece]:
    """``title`` as a heading over ``blocks``, theirs one level down (a first heading that repeats it dropped)."""
    if not title:
        yield from ((block.text, block.heading, None) for block in blocks)
        return
    yield title, 1, None
    blocks = iter(blocks)
    first = next(blocks, None)
    if first is not None and not (first.heading and " ".join(first.text.split()) == title):
        blocks = chain([first], blocks)
    yield from under_heading(blocks)


def _epub_titles(archive: zipfile.ZipFile, package: ElementTree.Element, items: dict[str, ElementTree.Element],
                 package_path: str) -> dict[str, str]:
    """Chapter member → its first title in the EPUB 3 navigation document or the EPUB 2 NCX."""
    spine = package.find(f"{_OPF}spine")
    ncx_id = "" if spine is None else spine.get("toc", "")
    titles: dict[str, str] = {}
    for item_id, item in items.items():
        is_nav = "nav" in item.get("properties", "").split()
        if not (is_nav or item_id == ncx_id):
            continue
        member = _joined(package_path, item.get("href", ""))
        try:
            root = ElementTree.fromstring(archive.read(member))
        except ElementTree.ParseError:  # e.g. &nbsp; without its DTD: chapters go untitled, the book is read
            continue
        for href, label in _nav_entries(root) if is_nav else _ncx_entries(root):
            if label.strip():
                titles.setdefault(_joined(member, href), " ".join(label.split()))
    return titles


def _nav_entries(root: ElementTree.Element) -> Iterator[tuple[str, str]]:
    """(href, label) of each link of an EPUB 3 navigation document."""
    return ((link.get("href", ""), "".join(link.itertext())) for link in root.iter(f"{_XHTML}a"))


def _ncx_entries(root: ElementTree.Element) -> Iterator[tuple[str, str]]:
    """(href, label) of each navigation point of an EPUB 2 NCX."""
    for point in root.iter(f"{_NCX}navPoint"):
        content, label = point.find(f"{_NCX}content"), point.find(f"{_NCX}navLabel")
        if content is not None and label is not None:
            yield content.get("src", ""), "".join(label.itertext())


def _epub_encrypted(archive: zipfile.ZipFile) -> set[str]:
    """The members that META-INF/encryption.xml says are encrypted (DRM, or obfuscated fonts)."""
    if "META-INF/encryption.xml" not in archive.NameToInfo:
        return set()
    root = ElementTree.fromstring(archive.read("META-INF/encryption.xml"))
    return {posixpath.normpath(unquote(reference.get("URI", ""))) for reference in root.iter()
            if reference.tag.endswith("CipherReference")}
