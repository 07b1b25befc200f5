"""Exported results, parsed back: JSON, CSV and Markdown hold what was on screen."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from local_rerank.errors import InputError
from local_rerank.search.chunking import Passage
from local_rerank.search.export import ResultSet, export_text, format_for, save_results
from local_rerank.search.hits import SearchHit

HITS = [
    SearchHit("contracts/lease.md", Passage("## Term\n\nThe lease ends | on 31 May.", 12, 14, "Term"), "a", 3, 7.5,
              0.93),
    SearchHit("合同/租赁.pdf", Passage("租期三年", 1, 1, "", page=2), "b", 1, 9.0, 0.41),
]
RESULTS = ResultSet("when does the lease end", HITS, "Find clauses", "qwen3-reranker-0.6b")


def test_json_holds_the_request_and_every_result() -> None:
    data = json.loads(export_text(RESULTS, "json"))
    assert data["query"] == RESULTS.query and data["instruction"] == "Find clauses" and data["reranked"]
    assert [r["path"] for r in data["results"]] == ["contracts/lease.md", "合同/租赁.pdf"]
    assert data["results"][0] == {"path": "contracts/lease.md", "score": 0.93, "bm25_rank": 3,
                                  "passage": {"start_line": 12, "end_line": 14, "text": HITS[0].passage.text}}
    assert data["results"][1]["passage"]["page"] == 2


def test_csv_has_one_row_per_result_in_rank_order() -> None:
    rows = list(csv.DictReader(io.StringIO(export_text(RESULTS, "csv"))))
    assert [row["rank"] for row in rows] == ["1", "2"] and [row["path"] for row in rows] == [h.path for h in HITS]
    assert float(rows[0]["score"]) == 0.93 and rows[0]["passage"] == HITS[0].passage.text
    assert rows[1]["page"] == "2" and rows[0]["page"] == "" and rows[0]["model"] == "qwen3-reranker-0.6b"


def test_markdown_is_a_table_that_survives_pipes_and_newlines() -> None:
    lines = export_text(RESULTS, "md").splitlines()
    table = [line for line in lines if line.startswith("| ") and not line.startswith("| rank")]
    assert len(table) == 2
    first = table[0]
    assert first.count(" | ") == 5 and "ends \\| on" in first and "p(yes)" in "\n".join(lines)
    assert "| 2 | 0.4100 | 1 | 合同/租赁.pdf | p. 2 |" in table[1]


def test_bm25_results_say_so() -> None:
    unscored = ResultSet("lease", [SearchHit("a.md", Passage("lease", 1, 1, ""), "h", 1, 2.5)])
    assert json.loads(export_text(unscored, "json"))["reranked"] is False
    assert "| rank | BM25 |" in export_text(unscored, "md")


def test_saving_never_replaces_a_file(tmp_path: Path) -> None:
    target = tmp_path / "results.csv"
    assert save_results(RESULTS, target) == target and target.read_text().startswith("rank,score")
    target.write_text("mine")
    with pytest.raises(InputError, match="exists"):
        save_results(RESULTS, target)
    assert target.read_text() == "mine"
    with pytest.raises(InputError, match=r"\.json, \.csv or \.md"):
        save_results(RESULTS, tmp_path / "results.txt")
    assert format_for("notes.markdown") == "md"
