"""Text, Markdown (and reStructuredText), source code and HTML into blocks, and the decoding of their bytes.

Blocks are produced one at a time and a block's text is a slice of the file's text, so a file
of millions of tiny paragraphs or tags costs little more memory than its text (a list of them
cost about 100 times the file's size). Lines count as ``str.splitlines()`` counts them.
"""

from __future__ import annotations

import codecs
import html
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

from local_rerank.search.blocks import SOFT_BREAK, Block, NotIndexable

_DEFINITION = re.compile(r"(?:async\s+def|def|class|fn|func|function|pub\s|impl|struct|enum|interface|type|"
                         r"export|public|private|protected|static|module|package|const|CREATE)\b")


def decode_text(data: bytes) -> tuple[str, int]:
    """Text from bytes (UTF-8, or UTF-16 with a byte-order mark) and the count of invalid sequences replaced.

    Raises:
        NotIndexable: the data holds NUL bytes (the mark of a binary file, as git sees it).
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace"), 0
    if b"\0" in data[:8192]:
        raise NotIndexable("binary file")
    try:
        return data.decode("utf-8-sig"), 0
    except UnicodeDecodeError:
        text = data.decode("utf-8-sig", errors="replace")
        return text, text.count("\ufffd") - data.count("\ufffd".encode())


def split_lines(text: str) -> Iterator[str]:
    """``text.splitlines()``, a piece at a time: a list of millions of short lines costs 20 times the text."""
    for piece in _pieces(text, _LINE_BREAK):
        yield from piece.splitlines()


def paragraph_blocks(text: str) -> Iterator[Block]:
    """Runs of non-blank lines."""
    text = _unix_newlines(text)
    for run in _runs(text):
        yield run.block(text)


def code_blocks(text: str) -> Iterator[Block]:
    """Runs of non-blank lines; a run that opens a top-level definition is a preferred cut."""
    text = _unix_newlines(text)
    for run in _runs(text):
        first_end = text.find("\n", run.start, run.end)
        first_end = run.end if first_end < 0 else first_end
        opens = _DEFINITION.match(text, run.start, first_end) or text.startswith(("@", "#["), run.start, first_end)
        yield Block(text[run.start:run.end], run.first, run.last, SOFT_BREAK if opens else 0)


_ATX = re.compile(r"^(#{1,6})\s+\S")
_FENCE = re.compile(r"^\s*(```|~~~)")
_UNDERLINE = re.compile(r"^(=+|-+|~+|\^+|\*+)\s*$")


def markdown_blocks(text: str) -> Iterator[Block]:
    """Headings (ATX, setext and reStructuredText underlines), fenced code kept whole, paragraphs."""
    text = _unix_newlines(text)
    current: _Span | None = None  # the paragraph or fence being read
    for number, start, end in _lines(text):
        line = text[start:end]
        if current and current.fence:
            current.last, current.end = number, end
            if line.strip().startswith(current.fence):
                yield current.block(text)
                current = None
            continue
        if current and current.first == current.last and _underlines(line, text[current.start:current.end]):
            yield Block(text[current.start:end], current.first, number, 1 if line[0] == "=" else 2)
            current = None
            continue
        if current and line.strip() and not (_ATX.match(line) or _FENCE.match(line)):
            current.last, current.end = number, end
            continue
        if current:
            yield current.block(text)
            current = None
        fence, atx = _FENCE.match(line), _ATX.match(line)
        if atx:
            yield Block(line, number, number, len(atx.group(1)))
        elif line.strip():
            current = _Span(number, start, number, end, fence.group(1) if fence else "")
    if current:
        yield current.block(text)


def _underlines(line: str, title: str) -> bool:
    return bool(_UNDERLINE.match(line)) and len(line.strip()) >= len(title.strip()) > 0


@dataclass(slots=True)
class _Span:
    """Lines ``first`` to ``last`` of a text, at offsets ``start`` to ``end``; ``fence``: the marker of fenced code."""

    first: int
    start: int
    last: int
    end: int
    fence: str = ""

    def block(self, text: str) -> Block:
        return Block(text[self.start:self.end], self.first, self.last)


_LINE_BREAK = re.compile(r"\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_OTHER_BREAK = re.compile(r"[\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_TO_NEWLINE = str.maketrans(dict.fromkeys("\r\v\f\x1c\x1d\x1e\x85\u2028\u2029", "\n"))
_PIECE = 2**16  # characters: about what split_lines splits at once
_BLANK = re.compile(r"\s*")
_WHITESPACE = re.compile(r"\s+")


def _unix_newlines(text: str) -> str:
    """``text`` with each line break that str.splitlines() knows as one "\\n", so that lines are
    counted as splitlines() counts them and a run of lines is a slice of the text."""
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return text.translate(_TO_NEWLINE) if _OTHER_BREAK.search(text) else text


def _pieces(text: str, cut: re.Pattern[str]) -> Iterator[str]:
    """``text`` in pieces of about ``_PIECE`` characters, each ending where ``cut`` matches."""
    start = 0
    while start < len(text):
        found = cut.search(text, start + _PIECE)
        end = found.end() if found else len(text)
        yield text[start:end]
        start = end


def _lines(text: str) -> Iterator[tuple[int, int, int]]:
    """(number, start, end) of each line of ``text``, whose line breaks are "\\n"."""
    number, start = 1, 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        yield number, start, end
        number, start = number + 1, end + 1


def _runs(text: str) -> Iterator[_Span]:
    """The runs of non-blank lines of ``text``."""
    run: _Span | None = None
    for number, start, end in _lines(text):
        if not _BLANK.fullmatch(text, start, end):
            if run:
                run.last, run.end = number, end
            else:
                run = _Span(number, start, number, end)
        elif run:
            yield run
            run = None
    if run:
        yield run


class _HtmlText:
    """Collects the visible text of HTML as blocks from its tags and text, given in order with their lines.

    Blocks found so far wait in ``blocks`` for the caller to take them.
    """

    BLOCK_TAGS = frozenset({"p", "div", "li", "tr", "td", "th", "br", "blockquote", "dd", "dt", "section", "article",
                            "header", "footer", "nav", "aside", "main", "figure", "figcaption", "table", "ul", "ol",
                            "title", "hr", "form", "details", "summary"})
    HIDDEN_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "head"})

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.text = io.StringIO()
        self.start_line = self.end_line = 0
        self.heading = 0
        self.pre = 0
        self.hidden = 0

    def start_tag(self, tag: str, line: int) -> None:
        if tag in self.HIDDEN_TAGS:
            self.hidden += 1
        elif tag in self.BLOCK_TAGS or tag == "pre" or _heading_level(tag):
            self.flush(line)
            self.heading = _heading_level(tag)
            self.pre += tag == "pre"

    def end_tag(self, tag: str, line: int) -> None:
        if tag in self.HIDDEN_TAGS:
            self.hidden = max(self.hidden - 1, 0)
        elif tag in self.BLOCK_TAGS or tag == "pre" or _heading_level(tag):
            self.flush(line)
            self.pre = max(self.pre - (tag == "pre"), 0)

    def data(self, data: str, line: int) -> None:
        if self.hidden or not data.strip() and not self.text.tell():
            return
        if not self.text.tell():
            self.start_line = line + data[:len(data) - len(data.lstrip())].count("\n")
        if data.strip():  # the block ends on the line of its last visible character, not of what follows it
            self.end_line = line + data[:len(data.rstrip())].count("\n")
        self.text.write(data)

    def flush(self, line: int) -> None:
        raw = self.text.getvalue()
        text = raw.strip("\n") if self.pre else _WHITESPACE.sub(" ", raw).strip()
        if text.strip():
            self.blocks.append(Block(text, self.start_line, max(self.end_line, self.start_line), self.heading))
        self.text, self.heading = io.StringIO(), 0


def _heading_level(tag: str) -> int:
    return int(tag[1]) if len(tag) == 2 and tag[0] == "h" and tag[1] in "123456" else 0


# A comment, a declaration or processing instruction, "</" not followed by a letter, or a tag ("/"?, name).
_MARKUP = re.compile(r"<(?:!--|[!?]|/(?![a-zA-Z])|(/?)([a-zA-Z][^\t\n\r\f />\x00]*))")
_COMMENT_END = re.compile(r"--\s*>")
_GREATER = re.compile(">")
_BEFORE_AMPERSAND = re.compile("(?=&)")
_TAG_END = re.compile(r"""(>)|=\s*(["'])""")  # the end of a start tag, or the opening quote of a value
_RAW_TEXT_END = {tag: re.compile(rf"</\s*{tag}\s*>", re.IGNORECASE) for tag in ("script", "style")}


def html_blocks(text: str) -> Iterator[Block]:
    """Visible text by block element; h1-h6 become headings, <pre> keeps its lines.

    Markup is read in one pass, as HTML5 reads it: a comment or tag left open hides the rest of
    the file. (Python's html.parser is not used: without the fix of CPython gh-135462, 2025, it
    takes time quadratic in the length of such markup, and many ``<![`` raise AssertionError.)
    """
    text = _unix_newlines(text)
    page = _HtmlText()
    position, line = 0, 1
    while markup := _MARKUP.search(text, position):
        line = _read_text(page, text[position:markup.start()], line)
        position = _read_markup(page, text, markup, line)
        line += text.count("\n", markup.start(), position)
        yield from page.blocks
        page.blocks.clear()
    page.flush(_read_text(page, text[position:], line))
    yield from page.blocks


def _read_text(page: _HtmlText, text: str, line: int) -> int:
    """Hand ``text``, which starts on ``line``, to ``page`` with its character references replaced
    (a piece at a time: html.unescape on millions of them costs 25 times the text); the line it ends on."""
    for piece in _pieces(text, _BEFORE_AMPERSAND):
        page.data(html.unescape(piece), line)
        line += piece.count("\n")
    return line


def _read_markup(page: _HtmlText, text: str, markup: re.Match[str], line: int) -> int:
    """Hand the tag at ``markup`` to ``page``; where reading goes on (the text's end for markup left open).

    The content of <script> and <style> is skipped up to their end tag.
    """
    if markup.group(2) is None:  # a comment, declaration or processing instruction: nothing to show
        close = (_COMMENT_END if markup.group() == "<!--" else _GREATER).search(text, markup.end())
        return close.end() if close else len(text)
    tag = markup.group(2).lower()
    if markup.group(1):  # an end tag
        end = text.find(">", markup.end()) + 1
        if end:
            page.end_tag(tag, line)
        return end or len(text)
    end = _start_tag_end(text, markup.end())
    if not end:
        return len(text)
    page.start_tag(tag, line)
    if text.startswith("/>", end - 2):
        page.end_tag(tag, line)
    elif tag in _RAW_TEXT_END:  # their content is not markup
        close = _RAW_TEXT_END[tag].search(text, end)
        return close.start() if close else len(text)
    return end


def _start_tag_end(text: str, position: int) -> int:
    """Just past the ">" that ends a start tag whose attributes begin at ``position``; 0 if none does."""
    while stop := _TAG_END.search(text, position):
        if stop.group(1):
            return stop.end()
        position = text.find(stop.group(2), stop.end()) + 1
        if position == 0:
            return 0
    return 0
