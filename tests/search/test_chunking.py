"""Passages: within the budget, opened by headings, named by their heading trail, line spans exact."""

from __future__ import annotations

from local_rerank.search.chunking import estimate_tokens, passages
from local_rerank.search.extract import extract, markdown_blocks, paragraph_blocks
from tests.search.folders import COPY_PY, LEASE_MD


def test_each_heading_opens_a_passage_named_by_its_trail() -> None:
    found = list(passages(markdown_blocks(LEASE_MD)))
    assert [(p.heading, p.start_line, p.end_line) for p in found] == [
        ("", 1, 3), ("Apartment lease", 5, 7), ("Apartment lease", 9, 16)]
    assert found[1].text == "## Term\n\nThe lease ends on 31 March 2027, unless renewed in writing."


def test_passages_stay_within_the_budget_and_cover_every_line() -> None:
    text = "\n\n".join(f"Paragraph {i} " + "word " * (10 + i % 30) for i in range(200))
    found = list(passages(paragraph_blocks(text), budget=100))
    assert all(estimate_tokens(p.text) <= 100 for p in found)
    assert found[0].start_line == 1 and found[-1].end_line == len(text.splitlines())
    assert all(a.end_line < b.start_line for a, b in zip(found, found[1:]))


def test_a_single_huge_line_is_cut_and_keeps_its_line_number() -> None:
    text = "intro\n\n" + "x" * 5000 + "\n\noutro"
    found = list(passages(paragraph_blocks(text), budget=200))
    assert all(estimate_tokens(p.text) <= 200 for p in found)
    assert "".join(p.text for p in found).replace("\n", "") == "intro" + "x" * 5000 + "outro"
    assert [p.start_line for p in found][:2] == [1, 3] and found[-1].end_line == 5


def test_code_is_cut_at_definitions_once_a_passage_is_a_third_full() -> None:
    found = list(passages(extract("copy.py", COPY_PY.encode()).blocks, budget=80))
    assert [p.start_line for p in found] == [1, 9]
    assert found[1].text.startswith("class Backup")


def test_a_block_of_many_short_lines_is_cut_into_the_fullest_pieces_that_fit() -> None:
    text = "\n".join(str(i % 97) for i in range(20_000))  # one paragraph: a block far over the budget
    found = list(passages(paragraph_blocks(text), budget=50))
    lines = text.splitlines()
    assert "\n".join(p.text for p in found) == text
    for passage, following in zip(found, found[1:]):
        with_next_line = passage.text + "\n" + lines[following.start_line - 1]
        assert estimate_tokens(passage.text) <= 50 < estimate_tokens(with_next_line)
