"""Which rows can be scored, and the reasons given for those that cannot."""

from __future__ import annotations

import json

import pytest

from local_rerank.batch.rows import BadRow, Reject, Request, parse_row


def test_a_pair_row_asks_for_one_document() -> None:
    row = {"query": "q", "document": "d", "id": 7}
    assert parse_row(row, None) == Request("q", ("d",), None, candidates=False)


def test_a_candidates_row_asks_for_each_candidate_and_keeps_the_row_instruction() -> None:
    row = {"query": "q", "candidates": ["a", "b"], "instruction": "find code"}
    assert parse_row(row, "default") == Request("q", ("a", "b"), "find code", candidates=True)


def test_the_default_instruction_applies_where_the_row_has_none() -> None:
    assert parse_row({"query": "q", "document": "d", "instruction": None}, "default").instruction == "default"


def test_bytes_are_decoded_as_utf8() -> None:
    assert parse_row({"query": "é".encode(), "document": b"d"}, None).query == "é"


@pytest.mark.parametrize(("row", "reason"), [
    ({"document": "d"}, "missing field 'query'"),
    ({"query": "q"}, "missing field 'document' (or 'candidates')"),
    ({"query": "  ", "document": "d"}, "'query' is empty"),
    ({"query": "q", "document": ""}, "'document' is empty"),
    ({"query": "q", "document": 3}, "'document' is int, not text"),
    ({"query": "q", "document": "d", "candidates": ["a"]}, "the row has both 'document' and 'candidates'; give one"),
    ({"query": "q", "candidates": []}, "'candidates' is an empty list"),
    ({"query": "q", "candidates": "a"}, "'candidates' must be a list of texts"),
    ({"query": "q", "candidates": ["a", ""]}, "candidate 1 is empty"),
    ({"query": "q", "document": "d", "instruction": ""}, "'instruction' is empty"),
    ({"query": b"\xff", "document": "d"}, "'query' is not valid UTF-8 (bad byte at offset 0)"),
    ({"query": "q", "document": "a\ud800"}, "'document' is not valid text (it holds a lone surrogate, such as a "
                                            "\\ud800 escape)"),
])
def test_bad_rows_are_refused_with_a_reason(row: dict, reason: str) -> None:
    with pytest.raises(BadRow) as caught:
        parse_row(row, None)
    assert str(caught.value) == reason


def test_a_reject_is_one_ascii_json_line_even_with_bytes_and_surrogates() -> None:
    line = Reject("in.parquet", 3, "why", {"query": b"\xff", "document": "\ud800", "when": object}).to_json()
    assert line.isascii() and "\n" not in line
    assert json.loads(line)["record"]["query"] == "\\xff"
