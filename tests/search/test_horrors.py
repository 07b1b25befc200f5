"""A folder holding every entry that once made a whole folder unsearchable is indexed, its
normal files are found, and each entry it could not read is counted by reason."""

from __future__ import annotations

from pathlib import Path

from local_rerank.search.hits import IndexReport
from local_rerank.search.index import FolderIndex
from tests.search.folders import HORROR_WORDS, build_horror_folder
from tests.search.isolation import deadline, in_child, shared_folder


def _index_twice_and_search(folder: Path, cache: Path) -> tuple[IndexReport, dict[str, list[str]], IndexReport, bool]:
    index = FolderIndex.open(folder, cache)
    first = index.update()
    hits = {word: [hit.path for hit in index.lexical(word, 10)] for word in HORROR_WORDS}
    try:
        index.read_lines("caf\\xe9.txt")
        preview_failed_cleanly = False
    except OSError:
        preview_failed_cleanly = True
    return first, hits, index.update(), preview_failed_cleanly


def test_a_folder_of_horrors_is_indexed_and_its_normal_files_found() -> None:
    with shared_folder() as shared, deadline(60):
        folder = build_horror_folder(shared / "horrors")
        cache = shared / "cache"
        cache.mkdir(mode=0o777)
        cache.chmod(0o777)
        first, hits, second, preview_failed_cleanly = in_child(lambda: _index_twice_and_search(folder, cache),
                                                               as_nobody=True)
    assert {word: paths[0] for word, paths in hits.items() if paths} == HORROR_WORDS  # CJK grams match more widely
    assert first.skipped == {"binary file": 2, "folder cannot be read": 1, "cannot be read (Permission denied)": 1,
                             "not a regular file (FIFO, socket or device)": 1}
    assert first.files == len(HORROR_WORDS)
    assert (second.read, second.removed, second.unchanged) == (0, 0, first.read), "names must be the same every run"
    assert preview_failed_cleanly
