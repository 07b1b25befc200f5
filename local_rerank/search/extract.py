"""Turn one file's bytes into text blocks (headings, paragraphs, code) with their line numbers.

Plain text, Markdown (and reStructuredText), source code, HTML and PDF are understood, and
office documents, e-books and e-mail through :mod:`local_rerank.search.office`; a file is
refused, with the reason, when it is binary or a document that cannot be read. Invalid UTF-8 is
replaced (and counted), never fatal. PDF text is normalised: words hyphenated across lines
are joined and hard-wrapped lines are joined back into paragraphs.

The readers of text, Markdown, code and HTML are in :mod:`~local_rerank.search.text_blocks`,
what they make (:class:`~local_rerank.search.blocks.Block`) in :mod:`~local_rerank.search.blocks`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath

from local_rerank.search.blocks import Block, NotIndexable
from local_rerank.search.office import office_blocks
from local_rerank.search.text_blocks import code_blocks, decode_text, html_blocks, markdown_blocks, paragraph_blocks

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


def counts_extracted_lines(kind: str) -> bool:
    """Whether the passages of a file of ``kind`` (:func:`file_kind`) count lines in the text extracted
    from it, not in the file: PDFs and documents (:data:`DOCUMENT_KINDS`), which are shown by their
    passages, never read or opened as lines of text."""
    return kind == "pdf" or kind in DOCUMENT_KINDS


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
        return Extracted(kind, office_blocks(kind, data))
    text, replaced = decode_text(data)
    readers = {"markdown": markdown_blocks, "html": html_blocks, "code": code_blocks, "text": paragraph_blocks}
    return Extracted(kind, readers[kind](text), replaced)


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
