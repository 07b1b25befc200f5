"""Text, Markdown, code and HTML readers: blocks and line numbers, decoding, awkward HTML, and
splitting lines a piece at a time."""

from __future__ import annotations

import pytest

from local_rerank.search.text_blocks import decode_text, html_blocks, markdown_blocks, split_lines
from tests.search.folders import GARDEN_HTML, LEASE_MD


def test_markdown_headings_paragraphs_and_fences_keep_their_lines() -> None:
    blocks = list(markdown_blocks(LEASE_MD))
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


@pytest.mark.parametrize("html, lines", [("# Title\n", (1, 1)), ("<p>text\n\n</p>\n", (1, 1)),
                                         ("\n<p>\n one\n two\n\n<br>", (3, 4))])
def test_an_html_block_ends_on_its_last_visible_line(html: str, lines: tuple[int, int]) -> None:
    """Found by the property tests: a trailing newline put the block's end past the file's last line."""
    [block] = html_blocks(html)
    assert (block.start_line, block.end_line) == lines


def test_invalid_utf8_is_replaced_and_counted() -> None:
    text, replaced = decode_text("Café crème".encode("latin-1"))
    assert text == "Caf\ufffd cr\ufffdme" and replaced == 2
    assert decode_text("ok \ufffd already".encode()) == ("ok \ufffd already", 0)


def test_utf16_with_a_byte_order_mark_is_text_not_binary() -> None:
    assert decode_text("hello world".encode("utf-16")) == ("hello world", 0)


@pytest.mark.parametrize(("html", "shown"), [
    ("<p>shown</p><!-- never closed <p>hidden", ["shown"]),
    ("<p>a</p><![ if gte mso 9 ]><p>b</p><![endif]>", ["a", "b"]),
    ("<p>a</p><a href='unterminated <p>hidden", ["a"]),
    ('<p><a title="x > y">link</a> text</p>', ["link text"]),
    ("<script>if (a<b) s = '<p>no</p>';</script><p>yes</p>", ["yes"]),
    ("<p>AT&amp;T &lt;3 &#169; a < b</p>", ["AT&T <3 © a < b"]),
])
def test_html_markup_left_open_or_odd_hides_only_what_a_browser_hides(html: str, shown: list[str]) -> None:
    assert [block.text for block in html_blocks(html)] == shown


def test_split_lines_splits_as_splitlines_across_pieces() -> None:
    text = "".join(f"line {i}" + ("\n", "\r\n", "\r", "\x0c", "\u2029", "\n\n")[i % 6] for i in range(40_000))
    assert list(split_lines(text)) == text.splitlines()
