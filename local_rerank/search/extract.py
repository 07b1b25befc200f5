"""Turn one file's bytes into text blocks (headings, paragraphs, code) with their line numbers.

Plain text, Markdown (and reStructuredText), source code, HTML and PDF are understood; a file
is refused, with the reason, when it is binary or a PDF that cannot be read. Invalid UTF-8 is
replaced (and counted), never fatal. PDF text is normalised: words hyphenated across lines
are joined and hard-wrapped lines are joined back into paragraphs.
"""

from __future__ import annotations

import codecs
import io
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePath
from typing import Iterable

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
    ".woff2", ".ttf", ".otf", ".iso", ".dmg", ".docx", ".xlsx", ".pptx", ".odt", ".epub",
})
SOFT_BREAK = 7  # the "heading level" of a top-level definition in source code: a preferred place to cut
_DEFINITION = re.compile(r"^(?:async\s+def|def|class|fn|func|function|pub\s|impl|struct|enum|interface|type|"
                         r"export|public|private|protected|static|module|package|const|CREATE)\b")


class NotIndexable(Exception):
    """The file has no text to index; the message is the reason."""


@dataclass(frozen=True)
class Block:
    """A run of text that belongs together, with its 1-based line span.

    Lines count in the file itself, except for PDFs, where they count in the extracted text
    and ``page`` says where the block starts.
    """

    text: str
    start_line: int
    end_line: int
    heading: int = 0  # 1-6: a heading of that level; SOFT_BREAK: a top-level definition; 0: body
    page: int | None = None


@dataclass(frozen=True)
class Extracted:
    """A file's blocks, its kind, and how many invalid UTF-8 sequences were replaced."""

    kind: str
    blocks: list[Block]
    replaced: int = 0


def file_kind(name: str) -> str:
    """"markdown", "html", "pdf", "code", "binary" or "text", from the file name."""
    suffix = PurePath(name).suffix.lower()
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
        NotIndexable: binary data, or a PDF without extractable text.
    """
    kind = file_kind(name)
    if kind == "binary":
        raise NotIndexable("binary file")
    if kind == "pdf":
        return Extracted("pdf", pdf_blocks(data))
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


def paragraph_blocks(text: str) -> list[Block]:
    """Runs of non-blank lines."""
    return [Block("\n".join(lines), start, start + len(lines) - 1) for start, lines in _runs(text.splitlines())]


def code_blocks(text: str) -> list[Block]:
    """Runs of non-blank lines; a run that opens a top-level definition is a preferred cut."""
    blocks = []
    for start, lines in _runs(text.splitlines()):
        soft = SOFT_BREAK if _DEFINITION.match(lines[0]) or lines[0].startswith(("@", "#[")) else 0
        blocks.append(Block("\n".join(lines), start, start + len(lines) - 1, soft))
    return blocks


_ATX = re.compile(r"^(#{1,6})\s+\S")
_FENCE = re.compile(r"^\s*(```|~~~)")
_UNDERLINE = re.compile(r"^(=+|-+|~+|\^+|\*+)\s*$")


def markdown_blocks(text: str) -> list[Block]:
    """Headings (ATX, setext and reStructuredText underlines), fenced code kept whole, paragraphs."""
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif _FENCE.match(line):
            end = _fence_end(lines, i)
            blocks.append(Block("\n".join(lines[i:end + 1]), i + 1, end + 1))
            i = end + 1
        elif _ATX.match(line):
            blocks.append(Block(line, i + 1, i + 1, len(_ATX.match(line).group(1))))  # type: ignore[union-attr]
            i += 1
        elif i + 1 < len(lines) and _UNDERLINE.match(lines[i + 1]) and len(lines[i + 1].strip()) >= len(line.strip()) > 0:
            level = 1 if lines[i + 1].lstrip()[0] == "=" else 2
            blocks.append(Block(line + "\n" + lines[i + 1], i + 1, i + 2, level))
            i += 2
        else:
            end = i
            while end + 1 < len(lines) and lines[end + 1].strip() and not (
                    _ATX.match(lines[end + 1]) or _FENCE.match(lines[end + 1])):
                end += 1
            blocks.append(Block("\n".join(lines[i:end + 1]), i + 1, end + 1))
            i = end + 1
    return blocks


def _fence_end(lines: list[str], start: int) -> int:
    marker = _FENCE.match(lines[start]).group(1)  # type: ignore[union-attr]
    for end in range(start + 1, len(lines)):
        if lines[end].strip().startswith(marker):
            return end
    return len(lines) - 1


def _runs(lines: list[str]) -> Iterable[tuple[int, list[str]]]:
    run: list[str] = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            run.append(line)
        elif run:
            yield number - len(run), run
            run = []
    if run:
        yield len(lines) - len(run) + 1, run


class _HtmlText(HTMLParser):
    """Collects the visible text of HTML as blocks, with the source line where each starts."""

    BLOCK_TAGS = frozenset({"p", "div", "li", "tr", "td", "th", "br", "blockquote", "dd", "dt", "section", "article",
                            "header", "footer", "nav", "aside", "main", "figure", "figcaption", "table", "ul", "ol",
                            "title", "hr", "form", "details", "summary"})
    HIDDEN_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "head"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.parts: list[str] = []
        self.start_line = 0
        self.heading = 0
        self.pre = 0
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN_TAGS:
            self.hidden += 1
        elif tag in self.BLOCK_TAGS or tag == "pre" or _heading_level(tag):
            self.flush()
            self.heading = _heading_level(tag)
            self.pre += tag == "pre"

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN_TAGS:
            self.hidden = max(self.hidden - 1, 0)
        elif tag in self.BLOCK_TAGS or tag == "pre" or _heading_level(tag):
            self.flush()
            self.pre = max(self.pre - (tag == "pre"), 0)

    def handle_data(self, data: str) -> None:
        if self.hidden or not data.strip() and not self.parts:
            return
        if not self.parts:
            self.start_line = self.getpos()[0] + data[:len(data) - len(data.lstrip())].count("\n")
        self.parts.append(data)

    def flush(self) -> None:
        raw = "".join(self.parts)
        text = raw.strip("\n") if self.pre else " ".join(raw.split())
        if text.strip():
            self.blocks.append(Block(text, self.start_line, self.getpos()[0], self.heading))
        self.parts, self.heading = [], 0


def _heading_level(tag: str) -> int:
    return int(tag[1]) if len(tag) == 2 and tag[0] == "h" and tag[1] in "123456" else 0


def html_blocks(text: str) -> list[Block]:
    """Visible text by block element; h1-h6 become headings, <pre> keeps its lines."""
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    parser.flush()
    return parser.blocks


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
