"""Text extraction: the reader each kind goes to, PDF normalisation, refusals, every kind of line
break, and memory bounded on pathological files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from local_rerank.search.blocks import SOFT_BREAK, NotIndexable
from local_rerank.search.extract import counts_extracted_lines, extract, file_kind, unwrap_lines
from tests.search.folders import COPY_PY, PDF_PAGES, write_pdf


def test_code_marks_top_level_definitions_as_places_to_cut() -> None:
    blocks = extract("copy.py", COPY_PY.encode()).blocks
    assert [(b.start_line, b.heading) for b in blocks] == [(1, 0), (4, SOFT_BREAK), (9, SOFT_BREAK), (12, 0)]


@pytest.mark.parametrize(("name", "data"), [("a.txt", b"abc\0def"), ("photo.png", b"not even read")])
def test_binary_files_are_refused(name: str, data: bytes) -> None:
    with pytest.raises(NotIndexable, match="binary"):
        extract(name, data)


def test_pdf_lines_are_unwrapped_and_hyphenation_joined(tmp_path: Path) -> None:
    write_pdf(tmp_path / "r.pdf", PDF_PAGES)
    blocks = extract("r.pdf", (tmp_path / "r.pdf").read_bytes()).blocks
    assert [(b.page, b.text) for b in blocks] == [
        (1, "Quarterly report on the harbour expansion project, which covers dredging, the new quay wall and "
            "the environmental survey of the estuary."),
        (1, "The quay wall is finished."),
        (2, "Dredging resumes in spring after the fish spawning season ends in the estuary.")]


def test_unwrap_keeps_hyphens_that_are_not_line_breaks() -> None:
    assert unwrap_lines("a well-known long line that runs to full width here\nend.") == [
        "a well-known long line that runs to full width here end."]
    assert unwrap_lines("a long line that ends with a number range 1990-\n2000 and more") == [
        "a long line that ends with a number range 1990- 2000 and more"]


@pytest.mark.parametrize("data", [b"%PDF-1.4\nnot really", b""])
def test_damaged_pdf_is_refused_with_a_reason(data: bytes) -> None:
    with pytest.raises(NotIndexable, match="PDF"):
        extract("x.pdf", data)


def test_pdf_without_text_layer_is_refused(tmp_path: Path) -> None:
    write_pdf(tmp_path / "scan.pdf", [[]])
    with pytest.raises(NotIndexable, match="no text layer"):
        extract("scan.pdf", (tmp_path / "scan.pdf").read_bytes())


def test_kinds_come_from_the_suffix() -> None:
    assert [file_kind(n) for n in ("a.MD", "b.htm", "c.pdf", "d.rs", "e.zip", "README")] == [
        "markdown", "html", "pdf", "code", "binary", "text"]


MIXED_LINE_BREAKS = "# Title\r\n\r\nfirst\rsecond\x0cthird\u2028\n```\r\ncode\x85```\n\n<pre>x\r\ny</pre>\x1c<p>z"


@pytest.mark.parametrize("name", ["a.md", "a.txt", "a.py", "a.html"])
def test_blocks_count_lines_as_the_preview_does_whatever_the_line_breaks(name: str) -> None:
    lines = MIXED_LINE_BREAKS.splitlines()  # FolderIndex.read_lines splits so
    for block in extract(name, MIXED_LINE_BREAKS.encode()).blocks:
        assert 1 <= block.start_line <= block.end_line <= len(lines) + 1
        if not name.endswith(".html"):
            assert block.text == "\n".join(lines[block.start_line - 1:block.end_line])


_PEAK_MEMORY = """
import re, sys
from local_rerank.search.chunking import passages
from local_rerank.search.extract import extract

def kib(field):  # VmHWM: the peak resident size of this program (ru_maxrss counts the forking parent's)
    with open("/proc/self/status") as status:
        return int(re.search(field + r":\\s+(\\d+) kB", status.read()).group(1))

data = bytes.fromhex(sys.argv[2]) * int(sys.argv[3])
resident = kib("VmRSS")
for passage in passages(extract(sys.argv[1], data).blocks):
    pass
print((kib("VmHWM") - resident) * 1024 / len(data))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak resident size from /proc")
@pytest.mark.parametrize(("name", "unit", "mebibytes"), [
    ("open-tag.html", b"<a\n", 1),  # a tag left open: html.parser's regular expressions held ~190 bytes a byte
    ("references.html", b"&ab", 1),  # html.unescape on one run of text: ~25 bytes a byte
    ("tiny.html", b"<p>a", 0.5),  # a block object for every 4 bytes
    ("tiny.md", b"a\n\n", 0.5),
    ("headings.md", b"# a\n", 0.5),  # a passage for every 4 bytes
])
def test_extraction_memory_is_a_small_multiple_of_the_file(name: str, unit: bytes, mebibytes: float) -> None:
    repeat = int(mebibytes * 2**20) // len(unit)
    run = subprocess.run([sys.executable, "-c", _PEAK_MEMORY, name, unit.hex(), str(repeat)], capture_output=True,
                         text=True, timeout=60, check=True)
    assert float(run.stdout) < 8, f"peak memory {float(run.stdout):.0f} times the file"


def test_pdfs_and_documents_count_lines_in_their_extracted_text() -> None:
    assert [counts_extracted_lines(file_kind(n)) for n in ("a.pdf", "b.docx", "c.pptx", "d.eml", "e.md", "f.py",
                                                           "g.html", "README")] == [True] * 4 + [False] * 4
