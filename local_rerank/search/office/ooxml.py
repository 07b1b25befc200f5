"""Word (DOCX), PowerPoint (PPTX) and Excel (XLSX) documents as pieces of text.

DOCX and PPTX are read with zipfile and ElementTree alone, a paragraph (a slide) at a time;
XLSX through openpyxl (the ``office`` extra), in read-only mode with the cells' cached values.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time
from itertools import chain
from typing import Any
from xml.etree import ElementTree

from local_rerank.search.office.base import Piece, elements, main_part, open_archive, relationships

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
# Tabs, line breaks, and a paragraph within a paragraph (a text box's) on a line of its own
_W_BREAKS = {f"{_W}tab": "\t", f"{_W}br": "\n", f"{_W}cr": "\n", f"{_W}p": "\n"}
_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"  # a copy for older readers
_HEADING_NAME = re.compile(r"heading\s*([1-9])", re.IGNORECASE)


def docx_pieces(data: bytes) -> Iterator[Piece]:
    """Paragraphs of a Word document's body (tables' cells among them), headings by style."""
    archive = open_archive(data, "DOCX")
    part = main_part(archive, "word/document.xml")
    levels = _docx_style_levels(archive, posixpath.join(posixpath.dirname(part), "styles.xml"))
    with archive.open(part) as stream:
        for paragraph in elements(stream, frozenset({f"{_W}p"})):
            yield "".join(_word_text(paragraph)), _docx_level(paragraph, levels), None


def _word_text(element: ElementTree.Element) -> Iterator[str]:
    """The text of a paragraph's runs (not deleted text, field codes or the fallback copy of a text
    box), tabs and line breaks."""
    for child in element:
        if child.tag == f"{_W}t":
            yield child.text or ""
        elif child.tag != _FALLBACK:
            yield _W_BREAKS.get(child.tag, "")
            yield from _word_text(child)


def _docx_level(paragraph: ElementTree.Element, levels: dict[str, int]) -> int:
    properties = paragraph.find(f"{_W}pPr")
    if properties is None:
        return 0
    outline = properties.find(f"{_W}outlineLvl")
    if outline is not None:
        return _outline_level(outline.get(f"{_W}val", ""))
    style = properties.find(f"{_W}pStyle")
    return 0 if style is None else levels.get(style.get(f"{_W}val", ""), 0)


def _outline_level(value: str) -> int:
    """A heading level from Word's 0-based outline level (9: body text)."""
    return min(int(value) + 1, 6) if value.isdigit() and int(value) < 9 else 0


def _docx_style_levels(archive: zipfile.ZipFile, member: str) -> dict[str, int]:
    """Paragraph style id → heading level (from the style's name, outline level or the style it is based on)."""
    if member not in archive.NameToInfo:
        return {}
    own: dict[str, int] = {}
    based_on: dict[str, str] = {}
    for style in ElementTree.fromstring(archive.read(member)).iter(f"{_W}style"):
        style_id = style.get(f"{_W}styleId", "")
        level = _style_level(style)
        if level is not None:
            own[style_id] = level
        parent = style.find(f"{_W}basedOn")
        if parent is not None:
            based_on[style_id] = parent.get(f"{_W}val", "")
    return {style_id: _inherited(style_id, own, based_on) for style_id in set(own) | set(based_on)}


def _style_level(style: ElementTree.Element) -> int | None:
    """The heading level a style's name ("heading 2", "Title") or outline level gives; None if neither does."""
    name = style.find(f"{_W}name")
    name_text = "" if name is None else name.get(f"{_W}val", "").strip()
    heading = _HEADING_NAME.fullmatch(name_text)
    outline = style.find(f"{_W}pPr/{_W}outlineLvl")
    if heading:
        return min(int(heading.group(1)), 6)
    if outline is not None:
        return _outline_level(outline.get(f"{_W}val", ""))
    return 1 if name_text.lower() == "title" else None


def _inherited(style_id: str, own: dict[str, int], based_on: dict[str, str]) -> int:
    seen: set[str] = set()
    while style_id not in own and style_id in based_on and style_id not in seen:
        seen.add(style_id)
        style_id = based_on[style_id]
    return own.get(style_id, 0)


_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_TITLES = frozenset({"title", "ctrTitle"})
_FURNITURE = frozenset({"sldImg", "sldNum", "hdr", "ftr", "dt"})  # the slide image, number, header, footer, date


def pptx_pieces(data: bytes) -> Iterator[Piece]:
    """Each slide's title ("Slide N" when it has none) as a heading, then its text, tables and
    speaker notes; all with the slide's number as the page."""
    archive = open_archive(data, "PPTX")
    part = main_part(archive, "ppt/presentation.xml")
    targets = {rel_id: target for rel_id, _, target in relationships(archive, part)}
    slides = ElementTree.fromstring(archive.read(part)).iter(f"{_P}sldId")
    for number, slide in enumerate(slides, start=1):
        member = targets[slide.get(f"{_R}id", "")]
        title, body = _slide_text(archive, member)
        notes = [_slide_text(archive, target)[1] for _, kind, target in relationships(archive, member)
                 if kind.endswith("/notesSlide")]
        yield title or f"Slide {number}", 1, number
        for text in chain(body, *notes):
            yield text, 0, number


def _slide_text(archive: zipfile.ZipFile, member: str) -> tuple[str, list[str]]:
    """A slide's (or notes page's) title and the paragraphs of its other shapes, in order, without
    numbers, headers, footers and dates."""
    title, body = "", []
    with archive.open(member) as stream:
        for shape in elements(stream, frozenset({f"{_P}sp", f"{_P}graphicFrame"})):
            placeholder = shape.find(f"{_P}nvSpPr/{_P}nvPr/{_P}ph")
            kind = None if placeholder is None else placeholder.get("type")
            paragraphs = ["".join(_drawing_text(paragraph)) for paragraph in shape.iter(f"{_A}p")]
            if kind in _TITLES and not title:
                title = " ".join(text.strip() for text in paragraphs if text.strip())
            elif kind not in _FURNITURE:
                body.extend(paragraphs)
    return title, body


def _drawing_text(paragraph: ElementTree.Element) -> Iterator[str]:
    for element in paragraph.iter():
        if element.tag == f"{_A}t":
            yield element.text or ""
        elif element.tag == f"{_A}br":
            yield "\n"


def xlsx_pieces(data: bytes) -> Iterator[Piece]:
    """Each worksheet's name as a heading, then its rows, the cells' values joined by " | "."""
    import openpyxl

    open_archive(data, "XLSX")
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        for sheet in book.worksheets:
            yield sheet.title, 1, None
            sheet.reset_dimensions()  # read the cells there are, not the extent the file claims
            for row in sheet.iter_rows(values_only=True):
                yield " | ".join(_cell_text(value) for value in row if value is not None and value != ""), 0, None
    finally:
        book.close()


def _cell_text(value: Any) -> str:
    if isinstance(value, datetime) and value.time() == time():
        return value.date().isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value)
