"""What previews read of an indexed file."""

from __future__ import annotations

from pathlib import Path

from local_rerank.search.index import FolderIndex


def test_preview_lines_are_decoded_as_the_index_decoded_them(tmp_path: Path) -> None:
    (tmp_path / "wide.txt").write_bytes("first line\nsecond: tomato\n".encode("utf-16"))
    index = FolderIndex.open(tmp_path)
    index.update()
    hit = index.lexical("tomato", 1)[0]
    assert index.read_lines("wide.txt")[hit.passage.start_line:hit.passage.end_line] == ["second: tomato"]
