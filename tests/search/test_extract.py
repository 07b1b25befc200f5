"""Text extraction: blocks and line numbers per kind, decoding, PDF normalisation, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_rerank.search.extract import (SOFT_BREAK, NotIndexable, decode_text, extract, file_kind, html_blocks,
                                         markdown_blocks, unwrap_lines)
from tests.search.folders import COPY_PY, GARDEN_HTML, LEASE_MD, PDF_PAGES, write_pdf


def test_markdown_headings_paragraphs_and_fences_keep_their_lines() -> None:
    blocks = markdown_blocks(LEASE_MD)
    assert [(b.heading, b.start_line, b.end_line) for b in blocks] == [
        (1, 1, 1), (0, 3, 3), (2, 5, 5), (0, 7, 7), (2, 9, 9), (0, 11, 11), (0, 13, 16)]
    assert blocks[-1].text.startswith("```python") and blocks[-1].text.endswith("```")


def test_setext_and_restructuredtext_underlines_are_headings() -> None:
    blocks = markdown_blocks("Title\n=====\n\nbody text\n\nSection\n-------\nmore\n")
    assert [(b.heading, b.text.splitlines()[0]) for b in blocks] == [(1, "Title"), (0, "body text"), (2, "Section"),
                                                                     (0, "more")]


def test_html_shows_visible_text_only_with_source_lines() -> None:
    blocks = html_blocks(GARDEN_HTML)
    assert [(b.heading, b.text, b.start_line) for b in blocks] == [
        (1, "Growing tomatoes", 4),
        (0, "Tomatoes need six hours of sun and deep watering twice a week.", 5),
        (0, "Stake the plants early.", 7)]


def test_code_marks_top_level_definitions_as_places_to_cut() -> None:
    blocks = extract("copy.py", COPY_PY.encode()).blocks
    assert [(b.start_line, b.heading) for b in blocks] == [(1, 0), (4, SOFT_BREAK), (9, SOFT_BREAK), (12, 0)]


def test_invalid_utf8_is_replaced_and_counted() -> None:
    text, replaced = decode_text("Café crème".encode("latin-1"))
    assert text == "Caf\ufffd cr\ufffdme" and replaced == 2
    assert decode_text("ok \ufffd already".encode()) == ("ok \ufffd already", 0)


def test_utf16_with_a_byte_order_mark_is_text_not_binary() -> None:
    assert decode_text("hello world".encode("utf-16")) == ("hello world", 0)


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
