"""The folder index: right passages and skips, incremental updates, crash safety, BM25 candidates,
files that change under it, damaged index files and unusable cache directories."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from local_rerank.errors import CacheError, InputError
from local_rerank.search.chunking import Passage
from local_rerank.search.index import FolderIndex, IndexProgress, fts_query
from tests.search.folders import build_mixed_folder
from tests.search.isolation import deadline, in_child, shared_folder


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    return build_mixed_folder(tmp_path / "docs", tmp_path / "elsewhere")


def _tree(root: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(root)), p.lstat().st_mtime_ns) for p in root.rglob("*"))


def test_mixed_folder_indexes_documents_and_counts_each_skip(mixed: Path, private_cache: Path) -> None:
    before = _tree(mixed)
    index = FolderIndex.open(mixed)
    report = index.update(max_file_bytes=2 * 2**20)
    assert report.files == 6  # lease.md, copy.py, garden.html, todo.txt, latin1.txt, report.pdf
    assert report.skipped == {"binary file": 2, "larger than 2 MiB": 1, "damaged PDF": 1,
                              "symbolic link leaves the folder": 1, "broken symbolic link": 1,
                              "symbolic link loop or folder already indexed": 1}
    assert report.replaced_utf8 == 2
    assert _tree(mixed) == before, "the index must never be written into the searched folder"
    assert index.database.is_relative_to(private_cache)


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


def test_update_rereads_only_what_changed(mixed: Path) -> None:
    index = FolderIndex.open(mixed)
    index.update()
    (mixed / "notes" / "todo.txt").write_text("Buy seeds.\n\nRepaint the fence before winter.\n")
    (mixed / "lease.md").unlink()
    read: list[str] = []
    report = index.update(progress=lambda update: read.append(update.path))
    assert read == ["notes/todo.txt"]
    assert (report.read, report.removed) == (1, 1)
    assert [hit.path for hit in index.lexical("fence winter", 5)] == ["notes/todo.txt"]
    assert index.lexical("lease", 5) == [] or all(hit.path != "lease.md" for hit in index.lexical("lease", 5))
    assert index.update().read == 0


def test_preview_lines_are_decoded_as_the_index_decoded_them(tmp_path: Path) -> None:
    (tmp_path / "wide.txt").write_bytes("first line\nsecond: tomato\n".encode("utf-16"))
    index = FolderIndex.open(tmp_path)
    index.update()
    hit = index.lexical("tomato", 1)[0]
    assert index.read_lines("wide.txt")[hit.passage.start_line:hit.passage.end_line] == ["second: tomato"]


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


def test_a_damaged_index_file_is_rebuilt(mixed: Path) -> None:
    index = FolderIndex.open(mixed)
    index.database.write_bytes(b"this is not a database" * 100)
    index = FolderIndex.open(mixed)
    assert index.update().files == 7  # huge.log too: it is under the default 10 MiB


def test_missing_folder_and_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        FolderIndex.open(tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        FolderIndex.open(tmp_path / "file.txt")


_SLOW_INDEXER = """
import sys, time
from local_rerank.search.index import FolderIndex
def progress(update):
    time.sleep(0.002)
    print(update.done, flush=True)
