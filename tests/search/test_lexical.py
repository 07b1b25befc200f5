"""The BM25 first stage: each kind found at its passage, one best passage per file, the query's
words."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_rerank.errors import InputError
from local_rerank.search.index import FolderIndex
from local_rerank.search.lexical import fts_query
from tests.search.folders import build_mixed_folder


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    return build_mixed_folder(tmp_path / "docs", tmp_path / "elsewhere")


@pytest.mark.parametrize(("query", "path", "lines"), [
    ("when does the lease end", "lease.md", (5, 7)),
    ("copy a folder recursively", "notes/copy.py", (1, 13)),
    ("tomatoes watering", "notes/garden.html", (4, 7)),
    ("environmental survey of the estuary", "report.pdf", (1, 3)),
    ("cafe creme recipe eggs", "latin1.txt", (1, 1)),
])
def test_each_kind_is_found_at_its_passage(mixed: Path, query: str, path: str, lines: tuple[int, int]) -> None:
    index = FolderIndex.open(mixed)
    index.update()
    best = index.lexical(query, 3)[0]
    assert (best.path, (best.passage.start_line, best.passage.end_line)) == (path, lines)


def test_nothing_outside_the_folder_or_ignored_is_searchable(mixed: Path) -> None:
    index = FolderIndex.open(mixed)
    index.update()
    assert [hit.path for hit in index.lexical("tomato", 10)] == ["notes/garden.html"]


def test_candidates_are_one_best_passage_per_file_up_to_the_cap(tmp_path: Path) -> None:
    for i in range(30):
        (tmp_path / f"f{i:02}.md").write_text(f"# Part {i}\n\nharbour\n\n## More\n\nharbour quay {'quay ' * i}\n")
    index = FolderIndex.open(tmp_path)
    index.update()
    hits = index.lexical("harbour quay", 12)
    assert len(hits) == 12 and len({hit.path for hit in hits}) == 12
    assert [hit.bm25_rank for hit in hits] == list(range(1, 13))
    assert all(a.bm25_score >= b.bm25_score for a, b in zip(hits, hits[1:]))
    assert all(hit.passage.heading == f"Part {int(hit.path[1:3])}" for hit in hits)


def test_query_without_words_is_refused_and_common_words_dropped() -> None:
    with pytest.raises(InputError, match="no words"):
        fts_query("?! ...")
    assert fts_query("When does THE lease end?") == '"lease" OR "end"'
    assert fts_query("what is it") == '"what" OR "is" OR "it"'
