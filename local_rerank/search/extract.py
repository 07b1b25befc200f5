"""Turn one file's bytes into text blocks (headings, paragraphs, code) with their line numbers.

Plain text, Markdown (and reStructuredText), source code, HTML and PDF are understood, and
office documents, e-books and e-mail through :mod:`local_rerank.search.office`; a file is
refused, with the reason, when it is binary or a document that cannot be read. Invalid UTF-8 is
replaced (and counted), never fatal. PDF text is normalised: words hyphenated across lines
are joined and hard-wrapped lines are joined back into paragraphs.

Blocks are produced one at a time and a block's text is a slice of the file's text, so a file
of millions of tiny paragraphs or tags costs little more memory than its text (a list of them
cost about 100 times the file's size).
"""

from __future__ import annotations

import codecs
import html
import io
import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Iterable, Iterator

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdx", ".rst"})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
CODE_SUFFIXES = frozenset({
    ".py", ".pyi", ".js", ".mjs", ".ts", ".tsx", ".jsx", ".java", ".kt", ".scala", ".c", ".h", ".cc", ".cpp",
    ".hpp", ".cs", ".go", ".rs", ".rb", ".php", ".swift", ".m", ".sh", ".bash", ".zsh", ".fish", ".ps1", ".lua",
    ".r", ".jl", ".sql", ".pl", ".hs", ".ex", ".exs", ".clj", ".dart", ".zig", ".vue", ".svelte", ".css", ".scss",
    ".toml", ".yaml", ".yml", ".json", ".ini", ".cfg",
})
BINARY_SUFFIXES = frozenset({
    ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".webp", ".tif", ".tiff", ".psd", ".heic", ".mp3", ".mp4",
    ".m4a", ".mov", ".avi", ".mkv", ".webm", ".wav", ".flac", ".ogg", ".zip", ".gz", ".tgz", ".bz2", ".xz", ".zst",
    ".7z", ".rar", ".tar", ".exe", ".dll", ".so", ".dylib", ".o", ".a", ".class", ".jar", ".pyc", ".whl", ".gguf",
    ".onnx", ".safetensors", ".bin", ".pt", ".pth", ".npy", ".npz", ".sqlite", ".sqlite3", ".db", ".woff",
    ".woff2", ".ttf", ".otf", ".iso", ".dmg",
})
DOCUMENT_KINDS = frozenset({"docx", "pptx", "xlsx", "odt", "epub", "rtf", "eml"})  # each read from its own suffix
SOFT_BREAK = 7  # the "heading level" of a top-level definition in source code: a preferred place to cut
_DEFINITION = re.compile(r"(?:async\s+def|def|class|fn|func|function|pub\s|impl|struct|enum|interface|type|"
                         r"export|public|private|protected|static|module|package|const|CREATE)\b")


class NotIndexable(Exception):
    """The file has no text to index; the message is the reason."""


@dataclass(frozen=True, slots=True)
class Block:
    """A run of text that belongs together, with its 1-based line span.

    Lines count in the file itself, except for PDFs and documents (:data:`DOCUMENT_KINDS`), where
    they count in the extracted text; ``page`` says on which PDF page (or slide) the block starts.
    """

    text: str
    start_line: int
    end_line: int
    heading: int = 0  # 1-6: a heading of that level; SOFT_BREAK: a top-level definition; 0: body
    page: int | None = None


@dataclass(frozen=True)
class Extracted:
    """A file's blocks (produced as they are read: iterate once), its kind, and how many invalid
    UTF-8 sequences were replaced."""

    kind: str
    blocks: Iterable[Block]
    replaced: int = 0


def file_kind(name: str) -> str:
    """"markdown", "html", "pdf", "code", "binary", "text" or a document kind ("docx", "eml", ...), from
    the file name."""
    suffix = PurePath(name).suffix.lower()
    if suffix[1:] in DOCUMENT_KINDS:
        return suffix[1:]
    if suffix in MARKDOWN_SUFFIXES:
        return "markdown"
    if suffix in HTML_SUFFIXES:
        return "html"
    if suffix == ".pdf":
        return "pdf"
    if suffix in CODE_SUFFIXES:
        return "code"
    return "binary" if suffix in BINARY_SUFFIXES else "text"


def extract(name: str, data: bytes) -> Extracted:
    """The blocks of a file named ``name`` (the suffix picks the reader) holding ``data``.

    Raises:
        NotIndexable: binary data, a PDF without extractable text, or a document that cannot be read.
    """
    kind = file_kind(name)
    if kind == "binary":
        raise NotIndexable("binary file")
    if kind == "pdf":
        return Extracted("pdf", pdf_blocks(data))
    if kind in DOCUMENT_KINDS:
        from local_rerank.search.office import office_blocks

        return Extracted(kind, office_blocks(kind, data))
    text, replaced = decode_text(data)
    readers = {"markdown": markdown_blocks, "html": html_blocks, "code": code_blocks, "text": paragraph_blocks}
    return Extracted(kind, readers[kind](text), replaced)


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


def pdf_blocks(data: bytes) -> list[Block]:
    """Paragraphs of a PDF's text layer, page by page.

    Raises:
        NotIndexable: the PDF is encrypted, damaged, or has no text layer (a scan).
    """
    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise NotIndexable("encrypted PDF")
        pages = [page.extract_text() or "" for page in reader.pages]
    except NotIndexable:
        raise
    except Exception as e:  # pypdf raises many kinds of errors on damaged files
        raise NotIndexable("damaged PDF") from e
    blocks: list[Block] = []
    for page_number, page_text in enumerate(pages, start=1):
        for paragraph in unwrap_lines(page_text):
            line = len(blocks) + 1
            blocks.append(Block(paragraph, line, line, page=page_number))
    if not blocks:
        raise NotIndexable("PDF has no text layer (a scan?)")
    return blocks


_HYPHENATED = re.compile(r"(?<=[^\W\d_])-$")


def unwrap_lines(text: str) -> list[str]:
    """Paragraphs from hard-wrapped text: words hyphenated at a line end are joined, lines that
    run to the usual width continue into the next, and blank or short lines end a paragraph."""
    lines = [line.strip() for line in text.splitlines()]
    widths = sorted(len(line) for line in lines if line)
    if not widths:
        return []
    full_width = widths[int(0.9 * (len(widths) - 1))]
    paragraphs: list[str] = []
    current = ""
    for line, following in zip(lines, lines[1:] + [""]):
        if not line:
            if current:
                paragraphs.append(current)
            current = ""
            continue
        if current and _HYPHENATED.search(current) and line[:1].islower():
            current = current[:-1] + line
        else:
            current = f"{current} {line}" if current else line
        if len(line) < 0.7 * full_width and not _HYPHENATED.search(line) or not following:
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return paragraphs
