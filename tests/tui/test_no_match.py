"""A query that matches nothing says so in the status bar; CJK words are marked in the preview."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_rerank.search import FolderIndex
from local_rerank.search.chunking import Passage
from local_rerank.search.hits import SearchHit
from local_rerank.search.lexical import NO_MATCH
from tests.tui.driving import SIZE, ask, tui_app
from tui.preview import render_passage


@pytest.fixture
def harbour(tmp_path: Path) -> FolderIndex:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "harbour.md").write_text("# Harbour note\n\nThe harbour crane.\n")
    return FolderIndex.open(tmp_path / "notes")


async def test_a_query_without_matches_says_so(harbour: FolderIndex) -> None:
    app = tui_app(harbour, None)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "租赁合同")
        assert app.hits == [] and app.status.status.work == NO_MATCH


def test_the_preview_marks_the_bigrams_of_a_chinese_query() -> None:
    lines = ["房屋租赁合同", "租期为两年"]
    hit = SearchHit("a.md", Passage("\n".join(lines), 1, 2), "digest", 1, 1.0)
    _, passage, _ = render_passage(lines, hit, "租期多长")
    marked = {passage.plain[span.start:span.end] for span in passage.spans if span.style == "bold magenta"}
    assert marked == {"租期"}