FolderIndex.open(sys.argv[1]).update(progress=progress)
"""


@pytest.mark.slow
def test_an_update_killed_midway_leaves_an_index_that_opens_and_completes(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(1500):
        (folder / f"note{i:04}.txt").write_text(f"note {i} about topic{i % 37} and harbour\n")
    child = subprocess.Popen([sys.executable, "-c", _SLOW_INDEXER, str(folder)], stdout=subprocess.PIPE, text=True,
                             env=os.environ)
    assert child.stdout is not None
    for line in child.stdout:
        if int(line) >= 600:  # at 2 ms a file, past 1.2 s of writing: two commits (every 0.5 s) at least
            child.send_signal(signal.SIGKILL)
            break
    child.wait()
    assert child.returncode == -signal.SIGKILL
    index = FolderIndex.open(folder)
    with sqlite3.connect(index.database) as connection:
        kept = connection.execute("SELECT count(*) FROM files").fetchone()[0]
    assert 0 < kept < 1500
    assert index.lexical("harbour", 5), "the partial index answers queries"
    read: list[IndexProgress] = []
    report = index.update(progress=read.append)
    assert report.read == 1500 - kept and report.files == 1500 and report.complete
    assert len(index.lexical("topic5", 100)) == len([i for i in range(1500) if i % 37 == 5])


def test_files_that_change_between_the_walk_and_the_read_are_skipped(tmp_path: Path) -> None:
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text(f"harbour {name}\n")

    def meddle(update: IndexProgress) -> None:  # files are read in name order: b and c change after the walk
        if update.path == "a.txt":
            with open(tmp_path / "b.txt", "ab") as grown:
                grown.write(b"x" * 2**20)
            (tmp_path / "c.txt").unlink()
            os.mkfifo(tmp_path / "c.txt")

    with deadline(10):
        report = FolderIndex.open(tmp_path).update(progress=meddle, max_file_bytes=2**20)
    assert report.skipped == {"larger than 1 MiB": 1, "not a regular file": 1}
    assert report.files == 1


def test_a_folder_whose_name_is_not_utf8_is_indexed(tmp_path: Path) -> None:
    folder = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9"))
    folder.mkdir()
    (folder / "menu.txt").write_text("croissants and coffee\n")
    index = FolderIndex.open(folder)
    index.update()
    assert [hit.path for hit in index.lexical("croissants", 5)] == ["menu.txt"]


def _results(index: FolderIndex) -> list[list[tuple[str, Passage]]]:
    return [[(hit.path, hit.passage) for hit in index.lexical(query, 10)]
            for query in ("when does the lease end", "tomatoes", "harbour estuary", "copy a folder", "topic7 topic30")]


def _many_notes(mixed: Path) -> Path:
    for i in range(60):
        words = " ".join(f"topic{(i * 7 + j) % 41}" for j in range(400))
        (mixed / f"note{i:02}.md").write_text(f"# Note {i}\n\n{words}\n")
    return mixed


def _overwrite_page(database: Path, page: int) -> None:
    with open(database, "r+b") as file:
        file.seek(page * 4096)
        file.write(random.Random(page).randbytes(4096))


@pytest.mark.parametrize("where", ["header", "middle", "near the end"])
def test_a_damaged_index_is_rebuilt_and_answers_as_a_clean_one(mixed: Path, tmp_path: Path, where: str) -> None:
    folder = _many_notes(mixed)
    clean = FolderIndex.open(folder, tmp_path / "clean")
    clean.update()
    expected = _results(clean)
    database = FolderIndex.open(folder).database
    FolderIndex.open(folder).update()
    pages = database.stat().st_size // 4096
    _overwrite_page(database, {"header": 0, "middle": pages // 2, "near the end": pages - 2}[where])
    index = FolderIndex.open(folder)
    assert index.update().unchanged == 0, "the damage was found, and the index built again"
    assert _results(index) == expected


def test_an_index_damaged_while_open_is_rebuilt_by_the_next_operation(mixed: Path, tmp_path: Path) -> None:
    index = FolderIndex.open(mixed)
    index.update()
    _overwrite_page(index.database, 0)
    assert index.lexical("tomatoes", 5) == []  # found damaged: the index starts again, empty
    assert index.update().files == 7
    assert [hit.path for hit in index.lexical("tomatoes", 5)] == ["notes/garden.html"]


def test_a_cache_directory_that_cannot_be_created_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("LOCAL_RERANK_CACHE", str(tmp_path / "file" / "cache"))
    with pytest.raises(CacheError, match=f"cannot write the index cache in {tmp_path}/file/cache/indexes: .*; set "
                                         "LOCAL_RERANK_CACHE to a writable folder"):
        FolderIndex.open(tmp_path)


def _update_error(folder: Path, cache: Path) -> str:
    try:
        FolderIndex.open(folder, cache).update()
    except CacheError as e:
        return str(e)
    return "no error"


def test_a_read_only_cache_directory_is_named(mixed: Path) -> None:
    with shared_folder() as shared:
        shutil.copytree(mixed, shared / "docs", symlinks=True)
        index = FolderIndex.open(shared / "docs", shared / "cache")
        (shared / "docs" / "new.txt").write_text("a file to add")
        index.database.parent.chmod(0o555)
        index.database.chmod(0o444)
        message = in_child(lambda: _update_error(shared / "docs", shared / "cache"), as_nobody=True)
    assert message.startswith(f"cannot write the index cache in {index.database.parent}: ")
    assert message.endswith("; set LOCAL_RERANK_CACHE to a writable folder")


def test_a_cache_disk_that_refuses_writes_is_named(mixed: Path, tmp_path: Path) -> None:
    message = in_child(lambda: _update_error(_many_notes(mixed), tmp_path / "cache"), max_file_bytes=100_000)
    assert message == (f"cannot write the index cache in {tmp_path}/cache/indexes: disk I/O error; check that disk or "
                       "set LOCAL_RERANK_CACHE to a folder on another one")


def test_a_file_of_endless_sections_keeps_its_first_passages(tmp_path: Path) -> None:
    from local_rerank.search.index import MAX_PASSAGES_PER_FILE

    folder = tmp_path / "sections"
    folder.mkdir()
    (folder / "many.md").write_text("".join(f"# s{i}\n\nword{i}\n\n" for i in range(MAX_PASSAGES_PER_FILE + 500)))
    index = FolderIndex.open(folder)
    report = index.update()
    assert report.files == 1 and report.passages == MAX_PASSAGES_PER_FILE
    assert [hit.path for hit in index.lexical("word7", 5)] == ["many.md"]
