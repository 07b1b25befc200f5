"""Properties of the text readers, the chunker, the .gitignore handling and the CJK analysis, on
inputs Hypothesis makes up (any Unicode, any line breaks, markup left open, patterns git refuses):
no exception but the documented ones, blocks and passages within the text's lines, nothing of
the text lost. The examples are Hypothesis's profile (tests/conftest.py): the same 150 each in
`make test`, new ones and many more with `HYPOTHESIS_PROFILE=fuzz` (`make fuzz`)."""

from __future__ import annotations

import pytest

hypothesis = pytest.importorskip("hypothesis")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from local_rerank.search import cjk  # noqa: E402
from local_rerank.search.blocks import NotIndexable  # noqa: E402
from local_rerank.search.chunking import estimate_tokens, passages  # noqa: E402
from local_rerank.search.extract import extract  # noqa: E402
from local_rerank.search.text_blocks import split_lines  # noqa: E402
from local_rerank.search.walk import _gitignore_spec, _ignored  # noqa: E402

BREAKS = ["\n", "\r\n", "\r", "\v", "\f", "\x1c", "\x85", "\u2028", "\u2029"]
# Lines of Markdown, code and HTML pieces, with any line break and any character among them.
PIECES = st.sampled_from(["# Title", "## Sub", "Title", "=====", "----", "```", "~~~", "def f():", "class A:",
                          "    return 1", "<p>", "</p>", "<h1>", "<script>", "</script>", "<!--", "-->", "<a href='",
                          "&amp;", "&#x41;", "租赁合同", "製品の保証", "ภาษาไทย", "１２３", "😀", "", " ", "\t", "\0",
                          "word " * 40, "x" * 700])
TEXT = st.lists(st.one_of(PIECES, st.text(max_size=40)), max_size=40).flatmap(
    lambda parts: st.lists(st.sampled_from(BREAKS), min_size=len(parts), max_size=len(parts)).map(
        lambda breaks: "".join(part + brk for part, brk in zip(parts, breaks))))
NAMES = ["notes.txt", "readme.md", "guide.rst", "page.html", "tool.py", "main.rs"]


def _line_count(text: str) -> int:
    return max(len(text.splitlines()), 1)


@given(text=TEXT, name=st.sampled_from(NAMES))
def test_text_readers_and_the_chunker_keep_within_the_text(text: str, name: str) -> None:
    data = text.encode("utf-8")
    try:
        extracted = extract(name, data)
        blocks = list(extracted.blocks)
    except NotIndexable as e:  # the one documented refusal of text: a NUL byte (a binary file)
        assert "\0" in text and str(e) == "binary file"
        return
    lines = _line_count(text)
    for block in blocks:
        assert 1 <= block.start_line <= block.end_line <= lines, (block, lines)
    found = list(passages(blocks, budget=64))
    for passage in found:
        assert 1 <= passage.start_line <= passage.end_line <= lines
        assert estimate_tokens(passage.text) <= 64 * 2  # a heading trail is added beside, never inside
    if extracted.kind in ("text", "code", "markdown"):  # nothing of a plain file is lost (long lines are cut)
        indexed = "".join("".join(passage.text.split()) for passage in found)
        for line in text.splitlines():
            assert "".join(line.split()) in indexed, line


@given(text=TEXT)
def test_plain_text_passages_cover_every_non_blank_line_in_order(text: str) -> None:
    if "\0" in text:
        return
    blocks = list(extract("notes.txt", text.encode()).blocks)
    found = list(passages(blocks, budget=48))
    starts = [passage.start_line for passage in found]
    assert starts == sorted(starts)
    covered = {n for passage in found for n in range(passage.start_line, passage.end_line + 1)}
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            assert number in covered, (number, line)


@given(data=st.binary(max_size=2000), name=st.sampled_from(NAMES))
def test_any_bytes_are_read_or_refused_as_binary(data: bytes, name: str) -> None:
    try:
        extracted = extract(name, data)
        blocks = list(extracted.blocks)
    except NotIndexable:
        assert b"\0" in data
        return
    assert extracted.replaced >= 0
    assert all(block.start_line >= 1 for block in blocks)


@given(text=st.text(max_size=300))
def test_split_lines_is_splitlines(text: str) -> None:
    assert list(split_lines(text)) == text.splitlines()


@given(text=st.text(max_size=200))
def test_cjk_analysis_is_total_and_its_terms_are_found_in_the_analyzed_text(text: str) -> None:
    analyzed = cjk.analyze(text)
    terms = cjk.query_terms(text)
    assert len(terms) == len(set(terms))
    words = set(analyzed.lower().split())
    for term in terms:  # a gram is a word of the analyzed text; another term lies inside one
        assert term in words if cjk.is_gram(term) else any(term in word for word in words), term
    for word in cjk.marked_words(text):
        assert word in terms


@given(lines=st.lists(st.one_of(st.sampled_from(["*.log", "!keep.log", "build/", "/top", "a/**/b", "[z-a]", "\\",
                                                 "!", "#comment", "**", "[!", "?x", " trailing "]),
                                st.text(max_size=12)), max_size=12),
       path=st.text(alphabet=st.characters(blacklist_characters="\0"), min_size=1, max_size=30))
def test_any_gitignore_parses_and_answers(lines: list[str], path: str) -> None:
    """A .gitignore line pathspec cannot parse costs only itself; every path gets an answer."""
    spec = _gitignore_spec(lines)
    assert isinstance(_ignored([("", spec)], path.lstrip("/")), bool)
